package config

import (
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/notify"
)

// The kinds of the capabilities beyond SLOs. Their spec types live in the
// capability's package (approval.Policy, notify.Notifier, ...), which also
// validates them; decodeSpec reads them with line-precise errors.

const approvalPolicyExample = "spec: {service: invoice-agent, rules: [{action: pay_invoice, tier: 2, when: \"amount > 500\"}], approvers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}, timeout: 1h}"

const notifierExample = "spec: {type: webhook, url: \"https://hooks.example.com/day2\", secret_env: DAY2_HOOK_SECRET, match: {severity: [page]}}"

// approvalPolicyDoc reads an ApprovalPolicy document into Config.ApprovalPolicies.
func (l *loader) approvalPolicyDoc(o *object) {
	p, ok := decodeSpec(l, o, approvalPolicyExample, func(p *approval.Policy) { p.Name = o.name })
	if !ok || o.dup {
		return
	}
	for _, q := range l.cfg.ApprovalPolicies {
		if q.Service == p.Service {
			l.addf(o.line, "ApprovalPolicy %s governs service %s, as ApprovalPolicy %s does already; keep one policy per service and put all its rules in it", o.name, p.Service, q.Name)
			return
		}
	}
	l.cfg.ApprovalPolicies = append(l.cfg.ApprovalPolicies, p)
}

// notifierDoc reads a Notifier document into Config.Notifiers.
func (l *loader) notifierDoc(o *object) {
	n, ok := decodeSpec(l, o, notifierExample, func(n *notify.Notifier) { n.Name = o.name })
	if !ok || o.dup {
		return
	}
	l.cfg.Notifiers = append(l.cfg.Notifiers, n)
}

const alertRuleExample = "spec: {service: support-triage, sli: task_success, op: lt, threshold: 0.95, window: 15m, severity: page}"

// alertRuleDoc reads an AlertRule document into Config.AlertRules.
func (l *loader) alertRuleDoc(o *object) {
	r, ok := decodeSpec(l, o, alertRuleExample, func(r *incident.Rule) { r.Name = o.name })
	if !ok || o.dup {
		return
	}
	l.cfg.AlertRules = append(l.cfg.AlertRules, r)
}

// RunbookDir is the name of the directories whose Markdown files are runbooks.
const RunbookDir = "runbooks"

// isRunbook reports whether the file at path is a runbook: a .md file in a
// directory named runbooks.
func isRunbook(path string) bool {
	return strings.EqualFold(filepath.Ext(path), ".md") && filepath.Base(filepath.Dir(path)) == RunbookDir
}

// runbook reads a runbook template; its name is the file name without .md.
func (l *loader) runbook(path string, data []byte) {
	l.file = path
	l.cfg.Files = append(l.cfg.Files, path)
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	if prev, ok := l.runbookFiles[name]; ok {
		l.addf(0, "a second runbook named %s (the first is %s); runbook names must be unique", name, prev)
		return
	}
	l.runbookFiles[name] = path
	if err := incident.ParseRunbook(name, string(data)); err != nil {
		l.addf(0, "%s", day2.ErrorMessage(err))
		return
	}
	if l.cfg.Runbooks == nil {
		l.cfg.Runbooks = map[string]string{}
	}
	l.cfg.Runbooks[name] = string(data)
}

// checkRunbookRefs reports alert rules naming a runbook that is not there. A
// rule without a runbook gets the one named after it, else "default", else the
// built-in one.
func (l *loader) checkRunbookRefs() {
	if !l.dir {
		return
	}
	for _, r := range l.cfg.AlertRules {
		if r.Runbook != "" {
			if _, ok := l.runbookFiles[r.Runbook]; !ok {
				l.addAt("", 0, "AlertRule %s names runbook %q, which is not in a %s/ directory of the config; add %s/%s.md or remove the runbook key",
					r.Name, r.Runbook, RunbookDir, RunbookDir, r.Runbook)
			}
		}
	}
}

const featureFlagsExample = "spec: {flags: {new-planner: {state: ENABLED, variants: {on: true, off: false}, defaultVariant: off}}}"

// featureFlagsDoc reads a FeatureFlags document, whose spec is a flag set in
// flagd's format, into Config.Flags.
func (l *loader) featureFlagsDoc(o *object) {
	if !o.spec.ok() {
		return
	}
	var v any
	if err := o.spec.val.Decode(&v); err != nil {
		l.addf(o.spec.line(), "the FeatureFlags spec: %s", yamlMessage(err))
		return
	}
	js, err := json.Marshal(v)
	if err != nil {
		l.addf(o.spec.line(), "the FeatureFlags spec cannot be read as JSON (%v); keys must be text; %s", err, featureFlagsExample)
		return
	}
	l.flagSet(o.line, "FeatureFlags "+o.name, js)
}

// isFlagFile reports whether path is a flagd flag set file: a .json file in a
// directory named flags, or any file ending .flagd.json.
func isFlagFile(path string) bool {
	base := strings.ToLower(filepath.Base(path))
	return strings.HasSuffix(base, ".flagd.json") ||
		strings.EqualFold(filepath.Ext(path), ".json") && filepath.Base(filepath.Dir(path)) == "flags"
}

// flagFile reads a flagd flag set file.
func (l *loader) flagFile(path string, data []byte) {
	l.file = path
	l.cfg.Files = append(l.cfg.Files, path)
	l.flagSet(0, "the flag set", data)
}

// flagSet adds the flags of a flag set; a key defined twice is an error.
func (l *loader) flagSet(line int, what string, data []byte) {
	set, err := flags.ParseFlagSet(data)
	if err != nil {
		for _, msg := range strings.Split(day2.ErrorMessage(err), "\n") {
			l.addf(line, "%s: %s", what, msg)
		}
		return
	}
	if l.cfg.Flags == nil {
		l.cfg.Flags = map[string]flags.Flag{}
	}
	for _, key := range sortedKeys(set) {
		here := pos{l.file, line}
		if first, dup := l.flagKeys[key]; dup {
			l.addf(line, "flag %q is defined twice (first at %s); keep one definition", key, first)
			continue
		}
		l.flagKeys[key] = here
		l.cfg.Flags[key] = set[key]
	}
}

const incidentSettingsExample = "spec: {group_by: [service, environment], group_interval: 5m, repeat_interval: 4h}"

// incidentSettingsDoc reads the IncidentSettings document into
// Config.Incidents.
func (l *loader) incidentSettingsDoc(o *object) {
	st, ok := decodeSpec[incident.Settings](l, o, incidentSettingsExample, nil)
	if !ok {
		return
	}
	l.cfg.Incidents = st
}

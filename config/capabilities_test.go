package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCapabilityKinds(t *testing.T) {
	const good = `apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: invoices}
spec:
  service: invoice-agent
  rules:
    - {action: pay_invoice, tier: 2, when: "amount > 500"}
    - {action: pay_invoice, tier: 1}
  approvers:
    tier1: {groups: [ops, manager]}
    tier2: {groups: [manager]}
  timeout: 1h
---
apiVersion: day2/v1
kind: Notifier
metadata: {name: oncall}
spec:
  type: webhook
  url: https://hooks.example.com/day2
  secret: s3cret
  match: {severity: page}
`
	cfg, err := Parse("t.yaml", []byte(good))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(cfg.ApprovalPolicies) != 1 || cfg.ApprovalPolicies[0].Name != "invoices" || cfg.ApprovalPolicies[0].Timeout.D().Hours() != 1 {
		t.Errorf("approval policies = %+v", cfg.ApprovalPolicies)
	}
	if len(cfg.Notifiers) != 1 || cfg.Notifiers[0].Name != "oncall" || cfg.Notifiers[0].Match.Severity[0] != "page" {
		t.Errorf("notifiers = %+v", cfg.Notifiers)
	}

	for _, tc := range []struct {
		name, yaml string
		want       []at
	}{
		{"a misspelt key inside a list item is reported at its line with the nearest key",
			strings.Replace(good, "    - {action: pay_invoice, tier: 1}", "    - {action: pay_invoice, tier: 1, wehn: x}", 1),
			[]at{{8, `unknown key "wehn" in item 2 of rules in the ApprovalPolicy spec; did you mean when?`}}},
		{"a value of the wrong type is reported at its line",
			strings.Replace(good, "tier: 2,", "tier: two,", 1),
			[]at{{7, "in the ApprovalPolicy spec: cannot unmarshal !!str `two` into int"}}},
		{"the capability's own validation is reported at the document",
			strings.Replace(good, "type: webhook", "type: webhok", 1),
			[]at{{14, "Notifier oncall: "}}},
		{"two policies for one service",
			good + "---\n" + strings.Replace(good[:strings.Index(good, "---")], "name: invoices", "name: payments", 1),
			[]at{{23, "ApprovalPolicy payments governs service invoice-agent, as ApprovalPolicy invoices does already"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("Parse error %v (%T), want Problems", err, err)
			}
			checkProblems(t, ps, "t.yaml", tc.want)
		})
	}
}

func TestAlertRulesAndRunbooks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) { writeFile(t, dir, name, text) }
	write("rules.yaml", `apiVersion: day2/v1
kind: AlertRule
metadata: {name: triage-success-drop}
spec:
  service: support-triage
  environment: prod
  sli: task_success
  op: lt
  threshold: 0.95
  window: 15m
  min_events: 10
  severity: page
  runbook: tool-outage
`)
	write("runbooks/tool-outage.md", "# Tool outage on {{.Incident.Service}}\n\n## Detection\n")
	write("README.md", "not a runbook: not in runbooks/\n")
	cfg, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if len(cfg.AlertRules) != 1 || cfg.AlertRules[0].Name != "triage-success-drop" || cfg.AlertRules[0].Window.D() != 15*time.Minute {
		t.Errorf("alert rules = %+v", cfg.AlertRules)
	}
	if len(cfg.Runbooks) != 1 || !strings.HasPrefix(cfg.Runbooks["tool-outage"], "# Tool outage") {
		t.Errorf("runbooks = %v", cfg.Runbooks)
	}

	// A runbook that is not a valid template, and a rule naming a missing one.
	write("runbooks/tool-outage.md", "# {{.Incident.Service\n")
	write("more.yaml", `apiVersion: day2/v1
kind: AlertRule
metadata: {name: other}
spec: {service: a, sli: tool_failure, op: gt, threshold: 0.1, window: 5m, severity: ticket, runbook: nope}
`)
	_, err = LoadDir(dir)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 2 || !strings.Contains(ps[0].Message, `AlertRule other names runbook "nope"`) ||
		!strings.Contains(ps[1].Message, `runbook "tool-outage"`) {
		t.Fatalf("LoadDir with a broken runbook = %v; want the missing runbook and the template error", err)
	}
}

func TestFeatureFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) { writeFile(t, dir, name, text) }
	write("flags.yaml", `apiVersion: day2/v1
kind: FeatureFlags
metadata: {name: triage}
spec:
  flags:
    crm-tool:
      state: ENABLED
      variants: {on: true, off: false}
      defaultVariant: "on"
`)
	write("flags/planner.json", `{"flags": {"new-planner": {"state": "ENABLED", "variants": {"a": "v1", "b": "v2"}, "defaultVariant": "a",
  "targeting": {"fractional": [["a", 50], ["b", 50]]}}}}`)
	write("other.json", `{"not": "a flag file"}`)
	cfg, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if len(cfg.Flags) != 2 || cfg.Flags["crm-tool"].DefaultVariant != "on" || cfg.Flags["new-planner"].Variants["b"] != "v2" {
		t.Fatalf("flags = %+v", cfg.Flags)
	}
	write("more.flagd.json", `{"flags": {"crm-tool": {"state": "ENABLED", "variants": {"x": 1}, "defaultVariant": "y"}}}`)
	_, err = LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), `flag "crm-tool"`) || !strings.Contains(err.Error(), "more.flagd.json") {
		t.Fatalf("a bad flag file: %v; want the file and the flag named", err)
	}
	write("more.flagd.json", `{"flags": {"crm-tool": {"state": "ENABLED", "variants": {"x": 1}, "defaultVariant": "x"}}}`)
	_, err = LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), `flag "crm-tool" is defined twice`) {
		t.Fatalf("a flag defined twice: %v", err)
	}
}

// writeFile writes text to name under dir, creating directories.
func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestIncidentSettings(t *testing.T) {
	const doc = `apiVersion: day2/v1
kind: IncidentSettings
metadata: {name: incidents}
spec:
  group_by: [service, environment, team]
  group_interval: 2m
  repeat_interval: 1h
`
	cfg, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.Incidents; strings.Join(got.GroupBy, ",") != "service,environment,team" ||
		got.GroupInterval.D() != 2*time.Minute || got.RepeatInterval.D() != time.Hour {
		t.Fatalf("incident settings = %+v", got)
	}
	for _, tc := range []struct {
		name, yaml string
		want       []at
	}{
		{"a repeat interval too short", strings.Replace(doc, "repeat_interval: 1h", "repeat_interval: 10s", 1),
			[]at{{1, "IncidentSettings incidents: repeat_interval 10s is under a minute"}}},
		{"a misspelt key", strings.Replace(doc, "group_by:", "groupby:", 1),
			[]at{{5, `unknown key "groupby" in the IncidentSettings spec; did you mean group_by?`}}},
		{"two documents", doc + "---\n" + strings.Replace(doc, "name: incidents", "name: more", 1),
			[]at{{9, "a second IncidentSettings document; the first is at t.yaml:1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			ps, ok := err.(Problems)
			if !ok {
				t.Fatalf("Parse error %v (%T), want Problems", err, err)
			}
			checkProblems(t, ps, "t.yaml", tc.want)
		})
	}
}

package config

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// builtin describes one of the default SLOs an SLODefaults document configures.
type builtin struct {
	key  string // the key under SLODefaults spec
	name string // the SLO's name, "<service>/<name>"
	// rate marks SLOs bounded by a share of bad events, written max_rate; the
	// others are set by the share of good events, written target.
	rate bool
	// what the target or max_rate is a share of, for messages.
	what    string
	example float64
	// cycle marks cycle-time, the only one with threshold and business_hours.
	cycle bool
	slot  func(*slo.DefaultsSettings) **slo.DefaultSLO
}

var builtins = []builtin{
	{key: "task_success", name: "task-success", what: "the share of tasks that succeed", example: 0.97,
		slot: func(d *slo.DefaultsSettings) **slo.DefaultSLO { return &d.TaskSuccess }},
	{key: "escalation_rate", name: "escalation-rate", rate: true, what: "the share of tasks escalated to a person", example: 0.05,
		slot: func(d *slo.DefaultsSettings) **slo.DefaultSLO { return &d.EscalationRate }},
	{key: "cycle_time", name: "cycle-time", cycle: true, what: "the share of tasks that finish within threshold", example: 0.95,
		slot: func(d *slo.DefaultsSettings) **slo.DefaultSLO { return &d.CycleTime }},
	{key: "tool_failure", name: "tool-failure", rate: true, what: "the share of tool calls that fail", example: 0.005,
		slot: func(d *slo.DefaultsSettings) **slo.DefaultSLO { return &d.ToolFailure }},
}

// off reports whether the defaults switch the built-in b off.
func (b builtin) off(d slo.DefaultsSettings) bool {
	s := *b.slot(&d)
	return d.Disabled || s != nil && s.Disabled
}

const defaultsExample = "spec: {task_success: {target: 0.98}, escalation_rate: {max_rate: 0.03}, tool_failure: {disabled: true}}"

// sloDefaultsDoc reads the SLODefaults document into Config.Defaults.
func (l *loader) sloDefaultsDoc(o *object) {
	before := l.count()
	keys := []string{"disabled"}
	for _, b := range builtins {
		keys = append(keys, b.key)
	}
	m, ok := l.mapping(o.spec.val, o.spec.line(), "the SLODefaults spec", defaultsExample, keys...)
	if !ok {
		return
	}
	var ds slo.DefaultsSettings
	if f := m["disabled"]; f.ok() {
		ds.Disabled, _ = l.boolean(f)
	}
	for _, b := range builtins {
		if f := m[b.key]; f.ok() {
			*b.slot(&ds) = l.defaultSLO(f, b)
		}
	}
	if l.count() == before {
		l.cfg.Defaults = ds
	}
}

// defaultSLO reads the settings of one built-in SLO.
func (l *loader) defaultSLO(f field, b builtin) *slo.DefaultSLO {
	bound := "target"
	if b.rate {
		bound = "max_rate"
	}
	m, ok := l.mapping(f.val, f.line(), b.key, fmt.Sprintf("%s: {%s: %v, window: 28d}", b.key, bound, b.example),
		"disabled", "target", "max_rate", "window", "threshold", "business_hours")
	if !ok {
		return nil
	}
	d := &slo.DefaultSLO{}
	if v := m["disabled"]; v.ok() {
		d.Disabled, _ = l.boolean(v)
	}
	if v := m["target"]; v.ok() {
		if b.rate {
			l.addf(v.line(), "%s is bounded by %s, so write the most it may be: max_rate: %v (at most %s), not target", b.key, b.what, b.example, percent(b.example))
		} else if x, ok := l.number(v, fmt.Sprint(b.example)); ok {
			switch {
			case x > 1 && x < 100:
				l.addf(v.line(), "target is a fraction like %v; did you mean target: %s?", b.example, fmtFloat(x/100))
			case x <= 0 || x >= 1:
				l.addf(v.line(), "target is %s and must be between 0 and 1, such as %v (%s)", b.what, b.example, percent(b.example))
			default:
				d.Objective = x
			}
		}
	}
	if v := m["max_rate"]; v.ok() {
		if !b.rate {
			l.addf(v.line(), "%s is set by %s, so write the least it must be: target: %v (at least %s), not max_rate", b.key, b.what, b.example, percent(b.example))
		} else if x, ok := l.number(v, fmt.Sprint(b.example)); ok {
			switch {
			case x > 1 && x < 100:
				l.addf(v.line(), "max_rate is a fraction like %v (%s); did you mean max_rate: %s?", b.example, percent(b.example), fmtFloat(x/100))
			case x <= 0 || x >= 1:
				l.addf(v.line(), "max_rate is %s and must be between 0 and 1, such as %v (%s)", b.what, b.example, percent(b.example))
			default:
				d.Objective = round12(1 - x)
			}
		}
	}
	if v := m["window"]; v.ok() {
		if l.deref(v.val).Kind == yaml.MappingNode {
			if w, ok := l.timeWindow(v); ok {
				d.Window = &w
			}
		} else if sh, ok := l.duration(v, "28d", false); ok {
			d.Window = &slo.TimeWindow{Duration: sh.d, Rolling: true, Text: sh.text}
		}
	}
	for _, k := range []string{"threshold", "business_hours"} {
		if v := m[k]; v.ok() && !b.cycle {
			l.addf(v.line(), "%s applies only to cycle_time", k)
		}
	}
	if v := m["threshold"]; v.ok() && b.cycle {
		if s, ok := l.text(v, "120s"); ok {
			td, err := day2.ParseDuration(s)
			switch {
			case err != nil:
				l.addf(v.line(), "threshold: %s", day2.ErrorMessage(err))
			case td.Milliseconds() < 1:
				l.addf(v.line(), "threshold must be positive: the longest cycle time a good task may take, such as 120s")
			default:
				d.CycleTimeMS = td.Milliseconds()
			}
		}
	}
	if v := m["business_hours"]; v.ok() && b.cycle {
		d.BusinessHours, _ = l.businessHours(v)
	}
	return d
}

// budgetPolicyDoc reads the BudgetPolicy document into Config.Policy.
func (l *loader) budgetPolicyDoc(o *object) {
	m, ok := l.mapping(o.spec.val, o.spec.line(), "the BudgetPolicy spec", "spec: {at_risk_below: 0.25}", "at_risk_below")
	if !ok {
		return
	}
	f := m["at_risk_below"]
	if !f.ok() {
		l.need(f, o.spec.line(), "the BudgetPolicy spec needs at_risk_below:, the share of the error budget left under which a service is at risk, such as at_risk_below: 0.25")
		return
	}
	x, ok := l.number(f, "0.25")
	if !ok {
		return
	}
	switch {
	case x > 1 && x <= 100:
		l.addf(f.line(), "at_risk_below is a fraction of the budget left, like 0.25; did you mean at_risk_below: %s?", fmtFloat(x/100))
	case x < 0 || x > 1:
		l.addf(f.line(), "at_risk_below must be between 0 and 1, the share of the error budget left, such as 0.25")
	default:
		l.cfg.Policy.AtRiskBelow = x
	}
}

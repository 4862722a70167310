package slo

import (
	"context"
	"fmt"
	"time"

	"github.com/day2ops/day2"
)

// Error budget policies of a service.
const (
	PolicyHealthy = "healthy"
	PolicyAtRisk  = "at_risk"
	PolicyFrozen  = "frozen"
)

// GateDecision says whether a service may release now, and why.
type GateDecision struct {
	Allowed     bool            `json:"allowed"`
	Policy      string          `json:"policy"`
	Reasons     []string        `json:"reasons"`
	Service     string          `json:"service"`
	Environment string          `json:"environment,omitempty"`
	At          time.Time       `json:"at"`
	Overrides   []day2.Override `json:"overrides"`
	SLOs        []Status        `json:"slos"`
}

// Decide applies the error budget policy to a service's SLO statuses, following
// the SRE Workbook: releases stop while any SLO's budget over its window is
// exhausted or a page alert fires (frozen); a budget under the at-risk share
// warns (at_risk); otherwise healthy. An unexpired override lets releases through
// a freeze; the policy still reads frozen so nobody forgets why.
func Decide(sts []Status, p PolicySettings, overrides []day2.Override) GateDecision {
	d := GateDecision{Policy: PolicyHealthy, Reasons: []string{}, Overrides: overrides, SLOs: sts}
	if d.Overrides == nil {
		d.Overrides = []day2.Override{}
	}
	worse := func(policy string) {
		if policy == PolicyFrozen || (policy == PolicyAtRisk && d.Policy == PolicyHealthy) {
			d.Policy = policy
		}
	}
	for i := range sts {
		st := &sts[i]
		if st.NoData {
			continue
		}
		rf := st.ErrorBudget.RemainingFraction
		switch {
		case rf <= 0:
			worse(PolicyFrozen)
			d.Reasons = append(d.Reasons, fmt.Sprintf("%s: error budget exhausted (%.1f%% left of the %s window; SLI %.3f%% vs objective %.3f%%)",
				st.Name, 100*rf, st.Window, 100*deref(st.SLI), 100*st.Objective))
		case rf < p.AtRiskBelow:
			worse(PolicyAtRisk)
			d.Reasons = append(d.Reasons, fmt.Sprintf("%s: only %.1f%% of the error budget left (at risk below %.0f%%)",
				st.Name, 100*rf, 100*p.AtRiskBelow))
		}
		for _, a := range st.Alerts {
			if a.Severity == Page && a.State == StateFiring {
				worse(PolicyFrozen)
				d.Reasons = append(d.Reasons, fmt.Sprintf("%s: page alert firing since %s (burn-rate windows %s)",
					st.Name, a.Since.UTC().Format(time.RFC3339), a.Windows))
			}
		}
	}
	d.Allowed = d.Policy != PolicyFrozen
	if !d.Allowed && len(overrides) > 0 {
		o := overrides[0]
		d.Allowed = true
		d.Reasons = append(d.Reasons, fmt.Sprintf("freeze overridden by %s until %s: %s", o.Actor, o.ExpiresAt.UTC().Format(time.RFC3339), o.Reason))
	}
	if len(d.Reasons) == 0 {
		d.Reasons = append(d.Reasons, "every SLO is within its error budget")
	}
	return d
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// Gate decides whether service may release in environment ("" for all) at time
// at. With an environment, every SLO is evaluated on that environment's tasks
// only, so a staging regression does not freeze production; custom SLOs fixed to
// another environment are left out.
func (e *Engine) Gate(ctx context.Context, service, environment string, at time.Time, live bool) (GateDecision, error) {
	defs, err := e.Definitions(ctx, service)
	if err != nil {
		return GateDecision{}, err
	}
	if environment != "" {
		defs = forEnvironment(defs, environment)
	}
	sts, err := e.Evaluate(ctx, service, defs, at, !live || environment != "")
	if err != nil {
		return GateDecision{}, err
	}
	if live && environment == "" {
		if err := e.mergePersisted(ctx, sts); err != nil {
			return GateDecision{}, err
		}
	}
	ovs, err := e.st.Overrides(ctx, service, at)
	if err != nil {
		return GateDecision{}, fmt.Errorf("load overrides: %w", err)
	}
	var active []day2.Override
	for _, o := range ovs {
		if o.Environment == "" || environment == "" || o.Environment == environment {
			active = append(active, o)
		}
	}
	d := Decide(sts, e.settings.Load().Policy, active)
	d.Service, d.Environment, d.At = service, environment, at.UTC()
	return d, nil
}

// forEnvironment narrows every selector to env; definitions whose selectors name
// another environment are dropped.
func forEnvironment(defs []Definition, env string) []Definition {
	var out []Definition
	narrow := func(s *Selector) (*Selector, bool) {
		if s == nil {
			return nil, true
		}
		c := *s
		if c.Filter.Environment != "" && c.Filter.Environment != env {
			return nil, false
		}
		c.Filter.Environment = env
		return &c, true
	}
	for _, d := range defs {
		g, ok1 := narrow(d.Indicator.Good)
		b, ok2 := narrow(d.Indicator.Bad)
		t, ok3 := narrow(&d.Indicator.Total)
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		d.Indicator = Indicator{Good: g, Bad: b, Total: *t}
		out = append(out, d)
	}
	return out
}

package config

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2/slo"
)

// finish resolves references across all files read and returns the Config, or
// every problem found.
func (l *loader) finish() (*Config, error) {
	byPos := func(a, b *policyDef) int {
		return cmp.Or(strings.Compare(a.file, b.file), cmp.Compare(a.line, b.line))
	}
	policies := slices.SortedFunc(maps.Values(l.policies), byPos)
	for _, p := range append(policies, l.inlinePols...) {
		l.resolvePolicy(p)
	}
	names := map[string]pos{}
	for _, s := range l.slos {
		l.build(s, names)
	}
	l.checkRunbookRefs()
	if l.count() > 0 {
		return nil, l.report()
	}
	return l.cfg, nil
}

// resolvePolicy looks up the conditions a policy refers to.
func (l *loader) resolvePolicy(p *policyDef) {
	if !p.ok {
		return
	}
	for _, u := range p.conds {
		c := u.inline
		if c == nil {
			c = l.conditions[u.ref]
		}
		switch {
		case c == nil:
			l.addAt(p.file, u.line, "conditionRef %q names no AlertCondition; %s", u.ref, defined("AlertCondition", l.conditions))
			p.ok = false
		case !c.ok:
			p.ok = false // reported where the condition is
		default:
			p.resolved = append(p.resolved, c)
		}
	}
}

// defined lists the names of the documents of a kind, for "names no X" messages.
func defined[V any](kind string, m map[string]V) string {
	names := sortedKeys(m)
	switch {
	case len(names) == 0:
		return fmt.Sprintf("there is no %s document in the config; add one with that metadata.name", kind)
	case len(names) > 10:
		names = append(names[:10], "...")
	}
	return fmt.Sprintf("the %s documents are %s", kind, strings.Join(names, ", "))
}

// usedCondition is a condition as an SLO uses it, with the line of the
// alertPolicies entry that brought it in.
type usedCondition struct {
	*conditionDef
	line int
}

// build turns an SLO document into one slo.Definition per objective.
func (l *loader) build(s *sloDef, names map[string]pos) {
	if !s.ok {
		return
	}
	var ind slo.Indicator
	if s.ind != nil {
		ind = *s.ind
	} else {
		d := l.slis[s.indRef]
		if d == nil {
			l.addAt(s.file, s.indRefLine, "indicatorRef %q names no SLI; %s", s.indRef, defined("SLI", l.slis))
			return
		}
		if !d.ok {
			return // reported where the SLI is
		}
		ind = d.ind
	}

	var (
		alerting  *Alerting
		conds     []usedCondition
		minEvents *usedCondition
		ok        = true
	)
	for _, u := range s.policies {
		p := u.inline
		if p == nil {
			if p = l.policies[u.ref]; p == nil {
				l.addAt(s.file, u.line, "alert policy %q names no AlertPolicy; %s", u.ref, defined("AlertPolicy", l.policies))
				ok = false
				continue
			}
		}
		if !p.ok {
			ok = false
			continue
		}
		if alerting == nil {
			alerting = &Alerting{}
		}
		alerting.Policies = append(alerting.Policies, p.name)
		for _, t := range p.targets {
			if !slices.Contains(alerting.NotificationTargets, t) {
				alerting.NotificationTargets = append(alerting.NotificationTargets, t)
			}
		}
		for _, c := range p.resolved {
			uc := usedCondition{c, u.line}
			conds = append(conds, uc)
			if c.minEvents == 0 {
				continue
			}
			if minEvents == nil {
				minEvents = &uc
			} else if minEvents.minEvents != c.minEvents {
				l.addAt(s.file, u.line, "the conditions %s (%s, minEvents %d) and %s (%s, minEvents %d) of this SLO set different day2.minEvents; day2 applies one minimum per SLO, so give them the same value",
					minEvents.cond.Name, minEvents.pos, minEvents.minEvents, c.cond.Name, c.pos, c.minEvents)
				ok = false
			}
		}
	}
	for _, c := range conds {
		if c.cond.Pair.Long >= s.window.Duration {
			l.addAt(s.file, c.line, "condition %s looks back %s, as long as or longer than the SLO's time window %s; use a lookbackWindow shorter than the window", c.cond.Name, human(c.cond.Pair.Long), s.window.Text)
			ok = false
		}
	}
	if !ok {
		return
	}

	for _, obj := range s.objectives {
		name := s.service + "/" + s.name
		if len(s.objectives) > 1 {
			name += "-" + obj.label
		}
		if first, dup := names[name]; dup {
			l.addAt(s.file, obj.line, "SLO %s is already defined at %s; SLO names (<service>/<metadata.name>[-<objective>]) must be unique", name, first)
			continue
		}
		names[name] = pos{s.file, obj.line}
		short := strings.TrimPrefix(name, s.service+"/")
		for _, b := range builtins {
			if b.name == short && !b.off(l.cfg.Defaults) {
				l.addAt(s.file, s.line, "SLO %s has the name of a built-in SLO that day2 creates for every service; choose another metadata.name, or switch the built-in off with an SLODefaults document (spec: {%s: {disabled: true}})", name, b.key)
			}
		}
		for _, c := range conds {
			l.checkReachable(s.file, c, name, obj.target)
		}
		def := slo.Definition{
			Name:            name,
			Service:         s.service,
			Description:     s.description,
			Objective:       obj.target,
			Window:          s.window,
			Method:          s.method,
			TimesliceTarget: obj.tsTarget,
			TimesliceWindow: obj.tsWindow,
			Indicator:       cloneIndicator(ind),
			MinEvents:       DefaultMinEvents,
			Source:          s.pos.String(),
		}
		if minEvents != nil {
			def.MinEvents = minEvents.minEvents
		}
		if alerting != nil {
			a := Alerting{
				Policies:            slices.Clone(alerting.Policies),
				NotificationTargets: slices.Clone(alerting.NotificationTargets),
			}
			for _, c := range conds {
				def.AlertPairs = append(def.AlertPairs, c.cond.Pair)
				a.Conditions = append(a.Conditions, c.cond)
			}
			if l.cfg.Alerting == nil {
				l.cfg.Alerting = map[string]Alerting{}
			}
			l.cfg.Alerting[name] = a
		}
		l.cfg.SLOs = append(l.cfg.SLOs, def)
	}
}

// checkReachable reports a burn-rate threshold an SLO can never reach: when every
// event is bad the burn rate is 1/(1-objective), and no higher.
func (l *loader) checkReachable(file string, c usedCondition, name string, objective float64) {
	most := 1 / (1 - objective)
	t := c.cond.Pair.Threshold
	if t > most*(1+1e-9) || (c.cond.Op == "gt" && t >= most*(1-1e-9)) {
		l.addAt(file, c.line, "condition %s (burn rate %s %s) can never fire for SLO %s: with objective %s the burn rate is at most %s, even when every event is bad; lower the threshold or raise the objective",
			c.cond.Name, c.cond.Op, fmtFloat(t), name, fmtFloat(objective), fmtFloat(most))
	}
}

// human formats a duration in the largest whole unit: 3d, 6h, 5m.
func human(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		unit string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if d >= u.d && d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.unit)
		}
	}
	return d.String()
}

func cloneIndicator(ind slo.Indicator) slo.Indicator {
	if ind.Good != nil {
		g := *ind.Good
		ind.Good = &g
	}
	if ind.Bad != nil {
		b := *ind.Bad
		ind.Bad = &b
	}
	return ind
}

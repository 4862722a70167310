package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// KindRuleState is the record kind of a rule's persisted state.
const KindRuleState = "rule_state"

// Rule states.
const (
	RuleInactive = "inactive"
	RulePending  = "pending"
	RuleFiring   = "firing"
)

// RuleState is where a rule stands, kept as a record of kind "rule_state" (ID
// the rule's name) so that a restart neither fires a firing rule again nor
// forgets how long a pending one has been pending.
type RuleState struct {
	Rule  string `json:"rule"`
	State string `json:"state"`
	// Service, Environment and Severity are the rule's when the state was
	// written, so that a firing rule removed from the configuration resolves.
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Severity    string `json:"severity,omitempty"`
	// Since is when the condition began to hold (pending and firing).
	Since time.Time `json:"since,omitzero"`
	// FiredAt is when the rule last fired.
	FiredAt time.Time `json:"fired_at,omitzero"`
	// Last is the latest measure.
	Last      Measure   `json:"last"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RuleEvaluator evaluates threshold rules over the rollups. Tick returns the
// alerts whose state changed: firing when a rule's condition has held for its
// For, resolved when it stops holding. One evaluator runs per cluster (the
// leader's).
type RuleEvaluator struct {
	records day2.RecordStore
	rollups slo.RowSource
	log     *slog.Logger

	mu     sync.Mutex
	rules  []Rule
	states map[string]*ruleEntry // by rule name; nil until loaded
	stale  bool                  // another writer changed a state: reload after this tick
}

// ruleEntry is a rule's state with the revision of its record.
type ruleEntry struct {
	st  RuleState
	rev int64
}

// NewRuleEvaluator returns an evaluator of rules over rollups, keeping their
// states in records. Every rule must be valid and names unique.
func NewRuleEvaluator(records day2.RecordStore, rollups day2.RollupStore, rules []Rule, log *slog.Logger) (*RuleEvaluator, error) {
	if records == nil || rollups == nil {
		return nil, day2.Errorf(day2.EInvalid, "the rule evaluator needs a record store and a rollup store")
	}
	if log == nil {
		log = slog.Default()
	}
	e := &RuleEvaluator{records: records, rollups: rollups, log: log}
	if err := e.SetRules(rules); err != nil {
		return nil, err
	}
	return e, nil
}

// SetRules replaces the rules (a config reload). States are kept by rule name;
// a firing rule that is gone resolves at the next Tick.
func (e *RuleEvaluator) SetRules(rules []Rule) error {
	seen := map[string]bool{}
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return err
		}
		if seen[rules[i].Name] {
			return day2.Errorf(day2.EInvalid, "two alert rules are named %q; names must be unique", rules[i].Name)
		}
		seen[rules[i].Name] = true
	}
	e.mu.Lock()
	e.rules = append([]Rule(nil), rules...)
	e.mu.Unlock()
	return nil
}

// Rules returns the current rules.
func (e *RuleEvaluator) Rules() []Rule {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Rule(nil), e.rules...)
}

// States returns the state of every rule that has one, by rule name.
func (e *RuleEvaluator) States(ctx context.Context) (map[string]RuleState, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]RuleState, len(e.states))
	for k, v := range e.states {
		out[k] = v.st
	}
	return out, nil
}

// load reads the persisted states once.
func (e *RuleEvaluator) load(ctx context.Context) error {
	if e.states != nil {
		return nil
	}
	recs, err := e.records.ListRecords(ctx, day2.RecordFilter{Kind: KindRuleState, Order: day2.OldestFirst, Limit: 1000})
	if err != nil {
		return fmt.Errorf("load alert rule states: %w", err)
	}
	states := make(map[string]*ruleEntry, len(recs))
	for _, r := range recs {
		var st RuleState
		if err := json.Unmarshal(r.Body, &st); err != nil {
			e.log.Warn("ignoring an unreadable alert rule state", "id", r.ID, "err", err)
			continue
		}
		states[r.ID] = &ruleEntry{st: st, rev: r.Rev}
	}
	e.states = states
	return nil
}

// Tick evaluates every rule at now and returns the alerts of the rules whose
// state changed to firing or from firing to resolved. The new states are
// persisted before Tick returns; a rule whose state could not be saved is
// left as it was and evaluated again next time, so an alert is returned once.
func (e *RuleEvaluator) Tick(ctx context.Context, now time.Time) ([]Alert, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.load(ctx); err != nil {
		return nil, err
	}
	defer func() {
		if e.stale {
			e.states, e.stale = nil, false
		}
	}()
	to := now.UTC().Truncate(time.Minute)
	byService := map[string][]*Rule{}
	var services []string
	active := map[string]bool{}
	for i := range e.rules {
		r := &e.rules[i]
		active[r.Name] = true
		if byService[r.Service] == nil {
			services = append(services, r.Service)
		}
		byService[r.Service] = append(byService[r.Service], r)
	}
	var alerts []Alert
	var errs []error
	for _, svc := range services {
		rules := byService[svc]
		ivs := make([]slo.Interval, 0, len(rules))
		for _, r := range rules {
			ivs = append(ivs, slo.Interval{From: to.Add(-r.Window.D()), To: to})
		}
		data, err := slo.Load(ctx, e.rollups, svc, ivs, false)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert rules of %s: read rollups: %w", svc, err))
			continue
		}
		for _, r := range rules {
			t := data.Sum(slo.Filter{Environment: r.Environment}, to.Add(-r.Window.D()), to, nil)
			if err := data.Err(); err != nil {
				errs = append(errs, fmt.Errorf("alert rule %s: read rollups: %w", r.Name, err))
				break
			}
			a, err := e.step(ctx, r, r.measure(&t), now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if a != nil {
				alerts = append(alerts, *a)
			}
		}
	}
	// Rules removed from the configuration resolve if they were firing.
	names := make([]string, 0, len(e.states))
	for name := range e.states {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ent := e.states[name]
		if active[name] || ent.st.State == RuleInactive {
			continue
		}
		prev := ent.st
		next := prev
		next.State, next.Since, next.UpdatedAt = RuleInactive, time.Time{}, now
		if err := e.save(ctx, name, next); err != nil {
			errs = append(errs, err)
			continue
		}
		if prev.State == RuleFiring && prev.Service != "" {
			sev := prev.Severity
			if sev == "" {
				sev = SeverityTicket
			}
			alerts = append(alerts, Alert{Source: SourceRule, Key: ruleKey(name), Status: StatusResolved,
				Service: prev.Service, Environment: prev.Environment, Severity: sev, StartsAt: prev.Since,
				Summary: "alert rule " + name + " was removed from the configuration", Labels: map[string]string{"rule": name}})
		}
	}
	return alerts, errors.Join(errs...)
}

// ruleKey is the alert key of a rule.
func ruleKey(name string) string { return "rule:" + name }

// step moves r's state given the measure m at now, persists a change, and
// returns the alert to send, if any.
func (e *RuleEvaluator) step(ctx context.Context, r *Rule, m Measure, now time.Time) (*Alert, error) {
	ent := e.states[r.Name]
	prev := RuleState{Rule: r.Name, State: RuleInactive}
	if ent != nil {
		prev = ent.st
	}
	cond := m.OK && r.holds(m.Value) && m.Events >= r.MinEvents
	next := prev
	next.Last = m
	next.Service, next.Environment, next.Severity = r.Service, r.Environment, r.Severity
	var alert *Alert
	switch {
	case cond && prev.State == RuleInactive:
		next.State, next.Since = RulePending, now
		if r.For.D() <= 0 {
			next.State, next.FiredAt = RuleFiring, now
			alert = e.alert(r, m, StatusFiring, now)
		}
	case cond && prev.State == RulePending:
		if now.Sub(prev.Since) >= r.For.D() {
			next.State, next.FiredAt = RuleFiring, now
			alert = e.alert(r, m, StatusFiring, prev.Since)
		}
	case !cond && prev.State == RuleFiring:
		next.State, next.Since = RuleInactive, time.Time{}
		alert = e.alert(r, m, StatusResolved, prev.Since)
	case !cond && prev.State == RulePending:
		next.State, next.Since = RuleInactive, time.Time{}
	}
	if next.State == prev.State && next.Since.Equal(prev.Since) && ent != nil &&
		prev.Service == r.Service && prev.Environment == r.Environment && prev.Severity == r.Severity {
		ent.st.Last = m // kept in memory only: not worth a write per tick
		return nil, nil
	}
	if ent == nil && next.State == RuleInactive {
		return nil, nil // nothing to remember yet
	}
	next.UpdatedAt = now
	if err := e.save(ctx, r.Name, next); err != nil {
		return nil, err
	}
	return alert, nil
}

// save persists st as the state of rule name.
func (e *RuleEvaluator) save(ctx context.Context, name string, st RuleState) error {
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var rev int64
	if ent := e.states[name]; ent != nil {
		rev = ent.rev
	}
	rec := day2.Record{Kind: KindRuleState, ID: name, State: st.State, Body: body, Rev: rev}
	stored, _, err := e.records.PutRecords(ctx, []day2.Record{rec}, nil)
	if err != nil {
		if day2.ErrorCode(err) == day2.EConflict {
			// Another evaluator wrote it (a leader change): read it again next tick.
			e.stale = true
		}
		return fmt.Errorf("save the state of alert rule %s: %w", name, err)
	}
	e.states[name] = &ruleEntry{st: st, rev: stored[0].Rev}
	return nil
}

// alert builds the alert of rule r with status at measure m.
func (e *RuleEvaluator) alert(r *Rule, m Measure, status string, since time.Time) *Alert {
	labels := map[string]string{
		"rule": r.Name, "sli": r.SLI, "op": r.Op,
		"threshold": strconv.FormatFloat(r.Threshold, 'g', -1, 64),
		"window":    short(r.Window),
	}
	if m.OK {
		labels["value"] = strconv.FormatFloat(m.Value, 'g', 6, 64)
	}
	labels["events"] = strconv.FormatInt(m.Events, 10)
	return &Alert{
		Source: SourceRule, Key: ruleKey(r.Name), Status: status, Service: r.Service, Environment: r.Environment,
		Severity: r.Severity, Summary: r.summary(m, status == StatusFiring), Labels: labels, Runbook: r.Runbook,
		StartsAt: since.UTC(),
		Details: fmt.Sprintf("alert rule %s: %s %s %s over %s, at least %d events; %d in the window",
			r.Name, r.SLI, r.Op, formatSLI(r.SLI, r.Threshold), short(r.Window), r.MinEvents, m.Events),
	}
}

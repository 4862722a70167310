package slo

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/day2ops/day2"
)

// Settings are the SLO engine's configuration: custom SLOs from OpenSLO files,
// the built-in defaults' settings and the error budget policy. They are replaced
// as a whole on reload.
type Settings struct {
	Custom   []Definition
	Defaults DefaultsSettings
	Policy   PolicySettings
}

// Stores are what the engine reads and writes.
type Stores interface {
	RowSource
	ListServices(ctx context.Context) ([]day2.ServiceSummary, error)
	SaveAlerts(ctx context.Context, states []day2.AlertState, transitions []day2.AlertTransition) error
	AlertStates(ctx context.Context) ([]day2.AlertState, error)
	Overrides(ctx context.Context, service string, t time.Time) ([]day2.Override, error)
}

// Engine evaluates every SLO of every service: on demand for the API (at any
// time), and periodically (Tick) to keep alert states and their history.
type Engine struct {
	st       Stores
	log      *slog.Logger
	now      func() time.Time
	settings atomic.Pointer[Settings]
	last     atomic.Pointer[Snapshot]
	tickMu   sync.Mutex
	interval atomic.Int64 // of Run, in nanoseconds; 0 when not running
}

// Snapshot is the result of the latest periodic evaluation.
type Snapshot struct {
	At       time.Time
	Statuses []Status
}

// NewEngine returns an engine over st with the given settings and clock.
func NewEngine(st Stores, s Settings, now func() time.Time, log *slog.Logger) *Engine {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	e := &Engine{st: st, log: log, now: now}
	e.SetSettings(s)
	return e
}

// SetSettings replaces the configuration (a config reload). Alert states are
// kept: they are keyed by SLO name.
func (e *Engine) SetSettings(s Settings) {
	if s.Policy.AtRiskBelow == 0 {
		s.Policy.AtRiskBelow = 0.25
	}
	e.settings.Store(&s)
	e.last.Store(nil) // evaluated under the old settings
}

// Settings returns the current configuration.
func (e *Engine) Settings() Settings { return *e.settings.Load() }

// Now returns the engine's clock.
func (e *Engine) Now() time.Time { return e.now() }

// Last returns the latest periodic evaluation, or nil before the first.
func (e *Engine) Last() *Snapshot { return e.last.Load() }

// Definitions returns the SLOs of service ("" for all services): the built-in
// ones of every service seen in telemetry, then the custom ones, sorted by name.
func (e *Engine) Definitions(ctx context.Context, service string) ([]Definition, error) {
	s := e.settings.Load()
	svcs, err := e.st.ListServices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	seen := map[string]bool{}
	var defs []Definition
	for _, sv := range svcs {
		seen[sv.Service] = true
		if service == "" || sv.Service == service {
			defs = append(defs, Defaults(sv.Service, s.Defaults)...)
		}
	}
	for _, d := range s.Custom {
		if service == "" || d.Service == service {
			defs = append(defs, d)
			seen[d.Service] = true
		}
	}
	if service != "" && !seen[service] {
		return nil, day2.Errorf(day2.ENotFound, "no service %q: day2 has seen no telemetry from it and no SLO names it; check the service.name resource attribute of your agent", service)
	}
	sort.SliceStable(defs, func(i, j int) bool { return defs[i].Name < defs[j].Name })
	return defs, nil
}

// Evaluate computes the status of defs at time at, reading each service's rollups
// once. Definitions must all belong to one service. withSince also finds when
// each firing alert began (a scan of up to a day of minutes per alert).
func (e *Engine) Evaluate(ctx context.Context, service string, defs []Definition, at time.Time, withSince bool) ([]Status, error) {
	var ivs []Interval
	for i := range defs {
		ivs = append(ivs, defs[i].Intervals(at)...)
	}
	// Minute rows that business hours or timeslices need are fetched on demand.
	d, err := Load(ctx, e.st, service, ivs, false)
	if err != nil {
		return nil, fmt.Errorf("load rollups of %s: %w", service, err)
	}
	out := make([]Status, 0, len(defs))
	for i := range defs {
		st := Evaluate(&defs[i], d, at)
		if withSince {
			for j := range st.Alerts {
				if st.Alerts[j].State == StateFiring {
					st.Alerts[j].Since = FiringSince(&defs[i], d, at, st.Alerts[j].Severity)
				}
			}
		}
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("load rollups of %s: %w", service, err)
		}
		st.Definition = &defs[i]
		out = append(out, st)
	}
	return out, nil
}

// Status evaluates the SLOs of service ("" for all) at time at. When live is true
// (no at= asked), the persisted alert states (with "resolved" and the time of
// the last change) replace the computed ones.
//
// The live view of every service is served from the latest periodic evaluation
// while it is younger than the evaluation interval, as a dashboard polling it
// should not re-read every rollup on each poll; Snapshot says when that was.
func (e *Engine) Status(ctx context.Context, service string, at time.Time, live bool) ([]Status, error) {
	if snap := e.last.Load(); live && service == "" && snap != nil {
		if iv := time.Duration(e.interval.Load()); iv > 0 && e.now().Sub(snap.At) < iv {
			return append([]Status(nil), snap.Statuses...), nil
		}
	}
	return e.evaluateAll(ctx, service, at, live)
}

func (e *Engine) evaluateAll(ctx context.Context, service string, at time.Time, live bool) ([]Status, error) {
	defs, err := e.Definitions(ctx, service)
	if err != nil {
		return nil, err
	}
	var out []Status
	for svc, group := range byService(defs) {
		// Live answers take the start of a firing alert from its persisted state.
		sts, err := e.Evaluate(ctx, svc, group, at, !live)
		if err != nil {
			return nil, err
		}
		out = append(out, sts...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if live {
		if err := e.mergePersisted(ctx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func byService(defs []Definition) map[string][]Definition {
	m := map[string][]Definition{}
	for _, d := range defs {
		m[d.Service] = append(m[d.Service], d)
	}
	return m
}

// AlertKey is the persisted key of an SLO's burn-rate alert of one severity.
func AlertKey(slo string, sev Severity) string { return "slo:" + slo + ":" + string(sev) }

func (e *Engine) mergePersisted(ctx context.Context, sts []Status) error {
	states, err := e.st.AlertStates(ctx)
	if err != nil {
		return fmt.Errorf("load alert states: %w", err)
	}
	byKey := make(map[string]day2.AlertState, len(states))
	for _, s := range states {
		byKey[s.Key] = s
	}
	for i := range sts {
		for j := range sts[i].Alerts {
			a := &sts[i].Alerts[j]
			p, ok := byKey[AlertKey(sts[i].Name, a.Severity)]
			if !ok {
				continue
			}
			// The computed state is authoritative for firing/inactive now; the
			// persisted one adds "resolved" and the time of the last change.
			switch {
			case a.State == StateFiring && p.State == StateFiring:
				a.Since = p.Since
			case a.State == StateInactive && p.State == StateResolved:
				a.State, a.Since = StateResolved, p.Since
			}
		}
	}
	return nil
}

// Tick evaluates every SLO at the engine's now, persists alert state changes
// with their history, and keeps the result for Last (the metrics and dashboard
// read it). It returns the transitions it recorded.
func (e *Engine) Tick(ctx context.Context) ([]day2.AlertTransition, error) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	now := e.now().UTC()
	sts, err := e.evaluateAll(ctx, "", now, true)
	if err != nil {
		return nil, err
	}
	prev, err := e.st.AlertStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("load alert states: %w", err)
	}
	old := make(map[string]day2.AlertState, len(prev))
	for _, p := range prev {
		old[p.Key] = p
	}
	var states []day2.AlertState
	var trans []day2.AlertTransition
	for i := range sts {
		st := &sts[i]
		for j := range st.Alerts {
			a := &st.Alerts[j]
			key := AlertKey(st.Name, a.Severity)
			p, had := old[key]
			from := StateInactive
			if had {
				from = p.State
			}
			to := a.State
			if to == StateInactive && (from == StateFiring || from == StateResolved) {
				to = StateResolved
			}
			details := alertDetails(st, a)
			ns := day2.AlertState{Key: key, Source: "slo", SLO: st.Name, Service: st.Service, Severity: string(a.Severity),
				State: to, Since: p.Since, Details: details, UpdatedAt: now}
			if !had || from != to {
				ns.Since = now
				if to == StateFiring {
					ns.Since = e.firingSince(ctx, st, a.Severity, now) // when the condition began, to the minute
				}
				if had || to != StateInactive {
					trans = append(trans, day2.AlertTransition{Key: key, SLO: st.Name, Service: st.Service,
						Severity: string(a.Severity), From: from, To: to, At: ns.Since, Details: details})
				}
			}
			a.State, a.Since = ns.State, ns.Since
			states = append(states, ns)
		}
	}
	if err := e.st.SaveAlerts(ctx, states, trans); err != nil {
		return nil, fmt.Errorf("save alert states: %w", err)
	}
	for _, t := range trans {
		e.log.Info("slo alert", "slo", t.SLO, "severity", t.Severity, "from", t.From, "to", t.To, "details", t.Details)
	}
	e.last.Store(&Snapshot{At: now, Statuses: sts})
	return trans, nil
}

// firingSince finds when an alert that Tick sees firing for the first time began.
func (e *Engine) firingSince(ctx context.Context, st *Status, sev Severity, now time.Time) time.Time {
	if st.Definition == nil {
		return now
	}
	d, err := Load(ctx, e.st, st.Service, nil, false)
	if err != nil {
		return now
	}
	since := FiringSince(st.Definition, d, now, sev)
	if d.Err() != nil {
		return now
	}
	return since
}

func alertDetails(st *Status, a *AlertStatus) string {
	var parts []string
	for _, w := range Windows {
		if r := st.BurnRates[w.Key]; r != nil {
			parts = append(parts, fmt.Sprintf("%s=%.2f", w.Key, *r))
		}
	}
	s := "burn rates " + strings.Join(parts, " ")
	if a.Windows != "" {
		s = "windows " + a.Windows + " over threshold; " + s
	}
	return s
}

// Run ticks every interval until ctx ends.
func (e *Engine) Run(ctx context.Context, interval time.Duration) {
	e.RunWith(ctx, interval, nil)
}

// RunWith is Run that also passes the alert transitions of every tick to
// changed (when not nil), for incidents to act on.
func (e *Engine) RunWith(ctx context.Context, interval time.Duration, changed func(context.Context, []day2.AlertTransition)) {
	e.interval.Store(int64(interval))
	defer e.interval.Store(0)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		trans, err := e.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Error("slo evaluation failed", "err", err)
		}
		if len(trans) > 0 && changed != nil {
			changed(ctx, trans)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

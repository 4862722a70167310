package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// timeRange is one of the overview's switchable ranges with its chart step.
type timeRange struct {
	Key  string
	D    time.Duration
	Step time.Duration
}

var ranges = []timeRange{
	{"24h", 24 * time.Hour, 30 * time.Minute},
	{"7d", 7 * 24 * time.Hour, 2 * time.Hour},
	{"28d", 28 * 24 * time.Hour, 6 * time.Hour},
}

func findRange(key string) (timeRange, bool) {
	if key == "" {
		return ranges[0], true
	}
	for _, r := range ranges {
		if r.Key == key {
			return r, true
		}
	}
	return timeRange{}, false
}

// builtins are the four SLO tiles of the overview, in the seed's order.
var builtins = []struct{ Short, Title string }{
	{slo.NameTaskSuccess, "Task success"},
	{slo.NameEscalationRate, "Escalation rate"},
	{slo.NameCycleTime, "Cycle time p95"},
	{slo.NameToolFailure, "Tool failure"},
}

type overviewPage struct {
	chrome
	Env, Service, Range string
	Ranges              []string
	Envs, Services      []string
	Query               url.Values
	Empty               bool
	Reliability         []serviceRow
	Capacity            []metricTile
	Cost                []metricTile
	Releases            []releaseGroup
	RangeText           string
	PrevText            string
	EvaluatedAt         time.Time
}

type serviceRow struct {
	Service    string
	Policy     string
	PolicyText string
	Reasons    []string
	Tiles      []sloTile
	Custom     []sloLink
	ServiceURL string
}

type sloLink struct {
	Name, URL, Status, StatusText, Value string
}

type sloTile struct {
	Name, Short, Title, URL string
	Missing                 bool   // the built-in SLO is disabled in the config
	Value                   string // the headline value: the SLI, or the p95
	Target                  string
	Detail                  string
	Window                  string
	BudgetWidth             float64 // 0..100, for the bar
	BudgetText              string
	BudgetClass             string
	Status                  string
	StatusText              string
	Alerts                  []alertBadge
	Burn                    string
}

type alertBadge struct {
	Severity, Text string
}

type metricTile struct {
	ID, Title, Value, Unit, Detail string
	Trend, TrendClass, TrendText   string
	Spark                          spark
	NotMeasured                    bool
}

type releaseGroup struct {
	Service, Env string
	Rows         []releaseRow
	Rollout      *rolloutWatch // the rollout compared by, nil without one
}

type releaseRow struct {
	Version, Role, Share, Tasks string
	Few                         bool
	TasksURL                    string
	Cells                       []deltaCell
}

type deltaCell struct {
	Value, Delta, Class, Word string
}

// statusText pairs each SLO status with a symbol, so that colour is never the
// only sign of trouble.
var statusText = map[string]string{
	slo.StatusOK:        "✓ ok",
	slo.StatusBurning:   "▲ burning",
	slo.StatusExhausted: "✕ exhausted",
	slo.StatusNoData:    "– no data",
}

var policyText = map[string]string{
	slo.PolicyHealthy: "✓ releases allowed",
	slo.PolicyAtRisk:  "▲ budget at risk",
	slo.PolicyFrozen:  "✕ releases frozen",
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rng, ok := findRange(q.Get("range"))
	if !ok {
		u.fail(w, r, day2.Errorf(day2.EInvalid, "range=%q is not one of 24h, 7d, 28d", q.Get("range")))
		return
	}
	p, err := u.buildOverview(r.Context(), q.Get("env"), q.Get("service"), rng, u.engine.Now().UTC())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.chrome = u.chrome(r, "Overview", "overview")
	p.Refresh = 60
	u.render(w, http.StatusOK, "overview.html", p)
}

// buildOverview computes everything the overview shows at time now.
func (u *UI) buildOverview(ctx context.Context, env, service string, rng timeRange, now time.Time) (*overviewPage, error) {
	p := &overviewPage{Env: env, Service: service, Range: rng.Key, RangeText: "last " + rng.Key, PrevText: "the " + rng.Key + " before"}
	for _, r := range ranges {
		p.Ranges = append(p.Ranges, r.Key)
	}
	p.Query = url.Values{}
	if env != "" {
		p.Query.Set("env", env)
	}
	if service != "" {
		p.Query.Set("service", service)
	}
	svcs, err := u.store.ListServices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	envSet := map[string]bool{}
	var scope []day2.ServiceSummary
	for _, s := range svcs {
		p.Services = append(p.Services, s.Service)
		for _, e := range s.Environments {
			envSet[e] = true
		}
		if service == "" || s.Service == service {
			scope = append(scope, s)
		}
	}
	for e := range envSet {
		p.Envs = append(p.Envs, e)
	}
	sort.Strings(p.Envs)
	if service != "" && len(scope) == 0 {
		return nil, day2.Errorf(day2.ENotFound, "no service %q: day2 has seen no telemetry from it; pick one of the services listed on the overview", service)
	}
	if len(svcs) == 0 {
		p.Empty = true
		return p, nil
	}

	to := now.Truncate(time.Minute)
	from := to.Add(-rng.D)
	buckets := bucketStarts(from, to, rng.Step)
	agg := make([]slo.Totals, len(buckets))
	var cur, prev slo.Totals

	// Over all environments the SLOs are those of the periodic evaluation, the
	// one that fires alerts; narrowed to an environment they are evaluated now,
	// as the release gate does.
	snap := u.engine.Last()
	if env != "" || snap == nil || now.Sub(snap.At) > snapshotMaxAge {
		snap = nil
	}
	// Services are independent: compute them side by side, a core each.
	parts := make([]servicePart, len(scope))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range scope {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			parts[i] = u.servicePart(ctx, scope[i], env, snap, buckets, rng, now)
		}()
	}
	wg.Wait()
	p.EvaluatedAt = now
	for i := range parts {
		sp := &parts[i]
		if sp.err != nil {
			return nil, sp.err
		}
		if sp.fromSnapshot {
			p.EvaluatedAt = snap.At
		}
		p.Reliability = append(p.Reliability, sp.row)
		p.Releases = append(p.Releases, sp.releases...)
		for j := range agg {
			addTotals(&agg[j], &sp.buckets[j])
		}
		addTotals(&cur, &sp.cur)
		addTotals(&prev, &sp.prev)
	}
	p.Capacity = capacityTiles(buckets, agg, &cur, &prev, rng)
	p.Cost = costTiles(buckets, agg, &cur, &prev, rng)
	return p, nil
}

// servicePart is what one service adds to the overview.
type servicePart struct {
	row          serviceRow
	releases     []releaseGroup
	buckets      []slo.Totals // per chart point
	cur, prev    slo.Totals   // the range and the range before
	fromSnapshot bool
	err          error
}

// servicePart evaluates the SLOs of service s (or takes them from snap) and sums
// its rollups over the range, reading them once.
func (u *UI) servicePart(ctx context.Context, s day2.ServiceSummary, env string, snap *slo.Snapshot, buckets []slo.Interval, rng timeRange, now time.Time) (sp servicePart) {
	gate, ok, err := u.snapshotGate(ctx, snap, s.Service, now)
	if err == nil && !ok {
		gate, err = u.engine.Gate(ctx, s.Service, env, now, true)
	}
	if err != nil {
		sp.err = fmt.Errorf("evaluate SLOs of %s: %w", s.Service, err)
		return sp
	}
	sp.fromSnapshot = ok
	to := now.Truncate(time.Minute)
	from := to.Add(-rng.D)
	ivs := []slo.Interval{{From: from.Add(-rng.D), To: to}}
	for _, b := range buckets {
		ivs = append(ivs, slo.Interval{From: b.From, To: b.To})
	}
	if st := findStatus(gate.SLOs, s.Service+"/"+slo.NameCycleTime); st != nil && st.Definition != nil {
		f, t := st.Definition.WindowRange(now)
		ivs = append(ivs, slo.Interval{From: f, To: t})
	}
	d, err := slo.Load(ctx, u.rollups, s.Service, ivs, false)
	if err != nil {
		sp.err = fmt.Errorf("load rollups of %s: %w", s.Service, err)
		return sp
	}
	filter := slo.Filter{Environment: env}
	sp.row = u.serviceRow(s.Service, env, gate, d, now)
	sp.buckets = make([]slo.Totals, len(buckets))
	for i, b := range buckets {
		sp.buckets[i] = d.Sum(filter, b.From, b.To, nil)
	}
	sp.cur = d.Sum(filter, from, to, nil)
	sp.prev = d.Sum(filter, from.Add(-rng.D), from, nil)
	if sp.releases, sp.err = u.releaseWatch(ctx, s, env, gate, d, from, to); sp.err != nil {
		return sp
	}
	if err := d.Err(); err != nil {
		sp.err = fmt.Errorf("load rollups of %s: %w", s.Service, err)
	}
	return sp
}

// snapshotMaxAge is how old the periodic evaluation may be for the overview to
// show it; older (the evaluation is failing or slow) and the SLOs are
// evaluated for the page.
const snapshotMaxAge = 2 * time.Minute

// snapshotGate applies the error budget policy to the statuses of service in the
// periodic evaluation snap; ok is false when snap is nil or has no SLO of the
// service (it appeared since).
func (u *UI) snapshotGate(ctx context.Context, snap *slo.Snapshot, service string, now time.Time) (d slo.GateDecision, ok bool, err error) {
	if snap == nil {
		return d, false, nil
	}
	var sts []slo.Status
	for _, st := range snap.Statuses {
		if st.Service == service {
			sts = append(sts, st)
		}
	}
	if len(sts) == 0 {
		return d, false, nil
	}
	ovs, err := u.store.Overrides(ctx, service, now)
	if err != nil {
		return d, false, fmt.Errorf("load overrides: %w", err)
	}
	var active []day2.Override
	for _, o := range ovs {
		if o.Environment == "" {
			active = append(active, o)
		}
	}
	d = slo.Decide(sts, u.engine.Settings().Policy, active)
	d.Service, d.At = service, snap.At
	return d, true, nil
}

func addTotals(dst, src *slo.Totals) {
	dst.Counters.Add(src.Counters)
	dst.Cycle.Merge(&src.Cycle)
}

// bucketStarts splits [from, to) at multiples of step: the first and last
// buckets may be partial.
func bucketStarts(from, to time.Time, step time.Duration) []slo.Interval {
	var out []slo.Interval
	for a := from; a.Before(to); {
		b := a.Truncate(step).Add(step)
		if b.After(to) {
			b = to
		}
		out = append(out, slo.Interval{From: a, To: b})
		a = b
	}
	return out
}

func findStatus(sts []slo.Status, name string) *slo.Status {
	for i := range sts {
		if sts[i].Name == name {
			return &sts[i]
		}
	}
	return nil
}

// sloURL is the page of an SLO, scoped to env when one is chosen.
func sloURL(name, env string) string {
	svc, short, _ := strings.Cut(name, "/")
	u := "/slos/" + url.PathEscape(svc) + "/" + url.PathEscape(short)
	if env != "" {
		u += "?" + url.Values{"env": {env}}.Encode()
	}
	return u
}

func (u *UI) serviceRow(service, env string, gate slo.GateDecision, d *slo.Data, now time.Time) serviceRow {
	row := serviceRow{
		Service: service, Policy: gate.Policy, PolicyText: policyText[gate.Policy], Reasons: gate.Reasons,
		ServiceURL: link("/", "service", service, "env", env),
	}
	if gate.Policy == slo.PolicyFrozen && gate.Allowed {
		row.PolicyText = "▲ frozen, overridden"
	}
	shown := map[string]bool{}
	for _, b := range builtins {
		name := service + "/" + b.Short
		shown[name] = true
		st := findStatus(gate.SLOs, name)
		if st == nil || st.Definition == nil || !st.Definition.Builtin {
			row.Tiles = append(row.Tiles, sloTile{Name: name, Short: b.Short, Title: b.Title, Missing: true})
			continue
		}
		row.Tiles = append(row.Tiles, tileFor(b.Short, b.Title, st, d, env, now))
	}
	for i := range gate.SLOs {
		st := &gate.SLOs[i]
		if shown[st.Name] {
			continue
		}
		row.Custom = append(row.Custom, sloLink{Name: strings.TrimPrefix(st.Name, service+"/"), URL: sloURL(st.Name, env), Status: st.Status, StatusText: statusText[st.Status], Value: pctp(st.SLI)})
	}
	return row
}

// tileFor turns an SLO status into its overview tile. The escalation and tool
// failure SLOs count the good events (not escalated, tool call succeeded), so
// their tiles show the complement, the rate the seed states its target in.
func tileFor(short, title string, st *slo.Status, d *slo.Data, env string, now time.Time) sloTile {
	def := st.Definition
	t := sloTile{
		Name: st.Name, Short: short, Title: title, URL: sloURL(st.Name, env), Window: st.Window,
		Status: st.Status, StatusText: statusText[st.Status],
	}
	switch short {
	case slo.NameTaskSuccess:
		t.Value = pctp(st.SLI)
		t.Target = "target ≥ " + objective(st.Objective)
		t.Detail = count(int64(st.Good)) + " of " + count(int64(st.Total)) + " succeeded"
	case slo.NameEscalationRate, slo.NameToolFailure:
		if st.SLI != nil {
			t.Value = pct(1 - *st.SLI)
		} else {
			t.Value = "–"
		}
		t.Target = "target ≤ " + objective(1-st.Objective)
		noun := "escalated"
		if short == slo.NameToolFailure {
			noun = "calls failed"
		}
		t.Detail = count(int64(st.Total-st.Good)) + " of " + count(int64(st.Total)) + " " + noun
	case slo.NameCycleTime:
		limit := int64(0)
		if def.Indicator.Good != nil {
			limit = def.Indicator.Good.CycleTimeLTE
		}
		from, to := def.WindowRange(now)
		var include func(time.Time) bool
		if def.BusinessHours != nil {
			include = def.BusinessHours.Contains
		}
		tot := d.Sum(def.Indicator.Total.Filter, from, to, include)
		t.Title = "Cycle time p" + strconv.FormatFloat(100*def.Objective, 'f', -1, 64)
		if v, ok := tot.Cycle.Quantile(def.Objective); ok {
			t.Value = seconds(v)
		} else {
			t.Value = "–"
		}
		t.Target = "target ≤ " + seconds(float64(limit))
		t.Detail = pctp(st.SLI) + " within " + seconds(float64(limit))
	}
	rf := st.ErrorBudget.RemainingFraction
	switch {
	case st.NoData:
		t.BudgetText, t.BudgetWidth, t.BudgetClass = "no events in the window", 0, "muted"
	case rf <= 0:
		t.BudgetText, t.BudgetWidth, t.BudgetClass = "budget spent", 0, "bad"
		if !math.IsInf(rf, 0) && rf < 0 {
			t.BudgetText = "budget overspent by " + strconv.FormatFloat(-100*rf, 'f', 0, 64) + "%"
		}
	default:
		t.BudgetText = strconv.FormatFloat(100*rf, 'f', 0, 64) + "% of budget left"
		t.BudgetWidth = math.Round(1000*rf) / 10
		t.BudgetClass = "ok"
		if rf < 0.25 {
			t.BudgetClass = "warn"
		}
	}
	for _, a := range st.Alerts {
		if a.State != slo.StateFiring {
			continue
		}
		text := strings.ToUpper(string(a.Severity))
		switch {
		case a.Since.IsZero():
			text += " firing"
		case a.Since.UTC().Format("Jan 2") == now.UTC().Format("Jan 2"):
			text += " since " + a.Since.UTC().Format("15:04")
		default:
			text += " since " + a.Since.UTC().Format("Jan 2 15:04")
		}
		t.Alerts = append(t.Alerts, alertBadge{Severity: string(a.Severity), Text: text})
	}
	if r := st.BurnRates["1h"]; r != nil {
		t.Burn = "burn 1h ×" + strconv.FormatFloat(*r, 'f', 1, 64)
	}
	return t
}

// capacityTiles sums the volume and health counters of the range; rates are
// per minute of the range, trends compare with the range before.
func capacityTiles(buckets []slo.Interval, agg []slo.Totals, cur, prev *slo.Totals, rng timeRange) []metricTile {
	mins := rng.D.Minutes()
	perMin := func(f func(c *day2.Counters) int64) []float64 {
		out := make([]float64, len(buckets))
		for i, b := range buckets {
			out[i] = float64(f(&agg[i].Counters)) / b.To.Sub(b.From).Minutes()
		}
		return out
	}
	rate := func(id, title, unit string, f func(c *day2.Counters) int64) metricTile {
		v := float64(f(&cur.Counters)) / mins
		t := metricTile{ID: id, Title: title, Value: num(v), Unit: unit,
			Detail: count(f(&cur.Counters)) + " in the " + rangeNoun(rng)}
		t.Spark = sparkline(perMin(f), 150, 30, true, title+" per minute, "+rng.Key)
		t.setTrend(v, float64(f(&prev.Counters))/mins, false, rng)
		return t
	}
	c := &cur.Counters
	tiles := []metricTile{
		rate("tasks", "Tasks", "/min", func(c *day2.Counters) int64 { return c.Seen }),
		rate("llm", "LLM calls", "/min", func(c *day2.Counters) int64 { return c.LLMCalls }),
		rate("tokens", "Tokens", "/min", func(c *day2.Counters) int64 { return c.InputTokens + c.OutputTokens }),
	}
	hits := metricTile{ID: "ratelimit", Title: "Rate-limit hits", Value: count(c.RateLimitHits), Unit: "HTTP 429",
		Detail: share(c.RateLimitHits, c.LLMCalls+c.ToolCalls) + " of LLM and tool calls"}
	hits.Spark = sparkline(perMin(func(c *day2.Counters) int64 { return c.RateLimitHits }), 150, 30, true, "Rate-limit hits per minute, "+rng.Key)
	hits.setTrend(float64(c.RateLimitHits), float64(prev.Counters.RateLimitHits), true, rng)
	blocks := metricTile{ID: "safety", Title: "Safety blocks", Value: count(c.SafetyBlocks), Unit: "blocked",
		Detail: share(c.SafetyBlocks, c.LLMCalls) + " of LLM calls"}
	blocks.Spark = sparkline(perMin(func(c *day2.Counters) int64 { return c.SafetyBlocks }), 150, 30, true, "Safety blocks per minute, "+rng.Key)
	blocks.setTrend(float64(c.SafetyBlocks), float64(prev.Counters.SafetyBlocks), true, rng)
	inj := metricTile{ID: "injection", Title: "Injection attempts", Value: "not measured yet", NotMeasured: true,
		Detail: "flagged as safety_flags on LLM spans (see a task's waterfall), not counted yet"}
	lat := metricTile{ID: "latency", Title: "Cycle time p50 / p95", Unit: ""}
	p50, ok50 := cur.Cycle.Quantile(0.5)
	p95, ok95 := cur.Cycle.Quantile(0.95)
	if ok50 && ok95 {
		lat.Value = seconds(p50) + " / " + seconds(p95)
		lat.Detail = "of " + count(cur.Cycle.Count()) + " finished tasks"
		if pp, ok := prev.Cycle.Quantile(0.95); ok {
			lat.setTrend(p95, pp, true, rng)
		}
	} else {
		lat.Value, lat.Detail = "–", "no finished tasks"
	}
	series := make([]float64, len(buckets))
	for i := range buckets {
		series[i] = math.NaN()
		if v, ok := agg[i].Cycle.Quantile(0.95); ok {
			series[i] = v / 1000
		}
	}
	lat.Spark = sparkline(series, 150, 30, true, "Cycle time p95 in seconds, "+rng.Key)
	return append(tiles, hits, blocks, inj, lat)
}

// costTiles shows what tasks cost: tokens per successful task and tool retries
// per task, and their trend.
func costTiles(buckets []slo.Interval, agg []slo.Totals, cur, prev *slo.Totals, rng timeRange) []metricTile {
	ratio := func(n, d int64) float64 {
		if d == 0 {
			return math.NaN()
		}
		return float64(n) / float64(d)
	}
	series := func(f func(c *day2.Counters) float64) []float64 {
		out := make([]float64, len(buckets))
		for i := range buckets {
			out[i] = f(&agg[i].Counters)
		}
		return out
	}
	tok := func(c *day2.Counters) float64 { return ratio(c.SuccessTokens, c.Successes) }
	ret := func(c *day2.Counters) float64 { return ratio(c.ToolRetries, c.Seen) }
	t1 := metricTile{ID: "tokens-per-success", Title: "Tokens / successful task", Value: num(tok(&cur.Counters)), Unit: "tokens",
		Detail: count(cur.Counters.SuccessTokens) + " tokens, " + count(cur.Counters.Successes) + " successes"}
	t1.Spark = sparkline(series(tok), 120, 34, false, "Tokens per successful task, "+rng.Key)
	t1.setTrend(tok(&cur.Counters), tok(&prev.Counters), true, rng)
	t2 := metricTile{ID: "retries-per-task", Title: "Tool retries per task", Value: num(ret(&cur.Counters)), Unit: "retries",
		Detail: count(cur.Counters.ToolRetries) + " retries, " + count(cur.Counters.Seen) + " tasks"}
	t2.Spark = sparkline(series(ret), 120, 34, true, "Tool retries per task, "+rng.Key)
	t2.setTrend(ret(&cur.Counters), ret(&prev.Counters), true, rng)
	return []metricTile{t1, t2}
}

// setTrend compares v with the same measure over the range before; up is bad
// when upIsBad, else neutral.
func (t *metricTile) setTrend(v, before float64, upIsBad bool, rng timeRange) {
	if math.IsNaN(v) || math.IsNaN(before) || before == 0 {
		t.Trend, t.TrendText = "", "no data for the "+rng.Key+" before"
		return
	}
	ch := (v - before) / before
	arrow := "→"
	switch {
	case ch > 0.005:
		arrow = "↑"
	case ch < -0.005:
		arrow = "↓"
	}
	t.Trend = arrow + " " + signed(strconv.FormatFloat(math.Abs(100*ch), 'f', 0, 64)+"%", ch)
	t.TrendText = "vs the " + rng.Key + " before"
	if upIsBad && ch > 0.1 {
		t.TrendClass = "bad"
	} else if upIsBad && ch < -0.1 {
		t.TrendClass = "ok"
	}
}

func rangeNoun(rng timeRange) string { return "last " + rng.Key }

func share(n, d int64) string {
	if d == 0 {
		return "–"
	}
	return pct(float64(n) / float64(d))
}

// Package demo simulates a small fleet of AI agents that send real OpenTelemetry
// traces and logs to a day2 OTLP/HTTP endpoint, through the official OpenTelemetry
// Go SDK, so that day2 has something to show on a fresh install.
//
// Two agents run a baseline and a candidate version each: support-triage 1.4.0 and
// 1.5.0 (a candidate with more tool failures) and invoice-agent 2.3.1 and 2.4.0 (a
// healthy candidate), in prod, with a trickle of candidate traffic in staging.
// Their tasks mix the seed's llm.prompt / llm.completion / llm.tool spans with the
// GenAI semantic conventions, and report outcomes both as span events and as log
// records. The simulation itself is the pure Generator; Run emits its plans.
//
// The backfill ends with a scripted incident, timed from its end so that day2
// has an alert to show when the backfill is done: a surge of support tickets,
// and during it a CRM outage that fails most support-triage tasks in prod and
// makes support-triage's task-success SLO page. Stats.Incident reports it;
// Config.NoIncident leaves it out. WriteConfig writes the configuration the
// demo is meant to run with.
//
// With Config.Ops, the live phase also tells the operations story (ops.go):
// a canary rolled back and one promoted, approvals at every risk tier, and an
// incident from detection to postmortem, all through day2's API.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config configures Run.
type Config struct {
	// Endpoint is the base URL of a day2 OTLP/HTTP receiver, such as
	// http://127.0.0.1:4318; /v1/traces and /v1/logs are appended.
	Endpoint string
	// Token, if set, is sent as an Authorization: Bearer header.
	Token string
	// Backfill is how much history to send before going live: tasks with
	// timestamps spread over [now-Backfill, now), sent as fast as the endpoint
	// accepts them. Zero sends none.
	Backfill time.Duration
	// Live is how long to send tasks in real time after the backfill. Zero runs
	// until ctx is done; a negative value skips the live phase.
	Live time.Duration
	// Rate is the number of tasks per minute each production agent version starts
	// in the live phase (staging runs a tenth of it). Zero means 4.
	Rate float64
	// Seed makes the simulation reproducible: the same seed and clock produce the
	// same tasks with the same ids.
	Seed int64
	// Out receives progress lines; nil discards them.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NoIncident leaves the scripted ticket surge and CRM outage out of the
	// backfill, for ordinary traffic only.
	NoIncident bool
	// Ops, when set, tells the operations story (releases, approvals,
	// incidents; see NewOps) during the live phase, beside the fleet, through
	// day2's HTTP API at API. The story ends with the live phase.
	Ops *Ops
	// API is the base URL of day2's HTTP API, such as http://127.0.0.1:8080;
	// Ops needs it.
	API string

	// clock replaces real sleeping in tests of the live phase.
	clock clock
}

// DefaultRate is the live rate used when Config.Rate is zero.
const DefaultRate = 4

// backfillRate is the average number of tasks per minute each production stream
// starts in the backfill: 28 days of the whole fleet is about 170,000 tasks, of
// which some 1,400 come in the ticket surge of the last 90 minutes.
const backfillRate = 1.0

// StreamStats counts what Run sent for one agent version in one environment. The
// counts other than Spans are over completed tasks, and mean what Plan's fields of
// the same names mean.
type StreamStats struct {
	Stream
	// Tasks counts completed tasks (their outcome was sent).
	Tasks int64 `json:"tasks"`
	// Spans counts ended spans, including those of abandoned tasks.
	Spans int64 `json:"spans"`
	// OutcomeEvents and OutcomeLogs count outcomes sent as a span event on the
	// root span and as a log record.
	OutcomeEvents int64 `json:"outcome_events"`
	OutcomeLogs   int64 `json:"outcome_logs"`
	Successes     int64 `json:"successes"`
	Escalations   int64 `json:"escalations"`
	SafetyBlocks  int64 `json:"safety_blocks"`
	LLMCalls      int64 `json:"llm_calls"`
	ToolCalls     int64 `json:"tool_calls"`
	ToolFailures  int64 `json:"tool_failures"`
	RateLimitHits int64 `json:"rate_limit_hits"`
}

func (s *StreamStats) add(o StreamStats) {
	s.Tasks += o.Tasks
	s.Spans += o.Spans
	s.OutcomeEvents += o.OutcomeEvents
	s.OutcomeLogs += o.OutcomeLogs
	s.Successes += o.Successes
	s.Escalations += o.Escalations
	s.SafetyBlocks += o.SafetyBlocks
	s.LLMCalls += o.LLMCalls
	s.ToolCalls += o.ToolCalls
	s.ToolFailures += o.ToolFailures
	s.RateLimitHits += o.RateLimitHits
}

// Stats reports what Run sent.
type Stats struct {
	// BackfillTasks and LiveTasks count completed tasks per phase.
	BackfillTasks int64 `json:"backfill_tasks"`
	LiveTasks     int64 `json:"live_tasks"`
	// Abandoned counts live tasks still running when Run was stopped. Their
	// finished spans were sent; their root span and outcome were not.
	Abandoned int64 `json:"abandoned_tasks"`
	// Streams holds one entry per agent version and environment, in the order
	// of Streams.
	Streams []StreamStats `json:"streams"`
	// Incident reports the scripted incident when the backfill covered any of
	// it; nil otherwise.
	Incident *IncidentStats `json:"incident,omitempty"`
	// Ops reports the operations story when Config.Ops told it.
	Ops *OpsReport `json:"ops,omitempty"`
}

// Total returns the sums over all streams.
func (s Stats) Total() StreamStats {
	var t StreamStats
	for _, st := range s.Streams {
		t.add(st)
	}
	return t
}

// Print writes a table of the stats, one line per stream and a total.
func (s Stats) Print(w io.Writer) {
	fmt.Fprintf(w, "%-32s %8s %10s %7s %7s %9s %7s  %s\n",
		"agent version (environment)", "tasks", "spans", "failed", "escal.", "tool fail", "safety", "outcome event/log")
	line := func(name string, st StreamStats) {
		fmt.Fprintf(w, "%-32s %8s %10s %7s %7s %9s %7s  %s\n", name,
			count(st.Tasks), count(st.Spans), count(st.Tasks-st.Successes), count(st.Escalations),
			count(st.ToolFailures), count(st.SafetyBlocks),
			fmt.Sprintf("%s/%s", count(st.OutcomeEvents), count(st.OutcomeLogs)))
	}
	for _, st := range s.Streams {
		line(st.Stream.String(), st)
	}
	line("total", s.Total())
	if s.Incident != nil {
		fmt.Fprintf(w, "incident: %s\n", s.Incident)
	}
	if s.Abandoned > 0 {
		fmt.Fprintf(w, "%s live tasks were still running when the demo stopped; day2 shows them without an outcome.\n", count(s.Abandoned))
	}
	if s.Ops != nil {
		s.Ops.Print(w)
	}
}

// collector accumulates stats from the backfill and from concurrent live tasks.
type collector struct {
	mu       sync.Mutex
	streams  []StreamStats
	index    map[Stream]int
	backfill int64
	live     int64
	inFlight int64
	aband    int64
	// incident, when set, is the incident the backfill covers; incStreams
	// counts its affected streams' tasks, indexed like streams.
	incident   *Incident
	incStreams []IncidentStream
}

// newCollector returns a collector that also counts the tasks inc affects; inc
// may be nil.
func newCollector(inc *Incident) *collector {
	c := &collector{index: map[Stream]int{}, incident: inc}
	for i, s := range Streams() {
		c.streams = append(c.streams, StreamStats{Stream: s})
		c.incStreams = append(c.incStreams, IncidentStream{Stream: s})
		c.index[s] = i
	}
	return c
}

// task records a finished (or, with done false, abandoned) task of which spans
// spans were ended.
func (c *collector) task(p *Plan, spans int, done, live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.streams[c.index[p.Stream]]
	st.Spans += int64(spans)
	if !done {
		c.aband++
		return
	}
	st.Tasks++
	if inc := c.incident; inc.covers(p.Start) && inc.Down[p.Stream] > 0 {
		is := &c.incStreams[c.index[p.Stream]]
		is.Tasks++
		if !p.Outcome.Success {
			is.Failed++
		}
	}
	if p.Outcome.AsLog {
		st.OutcomeLogs++
	} else {
		st.OutcomeEvents++
	}
	if p.Outcome.Success {
		st.Successes++
	}
	if p.Outcome.Escalation {
		st.Escalations++
	}
	st.SafetyBlocks += int64(p.SafetyBlocks)
	st.LLMCalls += int64(p.LLMCalls)
	st.ToolCalls += int64(p.ToolCalls)
	st.ToolFailures += int64(p.ToolFailures)
	st.RateLimitHits += int64(p.RateLimitHits)
	if live {
		c.live++
	} else {
		c.backfill++
	}
}

func (c *collector) startLive() {
	c.mu.Lock()
	c.inFlight++
	c.mu.Unlock()
}

func (c *collector) endLive() {
	c.mu.Lock()
	c.inFlight--
	c.mu.Unlock()
}

func (c *collector) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := Stats{
		BackfillTasks: c.backfill,
		LiveTasks:     c.live,
		Abandoned:     c.aband,
		Streams:       append([]StreamStats(nil), c.streams...),
	}
	if c.incident != nil {
		is := &IncidentStats{Incident: *c.incident}
		for _, s := range c.incStreams {
			if c.incident.Down[s.Stream] > 0 {
				is.Streams = append(is.Streams, s)
			}
		}
		st.Incident = is
	}
	return st
}

// Run sends the simulated fleet's telemetry to cfg.Endpoint: first the backfill,
// then live traffic. It returns what it sent. Stopping it through ctx during the
// live phase is a normal end and returns a nil error; during the backfill it
// returns an error, as the history is then incomplete. It also fails if the
// endpoint cannot be reached or any telemetry could not be delivered.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	if err := cfg.validate(); err != nil {
		return Stats{}, err
	}
	base, err := baseURL(cfg.Endpoint)
	if err != nil {
		return Stats{}, err
	}
	cfg.API = strings.TrimRight(cfg.API, "/")
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.clock == nil {
		cfg.clock = realClock{nowFn: cfg.Now}
	}
	if err := preflight(ctx, base, cfg.Token); err != nil {
		return Stats{}, err
	}
	// The backfill ends now; its scenario is timed from then.
	now := cfg.Now()
	var sc *scenario
	if !cfg.NoIncident {
		sc = newScenario(now)
	}

	d := &delivery{}
	emitters := make([]*emitter, len(fleet))
	gens := make([]*Generator, len(fleet))
	for i, f := range fleet {
		if emitters[i], err = newEmitter(ctx, f.stream, base, cfg.Token, d); err != nil {
			return Stats{}, err
		}
		if gens[i], err = NewGenerator(f.stream, cfg.Seed); err != nil {
			return Stats{}, err
		}
		if sc != nil {
			gens[i].SetIncident(sc.incident)
		}
	}
	var covered *Incident
	if sc != nil && cfg.Backfill > 0 && sc.incident.End.After(now.Add(-cfg.Backfill)) {
		covered = sc.incident
	}
	col := newCollector(covered)

	runErr := func() error {
		if cfg.Backfill > 0 {
			if err := backfill(ctx, cfg, now, sc, gens, emitters, col, d); err != nil {
				return err
			}
		}
		if cfg.Live >= 0 && ctx.Err() == nil {
			opsCtx, stopOps := context.WithCancel(ctx)
			var ops sync.WaitGroup
			if cfg.Ops != nil {
				ops.Go(func() { cfg.Ops.run(opsCtx, cfg.API, base, cfg.Now) })
			}
			live(ctx, cfg, gens, emitters, col)
			stopOps()
			ops.Wait()
		}
		return nil
	}()

	// Send whatever the providers still hold, even if ctx is done.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout+5*time.Second)
	defer cancel()
	var shutErr error
	for _, e := range emitters {
		shutErr = errors.Join(shutErr, e.shutdown(sctx))
	}
	stats := col.snapshot()
	if cfg.Ops != nil && cfg.Live >= 0 {
		r := cfg.Ops.Report()
		stats.Ops = &r
	}
	if runErr != nil {
		return stats, runErr
	}
	if err := d.err(); err != nil {
		return stats, fmt.Errorf("send to %s: %w", base, err)
	}
	if shutErr != nil {
		return stats, fmt.Errorf("flush telemetry to %s: %w", base, shutErr)
	}
	return stats, nil
}

func (cfg *Config) validate() error {
	switch {
	case cfg.Endpoint == "":
		return errors.New("demo: no OTLP endpoint: give the base URL of day2's OTLP/HTTP receiver, such as http://127.0.0.1:4318")
	case cfg.Backfill < 0:
		return fmt.Errorf("demo: backfill %s is negative", cfg.Backfill)
	case cfg.Rate < 0:
		return fmt.Errorf("demo: rate %g tasks per minute is negative", cfg.Rate)
	case cfg.Ops != nil && cfg.API == "":
		return errors.New("demo: the operations story needs day2's API: give its base URL, such as http://127.0.0.1:8080")
	}
	return nil
}

// baseURL normalises an endpoint to a scheme://host[/prefix] base without a
// trailing slash, accepting a bare host:port and a URL that already ends in
// /v1/traces or /v1/logs.
func baseURL(endpoint string) (string, error) {
	e := strings.TrimSpace(endpoint)
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return "", fmt.Errorf("demo: endpoint %q is not a URL: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("demo: endpoint %q must use http or https", endpoint)
	}
	if u.Host == "" {
		return "", fmt.Errorf("demo: endpoint %q has no host", endpoint)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/v1/traces"), "/v1/logs")
	u.RawQuery, u.Fragment = "", ""
	return strings.TrimRight(u.String(), "/"), nil
}

// preflight posts an empty trace export, which any OTLP receiver accepts, so that
// an unreachable endpoint or a refused token fails fast with a clear message
// instead of after the exporters' retries.
func preflight(ctx context.Context, base, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/traces", strings.NewReader(""))
	if err != nil {
		return fmt.Errorf("demo: build request to %s: %w", base, err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("demo: cannot reach the OTLP endpoint %s (is day2 running and listening there?): %w", base, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		if token == "" {
			return fmt.Errorf("demo: %s refused telemetry without a token (HTTP %d): give a token with the ingest scope", base, resp.StatusCode)
		}
		return fmt.Errorf("demo: %s refused the token (HTTP %d): check that it is valid and has the ingest scope", base, resp.StatusCode)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Errorf("demo: %s/v1/traces answered HTTP %d: this is not an OTLP/HTTP receiver (day2 listens for OTLP on port 4318 by default)", base, resp.StatusCode)
	}
	return nil
}

// arrivals is a Poisson arrival process of tasks for one stream: homogeneous in
// the live phase, following the daily traffic pattern in the backfill, and at
// the surge's fixed rate during a surge.
type arrivals struct {
	rng     *rand.Rand
	next    time.Time
	perMin  float64 // mean rate, tasks per minute
	diurnal bool
	surge   surge
}

func newArrivals(s Stream, seed int64, salt uint64, from time.Time, perMin float64, diurnal bool, sg surge) *arrivals {
	a := &arrivals{
		rng:     rand.New(rand.NewPCG(uint64(seed), streamHash(s, salt))),
		next:    from,
		perMin:  perMin,
		diurnal: diurnal,
		surge:   sg,
	}
	a.advance()
	return a
}

// never is the arrival time of a stream that starts no more tasks.
var never = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// advance moves next to the following arrival. The daily pattern uses thinning:
// candidates at the peak rate, kept in proportion to the rate at their time.
// Where the rate changes abruptly, at a surge's start and end, the process
// restarts from the boundary, which a Poisson process, being memoryless, allows.
func (a *arrivals) advance() {
	peak := a.perMin
	if a.diurnal {
		peak *= maxWeight
	}
	for {
		if sg := a.surge; sg.covers(a.next) {
			a.next = a.next.Add(time.Duration(a.rng.ExpFloat64() / sg.perMin * float64(time.Minute)))
			if a.next.Before(sg.to) {
				return
			}
			a.next = sg.to
			continue
		}
		ahead := a.surge.perMin > 0 && a.next.Before(a.surge.from)
		if peak <= 0 {
			if ahead {
				a.next = a.surge.from
				continue
			}
			a.next = never
			return
		}
		gap := a.rng.ExpFloat64() / peak * float64(time.Minute)
		next := a.next.Add(time.Duration(gap))
		if ahead && !next.Before(a.surge.from) {
			a.next = a.surge.from
			continue
		}
		a.next = next
		if !a.diurnal || a.rng.Float64()*maxWeight < trafficWeight(a.next) {
			return
		}
	}
}

// earliest returns the index of the stream whose next task starts first.
func earliest(arr []*arrivals) int {
	best := 0
	for i := 1; i < len(arr); i++ {
		if arr[i].next.Before(arr[best].next) {
			best = i
		}
	}
	return best
}

// history draws the tasks of a backfill over [from, to) in the order they start,
// skipping those still running at to. Like Generator it does no I/O and reads no
// clock: the seed, the window and the scenario determine its tasks.
type history struct {
	gens []*Generator
	arr  []*arrivals
	to   time.Time
}

// newHistory returns the history of the fleet over [from, to), drawn by gens
// (one per entry of fleet, with the scenario's incident set); sc may be nil.
func newHistory(gens []*Generator, seed int64, from, to time.Time, sc *scenario) *history {
	h := &history{gens: gens, arr: make([]*arrivals, len(fleet)), to: to}
	for i, f := range fleet {
		h.arr[i] = newArrivals(f.stream, seed, 1, from, backfillRate*f.profile.weight, true, sc.surgeFor(f.stream))
	}
	return h
}

// next returns the next task and the index in fleet of its stream; ok is false
// when the history is done.
func (h *history) next() (i int, p Plan, ok bool) {
	for {
		i = earliest(h.arr)
		start := h.arr[i].next
		if !start.Before(h.to) {
			return 0, Plan{}, false
		}
		h.arr[i].advance()
		p = h.gens[i].Next(start)
		if p.End.Before(h.to) {
			return i, p, true
		}
		// Still running at the end of the window: not part of history.
	}
}

func backfill(ctx context.Context, cfg Config, now time.Time, sc *scenario, gens []*Generator, emitters []*emitter, col *collector, d *delivery) error {
	from := now.Add(-cfg.Backfill)
	label := "backfill " + shortDuration(cfg.Backfill)
	h := newHistory(gens, cfg.Seed, from, now, sc)
	started := time.Now()
	lastPrint := started
	var tasks, spans int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s interrupted after %s tasks: %w", label, count(tasks), err)
		}
		i, p, ok := h.next()
		if !ok {
			break
		}
		e := emitters[i]
		n, _ := e.emit(ctx, &p, nil)
		col.task(&p, n, true, false)
		if p.Outcome.AsLog {
			e.logsSinceFlush++
		}
		tasks++
		spans += int64(n)
		if e.logsSinceFlush >= logFlushEvery {
			if err := e.flush(ctx); err != nil {
				return fmt.Errorf("%s: flush logs of %s: %w", label, e.stream, err)
			}
		}
		if err := d.err(); err != nil {
			return fmt.Errorf("%s: send to %s: %w", label, cfg.Endpoint, err)
		}
		if t := time.Now(); t.Sub(lastPrint) >= time.Second {
			lastPrint = t
			pct := 100 * float64(p.Start.Sub(from)) / float64(cfg.Backfill)
			fmt.Fprintf(cfg.Out, "%s: %.0f%% (%s tasks)\n", label, pct, count(tasks))
		}
	}
	for _, e := range emitters {
		if err := e.flush(ctx); err != nil {
			return fmt.Errorf("%s: flush telemetry of %s: %w", label, e.stream, err)
		}
	}
	if err := d.err(); err != nil {
		return fmt.Errorf("%s: send to %s: %w", label, cfg.Endpoint, err)
	}
	fmt.Fprintf(cfg.Out, "%s: 100%% (%s tasks, %s spans) sent in %s\n",
		label, count(tasks), count(spans), time.Since(started).Round(100*time.Millisecond))
	if inc := col.snapshot().Incident; inc != nil {
		fmt.Fprintf(cfg.Out, "incident: %s\n", inc)
	}
	return nil
}

// liveReportEvery is how often the live phase prints a summary.
const liveReportEvery = 10 * time.Second

func live(ctx context.Context, cfg Config, gens []*Generator, emitters []*emitter, col *collector) {
	clk := cfg.clock
	start := clk.now()
	var end time.Time
	if cfg.Live > 0 {
		end = start.Add(cfg.Live)
	}
	arr := make([]*arrivals, len(fleet))
	var perMin float64
	for i, f := range fleet {
		arr[i] = newArrivals(f.stream, cfg.Seed, 2, start, cfg.Rate*f.profile.weight, false, surge{})
		perMin += cfg.Rate * f.profile.weight
	}
	until := "until stopped"
	if cfg.Live > 0 {
		until = "for " + shortDuration(cfg.Live)
	}
	fmt.Fprintf(cfg.Out, "live: starting about %.0f tasks a minute across %d agent versions %s\n", perMin, len(fleet), until)

	report := func(final bool) {
		st := col.snapshot()
		tot := st.Total()
		col.mu.Lock()
		inFlight := col.inFlight
		col.mu.Unlock()
		prefix := "live"
		if final {
			prefix = "live done"
		}
		fmt.Fprintf(cfg.Out, "%s: %s sent, %d in flight; %s failed, %s escalated, %s, %s\n",
			prefix, counted(st.LiveTasks, "task"), inFlight, count(tot.Tasks-tot.Successes), count(tot.Escalations),
			counted(tot.ToolFailures, "tool failure"), counted(tot.SafetyBlocks, "safety block"))
	}
	stopReports := make(chan struct{})
	reportsDone := make(chan struct{})
	go func() {
		defer close(reportsDone)
		tick := time.NewTicker(liveReportEvery)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				report(false)
			case <-stopReports:
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for {
		i := earliest(arr)
		at := arr[i].next
		if !end.IsZero() && !at.Before(end) {
			break
		}
		arr[i].advance()
		if err := clk.sleepUntil(ctx, at); err != nil {
			break
		}
		p := gens[i].Next(at)
		e := emitters[i]
		col.startLive()
		wg.Go(func() {
			defer col.endLive()
			n, err := e.emit(ctx, &p, func(t time.Time) error { return clk.sleepUntil(ctx, t) })
			col.task(&p, n, err == nil, true)
		})
	}
	if ctx.Err() == nil {
		col.mu.Lock()
		n := col.inFlight
		col.mu.Unlock()
		if n > 0 {
			fmt.Fprintf(cfg.Out, "live: waiting for %s to finish\n", counted(n, "running task"))
		}
	}
	wg.Wait()
	close(stopReports)
	<-reportsDone
	report(true)
}

// clock is the time source of the live phase.
type clock interface {
	now() time.Time
	// sleepUntil returns at t, or early with ctx's error.
	sleepUntil(ctx context.Context, t time.Time) error
}

type realClock struct{ nowFn func() time.Time }

func (c realClock) now() time.Time { return c.nowFn() }

func (c realClock) sleepUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(c.nowFn())
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shortDuration formats d as people write backfill windows: 28d, 6h, 90m.
func shortDuration(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// counted formats n and a noun, plural unless n is 1: "1 task", "2,000 tasks".
func counted(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

// count formats n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

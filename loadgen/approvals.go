package loadgen

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ApprovalsConfig configures RunApprovals, the engine of `day2 bench approvals`.
type ApprovalsConfig struct {
	// URL is the base URL of day2's API, such as http://127.0.0.1:8080;
	// /api/v1/approvals is appended.
	URL string
	// Token, if set, is sent as an Authorization: Bearer header. It needs the
	// ingest or the operate scope.
	Token string
	// Rate is the number of requests offered per second, whatever the answers.
	Rate float64
	// Duration is the whole run, warmup included.
	Duration time.Duration
	// Warmup is the first part of the run, sent at the same rate but left out
	// of the report's numbers.
	Warmup time.Duration
	// Connections is the number of keep-alive connections, each with at most
	// one request in flight.
	Connections int
	// Service and Action name the requests; day2's policy must make the
	// action Tier 0, so that each is answered "approved" at once.
	Service, Action string
	// Environment is sent with each request. Empty means "prod".
	Environment string
	// MaxBacklog is the most requests that may wait for a free connection
	// before the run stops because the server cannot keep up. Zero means one
	// second's worth at Rate.
	MaxBacklog int
	// PID, if set, is the day2 process whose CPU time over the run is
	// reported, in all and per request (Linux only).
	PID int
	// Out receives progress lines; nil discards them.
	Out io.Writer
}

// Bounds of an approvals run. Every measured latency and send lag is kept
// until the end of the run, 16 bytes a request.
const (
	MaxApprovalsRate     = 1_000_000
	MaxApprovalsRequests = 10_000_000
)

// The goal of issue 6 that ApprovalsReport.GoalMet checks.
const (
	GoalApprovedPerSecond = 5000
	GoalP99               = 5 * time.Millisecond
)

// Validate reports the first unusable setting, naming it as the command's flag.
func (c ApprovalsConfig) Validate() error {
	switch {
	case math.IsNaN(c.Rate) || c.Rate <= 0:
		return fmt.Errorf("rate %g: offer a positive number of requests per second, such as 5000", c.Rate)
	case c.Rate > MaxApprovalsRate:
		return fmt.Errorf("rate %g: at most %s requests per second", c.Rate, count(MaxApprovalsRate))
	case c.Warmup < 0:
		return fmt.Errorf("warmup %s is negative", c.Warmup)
	case c.Duration <= c.Warmup:
		return fmt.Errorf("duration %s must be longer than warmup %s: the measured window is what follows the warmup", c.Duration, c.Warmup)
	case c.Connections < 1:
		return fmt.Errorf("connections %d: use at least 1", c.Connections)
	case c.MaxBacklog < 0:
		return fmt.Errorf("max backlog %d is negative", c.MaxBacklog)
	case strings.TrimSpace(c.Service) == "":
		return errors.New("service is required")
	case strings.TrimSpace(c.Action) == "":
		return errors.New("action is required")
	}
	if n := slotsBefore(c.Duration, c.Rate); n > MaxApprovalsRequests {
		return fmt.Errorf("rate %g for %s is %s requests, more than %s: shorten the run", c.Rate, c.Duration, count(n), count(MaxApprovalsRequests))
	}
	return nil
}

// ApprovalsReport is the result of an approvals run. Its counts and latencies
// cover the requests scheduled after the warmup.
type ApprovalsReport struct {
	URL         string `json:"url"`
	Service     string `json:"service"`
	Action      string `json:"action"`
	Connections int    `json:"connections"`
	// OfferedPerSecond is the configured rate: requests were scheduled at
	// exactly this rate, whether or not the earlier ones had been answered.
	OfferedPerSecond float64 `json:"offered_per_second"`
	WarmupSeconds    float64 `json:"warmup_seconds"`
	MeasuredSeconds  float64 `json:"measured_seconds"`
	// Requests counts the requests scheduled in the measured window and sent.
	Requests int64 `json:"requests"`
	// Approved counts those answered 200 or 201 with state "approved".
	Approved int64 `json:"approved"`
	// ApprovedPerSecond is Approved per second of the measured window. In an
	// open-loop run every scheduled request is sent, so a server that falls
	// behind does not lower it: it shows in the latencies, and the run stops
	// when a second's worth of requests waits for a connection.
	ApprovedPerSecond float64 `json:"approved_per_second"`
	// Errors counts the other answers and the requests that got none;
	// ErrorsByStatus splits them ("HTTP 500", "HTTP 201 pending", "no answer")
	// and FirstError quotes the first.
	Errors         int64            `json:"errors"`
	ErrorsByStatus map[string]int64 `json:"errors_by_status,omitempty"`
	FirstError     string           `json:"first_error,omitempty"`
	// WarmupRequests and WarmupErrors count the warmup's requests.
	WarmupRequests int64 `json:"warmup_requests"`
	WarmupErrors   int64 `json:"warmup_errors"`
	// CutOff counts the requests that were due when the run stopped early
	// and were not sent, or not answered, by then.
	CutOff int64 `json:"cut_off,omitempty"`
	// Latencies are of approved answers, in milliseconds, from the time each
	// request was scheduled (not sent) to its full answer, so that time spent
	// waiting for a busy connection counts.
	LatencyP50MS  float64 `json:"latency_p50_ms"`
	LatencyP90MS  float64 `json:"latency_p90_ms"`
	LatencyP99MS  float64 `json:"latency_p99_ms"`
	LatencyP999MS float64 `json:"latency_p999_ms"`
	LatencyMaxMS  float64 `json:"latency_max_ms"`
	// SendLag is how late this client released requests to its connections,
	// in milliseconds: its timers wake up to a millisecond late, more when it
	// is short of CPU. The latencies include it, as they run from the due time.
	SendLagP50MS float64 `json:"send_lag_p50_ms"`
	SendLagP99MS float64 `json:"send_lag_p99_ms"`
	SendLagMaxMS float64 `json:"send_lag_max_ms"`
	// MaxBacklog is the most requests seen waiting for a free connection.
	MaxBacklog int `json:"max_backlog"`
	// ClientCPUSeconds is the user and system CPU time of this process during
	// the run (zero where the system does not tell).
	ClientCPUSeconds float64 `json:"client_cpu_seconds,omitempty"`
	// ServerCPUSeconds is the user and system CPU time of the process
	// ApprovalsConfig.PID names during the run, warmup included, and
	// ServerCPUPerRequestUS that time in microseconds over every request sent.
	// It varies less from run to run than the latencies do, but does not show
	// a shorter path through the record committer, which lowers the latency
	// alone (docs/benchmarks.md, seventh session).
	ServerPID             int     `json:"server_pid,omitempty"`
	ServerCPUSeconds      float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerRequestUS float64 `json:"server_cpu_per_request_us,omitempty"`
	// GoalMet says whether the run completed with GoalApprovedPerSecond
	// approvals per second at a p99 latency under GoalP99.
	GoalMet bool `json:"goal_met"`
}

// FailedShare returns the share of all requests sent, warmup included, that
// were not approved.
func (r ApprovalsReport) FailedShare() float64 {
	sent := r.Requests + r.WarmupRequests
	if sent == 0 {
		return 0
	}
	return float64(r.Errors+r.WarmupErrors) / float64(sent)
}

// Print writes the report for people.
func (r ApprovalsReport) Print(w io.Writer) {
	fmt.Fprintf(w, "approvals benchmark against %s (service %s, action %s)\n", r.URL, r.Service, r.Action)
	fmt.Fprintf(w, "  offered     %s/s, open loop over %d connections; %.1f s measured after a warmup of %.1f s (%s requests)\n",
		rate(r.OfferedPerSecond), r.Connections, r.MeasuredSeconds, r.WarmupSeconds, count(r.WarmupRequests))
	fmt.Fprintf(w, "  approved    %s of %s requests, %s/s\n", count(r.Approved), count(r.Requests), rate(r.ApprovedPerSecond))
	fmt.Fprintf(w, "  latency     p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (from the scheduled time)\n",
		r.LatencyP50MS, r.LatencyP90MS, r.LatencyP99MS, r.LatencyP999MS, r.LatencyMaxMS)
	fmt.Fprintf(w, "  send lag    p50 %.2f ms, p99 %.2f ms, max %.2f ms (this client's own lateness, included above)\n",
		r.SendLagP50MS, r.SendLagP99MS, r.SendLagMaxMS)
	fmt.Fprintf(w, "  errors      %s", count(r.Errors))
	if len(r.ErrorsByStatus) > 0 {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.ErrorsByStatus)) {
			parts = append(parts, fmt.Sprintf("%s: %s", k, count(r.ErrorsByStatus[k])))
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	if r.WarmupErrors > 0 {
		fmt.Fprintf(w, "; %s in the warmup", count(r.WarmupErrors))
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "; first: %s", r.FirstError)
	}
	fmt.Fprintln(w)
	if r.CutOff > 0 {
		fmt.Fprintf(w, "  cut off     %s requests due when the run stopped early\n", count(r.CutOff))
	}
	fmt.Fprintf(w, "  backlog     at most %s requests waited for a connection\n", count(int64(r.MaxBacklog)))
	if r.ClientCPUSeconds > 0 {
		fmt.Fprintf(w, "  client CPU  %.1f s (%.2f cores)\n", r.ClientCPUSeconds, r.ClientCPUSeconds/(r.WarmupSeconds+r.MeasuredSeconds))
	}
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "  server CPU  %.1f s, %.0f µs per request (pid %d)\n", r.ServerCPUSeconds, r.ServerCPUPerRequestUS, r.ServerPID)
	}
	met := "not met"
	if r.GoalMet {
		met = "met"
	}
	fmt.Fprintf(w, "goal (>= %d/s answered, p99 < %d ms): %s\n", GoalApprovedPerSecond, GoalP99.Milliseconds(), met)
}

// RunApprovals offers Tier 0 approval requests to cfg.URL at cfg.Rate for
// cfg.Duration and reports how many were approved and how long each took
// from the moment it was due.
//
// The run is open loop: request i is due at start + i/Rate, whether or not the
// earlier ones have been answered, and waits in a queue while every connection
// is busy. Its latency is counted from its due time, so a server that stalls is
// charged for every request it delayed rather than for the one it was
// answering (no coordinated omission). When more than cfg.MaxBacklog requests
// wait, the run stops with an error. Cancelling ctx also stops it; the report
// then covers what was sent, and the error says why it stopped.
func RunApprovals(ctx context.Context, cfg ApprovalsConfig) (ApprovalsReport, error) {
	if err := cfg.Validate(); err != nil {
		return ApprovalsReport{}, fmt.Errorf("loadgen: %w", err)
	}
	if cfg.Environment == "" {
		cfg.Environment = "prod"
	}
	if cfg.MaxBacklog == 0 {
		cfg.MaxBacklog = max(1, int(math.Ceil(cfg.Rate)))
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	target, err := approvalsURL(cfg.URL)
	if err != nil {
		return ApprovalsReport{}, err
	}
	rep := ApprovalsReport{URL: target.String(), Service: cfg.Service, Action: cfg.Action, Connections: cfg.Connections,
		OfferedPerSecond: cfg.Rate, WarmupSeconds: cfg.Warmup.Seconds(), MeasuredSeconds: (cfg.Duration - cfg.Warmup).Seconds()}

	r := newApprovalsRun(cfg, target)
	if err := r.preflight(ctx); err != nil {
		return rep, err
	}
	var server0 time.Duration
	var serverErr error
	if cfg.PID != 0 {
		server0, serverErr = processCPU(cfg.PID)
	}
	cpu0, cpuOK := cpuTime()
	r.run(ctx)
	if cpu1, ok := cpuTime(); ok && cpuOK {
		rep.ClientCPUSeconds = (cpu1 - cpu0).Seconds()
	}
	if cfg.PID != 0 {
		// The server's CPU time is left out of the report where it cannot be read.
		var server1 time.Duration
		if serverErr == nil {
			server1, serverErr = processCPU(cfg.PID)
		}
		sent := r.sent.Load() + r.warmupSent.Load()
		switch {
		case serverErr != nil:
			fmt.Fprintf(cfg.Out, "bench: no server CPU time in the report: %v\n", serverErr)
		case sent > 0:
			rep.ServerPID, rep.ServerCPUSeconds = cfg.PID, (server1 - server0).Seconds()
			rep.ServerCPUPerRequestUS = rep.ServerCPUSeconds * 1e6 / float64(sent)
		}
	}

	rep.Requests = r.sent.Load()
	rep.Approved = r.approved.Load()
	rep.WarmupRequests = r.warmupSent.Load()
	rep.WarmupErrors = r.warmupErrors.Load()
	rep.CutOff = r.cutOff.Load()
	rep.MaxBacklog = int(r.maxBacklog.Load())
	rep.Errors = rep.Requests - rep.Approved
	if len(r.byStatus) > 0 {
		rep.ErrorsByStatus = r.byStatus
	}
	rep.FirstError = r.firstErr
	if r.ran < cfg.Duration {
		// Stopped early: the phases are what was scheduled of them.
		rep.WarmupSeconds = min(r.ran, cfg.Warmup).Seconds()
		rep.MeasuredSeconds = max(0, (r.ran - cfg.Warmup).Seconds())
	}
	if rep.MeasuredSeconds > 0 {
		rep.ApprovedPerSecond = float64(rep.Approved) / rep.MeasuredSeconds
	}
	var lat []time.Duration
	for _, l := range r.lat {
		lat = append(lat, l...)
	}
	slices.Sort(lat)
	rep.LatencyP50MS = percentileMS(lat, 0.50)
	rep.LatencyP90MS = percentileMS(lat, 0.90)
	rep.LatencyP99MS = percentileMS(lat, 0.99)
	rep.LatencyP999MS = percentileMS(lat, 0.999)
	rep.LatencyMaxMS = percentileMS(lat, 1)
	slices.Sort(r.lags)
	rep.SendLagP50MS = percentileMS(r.lags, 0.50)
	rep.SendLagP99MS = percentileMS(r.lags, 0.99)
	rep.SendLagMaxMS = percentileMS(r.lags, 1)
	rep.GoalMet = r.abort == nil && len(lat) > 0 && goalMet(rep.ApprovedPerSecond, rep.LatencyP99MS)
	return rep, r.abort
}

// goalMet says whether perSecond approvals at a p99 of p99MS meet the goal.
func goalMet(perSecond, p99MS float64) bool {
	return perSecond >= GoalApprovedPerSecond && p99MS < float64(GoalP99)/float64(time.Millisecond)
}

// slot is one scheduled request.
type slot struct {
	n   int64
	due time.Time
}

// approvalsRun is the state of one RunApprovals.
type approvalsRun struct {
	cfg    ApprovalsConfig
	target *url.URL
	runID  string
	// prefix and infix are the constant parts of every body, around the
	// request number.
	prefix, infix []byte

	slots  int64 // scheduled in all
	warmup int64 // the first warmup slots are not counted
	queue  chan slot
	// stop is closed when the run stops early: the dispatcher stops and the
	// workers drop the requests still queued, but let those in flight finish.
	stop      chan struct{}
	abortOnce sync.Once
	abort     error
	// ran is how long the schedule ran: the whole duration, or until the
	// run stopped early.
	ran time.Duration

	sent, approved           atomic.Int64 // measured window
	warmupSent, warmupErrors atomic.Int64
	cutOff                   atomic.Int64
	maxBacklog               atomic.Int64

	mu       sync.Mutex
	byStatus map[string]int64
	firstErr string
	lat      [][]time.Duration // approved latencies, per worker
	lags     []time.Duration   // send lags of the measured slots
}

func newApprovalsRun(cfg ApprovalsConfig, target *url.URL) *approvalsRun {
	// The constant fields, JSON-encoded once; task_id and idempotency_key
	// carry the request number.
	head, _ := json.Marshal(map[string]any{
		"service": cfg.Service, "environment": cfg.Environment, "action": cfg.Action,
		"context": map[string]any{"confidence": 0.99, "in_policy": true, "prompt": "look up vendor 4711"},
	})
	r := &approvalsRun{
		cfg:      cfg,
		target:   target,
		runID:    strconv.FormatUint(rand.Uint64(), 36),
		slots:    slotsBefore(cfg.Duration, cfg.Rate),
		warmup:   slotsBefore(cfg.Warmup, cfg.Rate),
		queue:    make(chan slot, cfg.MaxBacklog),
		byStatus: map[string]int64{},
	}
	r.prefix = append(head[:len(head)-1:len(head)-1], `,"task_id":"t-`...)
	r.infix = []byte(`","idempotency_key":"bench-` + r.runID + "-")
	return r
}

// slotsBefore returns how many slots are due before d at rate: slot i is due
// at i/rate.
func slotsBefore(d time.Duration, rate float64) int64 {
	// The epsilon keeps whole products such as 0.2 s x 500/s from rounding up.
	return int64(math.Ceil(d.Seconds()*rate - 1e-9))
}

// body returns buf holding the body of the request numbered n.
func (r *approvalsRun) body(buf, n []byte) []byte {
	buf = append(buf[:0], r.prefix...)
	buf = append(buf, n...)
	buf = append(buf, r.infix...)
	buf = append(buf, n...)
	return append(buf, `"}`...)
}

// approvalAnswer is the part of day2's answer that is checked.
type approvalAnswer struct {
	State string `json:"state"`
}

// requestTimeout bounds one request, connecting included.
const requestTimeout = 30 * time.Second

// conn returns a new connection to the endpoint that ctx interrupts, and
// its release.
func (r *approvalsRun) conn(ctx context.Context) (*h1Conn, func()) {
	c := newH1Conn(r.target, requestTimeout)
	stop := context.AfterFunc(ctx, c.interrupt)
	return c, func() { stop(); c.close() }
}

// post sends one request over c and returns what went wrong, as an error
// class such as "HTTP 500" and a detail, or "" when the request was approved.
func (r *approvalsRun) post(c *h1Conn, body []byte) (class, detail string) {
	code, answer, err := c.post(body, r.cfg.Token)
	if err != nil {
		return "no answer", err.Error()
	}
	status := "HTTP " + strconv.Itoa(code)
	if code != http.StatusOK && code != http.StatusCreated {
		return status, status + ": " + snippet(answer)
	}
	var a approvalAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		return status + " not JSON", status + " is not JSON: " + snippet(answer)
	}
	if a.State != "approved" {
		return status + " " + cmp.Or(a.State, "without state"), fmt.Sprintf("%s, state %q: %s", status, a.State, snippet(answer))
	}
	return "", ""
}

// preflight sends one request before the clock starts, so that a wrong URL,
// token or policy fails with advice rather than as thousands of errors.
func (r *approvalsRun) preflight(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, release := r.conn(ctx)
	defer release()
	class, detail := r.post(c, r.body(nil, []byte("preflight")))
	switch {
	case class == "":
		return nil
	case class == "no answer":
		return fmt.Errorf("loadgen: cannot reach %s (is day2 running and is this its --http address?): %s", r.target, detail)
	case class == "HTTP 401" || class == "HTTP 403":
		if r.cfg.Token == "" {
			return fmt.Errorf("loadgen: %s refused a request without a token (%s): give a token with the ingest or operate scope", r.target, detail)
		}
		return fmt.Errorf("loadgen: %s refused the token (%s): check that it is valid and has the ingest or operate scope", r.target, detail)
	case class == "HTTP 404" || class == "HTTP 405":
		return fmt.Errorf("loadgen: %s answered %s: this is not day2's API (give the address of day2's --http listener)", r.target, class)
	case strings.HasPrefix(class, "HTTP 200 ") || strings.HasPrefix(class, "HTTP 201 "):
		return fmt.Errorf("loadgen: a request for service %q, action %q was not approved at once (%s): day2 needs an ApprovalPolicy for the service with the rule {action: %s, tier: 0}",
			r.cfg.Service, r.cfg.Action, detail, r.cfg.Action)
	default:
		return fmt.Errorf("loadgen: the first request failed: %s", detail)
	}
}

// halt stops the run early with err; the first reason wins.
func (r *approvalsRun) halt(err error) {
	r.abortOnce.Do(func() {
		r.abort = err
		close(r.stop)
	})
}

func (r *approvalsRun) run(ctx context.Context) {
	r.stop = make(chan struct{})
	start := time.Now()
	var wg sync.WaitGroup
	r.lat = make([][]time.Duration, r.cfg.Connections)
	for w := range r.cfg.Connections {
		wg.Go(func() { r.lat[w] = r.worker(ctx) })
	}
	progressDone := make(chan struct{})
	go r.progress(start, progressDone)
	r.dispatch(ctx, start)
	wg.Wait()
	close(progressDone)
}

// due returns when slot n is due.
func (r *approvalsRun) due(start time.Time, n int64) time.Time {
	return start.Add(time.Duration(float64(n) * float64(time.Second) / r.cfg.Rate))
}

// dispatch hands each slot to the workers when it is due. It never waits for
// a worker: a slot that finds them all busy waits in the queue.
func (r *approvalsRun) dispatch(ctx context.Context, start time.Time) {
	defer close(r.queue)
	r.ran = r.cfg.Duration
	r.lags = make([]time.Duration, 0, r.slots-r.warmup)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for n := int64(0); n < r.slots; n++ {
		due := r.due(start, n)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			r.halt(fmt.Errorf("loadgen: interrupted %.1f s into the run", time.Since(start).Seconds()))
			r.ran = time.Since(start)
			return
		}
		select {
		case r.queue <- slot{n: n, due: due}:
		default:
			r.halt(fmt.Errorf("loadgen: the server cannot keep up with the offered rate of %s/s: %s requests were waiting for one of %d connections %.1f s into the run; lower --rate (or raise --connections if the server has idle CPU)",
				rate(r.cfg.Rate), count(int64(cap(r.queue))), r.cfg.Connections, time.Since(start).Seconds()))
			r.cutOff.Add(1)
			r.ran = time.Since(start)
			return
		}
		if n >= r.warmup {
			r.lags = append(r.lags, time.Since(due))
		}
		if b := int64(len(r.queue)); b > r.maxBacklog.Load() {
			r.maxBacklog.Store(b) // only the dispatcher writes it
		}
	}
}

// worker sends the slots it is handed, one at a time, and returns the
// latencies of the measured ones that were approved.
func (r *approvalsRun) worker(ctx context.Context) []time.Duration {
	lat := make([]time.Duration, 0, (r.slots-r.warmup)/int64(r.cfg.Connections)+1)
	c, release := r.conn(ctx)
	defer release()
	var buf []byte
	var num []byte
	for s := range r.queue {
		select {
		case <-r.stop:
			r.cutOff.Add(1)
			continue
		default:
		}
		num = strconv.AppendInt(num[:0], s.n, 10)
		buf = r.body(buf, num)
		class, detail := r.post(c, buf)
		took := time.Since(s.due)
		if class != "" && ctx.Err() != nil {
			// Cut off by the interruption, not failed by the server.
			r.cutOff.Add(1)
			continue
		}
		if s.n < r.warmup {
			r.warmupSent.Add(1)
			if class != "" {
				r.warmupErrors.Add(1)
				r.noteError("", detail)
			}
			continue
		}
		r.sent.Add(1)
		if class != "" {
			r.noteError(class, detail)
			continue
		}
		r.approved.Add(1)
		lat = append(lat, took)
	}
	return lat
}

// noteError counts an error of the measured window under class (none for the
// warmup) and keeps the first detail.
func (r *approvalsRun) noteError(class, detail string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if class != "" {
		r.byStatus[class]++
	}
	if r.firstErr == "" {
		r.firstErr = detail
	}
}

func (r *approvalsRun) progress(start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			sent := r.warmupSent.Load() + r.sent.Load()
			errs := r.warmupErrors.Load() + r.sent.Load() - r.approved.Load()
			fmt.Fprintf(r.cfg.Out, "bench: %.0fs, %s sent, %s waiting for a connection, %s errors\n",
				now.Sub(start).Seconds(), count(sent), count(int64(len(r.queue))), count(errs))
		}
	}
}

// approvalsURL turns a base URL (or a bare host:port) into the approvals
// endpoint.
func approvalsURL(base string) (*url.URL, error) {
	return endpointURL(base, "/api/v1/approvals", "day2's API, such as http://127.0.0.1:8080")
}

// rate formats a per-second rate: whole numbers with thousands separators,
// small ones with a decimal.
func rate(v float64) string {
	if v >= 100 {
		return count(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

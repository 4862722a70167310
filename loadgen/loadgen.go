// Package loadgen is the engine of `day2 bench ingest`: it measures how fast a day2
// OTLP/HTTP receiver acknowledges realistic agent traces.
//
// Before the clock starts it builds distinct ExportTraceServiceRequest bodies of
// tasks drawn from the demo fleet's generator (a root span, LLM and tool calls, an
// outcome event: about 7.5 spans a task). During the run it only copies a body,
// re-keys its trace ids so that no task is ever sent twice, and posts it over a
// fixed number of keep-alive connections. It counts what day2 acknowledged, honours
// 429/503 with Retry-After, and can sample the peak memory of the day2 process.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Config configures Run.
type Config struct {
	// URL is the base URL of the OTLP/HTTP receiver, such as
	// http://127.0.0.1:4318; /v1/traces is appended.
	URL string
	// Token, if set, is sent as an Authorization: Bearer header.
	Token string
	// Connections is the number of concurrent keep-alive connections, each with
	// one request in flight. Zero means 8.
	Connections int
	// Duration bounds the timed phase. Zero sends every pre-built request once.
	Duration time.Duration
	// Batches is the number of distinct requests built before the run. Requests
	// are reused under fresh trace ids, so a few hundred are plenty; each holds
	// about 2.5 KB per task in memory. Zero means 256.
	Batches int
	// TasksPerBatch is the number of tasks in a request. Zero means 100, about
	// 750 spans and 250 KB.
	TasksPerBatch int
	// Seed selects the simulated tasks. Trace ids are random per run whatever
	// the seed, so that repeated runs against one day2 never look like
	// redeliveries.
	Seed int64
	// PID, if set, is the process whose peak resident memory is reported, read
	// from /proc/PID/status (VmHWM, and the largest VmRSS sampled).
	PID int
	// Out receives progress lines; nil discards them.
	Out io.Writer
}

// Defaults applied by Run to zero Config fields.
const (
	DefaultConnections   = 8
	DefaultBatches       = 256
	DefaultTasksPerBatch = 100
)

// Report is the result of a run.
type Report struct {
	URL             string  `json:"url"`
	Connections     int     `json:"connections"`
	TasksPerRequest int     `json:"tasks_per_request"`
	SpansPerRequest float64 `json:"spans_per_request"`
	BytesPerRequest float64 `json:"bytes_per_request"`
	BuildSeconds    float64 `json:"build_seconds"`
	// DurationSeconds is the timed phase, from the first request to the last
	// answer.
	DurationSeconds float64 `json:"duration_seconds"`
	// Requests counts requests answered 200.
	Requests int64 `json:"requests"`
	// AcknowledgedSpans counts spans in requests answered 200, less those the
	// answer's partial_success rejected; RejectedSpans counts the latter.
	AcknowledgedSpans int64   `json:"acknowledged_spans"`
	RejectedSpans     int64   `json:"rejected_spans"`
	SpansPerSecond    float64 `json:"spans_per_second"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	MiBPerSecond      float64 `json:"mib_per_second"`
	// Latencies are of requests answered 200, in milliseconds.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyP90MS float64 `json:"latency_p90_ms"`
	LatencyP99MS float64 `json:"latency_p99_ms"`
	LatencyMaxMS float64 `json:"latency_max_ms"`
	// Throttled counts answers 429, 502, 503 and 504; their requests were
	// retried after Retry-After (or a backoff).
	Throttled int64 `json:"throttled"`
	// Errors counts requests that failed for good: other HTTP statuses and
	// transport errors. LastError describes the last one.
	Errors    int64  `json:"errors"`
	LastError string `json:"last_error,omitempty"`
	// PID and PeakRSSMiB describe the sampled process, when Config.PID was set.
	PID        int     `json:"pid,omitempty"`
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
}

// Print writes the report for people.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "ingest benchmark against %s\n", r.URL)
	fmt.Fprintf(w, "  %d connections; %d tasks, %.0f spans, %.0f KiB per request\n",
		r.Connections, r.TasksPerRequest, r.SpansPerRequest, r.BytesPerRequest/1024)
	fmt.Fprintf(w, "  duration    %.1f s (requests built beforehand in %.1f s)\n", r.DurationSeconds, r.BuildSeconds)
	fmt.Fprintf(w, "  requests    %s acknowledged, %.1f/s\n", count(r.Requests), r.RequestsPerSecond)
	fmt.Fprintf(w, "  spans       %s acknowledged, %s/s (%.1f MiB/s)", count(r.AcknowledgedSpans), count(int64(r.SpansPerSecond)), r.MiBPerSecond)
	if r.RejectedSpans > 0 {
		fmt.Fprintf(w, "; %s rejected", count(r.RejectedSpans))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  latency     p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.LatencyP50MS, r.LatencyP90MS, r.LatencyP99MS, r.LatencyMaxMS)
	fmt.Fprintf(w, "  throttled   %s (answered 429/503 and retried)\n", count(r.Throttled))
	fmt.Fprintf(w, "  errors      %s", count(r.Errors))
	if r.LastError != "" {
		fmt.Fprintf(w, " (last: %s)", r.LastError)
	}
	fmt.Fprintln(w)
	if r.PID != 0 {
		fmt.Fprintf(w, "  peak RSS    %.1f MiB (pid %d)\n", r.PeakRSSMiB, r.PID)
	}
}

// Run builds the requests, then posts them to cfg.URL until cfg.Duration has
// passed (or each was sent once), and reports what the receiver acknowledged.
// Cancelling ctx stops the run early; the report then covers what was sent.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Connections == 0 {
		cfg.Connections = DefaultConnections
	}
	if cfg.Batches == 0 {
		cfg.Batches = DefaultBatches
	}
	if cfg.TasksPerBatch == 0 {
		cfg.TasksPerBatch = DefaultTasksPerBatch
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	switch {
	case cfg.Connections < 0, cfg.Batches < 0, cfg.TasksPerBatch < 0:
		return Report{}, fmt.Errorf("loadgen: connections (%d), batches (%d) and tasks per batch (%d) must be positive",
			cfg.Connections, cfg.Batches, cfg.TasksPerBatch)
	case cfg.Duration < 0:
		return Report{}, fmt.Errorf("loadgen: duration %s is negative", cfg.Duration)
	}
	target, err := tracesURL(cfg.URL)
	if err != nil {
		return Report{}, err
	}
	rep := Report{URL: target, Connections: cfg.Connections, TasksPerRequest: cfg.TasksPerBatch, PID: cfg.PID}

	var rss *rssSampler
	if cfg.PID != 0 {
		if rss, err = newRSSSampler(cfg.PID); err != nil {
			return rep, err
		}
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     cfg.Connections,
		MaxIdleConnsPerHost: cfg.Connections,
		MaxIdleConns:        cfg.Connections,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}, Timeout: 60 * time.Second}
	defer client.CloseIdleConnections()
	if err := preflight(ctx, client, target, cfg.Token); err != nil {
		return rep, err
	}

	fmt.Fprintf(cfg.Out, "building %s requests of %s tasks...\n", count(int64(cfg.Batches)), count(int64(cfg.TasksPerBatch)))
	buildStart := time.Now()
	builtAt := time.Now()
	batches, err := buildBatches(cfg.Batches, cfg.TasksPerBatch, cfg.Seed, builtAt)
	if err != nil {
		return rep, fmt.Errorf("loadgen: %w", err)
	}
	rep.BuildSeconds = time.Since(buildStart).Seconds()
	var totalBytes, totalSpans int
	for i := range batches {
		totalBytes += len(batches[i].body)
		totalSpans += batches[i].spans
	}
	rep.SpansPerRequest = float64(totalSpans) / float64(len(batches))
	rep.BytesPerRequest = float64(totalBytes) / float64(len(batches))
	fmt.Fprintf(cfg.Out, "built %s requests (%s spans, %.0f MiB) in %.1f s\n",
		count(int64(len(batches))), count(int64(totalSpans)), float64(totalBytes)/(1<<20), rep.BuildSeconds)

	r := &runner{
		cfg:     cfg,
		client:  client,
		url:     target,
		batches: batches,
		builtAt: builtAt,
		nonce:   rand.Uint64(),
		stop:    make(chan struct{}),
	}
	if rss != nil {
		rss.start()
	}
	r.run(ctx)
	if rss != nil {
		rep.PeakRSSMiB = float64(rss.finish()) / 1024
	}

	elapsed := r.elapsed.Seconds()
	rep.DurationSeconds = elapsed
	rep.Requests = r.requests.Load()
	rep.AcknowledgedSpans = r.acked.Load()
	rep.RejectedSpans = r.rejected.Load()
	rep.Throttled = r.throttled.Load()
	rep.Errors = r.errors.Load()
	if e := r.lastErr.Load(); e != nil {
		rep.LastError = *e
	}
	if elapsed > 0 {
		rep.SpansPerSecond = float64(rep.AcknowledgedSpans) / elapsed
		rep.RequestsPerSecond = float64(rep.Requests) / elapsed
		rep.MiBPerSecond = float64(r.bytes.Load()) / (1 << 20) / elapsed
	}
	lat := r.latencies()
	rep.LatencyP50MS = percentileMS(lat, 0.50)
	rep.LatencyP90MS = percentileMS(lat, 0.90)
	rep.LatencyP99MS = percentileMS(lat, 0.99)
	rep.LatencyMaxMS = percentileMS(lat, 1)
	if r.abort != nil {
		return rep, r.abort
	}
	return rep, nil
}

// runner is the timed phase.
type runner struct {
	cfg     Config
	client  *http.Client
	url     string
	batches []batch
	builtAt time.Time // timestamps in batches are relative to this
	nonce   uint64

	next      atomic.Int64 // index of the next request to send
	requests  atomic.Int64
	acked     atomic.Int64
	rejected  atomic.Int64
	throttled atomic.Int64
	errors    atomic.Int64
	bytes     atomic.Int64
	lastErr   atomic.Pointer[string]

	mu      sync.Mutex
	lat     [][]time.Duration // per worker
	abort   error
	stop    chan struct{}
	stopped sync.Once
	elapsed time.Duration
}

// maxErrorsWithoutSuccess stops a run against a receiver that fails every request.
const maxErrorsWithoutSuccess = 20

func (r *runner) run(ctx context.Context) {
	var deadline time.Time
	start := time.Now()
	if r.cfg.Duration > 0 {
		deadline = start.Add(r.cfg.Duration)
	}
	progressDone := make(chan struct{})
	go r.progress(start, progressDone)
	var wg sync.WaitGroup
	r.lat = make([][]time.Duration, r.cfg.Connections)
	for w := range r.cfg.Connections {
		wg.Go(func() { r.lat[w] = r.worker(ctx, deadline) })
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	close(progressDone)
}

func (r *runner) halt(err error) {
	r.stopped.Do(func() {
		r.mu.Lock()
		r.abort = err
		r.mu.Unlock()
		close(r.stop)
	})
}

func (r *runner) done(ctx context.Context, deadline time.Time) bool {
	select {
	case <-r.stop:
		return true
	default:
	}
	return ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline))
}

func (r *runner) worker(ctx context.Context, deadline time.Time) []time.Duration {
	var lat []time.Duration
	var buf []byte
	n := int64(len(r.batches))
	for !r.done(ctx, deadline) {
		i := r.next.Add(1) - 1
		if r.cfg.Duration == 0 && i >= n {
			break
		}
		b := &r.batches[i%n]
		buf = patchTraceIDs(buf, b, r.nonce, int(i/n))
		shiftTimes(buf, b, time.Since(r.builtAt))
		if d, ok := r.send(ctx, deadline, buf, b.spans); ok {
			lat = append(lat, d)
		}
	}
	return lat
}

// send posts body until it is answered for good, and returns the latency of the
// successful attempt.
func (r *runner) send(ctx context.Context, deadline time.Time, body []byte, spans int) (time.Duration, bool) {
	backoff := 100 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.url, bytes.NewReader(body))
		if err != nil {
			r.fail(err.Error())
			return 0, false
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		if r.cfg.Token != "" {
			req.Header.Set("Authorization", "Bearer "+r.cfg.Token)
		}
		t0 := time.Now()
		resp, err := r.client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				r.fail(err.Error())
			}
			return 0, false
		}
		answer, readErr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		d := time.Since(t0)
		switch resp.StatusCode {
		case http.StatusOK:
			if readErr != nil {
				r.fail(fmt.Sprintf("read answer: %v", readErr))
				return 0, false
			}
			rejected, err := rejectedSpans(resp.Header.Get("Content-Type"), answer)
			if err != nil {
				r.fail(err.Error())
				return 0, false
			}
			r.requests.Add(1)
			r.bytes.Add(int64(len(body)))
			r.acked.Add(int64(spans) - rejected)
			r.rejected.Add(rejected)
			return d, true
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			r.throttled.Add(1)
			wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if !ok {
				wait = backoff
				backoff = min(2*backoff, 5*time.Second)
			}
			if !r.sleep(ctx, deadline, wait) {
				return 0, false
			}
		default:
			r.fail(fmt.Sprintf("HTTP %d: %s", resp.StatusCode, snippet(answer)))
			return 0, false
		}
	}
}

// sleep waits d, or less if the run ends first, and reports whether the run is
// still on.
func (r *runner) sleep(ctx context.Context, deadline time.Time, d time.Duration) bool {
	if !deadline.IsZero() && time.Now().Add(d).After(deadline) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-r.stop:
		return false
	}
}

func (r *runner) fail(msg string) {
	r.lastErr.Store(&msg)
	if n := r.errors.Add(1); n >= maxErrorsWithoutSuccess && r.requests.Load() == 0 {
		r.halt(fmt.Errorf("loadgen: %s failed %d requests and accepted none; last error: %s", r.url, n, msg))
	}
}

func (r *runner) progress(start time.Time, done <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-tick.C:
			secs := now.Sub(start).Seconds()
			acked := r.acked.Load()
			fmt.Fprintf(r.cfg.Out, "bench: %.0fs, %s spans acknowledged (%s/s), %s throttled, %s errors\n",
				secs, count(acked), count(int64(float64(acked)/secs)), count(r.throttled.Load()), count(r.errors.Load()))
		}
	}
}

func (r *runner) latencies() []time.Duration {
	var all []time.Duration
	for _, l := range r.lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all
}

// percentileMS returns the nearest-rank q-quantile of sorted in milliseconds.
func percentileMS(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

// rejectedSpans reads partial_success.rejected_spans from an export answer.
func rejectedSpans(contentType string, answer []byte) (int64, error) {
	if len(answer) == 0 {
		return 0, nil
	}
	resp := ptraceotlp.NewExportResponse()
	var err error
	if strings.HasPrefix(contentType, "application/json") {
		err = resp.UnmarshalJSON(answer)
	} else {
		err = resp.UnmarshalProto(answer)
	}
	if err != nil {
		return 0, fmt.Errorf("answer 200 is not an ExportTraceServiceResponse: %w", err)
	}
	return resp.PartialSuccess().RejectedSpans(), nil
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "(empty answer)"
	}
	return s
}

// tracesURL turns a base URL (or a bare host:port, or a full /v1/traces URL) into
// the traces endpoint.
func tracesURL(base string) (string, error) {
	u, err := endpointURL(base, "/v1/traces", "day2's OTLP/HTTP receiver, such as http://127.0.0.1:4318")
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// endpointURL turns a base URL, a bare host:port, or the endpoint's own URL
// into the URL of the endpoint at path; what describes the base URL expected.
func endpointURL(base, path, what string) (*url.URL, error) {
	e := strings.TrimSpace(base)
	if e == "" {
		return nil, errors.New("loadgen: no URL: give the base URL of " + what)
	}
	if !strings.Contains(e, "://") {
		e = "http://" + e
	}
	u, err := url.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %q is not a URL: %w", base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("loadgen: %q is not an http(s) URL with a host", base)
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), path) + path
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// preflight posts an empty export so that a wrong URL or token fails before the
// requests are built.
func preflight(ctx context.Context, client *http.Client, target, token string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, http.NoBody)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("loadgen: cannot reach %s (is day2 running and listening there?): %w", target, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		if token == "" {
			return fmt.Errorf("loadgen: %s refused a request without a token (HTTP %d): give a token with the ingest scope", target, resp.StatusCode)
		}
		return fmt.Errorf("loadgen: %s refused the token (HTTP %d): check that it is valid and has the ingest scope", target, resp.StatusCode)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Errorf("loadgen: %s answered HTTP %d: this is not an OTLP/HTTP receiver (day2 listens for OTLP on port 4318 by default)", target, resp.StatusCode)
	}
	return nil
}

// count formats n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

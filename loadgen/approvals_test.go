package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// approvalsAPI answers POST /api/v1/approvals like day2, after a delay and
// with a status and state chosen per request.
type approvalsAPI struct {
	t *testing.T
	// token, if set, is the Bearer token every request must carry.
	token string
	// answer gives the delay, status and state of the n-th request (0 is the
	// first to arrive); nil approves every request at once.
	answer func(n int) (time.Duration, int, string)

	mu     sync.Mutex
	n      int
	keys   map[string]int
	tasks  map[string]bool
	failed int // answers other than approved
	bad    []string
}

func newApprovalsAPI(t *testing.T) *approvalsAPI {
	return &approvalsAPI{t: t, keys: map[string]int{}, tasks: map[string]bool{}}
}

func (a *approvalsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/approvals" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if a.token != "" && r.Header.Get("Authorization") != "Bearer "+a.token {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	var in struct {
		Service        string         `json:"service"`
		Environment    string         `json:"environment"`
		Action         string         `json:"action"`
		TaskID         string         `json:"task_id"`
		Context        map[string]any `json:"context"`
		IdempotencyKey string         `json:"idempotency_key"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	a.mu.Lock()
	n := a.n
	a.n++
	if err != nil || r.Header.Get("Content-Type") != "application/json" || in.Service != "bench-agent" ||
		in.Action != "lookup_vendor" || in.Environment != "prod" || in.Context["in_policy"] != true || in.TaskID == "" {
		a.bad = append(a.bad, fmt.Sprintf("%+v (%v)", in, err))
	}
	a.keys[in.IdempotencyKey]++
	a.tasks[in.TaskID] = true
	delay, status, state := time.Duration(0), http.StatusCreated, "approved"
	if a.answer != nil {
		delay, status, state = a.answer(n)
	}
	if status >= 300 || state != "approved" {
		a.failed++
	}
	a.mu.Unlock()
	time.Sleep(delay)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if status >= 300 {
		fmt.Fprintln(w, `{"error":"storage is on fire"}`)
		return
	}
	fmt.Fprintf(w, `{"id":"ap_%d","state":%q,"tier":0}`+"\n", n, state)
}

// check asserts that every request was well formed and had its own key.
func (a *approvalsAPI) check(t *testing.T) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bad) > 0 {
		t.Errorf("%d malformed requests, e.g. %s", len(a.bad), a.bad[0])
	}
	for k, n := range a.keys {
		if n != 1 || k == "" {
			t.Errorf("idempotency key %q was sent %d times", k, n)
		}
	}
	if len(a.tasks) != len(a.keys) {
		t.Errorf("%d task ids for %d requests", len(a.tasks), len(a.keys))
	}
}

func (a *approvalsAPI) requests() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func approvalsConfig(url string) ApprovalsConfig {
	return ApprovalsConfig{URL: url, Service: "bench-agent", Action: "lookup_vendor", Connections: 8,
		Rate: 500, Duration: time.Second, Warmup: 200 * time.Millisecond}
}

func TestRunApprovalsOffersTheRate(t *testing.T) {
	api := newApprovalsAPI(t)
	api.token = "t0ken"
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg := approvalsConfig(srv.URL)
	cfg.Token = "t0ken"
	cfg.PID = os.Getpid() // the server is in this process
	var out bytes.Buffer
	cfg.Out = &out
	rep, err := RunApprovals(context.Background(), cfg)
	if err != nil {
		t.Fatalf("RunApprovals: %v", err)
	}
	api.check(t)
	if runtime.GOOS == "linux" {
		var printedRep bytes.Buffer
		rep.Print(&printedRep)
		if rep.ServerPID != cfg.PID || rep.ServerCPUSeconds <= 0 ||
			math.Abs(rep.ServerCPUPerRequestUS-rep.ServerCPUSeconds*1e6/500) > 1e-6 ||
			!strings.Contains(printedRep.String(), "µs per request") {
			t.Errorf("server pid %d, %g s of CPU, %g µs per request; want pid %d, some CPU time over 500 requests, printed",
				rep.ServerPID, rep.ServerCPUSeconds, rep.ServerCPUPerRequestUS, cfg.PID)
		}
	}
	// Slot i is due at i/500 s: 100 in the warmup, 400 after it.
	if rep.Requests != 400 || rep.Approved != 400 || rep.Errors != 0 || rep.WarmupRequests != 100 || rep.WarmupErrors != 0 || rep.CutOff != 0 {
		t.Errorf("report: %d requests, %d approved, %d errors, %d warmup, %d warmup errors, %d cut off; want 400, 400, 0, 100, 0, 0",
			rep.Requests, rep.Approved, rep.Errors, rep.WarmupRequests, rep.WarmupErrors, rep.CutOff)
	}
	if got := api.requests(); got != 501 {
		t.Errorf("server got %d requests, want 500 and the preflight", got)
	}
	if math.Abs(rep.ApprovedPerSecond-500) > 1 || rep.MeasuredSeconds != 0.8 || rep.OfferedPerSecond != 500 {
		t.Errorf("%.1f approved/s over %.2f s at %.0f/s offered, want 500/s over 0.8 s", rep.ApprovedPerSecond, rep.MeasuredSeconds, rep.OfferedPerSecond)
	}
	if rep.LatencyP50MS <= 0 || rep.LatencyP50MS > rep.LatencyP90MS || rep.LatencyP90MS > rep.LatencyP99MS ||
		rep.LatencyP99MS > rep.LatencyP999MS || rep.LatencyP999MS > rep.LatencyMaxMS {
		t.Errorf("latencies p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f are not ordered",
			rep.LatencyP50MS, rep.LatencyP90MS, rep.LatencyP99MS, rep.LatencyP999MS, rep.LatencyMaxMS)
	}
	if rep.SendLagP50MS > rep.SendLagP99MS || rep.SendLagP99MS > rep.SendLagMaxMS || rep.SendLagMaxMS > rep.LatencyMaxMS {
		t.Errorf("send lags p50 %.3f p99 %.3f max %.3f, latency max %.3f: a lag is part of its latency",
			rep.SendLagP50MS, rep.SendLagP99MS, rep.SendLagMaxMS, rep.LatencyMaxMS)
	}
	if rep.GoalMet {
		t.Error("500/s meets a goal of 5,000/s")
	}
	if rep.FailedShare() != 0 {
		t.Errorf("failed share %g", rep.FailedShare())
	}
}

// TestRunApprovalsWithoutServerCPU names a process that is not there: the run
// goes on, says why the report has no server CPU time, and leaves it out.
func TestRunApprovalsWithoutServerCPU(t *testing.T) {
	srv := httptest.NewServer(newApprovalsAPI(t))
	defer srv.Close()
	cfg := approvalsConfig(srv.URL)
	cfg.Duration, cfg.Warmup = 200*time.Millisecond, 0
	cfg.PID = 1 << 30 // above any pid_max
	var out bytes.Buffer
	cfg.Out = &out
	rep, err := RunApprovals(context.Background(), cfg)
	if err != nil {
		t.Fatalf("RunApprovals: %v", err)
	}
	if rep.Approved == 0 || rep.ServerPID != 0 || rep.ServerCPUSeconds != 0 || rep.ServerCPUPerRequestUS != 0 {
		t.Errorf("%d approved, server pid %d, %g s, %g µs per request; want approvals and no server CPU time",
			rep.Approved, rep.ServerPID, rep.ServerCPUSeconds, rep.ServerCPUPerRequestUS)
	}
	if n := strings.Count(out.String(), "no server CPU time in the report"); n != 1 {
		t.Errorf("the output says %d times that the server CPU time is missing, want once:\n%s", n, out.String())
	}
}

func TestRunApprovalsChargesAStallToEveryRequestItDelays(t *testing.T) {
	api := newApprovalsAPI(t)
	// Every 100th request stalls for 100 ms; the others are answered at once.
	api.answer = func(n int) (time.Duration, int, string) {
		if n%100 == 99 {
			return 100 * time.Millisecond, http.StatusCreated, "approved"
		}
		return 0, http.StatusCreated, "approved"
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg := approvalsConfig(srv.URL)
	cfg.Rate, cfg.Connections, cfg.Duration = 200, 1, 1200*time.Millisecond
	rep, err := RunApprovals(context.Background(), cfg)
	if err != nil {
		t.Fatalf("RunApprovals: %v", err)
	}
	api.check(t)
	if rep.Approved != 200 || rep.Errors != 0 {
		t.Fatalf("report: %d approved, %d errors; want 200, 0", rep.Approved, rep.Errors)
	}
	// Two stalls fall in the measured window. Each holds up the 19 requests
	// due during it on the one connection, by 95 down to 5 ms. Timed from
	// when it was sent, only the stalled request would be slow, and p90 would
	// be a fraction of a millisecond.
	if rep.LatencyP99MS < 50 || rep.LatencyP90MS < 10 {
		t.Errorf("p90 %.2f ms, p99 %.2f ms: want at least 10 and 50 ms, counted from each request's due time", rep.LatencyP90MS, rep.LatencyP99MS)
	}
	if rep.MaxBacklog < 10 {
		t.Errorf("at most %d requests waited during a 100 ms stall at 200/s", rep.MaxBacklog)
	}
}

func TestRunApprovalsStopsWhenTheServerCannotKeepUp(t *testing.T) {
	api := newApprovalsAPI(t)
	// 20 ms a request on one connection: at most 50/s of the 200/s offered.
	api.answer = func(int) (time.Duration, int, string) { return 20 * time.Millisecond, http.StatusCreated, "approved" }
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg := approvalsConfig(srv.URL)
	cfg.Rate, cfg.Connections, cfg.Duration, cfg.Warmup = 200, 1, 5*time.Second, 100*time.Millisecond
	rep, err := RunApprovals(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot keep up with the offered rate of 200/s") {
		t.Fatalf("RunApprovals error = %v, want the server cannot keep up", err)
	}
	api.check(t)
	// The backlog grows by 150 a second and reaches 200 after 1.3 s.
	if rep.MaxBacklog < 150 || rep.CutOff == 0 {
		t.Errorf("report: backlog at most %d, %d cut off", rep.MaxBacklog, rep.CutOff)
	}
	if rep.LatencyMaxMS < 200 {
		t.Errorf("max latency %.1f ms: the queue's wait is not counted", rep.LatencyMaxMS)
	}
	if rep.MeasuredSeconds >= 4.9 || rep.GoalMet {
		t.Errorf("an early stop reports %.1f s measured, goal met %v", rep.MeasuredSeconds, rep.GoalMet)
	}
}

func TestRunApprovalsStopsWhenCancelled(t *testing.T) {
	api := newApprovalsAPI(t)
	srv := httptest.NewServer(api)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cfg := approvalsConfig(srv.URL)
	cfg.Duration = time.Minute
	rep, err := RunApprovals(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("RunApprovals error = %v, want interrupted", err)
	}
	api.check(t)
	if rep.MeasuredSeconds > 1 || rep.Approved == 0 || rep.Errors != 0 || rep.GoalMet {
		t.Errorf("report: %.1f s measured, %d approved, %d errors, goal met %v", rep.MeasuredSeconds, rep.Approved, rep.Errors, rep.GoalMet)
	}
}

func TestRunApprovalsCountsErrors(t *testing.T) {
	api := newApprovalsAPI(t)
	api.answer = func(n int) (time.Duration, int, string) {
		switch {
		case n%10 == 3:
			return 0, http.StatusCreated, "pending"
		case n%25 == 7:
			return 0, http.StatusInternalServerError, ""
		}
		return 0, http.StatusCreated, "approved"
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg := approvalsConfig(srv.URL)
	cfg.Duration, cfg.Connections = 600*time.Millisecond, 4
	rep, err := RunApprovals(context.Background(), cfg)
	if err != nil {
		t.Fatalf("RunApprovals: %v", err)
	}
	api.check(t)
	api.mu.Lock()
	failed := api.failed
	api.mu.Unlock()
	if got := rep.Errors + rep.WarmupErrors; got != int64(failed) || rep.Approved+rep.Errors != rep.Requests {
		t.Errorf("report: %d errors (%d in the warmup), %d approved of %d; the server failed %d",
			rep.Errors, rep.WarmupErrors, rep.Approved, rep.Requests, failed)
	}
	pending, status500 := rep.ErrorsByStatus["HTTP 201 pending"], rep.ErrorsByStatus["HTTP 500"]
	if pending == 0 || status500 == 0 || pending+status500 != rep.Errors || len(rep.ErrorsByStatus) != 2 {
		t.Errorf("errors by status %v, want pending and 500 adding up to %d", rep.ErrorsByStatus, rep.Errors)
	}
	if !strings.Contains(rep.FirstError, `state "pending"`) && !strings.Contains(rep.FirstError, "storage is on fire") {
		t.Errorf("first error %q does not quote the answer", rep.FirstError)
	}
	if rep.FailedShare() < 0.1 {
		t.Errorf("failed share %g, want about 0.14", rep.FailedShare())
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "HTTP 201 pending: ") || !strings.Contains(out.String(), "first: ") {
		t.Errorf("Print omits the errors:\n%s", out.String())
	}
}

func TestRunApprovalsReportsUnusableServers(t *testing.T) {
	tokenAPI := newApprovalsAPI(t)
	tokenAPI.token = "right"
	needsToken := httptest.NewServer(tokenAPI)
	defer needsToken.Close()
	pendingAPI := newApprovalsAPI(t)
	pendingAPI.answer = func(int) (time.Duration, int, string) { return 0, http.StatusCreated, "pending" }
	notTier0 := httptest.NewServer(pendingAPI)
	defer notTier0.Close()
	notDay2 := httptest.NewServer(http.NotFoundHandler())
	defer notDay2.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct{ name, url, token, want string }{
		{"no URL", "", "", "no URL"},
		{"a malformed URL", "http://127.0.0.1:port", "", "not a URL"},
		{"nothing listens", closed.URL, "", "cannot reach"},
		{"a token is required", needsToken.URL, "", "give a token with the ingest or operate scope"},
		{"the token is refused", needsToken.URL, "wrong", "refused the token"},
		{"not day2", notDay2.URL, "", "not day2's API"},
		{"the action is not Tier 0", notTier0.URL, "", "{action: lookup_vendor, tier: 0}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := approvalsConfig(tt.url)
			cfg.Token = tt.token
			rep, err := RunApprovals(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RunApprovals error = %v, want one mentioning %q", err, tt.want)
			}
			if rep.Requests+rep.WarmupRequests != 0 {
				t.Errorf("%d requests sent after a failed preflight", rep.Requests+rep.WarmupRequests)
			}
		})
	}
	if n := pendingAPI.requests(); n != 1 {
		t.Errorf("%d requests sent to a server that does not approve, want only the preflight", n)
	}
}

func TestApprovalsConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*ApprovalsConfig)
		want string
	}{
		{"a usable config", func(*ApprovalsConfig) {}, ""},
		{"no warmup", func(c *ApprovalsConfig) { c.Warmup = 0 }, ""},
		{"a zero rate", func(c *ApprovalsConfig) { c.Rate = 0 }, "rate 0: offer a positive number"},
		{"a negative rate", func(c *ApprovalsConfig) { c.Rate = -5 }, "rate -5"},
		{"a rate that is not a number", func(c *ApprovalsConfig) { c.Rate = math.NaN() }, "rate NaN"},
		{"too high a rate", func(c *ApprovalsConfig) { c.Rate = 2e6 }, "at most 1,000,000"},
		{"a negative warmup", func(c *ApprovalsConfig) { c.Warmup = -time.Second }, "warmup -1s is negative"},
		{"a duration no longer than the warmup", func(c *ApprovalsConfig) { c.Duration = c.Warmup }, "must be longer than warmup"},
		{"no connection", func(c *ApprovalsConfig) { c.Connections = 0 }, "connections 0"},
		{"no service", func(c *ApprovalsConfig) { c.Service = " " }, "service is required"},
		{"no action", func(c *ApprovalsConfig) { c.Action = "" }, "action is required"},
		{"too many requests", func(c *ApprovalsConfig) { c.Rate, c.Duration = 1e6, time.Hour }, "shorten the run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := approvalsConfig("http://127.0.0.1:8080")
			tt.edit(&cfg)
			err := cfg.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestGoalMet(t *testing.T) {
	tests := []struct {
		perSecond, p99MS float64
		want             bool
	}{
		{5000, 4.9, true},
		{5000, 5, false},
		{4999, 1, false},
		{12000, 0.8, true},
	}
	for _, tt := range tests {
		if got := goalMet(tt.perSecond, tt.p99MS); got != tt.want {
			t.Errorf("goalMet(%g/s, p99 %g ms) = %v, want %v", tt.perSecond, tt.p99MS, got, tt.want)
		}
	}
	var out bytes.Buffer
	ApprovalsReport{OfferedPerSecond: 6000, ApprovedPerSecond: 6000, LatencyP99MS: 1.2, GoalMet: true}.Print(&out)
	if !strings.Contains(out.String(), "goal (>= 5000/s answered, p99 < 5 ms): met\n") {
		t.Errorf("Print:\n%s", out.String())
	}
	out.Reset()
	ApprovalsReport{OfferedPerSecond: 6000, ApprovedPerSecond: 6000, LatencyP99MS: 7}.Print(&out)
	if !strings.Contains(out.String(), "): not met\n") {
		t.Errorf("Print:\n%s", out.String())
	}
}

func TestApprovalsURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v1/approvals"},
		{"127.0.0.1:8080/", "http://127.0.0.1:8080/api/v1/approvals"},
		{"https://day2.example.com/day2/api/v1/approvals?x=1", "https://day2.example.com/day2/api/v1/approvals"},
	}
	for _, tt := range tests {
		if got, err := approvalsURL(tt.in); err != nil || got.String() != tt.want {
			t.Errorf("approvalsURL(%q) = %v, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// receiver is an OTLP/HTTP traces endpoint for tests. It decodes requests with
// pdata and records which request each trace id arrived in.
type receiver struct {
	t *testing.T
	// throttle answers this many requests with 429 and Retry-After: 1.
	throttle int
	// reject is the number of spans each answer reports as rejected.
	reject int64
	// fail answers every request with 500.
	fail bool

	mu        sync.Mutex
	requests  int
	throttled int
	spans     int64
	traceReq  map[pcommon.TraceID]int // trace id -> request number
	repeated  []pcommon.TraceID
	roots     map[pcommon.TraceID]int
	services  map[string]bool
	spanNames map[string]bool
}

func newReceiver(t *testing.T) *receiver {
	return &receiver{t: t, traceReq: map[pcommon.TraceID]int{}, roots: map[pcommon.TraceID]int{},
		services: map[string]bool{}, spanNames: map[string]bool{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) == 0 {
		// The preflight.
		out, _ := ptraceotlp.NewExportResponse().MarshalProto()
		w.Write(out)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.fail {
		http.Error(w, "storage is on fire", http.StatusInternalServerError)
		return
	}
	if rc.throttled < rc.throttle {
		rc.throttled++
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
		return
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rc.requests++
	td := req.Traces()
	rc.spans += int64(td.SpanCount())
	inThis := map[pcommon.TraceID]bool{}
	for _, rs := range td.ResourceSpans().All() {
		if v, ok := rs.Resource().Attributes().Get("service.name"); ok {
			rc.services[v.Str()] = true
		}
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				id := sp.TraceID()
				rc.spanNames[sp.Name()] = true
				if sp.ParentSpanID().IsEmpty() {
					rc.roots[id]++
				}
				if inThis[id] {
					continue
				}
				inThis[id] = true
				if _, seen := rc.traceReq[id]; seen {
					rc.repeated = append(rc.repeated, id)
				}
				rc.traceReq[id] = rc.requests
			}
		}
	}
	resp := ptraceotlp.NewExportResponse()
	if rc.reject > 0 {
		resp.PartialSuccess().SetRejectedSpans(rc.reject)
		resp.PartialSuccess().SetErrorMessage("some spans were too old")
	}
	out, _ := resp.MarshalProto()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// check asserts that the report matches what the receiver got and that no task
// was sent twice.
func (rc *receiver) check(t *testing.T, rep Report) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rep.Requests != int64(rc.requests) {
		t.Errorf("report says %d requests acknowledged, receiver answered %d", rep.Requests, rc.requests)
	}
	if want := rc.spans - rc.reject*int64(rc.requests); rep.AcknowledgedSpans != want {
		t.Errorf("report says %d spans acknowledged, receiver took %d and rejected %d", rep.AcknowledgedSpans, rc.spans, rc.spans-want)
	}
	if len(rc.repeated) > 0 {
		t.Errorf("%d trace ids arrived in more than one request, e.g. %s", len(rc.repeated), rc.repeated[0])
	}
	for id, n := range rc.roots {
		if n != 1 {
			t.Errorf("trace %s has %d root spans", id, n)
			break
		}
	}
	if rc.requests > 0 {
		for _, name := range []string{"llm.prompt", "llm.completion", "llm.tool"} {
			if !rc.spanNames[name] {
				t.Errorf("no %s span arrived", name)
			}
		}
		if len(rc.services) < 2 {
			t.Errorf("spans came from %d services, want several", len(rc.services))
		}
	}
}

func TestRunSendsEachRequestOnce(t *testing.T) {
	rc := newReceiver(t)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var out bytes.Buffer
	rep, err := Run(context.Background(), Config{URL: srv.URL, Connections: 4, Batches: 12, TasksPerBatch: 20, Seed: 1, Out: &out})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rc.check(t, rep)
	if rep.Requests != 12 || rep.Errors != 0 || rep.Throttled != 0 {
		t.Errorf("report: %d requests, %d errors, %d throttled; want 12, 0, 0", rep.Requests, rep.Errors, rep.Throttled)
	}
	if got := len(rc.traceReq); got != 12*20 {
		t.Errorf("receiver saw %d tasks, want %d", got, 12*20)
	}
	if rep.SpansPerRequest < 6*20 || rep.SpansPerRequest > 9*20 {
		t.Errorf("%.1f spans per request of 20 tasks, want 6 to 9 a task", rep.SpansPerRequest)
	}
	if rep.LatencyP50MS <= 0 || rep.LatencyP50MS > rep.LatencyP99MS || rep.LatencyP99MS > rep.LatencyMaxMS {
		t.Errorf("latencies p50 %.3f p99 %.3f max %.3f are not ordered", rep.LatencyP50MS, rep.LatencyP99MS, rep.LatencyMaxMS)
	}
	if !strings.Contains(out.String(), "built 12 requests") {
		t.Errorf("progress lacks the build line:\n%s", out.String())
	}
}

func TestRunForADurationNeverRepeatsATask(t *testing.T) {
	rc := newReceiver(t)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	// Two distinct requests, reused under fresh trace ids for as long as the run lasts.
	rep, err := Run(context.Background(), Config{URL: srv.URL, Connections: 2, Batches: 2, TasksPerBatch: 5, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rc.check(t, rep)
	if rep.Requests == 0 {
		t.Error("no request was acknowledged")
	}
}

func TestRunRetriesThrottledRequests(t *testing.T) {
	rc := newReceiver(t)
	rc.throttle = 3
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Connections: 2, Batches: 4, TasksPerBatch: 10})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rc.check(t, rep)
	if rep.Throttled != 3 || rep.Requests != 4 || rep.Errors != 0 {
		t.Errorf("report: %d throttled, %d requests, %d errors; want 3, 4, 0", rep.Throttled, rep.Requests, rep.Errors)
	}
	if got := len(rc.traceReq); got != 4*10 {
		t.Errorf("receiver saw %d tasks, want all 40 despite the throttling", got)
	}
}

func TestRunSubtractsRejectedSpans(t *testing.T) {
	rc := newReceiver(t)
	rc.reject = 7
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Connections: 2, Batches: 3, TasksPerBatch: 10})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	rc.check(t, rep)
	if rep.RejectedSpans != 3*7 {
		t.Errorf("report says %d spans rejected, want 21", rep.RejectedSpans)
	}
}

func TestRunGivesUpOnAFailingReceiver(t *testing.T) {
	rc := newReceiver(t)
	rc.fail = true
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Connections: 2, Batches: 50, TasksPerBatch: 2})
	if err == nil || !strings.Contains(err.Error(), "HTTP 500: storage is on fire") {
		t.Errorf("Run error = %v, want one quoting the receiver's answer", err)
	}
	if rep.Errors < maxErrorsWithoutSuccess || rep.Requests != 0 {
		t.Errorf("report: %d errors, %d requests", rep.Errors, rep.Requests)
	}
}

func TestRunReportsUnusableURLs(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer refuse.Close()
	notOTLP := httptest.NewServer(http.NotFoundHandler())
	defer notOTLP.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct{ name, url, token, want string }{
		{"no URL", "", "", "no URL"},
		{"a malformed URL", "http://127.0.0.1:port", "", "not a URL"},
		{"nothing listens", closed.URL, "", "cannot reach"},
		{"a token is required", refuse.URL, "", "give a token"},
		{"the token is refused", refuse.URL, "t0ken", "refused the token"},
		{"not an OTLP receiver", notOTLP.URL, "", "not an OTLP/HTTP receiver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{URL: tt.url, Token: tt.token, Batches: 1, TasksPerBatch: 1})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestPatchTraceIDs(t *testing.T) {
	b, err := buildBatch(30, 9, 0, time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	decode := func(body []byte) ptrace.Traces {
		t.Helper()
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			t.Fatalf("patched body does not decode: %v", err)
		}
		return req.Traces()
	}
	orig := decode(b.body)
	seen := map[pcommon.TraceID]bool{}
	var buf []byte
	for round := range 50 {
		buf = patchTraceIDs(buf, &b, 12345, round)
		td := decode(buf)
		if td.SpanCount() != orig.SpanCount() {
			t.Fatalf("round %d: %d spans, want %d", round, td.SpanCount(), orig.SpanCount())
		}
		// Same spans, same grouping into traces, new trace ids.
		mapping := map[pcommon.TraceID]pcommon.TraceID{}
		os := orig.ResourceSpans()
		for i, rs := range td.ResourceSpans().All() {
			for j, ss := range rs.ScopeSpans().All() {
				for k, sp := range ss.Spans().All() {
					o := os.At(i).ScopeSpans().At(j).Spans().At(k)
					if sp.Name() != o.Name() || sp.SpanID() != o.SpanID() || sp.StartTimestamp() != o.StartTimestamp() {
						t.Fatalf("round %d: span %q changed beyond its trace id", round, o.Name())
					}
					if prev, ok := mapping[o.TraceID()]; ok && prev != sp.TraceID() {
						t.Fatalf("round %d: spans of one trace got different ids", round)
					}
					mapping[o.TraceID()] = sp.TraceID()
				}
			}
		}
		for _, id := range mapping {
			if seen[id] {
				t.Fatalf("round %d reuses trace id %s", round, id)
			}
			seen[id] = true
		}
	}
	if !bytes.Equal(b.body, mustMarshal(t, orig)) {
		t.Error("patching changed the pre-built body")
	}
}

func mustMarshal(t *testing.T, td ptrace.Traces) []byte {
	t.Helper()
	out, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBatchesAreDeterministicAndDistinct(t *testing.T) {
	now := time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC)
	a, err := buildBatches(4, 10, 5, now)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := buildBatches(4, 10, 5, now)
	for i := range a {
		if !bytes.Equal(a[i].body, b[i].body) {
			t.Errorf("request %d differs between two builds with one seed", i)
		}
		for j := range i {
			if bytes.Equal(a[i].body, a[j].body) {
				t.Errorf("requests %d and %d are identical", i, j)
			}
		}
	}
}

func TestPeakRSSOfThisProcess(t *testing.T) {
	rss, hwm, err := readRSS(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("VmRSS %d kB, VmHWM %d kB", rss, hwm)
	}
	rc := newReceiver(t)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Batches: 2, TasksPerBatch: 5, PID: os.Getpid()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// A Go test binary holds a few MiB at least and far less than 64 GiB.
	if rep.PeakRSSMiB < 2 || rep.PeakRSSMiB > 64<<10 || rep.PID != os.Getpid() {
		t.Errorf("peak RSS %.1f MiB of pid %d is implausible", rep.PeakRSSMiB, rep.PID)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "peak RSS") {
		t.Errorf("Print omits the peak RSS:\n%s", out.String())
	}
}

func TestRunRejectsAMissingProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc here")
	}
	_, err := Run(context.Background(), Config{URL: "http://127.0.0.1:1", PID: 1 << 30})
	if err == nil || !strings.Contains(err.Error(), "read memory of process") {
		t.Errorf("Run error = %v, want one about the process", err)
	}
}

func TestParseStatus(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		rss, hwm int64
		wantErr  bool
	}{
		{name: "a normal process", in: "Name:\tday2\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t9\n", rss: 102400, hwm: 204800},
		{name: "a kernel thread has no memory lines", in: "Name:\tkthreadd\nThreads:\t1\n", wantErr: true},
		{name: "an unexpected unit", in: "VmRSS:\t12 MB\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatus([]byte(tt.in))
			if (err != nil) != tt.wantErr || rss != tt.rss || hwm != tt.hwm {
				t.Errorf("parseStatus = %d, %d, %v; want %d, %d, error %v", rss, hwm, err, tt.rss, tt.hwm, tt.wantErr)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-1", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTracesURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"},
		{"127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"},
		{"https://day2.example.com/otlp/v1/traces", "https://day2.example.com/otlp/v1/traces"},
	}
	for _, tt := range tests {
		if got, err := tracesURL(tt.in); err != nil || got != tt.want {
			t.Errorf("tracesURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPercentileMS(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want float64
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}}
	for _, tt := range tests {
		if got := percentileMS(d, tt.q); got != tt.want {
			t.Errorf("percentileMS(1..100 ms, %g) = %g, want %g", tt.q, got, tt.want)
		}
	}
	if got := percentileMS(nil, 0.5); got != 0 {
		t.Errorf("percentileMS of nothing = %g", got)
	}
}

func TestReportJSON(t *testing.T) {
	rep := Report{URL: "http://x/v1/traces", Requests: 3, AcknowledgedSpans: 2250, LatencyP99MS: 12.5, PID: 42, PeakRSSMiB: 99.5}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"acknowledged_spans":2250`, `"latency_p99_ms":12.5`, `"peak_rss_mib":99.5`, `"throttled":0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
}

// BenchmarkBuildBatch measures building one request of 100 tasks.
func BenchmarkBuildBatch(b *testing.B) {
	now := time.Now()
	k := 0
	for b.Loop() {
		if _, err := buildBatch(100, 1, k, now); err != nil {
			b.Fatal(err)
		}
		k++
	}
}

func TestShiftTimesMovesEveryTimestamp(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	bs, err := buildBatches(1, 20, 9, now)
	if err != nil {
		t.Fatal(err)
	}
	b := bs[0]
	before := ptraceotlp.NewExportRequest()
	if err := before.UnmarshalProto(b.body); err != nil {
		t.Fatal(err)
	}
	body := append([]byte(nil), b.body...)
	shiftTimes(body, &b, time.Hour)
	after := ptraceotlp.NewExportRequest()
	if err := after.UnmarshalProto(body); err != nil {
		t.Fatal(err)
	}
	bs0, as0 := before.Traces().ResourceSpans(), after.Traces().ResourceSpans()
	n := 0
	for i := 0; i < bs0.Len(); i++ {
		bss, ass := bs0.At(i).ScopeSpans().At(0).Spans(), as0.At(i).ScopeSpans().At(0).Spans()
		for j := 0; j < bss.Len(); j++ {
			x, y := bss.At(j), ass.At(j)
			if y.StartTimestamp().AsTime().Sub(x.StartTimestamp().AsTime()) != time.Hour ||
				y.EndTimestamp().AsTime().Sub(x.EndTimestamp().AsTime()) != time.Hour {
				t.Fatalf("span %d not shifted by an hour", j)
			}
			for k := 0; k < x.Events().Len(); k++ {
				if y.Events().At(k).Timestamp().AsTime().Sub(x.Events().At(k).Timestamp().AsTime()) != time.Hour {
					t.Fatalf("event of span %d not shifted", j)
				}
			}
			n++
		}
	}
	if n != b.spans {
		t.Fatalf("checked %d spans, want %d", n, b.spans)
	}
}

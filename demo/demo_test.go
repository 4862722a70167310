package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// receivedTask is one trace as the sink got it.
type receivedTask struct {
	spans []receivedSpan
	root  *receivedSpan
	logs  []receivedLog
}

func (s *sink) tasks(t *testing.T) map[pcommon.TraceID]*receivedTask {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[pcommon.TraceID]*receivedTask{}
	get := func(id pcommon.TraceID) *receivedTask {
		rt := out[id]
		if rt == nil {
			rt = &receivedTask{}
			out[id] = rt
		}
		return rt
	}
	for i := range s.spans {
		sp := &s.spans[i]
		rt := get(sp.span.TraceID())
		rt.spans = append(rt.spans, *sp)
		if sp.span.ParentSpanID().IsEmpty() {
			if rt.root != nil {
				t.Errorf("trace %s has two root spans", sp.span.TraceID())
			}
			rt.root = sp
		}
	}
	for _, l := range s.logs {
		rt := get(l.record.TraceID())
		rt.logs = append(rt.logs, l)
	}
	return out
}

func str(m pcommon.Map, key string) string {
	v, ok := m.Get(key)
	if !ok {
		return ""
	}
	return v.AsString()
}

func streamOf(t *testing.T, res pcommon.Map) Stream {
	t.Helper()
	s := Stream{Service: str(res, "service.name"), Version: str(res, "service.version")}
	s.Environment = str(res, "deployment.environment.name")
	if s.Environment == "" {
		s.Environment = str(res, "deployment.environment")
	}
	if EnvironmentKey(s) == "deployment.environment" && str(res, "deployment.environment.name") != "" {
		t.Errorf("%s should use the older deployment.environment key", s)
	}
	return s
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of the live phase.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// checkReceived verifies what a user of day2 would: every completed task arrived
// whole with the right resource, one outcome, timestamps in [from, to), and the
// counts agree with Stats. It returns the completed tasks received.
func checkReceived(t *testing.T, s *sink, st Stats, from, to time.Time) map[pcommon.TraceID]*receivedTask {
	t.Helper()
	tasks := s.tasks(t)
	type counts struct{ tasks, spans, events, logs, escalations int64 }
	got := map[Stream]*counts{}
	complete := map[pcommon.TraceID]*receivedTask{}
	spanNames := map[string]bool{}
	var stringBools bool
	for id, rt := range tasks {
		if rt.root == nil {
			if len(rt.logs) > 0 {
				t.Errorf("trace %s has an outcome log but no root span", id)
			}
			// An abandoned live task: count its spans only.
			for _, sp := range rt.spans {
				c := got[streamOf(t, sp.resource)]
				if c == nil {
					c = &counts{}
					got[streamOf(t, sp.resource)] = c
				}
				c.spans++
			}
			continue
		}
		complete[id] = rt
		stream := streamOf(t, rt.root.resource)
		c := got[stream]
		if c == nil {
			c = &counts{}
			got[stream] = c
		}
		c.tasks++
		c.spans += int64(len(rt.spans))
		root := rt.root.span
		ra := root.Attributes()
		for _, k := range []string{"business_process", "flow_run_id", "tenant", "risk_tier", "environment", "gen_ai.agent.version"} {
			if _, ok := ra.Get(k); !ok {
				t.Errorf("root span of %s lacks %s", id, k)
			}
		}
		if str(ra, "environment") != stream.Environment || str(ra, "gen_ai.agent.version") != stream.Version {
			t.Errorf("root of %s says %s %s, resource says %s", id, str(ra, "environment"), str(ra, "gen_ai.agent.version"), stream)
		}
		for _, sp := range rt.spans {
			if streamOf(t, sp.resource) != stream {
				t.Errorf("span %q of %s comes from %s, its root from %s", sp.span.Name(), id, streamOf(t, sp.resource), stream)
			}
			if sp.span.SpanID() != root.SpanID() && sp.span.ParentSpanID() != root.SpanID() {
				t.Errorf("span %q of %s is not a child of the root", sp.span.Name(), id)
			}
			start, end := sp.span.StartTimestamp().AsTime(), sp.span.EndTimestamp().AsTime()
			if start.Before(from) || !end.Before(to) || end.Before(start) {
				t.Errorf("span %q of %s runs [%s, %s], outside [%s, %s)", sp.span.Name(), id, start, end, from, to)
			}
			name := sp.span.Name()
			if i := strings.IndexByte(name, ' '); i > 0 {
				name = name[:i+1] + "*"
			}
			spanNames[name] = true
		}
		var outcomes []pcommon.Map
		for _, ev := range root.Events().All() {
			if ev.Name() == "outcome" {
				outcomes = append(outcomes, ev.Attributes())
				c.events++
			}
		}
		for _, l := range rt.logs {
			r := l.record
			if str(r.Attributes(), "event") != "outcome" || r.EventName() != "outcome" {
				t.Errorf("log record of %s is not an outcome: event=%q EventName=%q", id, str(r.Attributes(), "event"), r.EventName())
			}
			if r.SpanID() != root.SpanID() {
				t.Errorf("outcome log of %s does not point at the root span", id)
			}
			if streamOf(t, l.resource) != stream {
				t.Errorf("outcome log of %s comes from %s, the root from %s", id, streamOf(t, l.resource), stream)
			}
			if ts := r.Timestamp().AsTime(); !ts.Equal(root.EndTimestamp().AsTime()) {
				t.Errorf("outcome log of %s at %s, root ends at %s", id, ts, root.EndTimestamp().AsTime())
			}
			outcomes = append(outcomes, r.Attributes())
			c.logs++
		}
		if len(outcomes) != 1 {
			t.Errorf("trace %s has %d outcomes, want 1", id, len(outcomes))
			continue
		}
		o := outcomes[0]
		for _, k := range []string{"success", "escalation", "reason_code", "cycle_time_ms"} {
			if _, ok := o.Get(k); !ok {
				t.Errorf("outcome of %s lacks %s", id, k)
			}
		}
		if v, _ := o.Get("success"); v.Type() == pcommon.ValueTypeStr {
			stringBools = true
		}
		if v, _ := o.Get("escalation"); v.AsString() == "true" {
			c.escalations++
		}
		cycle, _ := o.Get("cycle_time_ms")
		if want := root.EndTimestamp().AsTime().Sub(root.StartTimestamp().AsTime()).Milliseconds(); cycle.Int() != want {
			t.Errorf("outcome of %s says cycle_time_ms %d, the root span lasts %d ms", id, cycle.Int(), want)
		}
	}
	for _, ss := range st.Streams {
		c := got[ss.Stream]
		if c == nil {
			c = &counts{}
		}
		if c.tasks != ss.Tasks || c.spans != ss.Spans || c.events != ss.OutcomeEvents || c.logs != ss.OutcomeLogs || c.escalations != ss.Escalations {
			t.Errorf("%s: received %d tasks, %d spans, %d outcome events, %d outcome logs, %d escalations; Stats says %d, %d, %d, %d, %d",
				ss.Stream, c.tasks, c.spans, c.events, c.logs, c.escalations, ss.Tasks, ss.Spans, ss.OutcomeEvents, ss.OutcomeLogs, ss.Escalations)
		}
		delete(got, ss.Stream)
	}
	for s := range got {
		t.Errorf("received telemetry from %s, which Stats does not list", s)
	}
	// Every kind of span and outcome shows up among enough tasks. A run stopped
	// early may have completed few or none, depending on scheduling.
	for _, name := range []string{"llm.prompt", "llm.completion", "llm.tool", "chat *", "execute_tool *", "embeddings *"} {
		if len(complete) > 50 && !spanNames[name] {
			t.Errorf("no %q span arrived", name)
		}
	}
	if tot := st.Total(); len(complete) > 50 && (tot.OutcomeEvents == 0 || tot.OutcomeLogs == 0 || !stringBools) {
		t.Errorf("outcomes: %d as span events, %d as logs, string booleans seen: %v; want both styles and some strings", tot.OutcomeEvents, tot.OutcomeLogs, stringBools)
	}
	return complete
}

func TestRunBackfill(t *testing.T) {
	s := &sink{t: t}
	srv := httptest.NewServer(s)
	defer srv.Close()
	now := time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	cfg := Config{
		Endpoint: srv.URL, Token: "s3cret", Backfill: 2 * time.Hour, Live: -1, Seed: 7,
		Out: &out, Now: func() time.Time { return now },
	}
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	tot := st.Total()
	if st.BackfillTasks != tot.Tasks || st.LiveTasks != 0 || st.Abandoned != 0 {
		t.Errorf("stats: %d backfill, %d live, %d abandoned tasks, %d in streams", st.BackfillTasks, st.LiveTasks, st.Abandoned, tot.Tasks)
	}
	// Two hours of a busy weekday morning, about 4.2 streams at 2.5 tasks/min,
	// where the ticket surge lifts support-triage's two prod versions to 8
	// tasks/min for the last 90 minutes: about 2,200 tasks.
	if tot.Tasks < 1900 || tot.Tasks > 2500 {
		t.Errorf("backfill of 2h sent %d tasks, want about 2,200", tot.Tasks)
	}
	for _, ss := range st.Streams {
		if ss.Tasks == 0 {
			t.Errorf("%s sent no tasks", ss.Stream)
		}
	}
	complete := checkReceived(t, s, st, now.Add(-2*time.Hour), now)
	if int64(len(complete)) != tot.Tasks {
		t.Errorf("received %d complete tasks, Stats says %d", len(complete), tot.Tasks)
	}
	for _, a := range s.auth {
		if a != "Bearer s3cret" {
			t.Fatalf("request carried Authorization %q", a)
		}
	}
	if !strings.Contains(out.String(), "backfill 2h: 100% (") {
		t.Errorf("progress output lacks the final backfill line:\n%s", out.String())
	}

	// The backfill covers the CRM outage of 10:00-10:45: Stats reports it, and
	// its failed tasks arrive with reason_code crm_unavailable and a CRM call
	// that failed with HTTP 503.
	inc := st.Incident
	if inc == nil || !inc.Start.Equal(now.Add(-time.Hour)) || !inc.End.Equal(now.Add(-15*time.Minute)) || len(inc.Streams) != 2 {
		t.Fatalf("Stats.Incident = %+v, want the CRM outage from 10:00 to 10:45 on two streams", inc)
	}
	for _, is := range inc.Streams {
		if is.Tasks < 200 || float64(is.Failed) < 0.45*float64(is.Tasks) {
			t.Errorf("%s: %d of %d tasks failed in the outage, want hundreds of tasks and most failed", is.Stream, is.Failed, is.Tasks)
		}
	}
	if want := "incident: crm outage 10:00-10:45 UTC, "; !strings.Contains(out.String(), want) {
		t.Errorf("progress output lacks %q:\n%s", want, out.String())
	}
	var failed int64
	for id, rt := range complete {
		if reasonCode(rt) != "crm_unavailable" {
			continue
		}
		failed++
		if start := rt.root.span.StartTimestamp().AsTime(); start.Before(inc.Start) || !start.Before(inc.End) {
			t.Errorf("task %s started at %s failed with crm_unavailable outside the outage", id, start)
		}
		if !hasFailed503(rt, "crm") {
			t.Errorf("task %s failed with crm_unavailable without a CRM call that failed with 503", id)
		}
	}
	var wantFailed int64
	for _, is := range inc.Streams {
		wantFailed += is.Failed
	}
	// A few tasks fail for other reasons during the outage.
	if failed == 0 || failed > wantFailed || failed < wantFailed*9/10 {
		t.Errorf("%d tasks arrived with reason_code crm_unavailable; %d failed in the outage", failed, wantFailed)
	}

	// The same seed and clock reproduce the same tasks.
	s2 := &sink{t: t}
	srv2 := httptest.NewServer(s2)
	defer srv2.Close()
	cfg.Endpoint, cfg.Out = srv2.URL, nil
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	ids := func(m map[pcommon.TraceID]*receivedTask) []string {
		var out []string
		for id := range m {
			out = append(out, id.String())
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(complete), ids(s2.tasks(t))) {
		t.Error("two runs with the same seed and clock sent different trace ids")
	}
}

// reasonCode returns the reason_code of a task's outcome, from its span event
// or log record.
func reasonCode(rt *receivedTask) string {
	for _, ev := range rt.root.span.Events().All() {
		if ev.Name() == "outcome" {
			return str(ev.Attributes(), "reason_code")
		}
	}
	for _, l := range rt.logs {
		return str(l.record.Attributes(), "reason_code")
	}
	return ""
}

// hasFailed503 reports whether a call of tool failed with HTTP 503 in the task.
func hasFailed503(rt *receivedTask, tool string) bool {
	for _, sp := range rt.spans {
		a := sp.span.Attributes()
		if sp.span.Status().Code() != ptrace.StatusCodeError {
			continue
		}
		switch {
		case sp.span.Name() == "llm.tool" && str(a, "tool.name") == tool && str(a, "http_status") == "503":
			return true
		case strings.HasPrefix(sp.span.Name(), "execute_tool "+tool+".") && str(a, "http.response.status_code") == "503":
			return true
		}
	}
	return false
}

// fakeClock advances instantly to whatever time is waited for.
type fakeClock struct {
	mu  sync.Mutex
	t   time.Time
	hit func(t time.Time) // called on every wait, outside the lock
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleepUntil(ctx context.Context, t time.Time) error {
	if c.hit != nil {
		c.hit(t)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if t.After(c.t) {
		c.t = t
	}
	c.mu.Unlock()
	return nil
}

func TestRunLive(t *testing.T) {
	s := &sink{t: t}
	srv := httptest.NewServer(s)
	defer srv.Close()
	start := time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC)
	var out syncBuffer
	st, err := Run(context.Background(), Config{
		Endpoint: srv.URL, Live: 10 * time.Minute, Rate: 6, Seed: 3, Out: &out,
		Now: func() time.Time { return start }, clock: &fakeClock{t: start},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	tot := st.Total()
	// 4.2 streams x 6 tasks/min x 10 min.
	if st.LiveTasks != tot.Tasks || tot.Tasks < 180 || tot.Tasks > 330 || st.Abandoned != 0 {
		t.Errorf("live sent %d tasks (%d in streams, %d abandoned), want about 250, none abandoned", st.LiveTasks, tot.Tasks, st.Abandoned)
	}
	// Tasks started in the 10 minutes run to completion, up to a few minutes on.
	complete := checkReceived(t, s, st, start, start.Add(30*time.Minute))
	if int64(len(complete)) != tot.Tasks {
		t.Errorf("received %d complete tasks, Stats says %d", len(complete), tot.Tasks)
	}
	for id, rt := range complete {
		if ts := rt.root.span.StartTimestamp().AsTime(); !ts.Before(start.Add(10 * time.Minute)) {
			t.Errorf("task %s started at %s, after the live phase", id, ts)
		}
	}
	t.Logf("output:\n%s", out.String())
	if !strings.Contains(out.String(), "live done: ") {
		t.Errorf("progress output lacks the live summary:\n%s", out.String())
	}
}

func TestRunLiveStoppedByContext(t *testing.T) {
	s := &sink{t: t}
	srv := httptest.NewServer(s)
	defer srv.Close()
	start := time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &fakeClock{t: start}
	// Whoever first waits past five minutes stops the demo, as Ctrl-C would.
	clk.hit = func(t time.Time) {
		if t.Sub(start) > 5*time.Minute {
			cancel()
		}
	}
	st, err := Run(ctx, Config{Endpoint: srv.URL, Live: 0, Rate: 20, Seed: 5, clock: clk, Now: func() time.Time { return start }})
	if err != nil {
		t.Fatalf("Run stopped by its context returned %v, want nil", err)
	}
	// Which tasks finish before the stop depends on scheduling; that some ran
	// and that Stats matches what arrived does not.
	if st.LiveTasks+st.Abandoned == 0 {
		t.Fatal("no task started before the stop")
	}
	t.Logf("stopped with %d tasks completed and %d abandoned", st.LiveTasks, st.Abandoned)
	// Every span Run reports as sent arrived, abandoned tasks' included.
	complete := checkReceived(t, s, st, start, start.Add(time.Hour))
	if int64(len(complete)) != st.LiveTasks {
		t.Errorf("received %d complete tasks, Stats says %d", len(complete), st.LiveTasks)
	}
}

func TestRunReportsUnusableEndpoints(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer refuse.Close()
	notOTLP := httptest.NewServer(http.NotFoundHandler())
	defer notOTLP.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	tests := []struct {
		name, endpoint, token, want string
	}{
		{"no endpoint", "", "", "no OTLP endpoint"},
		{"nothing listens", closed.URL, "", "cannot reach the OTLP endpoint"},
		{"a token is required", refuse.URL, "", "give a token"},
		{"the token is refused", refuse.URL, "wrong", "refused the token"},
		{"not an OTLP receiver", notOTLP.URL, "", "not an OTLP/HTTP receiver"},
		{"not http", "ftp://example.com", "", "must use http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(context.Background(), Config{Endpoint: tt.endpoint, Token: tt.token, Backfill: time.Hour, Live: -1})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestRunFailsWhenTelemetryIsRejected(t *testing.T) {
	// A receiver that takes the preflight but rejects real data as malformed:
	// the exporters do not retry 400, so the data is lost and Run must say so.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "bad data", http.StatusBadRequest)
	}))
	defer srv.Close()
	_, err := Run(context.Background(), Config{Endpoint: srv.URL, Backfill: 30 * time.Minute, Live: -1,
		Now: func() time.Time { return time.Date(2025, 3, 11, 11, 0, 0, 0, time.UTC) }})
	if err == nil || !strings.Contains(err.Error(), "could not be delivered") {
		t.Errorf("Run error = %v, want one about undelivered telemetry", err)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:4318", "http://127.0.0.1:4318"},
		{"http://127.0.0.1:4318/", "http://127.0.0.1:4318"},
		{"127.0.0.1:4318", "http://127.0.0.1:4318"},
		{"https://day2.example.com/otlp/v1/traces", "https://day2.example.com/otlp"},
		{"http://localhost:4318/v1/logs", "http://localhost:4318"},
	}
	for _, tt := range tests {
		got, err := baseURL(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("baseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestStatsPrint(t *testing.T) {
	st := Stats{Streams: []StreamStats{
		{Stream: Stream{"support-triage", "1.4.0", "prod"}, Tasks: 12345, Spans: 90000, Successes: 12000, OutcomeEvents: 6000, OutcomeLogs: 6345},
	}}
	st.Incident = &IncidentStats{
		Incident: Incident{Name: "crm outage", Start: time.Date(2025, 3, 11, 8, 10, 0, 0, time.UTC), End: time.Date(2025, 3, 11, 8, 55, 0, 0, time.UTC)},
		Streams: []IncidentStream{
			{Stream: Stream{"support-triage", "1.4.0", "prod"}, Tasks: 200, Failed: 114},
			{Stream: Stream{"support-triage", "1.5.0", "prod"}, Tasks: 300, Failed: 261},
		},
	}
	var b bytes.Buffer
	st.Print(&b)
	for _, want := range []string{"support-triage 1.4.0 (prod)", "12,345", "6,000/6,345", "total",
		"\nincident: crm outage 08:10-08:55 UTC, 87% of support-triage 1.5.0 (prod) tasks failed, 57% of support-triage 1.4.0 (prod)\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("Print output lacks %q:\n%s", want, b.String())
		}
	}
	// Stats marshal to JSON, the incident included.
	st.Incident.Down = map[Stream]float64{st.Incident.Streams[0].Stream: 0.5}
	js, err := json.Marshal(st)
	if err != nil || !strings.Contains(string(js), `"incident":{"name":"crm outage",`) {
		t.Errorf("json.Marshal(Stats) = %s, %v", js, err)
	}
}

// BenchmarkBackfillDay measures a day of backfill through the SDK into a sink that
// decodes every request; it reports tasks per second of exporting.
func BenchmarkBackfillDay(b *testing.B) {
	s := &sink{t: b, discard: true}
	srv := httptest.NewServer(s)
	defer srv.Close()
	now := time.Date(2025, 3, 12, 0, 0, 0, 0, time.UTC)
	var tasks int64
	for b.Loop() {
		st, err := Run(context.Background(), Config{Endpoint: srv.URL, Backfill: 24 * time.Hour, Live: -1, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		tasks += st.BackfillTasks
	}
	b.ReportMetric(float64(tasks)/b.Elapsed().Seconds(), "tasks/s")
}

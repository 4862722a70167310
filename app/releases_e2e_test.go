package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-feature/go-sdk-contrib/providers/ofrep"
	"github.com/open-feature/go-sdk/openfeature"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/internal/pgtest"
)

// The helpers in this file are shared by the end-to-end tests of the
// operations capabilities (releases, flags, incidents, approvals, outbox).

// onBothStores runs scenario on the embedded SQLite store and on PostgreSQL
// (skipped when PostgreSQL is not installed, unless DAY2_TEST_REQUIRE_PG=1).
func onBothStores(t *testing.T, scenario func(t *testing.T, opts app.Options)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { scenario(t, app.Options{}) })
	t.Run("postgres", func(t *testing.T) { scenario(t, app.Options{DB: pgtest.DSN(t)}) })
}

var apiClient = &http.Client{Timeout: 30 * time.Second}

// apiDo sends a request with an optional JSON body (a string, []byte or a
// value to marshal) and returns the status and the body.
func apiDo(t *testing.T, method, url string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", method, url, err)
	}
	return resp.StatusCode, out
}

// apiJSON sends a request, fails t unless the answer has status want, and
// decodes the answer into out (when not nil).
func apiJSON(t *testing.T, method, url string, body any, want int, out any) {
	t.Helper()
	code, b := apiDo(t, method, url, body)
	if code != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, url, err, b)
		}
	}
}

// waitFor polls cond every 25 ms until it holds, and fails t after timeout
// with what cond last reported.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s; last: %s", what, timeout, state)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// writeConfig writes files (name -> content) into a new config directory.
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// agentTask is one task an agent ran, as the tests send it through the OTel
// SDK: a root span with an outcome event and one llm.tool span per tool call.
type agentTask struct {
	version                 string
	key                     string // the targeting key the version was chosen for
	start                   time.Time
	success, escalated      bool
	toolCalls, toolFailures int
	cycle                   time.Duration
	// during, when set, runs after the root span started and before any of
	// the task's spans is exported: what the agent does mid-task.
	during func(trace.TraceID)
}

// agentSender exports the tasks of one service and environment over
// OTLP/HTTP with the OTel SDK, one tracer provider per version because
// service.version is a resource attribute.
type agentSender struct {
	t                      *testing.T
	endpoint, service, env string
	tps                    map[string]*sdktrace.TracerProvider
}

func newAgentSender(t *testing.T, endpoint, service, env string) *agentSender {
	s := &agentSender{t: t, endpoint: endpoint, service: service, env: env, tps: map[string]*sdktrace.TracerProvider{}}
	t.Cleanup(func() {
		for _, tp := range s.tps {
			_ = tp.Shutdown(context.Background())
		}
	})
	return s
}

func (s *agentSender) provider(version string) *sdktrace.TracerProvider {
	if tp, ok := s.tps[version]; ok {
		return tp
	}
	exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(s.endpoint+"/v1/traces"))
	if err != nil {
		s.t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithBlocking(), sdktrace.WithBatchTimeout(time.Hour)),
		sdktrace.WithResource(res(s.service, version, s.env)))
	s.tps[version] = tp
	return tp
}

// send exports tasks and returns their trace ids once day2 has acknowledged
// every span (an acknowledged span is committed).
func (s *agentSender) send(tasks ...agentTask) []trace.TraceID {
	s.t.Helper()
	ctx := context.Background()
	ids := make([]trace.TraceID, 0, len(tasks))
	for _, task := range tasks {
		tr := s.provider(task.version).Tracer("ops-e2e")
		cycle := task.cycle
		if cycle == 0 {
			cycle = time.Second
		}
		rctx, root := tr.Start(ctx, "handle request", trace.WithTimestamp(task.start),
			trace.WithAttributes(attribute.String("user.id", task.key)))
		if task.during != nil {
			task.during(root.SpanContext().TraceID())
		}
		step := cycle / time.Duration(task.toolCalls+2)
		for i := 0; i < task.toolCalls; i++ {
			status := "ok"
			if i < task.toolFailures {
				status = "error"
			}
			at := task.start.Add(time.Duration(i+1) * step)
			_, tool := tr.Start(rctx, "llm.tool", trace.WithTimestamp(at), trace.WithAttributes(
				attribute.String("tool.name", fmt.Sprintf("tool-%d", i)), attribute.String("status", status)))
			tool.End(trace.WithTimestamp(at.Add(step / 2)))
		}
		end := task.start.Add(cycle)
		root.AddEvent("outcome", trace.WithTimestamp(end), trace.WithAttributes(
			attribute.Bool("success", task.success), attribute.Bool("escalation", task.escalated),
			attribute.Int64("cycle_time_ms", cycle.Milliseconds())))
		root.End(trace.WithTimestamp(end))
		ids = append(ids, root.SpanContext().TraceID())
	}
	for v, tp := range s.tps {
		if err := tp.ForceFlush(ctx); err != nil {
			s.t.Fatalf("export the tasks of %s %s: %v", s.service, v, err)
		}
	}
	return ids
}

// assignment is the answer of GET /api/v1/assign.
type assignment struct {
	Version string `json:"version"`
	Arm     string `json:"arm"`
	Rollout string `json:"rollout"`
	Step    int    `json:"step"`
}

func assign(t *testing.T, a *app.App, service, key string) assignment {
	t.Helper()
	var as assignment
	apiJSON(t, "GET", a.HTTPURL()+"/api/v1/assign?"+url.Values{"service": {service}, "environment": {"prod"}, "key": {key}}.Encode(), nil, 200, &as)
	return as
}

// assignLag polls the assignment of key until ok holds, for at most a second
// (the age after which every replica reloads its snapshot of the rollouts),
// and returns how long that took.
func assignLag(t *testing.T, a *app.App, service, key string, ok func(assignment) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		as := assign(t, a, service, key)
		if ok(as) {
			return time.Since(start)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("%s is still assigned %+v a second after the rollout changed", key, as)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rolloutView is the part of a rollout's JSON the tests read.
type rolloutView struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Step    int    `json:"step"`
	Weights struct {
		Baseline  int `json:"baseline"`
		Candidate int `json:"candidate"`
	} `json:"weights"`
	Verdicts []struct {
		At             time.Time `json:"at"`
		Verdict        string    `json:"verdict"`
		BaselineTasks  int64     `json:"baseline_tasks"`
		CandidateTasks int64     `json:"candidate_tasks"`
		Metrics        []struct {
			Metric  string `json:"metric"`
			Verdict string `json:"verdict"`
			Reason  string `json:"reason"`
		} `json:"metrics"`
	} `json:"verdicts"`
	History []struct {
		Type   string    `json:"type"`
		At     time.Time `json:"at"`
		Actor  string    `json:"actor"`
		Reason string    `json:"reason"`
		Step   int       `json:"step"`
	} `json:"history"`
	StepStartedAt time.Time `json:"step_started_at"`
	EndedAt       time.Time `json:"ended_at"`
}

func (r *rolloutView) describe() string {
	s := fmt.Sprintf("state %s, step %d, weights %d/%d", r.State, r.Step, r.Weights.Baseline, r.Weights.Candidate)
	if len(r.Verdicts) > 0 {
		v := r.Verdicts[0]
		s += fmt.Sprintf(", last verdict %s with %d baseline and %d candidate tasks", v.Verdict, v.BaselineTasks, v.CandidateTasks)
		for _, m := range v.Metrics {
			s += fmt.Sprintf("; %s %s: %s", m.Metric, m.Verdict, m.Reason)
		}
	}
	return s
}

func getRollout(t *testing.T, a *app.App, id string) rolloutView {
	t.Helper()
	var r rolloutView
	apiJSON(t, "GET", a.HTTPURL()+"/api/v1/rollouts/"+id, nil, 200, &r)
	return r
}

// TestWorseCanaryRollsBackWithinTwoJudgeIntervals runs a canary whose
// candidate fails two of its three tool calls per task, with versions chosen
// by GET /api/v1/assign per key and telemetry sent through the OTel SDK. The
// judge (interval 3 s, 40 tasks per arm) must roll it back by itself within two
// intervals (6 s) of the moment enough samples exist. That moment is exact: the
// candidate's 40th task is held back until the judge has recorded a look that
// saw 39 candidate tasks (too few to judge), and the clock starts when day2
// acknowledges the 40th over OTLP (acknowledged spans are committed). It stops
// when GET /api/v1/rollouts/{id} first reports rolled_back. Afterwards every
// key is assigned the baseline at once (the assignment may trail the API by
// the snapshot reload, which is logged and bounded by a second), and an
// incident with a canary alert is open.
func TestWorseCanaryRollsBackWithinTwoJudgeIntervals(t *testing.T) {
	onBothStores(t, worseCanaryRollsBack)
}

func worseCanaryRollsBack(t *testing.T, opts app.Options) {
	const (
		service    = "checkout-agent"
		baseline   = "1.0.0"
		candidate  = "1.1.0"
		minSamples = 40
		interval   = 3 * time.Second
	)
	a := startApp(t, opts)
	var ro rolloutView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/rollouts", fmt.Sprintf(`{"service": %q, "environment": "prod",
		"baseline": %q, "candidate": %q,
		"strategy": {"type": "canary", "steps": [20, 50, 100], "step_duration": "10m", "min_samples": %d},
		"judge": {"interval": "%s", "min_samples": %d, "max_looks": 10},
		"reason": "new tool router"}`, service, baseline, candidate, minSamples, interval, minSamples), 201, &ro)
	if ro.State != "running" || ro.Weights.Candidate != 20 {
		t.Fatalf("started rollout: %s, want running at 20%%", ro.describe())
	}

	// Each key gets the version day2 assigns it; the candidate fails two of
	// its three tool calls, the baseline none.
	agents := newAgentSender(t, a.OTLPHTTPURL(), service, "prod")
	var tasks []agentTask
	var keys []string
	var last agentTask // the candidate's 40th task, held back
	nBase, nCand := 0, 0
	for i := 0; nBase < minSamples || nCand < minSamples; i++ {
		if i > 2000 {
			t.Fatalf("after %d keys only %d baseline and %d candidate assignments", i, nBase, nCand)
		}
		key := fmt.Sprintf("user-%04d", i)
		as := assign(t, a, service, key)
		task := agentTask{version: as.Version, key: key, start: time.Now(), success: true, toolCalls: 3}
		switch as.Version {
		case baseline:
			if nBase == minSamples {
				continue
			}
			nBase++
		case candidate:
			if nCand == minSamples {
				continue
			}
			nCand++
			task.toolFailures = 2
		default:
			t.Fatalf("key %s assigned %+v, want %s or %s", key, as, baseline, candidate)
		}
		keys = append(keys, key)
		if as.Version == candidate && nCand == minSamples {
			last = task
			continue
		}
		tasks = append(tasks, task)
	}
	agents.send(tasks...)

	// The judge looks, and waits: one arm is a task short.
	waitFor(t, 30*time.Second, "a look at 40 baseline and 39 candidate tasks", func() (bool, string) {
		r := getRollout(t, a, ro.ID)
		ok := len(r.Verdicts) > 0 && r.Verdicts[0].BaselineTasks == minSamples && r.Verdicts[0].CandidateTasks == minSamples-1
		return ok, r.describe()
	})
	if r := getRollout(t, a, ro.ID); r.State != "running" || r.Verdicts[0].Verdict != "inconclusive" {
		t.Fatalf("with 39 candidate tasks: %s, want running and inconclusive", r.describe())
	}

	agents.send(last)
	enough := time.Now()
	var rolled rolloutView
	waitFor(t, 10*interval, "the judge rolls the canary back", func() (bool, string) {
		rolled = getRollout(t, a, ro.ID)
		return rolled.State == "rolled_back", rolled.describe()
	})
	took := time.Since(enough)
	t.Logf("rolled back %s after the sample was complete (judge interval %s): %s", took.Round(time.Millisecond), interval, rolled.describe())
	if took > 2*interval {
		t.Errorf("rolled back %s after enough samples existed, want within two judge intervals (%s)", took.Round(time.Millisecond), 2*interval)
	}

	// Every key gets the baseline at once. The API may report the rollback a
	// few milliseconds before this replica's assignment snapshot is reloaded
	// (the reload follows the write); the documented bound is a second.
	lag := assignLag(t, a, service, keys[0], func(as assignment) bool { return as.Version == baseline && as.Rollout == "" })
	t.Logf("assignments followed the rollback %s after the API reported it", lag)
	moved := 0
	for _, key := range keys {
		if as := assign(t, a, service, key); as.Version != baseline || as.Arm != "baseline" || as.Rollout != "" {
			moved++
			if moved <= 3 {
				t.Errorf("after the rollback %s is assigned %+v, want the baseline %s outside any rollout", key, as, baseline)
			}
		}
	}
	if moved > 0 {
		t.Errorf("%d of %d keys were not on the baseline right after the rollback", moved, len(keys))
	}

	// The rollback is the judge's, with the tool failures as its evidence.
	if rolled.Weights.Candidate != 0 || rolled.Weights.Baseline != 100 {
		t.Errorf("weights after the rollback = %+v, want 100/0", rolled.Weights)
	}
	h := rolled.History[len(rolled.History)-1]
	if h.Type != "rolled_back" || h.Actor != "day2-judge" || !strings.Contains(h.Reason, "tool failures") {
		t.Errorf("last history entry = %+v, want rolled_back by day2-judge naming the tool failures", h)
	}
	v := rolled.Verdicts[0]
	if v.Verdict != "fail" || v.CandidateTasks != minSamples || v.BaselineTasks != minSamples {
		t.Errorf("deciding verdict = %s with %d/%d tasks, want fail with 40/40", v.Verdict, v.BaselineTasks, v.CandidateTasks)
	}
	for _, m := range v.Metrics {
		if failed := m.Verdict == "fail"; failed != (m.Metric == "tool_failure") {
			t.Errorf("metric %s: %s (%s); only tool_failure should fail", m.Metric, m.Verdict, m.Reason)
		}
	}

	// The rollback raised an incident alert from the canary source.
	var incID string
	waitFor(t, 15*time.Second, "an incident with the canary's alert", func() (bool, string) {
		var list struct {
			Incidents []struct {
				ID     string `json:"id"`
				Alerts []struct {
					Key, Source string
				} `json:"alerts"`
			} `json:"incidents"`
		}
		apiJSON(t, "GET", a.HTTPURL()+"/api/v1/incidents?service="+service, nil, 200, &list)
		for _, inc := range list.Incidents {
			for _, al := range inc.Alerts {
				if al.Source == "canary" && al.Key == "canary:"+ro.ID {
					incID = inc.ID
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%+v", list.Incidents)
	})
	var inc struct {
		State, Service, Environment, Title string
	}
	apiJSON(t, "GET", a.HTTPURL()+"/api/v1/incidents/"+incID, nil, 200, &inc)
	if inc.State != "triggered" || inc.Service != service || inc.Environment != "prod" || !strings.Contains(inc.Title, candidate) {
		t.Errorf("canary incident = %+v, want a triggered incident of %s in prod about %s", inc, service, candidate)
	}
}

// TestCanaryAssignmentIsStickyAcrossSteps records the arm of 2,000 keys at
// each step of a canary whose candidate is as good as its baseline, while the
// judge (interval 1 s, step_duration 1 s, 20 tasks per arm, telemetry through
// the OTel SDK) advances it from 5% to 25% and 50% by itself: every key in the
// candidate at a lower weight must still be in it, and the candidate's share
// must follow the weight.
func TestCanaryAssignmentIsStickyAcrossSteps(t *testing.T) {
	onBothStores(t, canaryIsSticky)
}

func canaryIsSticky(t *testing.T, opts app.Options) {
	const (
		service   = "search-agent"
		baseline  = "3.1.0"
		candidate = "3.2.0"
		keys      = 2000
	)
	a := startApp(t, opts)
	var ro rolloutView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/rollouts", fmt.Sprintf(`{"service": %q, "baseline": %q, "candidate": %q,
		"strategy": {"steps": [5, 25, 50, 100], "step_duration": "1s", "min_samples": 20},
		"judge": {"interval": "1s", "min_samples": 20}}`, service, baseline, candidate), 201, &ro)
	agents := newAgentSender(t, a.OTLPHTTPURL(), service, "prod")

	arms := func(step int) map[string]bool {
		in := map[string]bool{}
		for i := range keys {
			key := fmt.Sprintf("shopper-%d", i)
			as := assign(t, a, service, key)
			if as.Rollout != ro.ID || as.Step != step {
				t.Fatalf("%s assigned %+v, want rollout %s at step %d", key, as, ro.ID, step)
			}
			if as.Arm == "candidate" {
				if as.Version != candidate {
					t.Fatalf("%s in the candidate arm gets %s", key, as.Version)
				}
				in[key] = true
			} else if as.Version != baseline {
				t.Fatalf("%s in the baseline arm gets %s", key, as.Version)
			}
		}
		return in
	}
	// traffic sends one good task per candidate key and per one of the first
	// 100 baseline keys: the same outcome in both arms.
	traffic := func(cand map[string]bool) {
		var tasks []agentTask
		nBase := 0
		for i := range keys {
			key := fmt.Sprintf("shopper-%d", i)
			task := agentTask{version: baseline, key: key, start: time.Now(), success: true, toolCalls: 2}
			if cand[key] {
				task.version = candidate
			} else if nBase++; nBase > 100 {
				continue
			}
			tasks = append(tasks, task)
		}
		agents.send(tasks...)
	}
	checkShare := func(weight int, in map[string]bool) {
		// Within 4.5 standard deviations of the binomial expectation.
		p := float64(weight) / 100
		mean, sd := keys*p, math.Sqrt(keys*p*(1-p))
		if n := float64(len(in)); math.Abs(n-mean) > 4.5*sd {
			t.Errorf("%d of %d keys in the candidate at %d%%, want about %.0f", len(in), keys, weight, mean)
		}
	}
	advanced := func(step, weight int) {
		waitFor(t, 30*time.Second, fmt.Sprintf("the judge advances to %d%%", weight), func() (bool, string) {
			r := getRollout(t, a, ro.ID)
			if r.State != "running" {
				t.Fatalf("an equal candidate left the rollout %s", r.describe())
			}
			return r.Step == step && r.Weights.Candidate == weight, r.describe()
		})
		assignLag(t, a, service, "shopper-0", func(as assignment) bool { return as.Step == step })
	}

	at5 := arms(0)
	checkShare(5, at5)
	traffic(at5)
	advanced(1, 25)
	at25 := arms(1)
	checkShare(25, at25)
	traffic(at25)
	advanced(2, 50)
	at50 := arms(2)
	checkShare(50, at50)

	for _, step := range []struct {
		name          string
		lower, higher map[string]bool
	}{{"5% -> 25%", at5, at25}, {"25% -> 50%", at25, at50}} {
		left := 0
		for key := range step.lower {
			if !step.higher[key] {
				left++
			}
		}
		if left > 0 {
			t.Errorf("%s: %d of %d candidate keys went back to the baseline", step.name, left, len(step.lower))
		}
	}
	t.Logf("candidate keys: %d at 5%%, %d at 25%%, %d at 50%%", len(at5), len(at25), len(at50))
	r := getRollout(t, a, ro.ID)
	var advances []string
	for _, h := range r.History {
		if h.Type == "advanced" {
			advances = append(advances, h.Actor)
		}
	}
	if len(advances) != 2 || advances[0] != "day2-judge" || advances[1] != "day2-judge" {
		t.Errorf("advances by %v, want two by day2-judge", advances)
	}
}

// TestOpenFeatureSDKAgainstRunningDay2 evaluates flags with the official
// OpenFeature Go SDK and its OFREP provider against a running day2: the
// rollout flag rollout.<service> gives each key the version GET
// /api/v1/assign gives it, and a flag from a FeatureFlags config document
// follows its targeting rule.
func TestOpenFeatureSDKAgainstRunningDay2(t *testing.T) {
	onBothStores(t, openFeatureAgainstDay2)
}

func openFeatureAgainstDay2(t *testing.T, opts app.Options) {
	const service = "pay-agent"
	opts.ConfigDir = writeConfig(t, map[string]string{"flags.yaml": `apiVersion: day2/v1
kind: FeatureFlags
metadata: {name: agent-flags}
spec:
  flags:
    new-planner:
      state: ENABLED
      variants: {on: true, off: false}
      defaultVariant: off
      targeting:
        if:
          - {ends_with: [{var: email}, "@day2.dev"]}
          - "on"
          - null
      metadata: {owner: agents-team}
    model:
      state: ENABLED
      variants: {small: gpt-small, large: gpt-large}
      defaultVariant: small
`})
	a := startApp(t, opts)
	var ro rolloutView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/rollouts", fmt.Sprintf(`{"service": %q, "baseline": "2.0.0", "candidate": "2.1.0",
		"strategy": {"steps": [50, 100]}, "judge": {"interval": "1h"}}`, service), 201, &ro)

	domain := t.Name()
	if err := openfeature.SetNamedProviderAndWait(domain, ofrep.NewProvider(a.HTTPURL())); err != nil {
		t.Fatal(err)
	}
	client := openfeature.NewClient(domain)
	ctx := context.Background()

	arms := map[string]int{}
	for i := range 40 {
		key := fmt.Sprintf("conversation-%d", i)
		want := assign(t, a, service, key)
		ec := openfeature.NewEvaluationContext(key, map[string]any{"environment": "prod"})
		d, err := client.StringValueDetails(ctx, "rollout."+service, "fallback", ec)
		if err != nil {
			t.Fatalf("evaluate rollout.%s for %s: %v", service, key, err)
		}
		arm, _ := d.FlagMetadata.GetString("arm")
		rollout, _ := d.FlagMetadata.GetString("rollout")
		if d.Value != want.Version || d.Variant != want.Version || d.Reason != openfeature.SplitReason || arm != want.Arm || rollout != ro.ID {
			t.Errorf("%s: the SDK got %q (variant %q, reason %s, arm %q, rollout %q); /api/v1/assign gives %+v",
				key, d.Value, d.Variant, d.Reason, arm, rollout, want)
		}
		arms[arm]++
	}
	if arms["baseline"] == 0 || arms["candidate"] == 0 {
		t.Errorf("arms over 40 keys at 50%%: %v, want both", arms)
	}
	// No rollout in staging: the SDK falls back to the code default.
	d, err := client.StringValueDetails(ctx, "rollout."+service, "fallback",
		openfeature.NewEvaluationContext("conversation-1", map[string]any{"environment": "staging"}))
	if err == nil || d.Value != "fallback" || d.ErrorCode != openfeature.FlagNotFoundCode {
		t.Errorf("rollout flag in an environment without a rollout: %+v, %v; want the default and FLAG_NOT_FOUND", d, err)
	}

	// A flag of the FeatureFlags document.
	staff := openfeature.NewEvaluationContext("user-1", map[string]any{"email": "ana@day2.dev"})
	b, err := client.BooleanValueDetails(ctx, "new-planner", false, staff)
	if owner, _ := b.FlagMetadata.GetString("owner"); err != nil || !b.Value || b.Variant != "on" || b.Reason != openfeature.TargetingMatchReason || owner != "agents-team" {
		t.Errorf("new-planner for staff: %+v, %v", b, err)
	}
	other := openfeature.NewEvaluationContext("user-2", map[string]any{"email": "bo@example.com"})
	if b, err := client.BooleanValueDetails(ctx, "new-planner", true, other); err != nil || b.Value || b.Variant != "off" || b.Reason != openfeature.DefaultReason {
		t.Errorf("new-planner for others: %+v, %v", b, err)
	}
	if s, err := client.StringValueDetails(ctx, "model", "fallback", other); err != nil || s.Value != "gpt-small" || s.Reason != openfeature.StaticReason {
		t.Errorf("model: %+v, %v", s, err)
	}

	// Rolling back through the API reaches the SDK at once.
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/rollouts/"+ro.ID+"/rollback", `{"reason": "test"}`, 200, nil)
	for i := range 10 {
		key := fmt.Sprintf("conversation-%d", i)
		d, err := client.StringValueDetails(ctx, "rollout."+service, "fallback", openfeature.NewEvaluationContext(key, map[string]any{"environment": "prod"}))
		if err != nil || d.Value != "2.0.0" || d.Reason != openfeature.StaticReason {
			t.Errorf("%s after the rollback: %+v, %v; want the baseline 2.0.0, STATIC", key, d, err)
		}
	}
}

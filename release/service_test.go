package release_test

import (
	"context"
	"fmt"
	"github.com/day2ops/day2/internal/testclock"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/canary"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

var (
	bg = context.Background()
	t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
)

type clock = testclock.Clock

// env is a release service on a real SQLite store with a fake clock, recording
// the events it emits.
type env struct {
	store  *sqlite.Store
	svc    *release.Service
	clock  *clock
	frozen func() (bool, string)

	mu     sync.Mutex
	events []release.Event
	nextID int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := sqlite.Open(bg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, clock: testclock.New(t0)}
	e.svc = e.service(t)
	return e
}

// service returns another Service on the same store and clock (another replica).
func (e *env) service(t *testing.T) *release.Service {
	t.Helper()
	svc, err := release.NewService(release.Options{
		Records: e.store, Tasks: e.store, Clock: e.clock.Now,
		Freeze: func(ctx context.Context, service, environment string) (bool, string, error) {
			if e.frozen == nil {
				return false, "", nil
			}
			f, why := e.frozen()
			return f, why, nil
		},
		OnEvent: func(ctx context.Context, ev release.Event) {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func (e *env) eventTypes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		out = append(out, ev.Type)
	}
	return out
}

// arm describes the tasks of one version to commit: n finished tasks spread
// evenly over [from, from+span), each with toolCalls tool calls of which a
// share failRate fail.
type arm struct {
	version   string
	n         int
	from      time.Time
	span      time.Duration
	toolCalls int
	failEvery int // one failed tool call every failEvery calls; 0 never
}

// commit writes the tasks of the arms for service in prod through the store's
// real write path, as if agents had sent them.
func (e *env) commit(t *testing.T, service string, arms ...arm) {
	t.Helper()
	var batch []day2.TaskData
	for _, a := range arms {
		call := 0
		for i := range a.n {
			e.nextID++
			start := a.from.Add(time.Duration(i) * a.span / time.Duration(a.n))
			task := storetest.NewTask(e.nextID, start).Service(service, "prod", a.version).Root(20 * time.Second)
			for c := range a.toolCalls {
				call++
				failed := a.failEvery > 0 && call%a.failEvery == 0
				task.Tool(time.Duration(c+1)*time.Second, 500*time.Millisecond, failed)
			}
			batch = append(batch, task.Outcome(20*time.Second, true, storetest.Bool("escalation", false), storetest.Int("cycle_time_ms", 20000)).All())
			if len(batch) == 500 {
				if _, err := e.store.CommitTasks(bg, batch); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	if _, err := e.store.CommitTasks(bg, batch); err != nil {
		t.Fatal(err)
	}
}

func (e *env) tickAt(t *testing.T, at time.Time) {
	t.Helper()
	e.clock.Set(at)
	if err := e.svc.Tick(bg); err != nil {
		t.Fatalf("Tick at %s: %v", at.Format(time.TimeOnly), err)
	}
}

func (e *env) get(t *testing.T, id string) release.Rollout {
	t.Helper()
	r, err := e.svc.Rollout(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func startCanary(t *testing.T, e *env, service string, steps []int) release.Rollout {
	t.Helper()
	req, err := release.ParseStartRequest([]byte(fmt.Sprintf(`{"service": %q, "environment": "prod", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "canary", "steps": %s, "step_duration": "10m", "min_samples": 200},
		"judge": {"interval": "1m", "min_samples": 100}, "reason": "new escalation rule"}`, service, strings.ReplaceAll(fmt.Sprint(steps), " ", ","))))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.StartRollout(bg, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWorseCandidateIsRolledBack(t *testing.T) {
	e := newEnv(t)
	r := startCanary(t, e, "invoice-agent", []int{5, 25, 50, 100})
	if r.State != release.StateRunning || r.Weights != (release.Weights{Baseline: 95, Candidate: 5}) || r.Step != 0 {
		t.Fatalf("started %+v", r)
	}
	// Two minutes of traffic: 10 tool calls per task, 0.5% failing on the
	// baseline and 5% on the candidate.
	e.commit(t, "invoice-agent",
		arm{version: "2.3.1", n: 1200, from: t0, span: 2 * time.Minute, toolCalls: 10, failEvery: 200},
		arm{version: "2.4.0", n: 400, from: t0, span: 2 * time.Minute, toolCalls: 10, failEvery: 20})

	e.tickAt(t, t0.Add(30*time.Second)) // not due yet: no look
	if got := e.get(t, r.ID); len(got.Verdicts) != 0 {
		t.Fatalf("the judge looked before its interval: %+v", got.Verdicts)
	}
	for i := 1; i <= 2 && e.get(t, r.ID).State == release.StateRunning; i++ {
		e.tickAt(t, t0.Add(time.Duration(i)*time.Minute))
	}
	got := e.get(t, r.ID)
	if got.State != release.StateRolledBack || got.Weights != (release.Weights{Baseline: 100, Candidate: 0}) {
		t.Fatalf("after two judge intervals: state %s weights %v verdicts %+v", got.State, got.Weights, got.Verdicts)
	}
	if len(got.Verdicts) == 0 || got.Verdicts[0].Verdict != "fail" || got.Verdicts[0].Step != 0 || got.Verdicts[0].Look < 1 {
		t.Fatalf("newest verdict %+v", got.Verdicts)
	}
	last := got.History[len(got.History)-1]
	if last.Type != release.HistoryRolledBack || last.Actor != release.JudgeActor || len(last.Evidence) == 0 {
		t.Fatalf("last history entry %+v", last)
	}
	if !slices.ContainsFunc(last.Evidence, func(m canary.MetricVerdict) bool { return m.Metric != "" && m.Verdict == "fail" }) {
		t.Fatalf("evidence holds no failing metric: %+v", last.Evidence)
	}
	t.Logf("rollback reason: %s", got.Reason)
	if !strings.Contains(got.Reason, "failed 2.4.0") {
		t.Errorf("reason %q", got.Reason)
	}
	evs := e.eventTypes()
	if !slices.Equal(evs, []string{release.EventRolledBack}) {
		t.Fatalf("events %v, want [rolled_back]", evs)
	}
	if ev := e.events[0]; ev.Rollout.ID != r.ID || ev.Actor != release.JudgeActor || len(ev.Evidence) == 0 || ev.Rollout.State != release.StateRolledBack {
		t.Fatalf("event %+v", ev)
	}
	audit, err := e.store.ListAudit(bg, day2.AuditFilter{Target: "rollout/" + r.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action+" by "+a.Actor)
	}
	if !slices.Equal(actions, []string{"rollout.start by alice", "rollout.rollback by day2-judge"}) {
		t.Fatalf("audit %v", actions)
	}
	if b, a := string(audit[1].Before), string(audit[1].After); !strings.Contains(b, `"candidate":5`) || !strings.Contains(a, `"candidate":0`) {
		t.Errorf("audit before %s after %s", b, a)
	}
	// Every key now gets the baseline, outside any rollout.
	for _, key := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		as, err := e.svc.Assign(bg, "invoice-agent", "prod", key, nil)
		if err != nil || as != (release.Assignment{Version: "2.3.1", Arm: release.ArmBaseline}) {
			t.Fatalf("Assign(%s) after the rollback = %+v, %v", key, as, err)
		}
	}
	// The service is free for another rollout.
	startCanary(t, e, "invoice-agent", []int{10, 100})
}

func TestEqualCandidateIsPromoted(t *testing.T) {
	e := newEnv(t)
	r := startCanary(t, e, "invoice-agent", []int{50, 100})
	// Step 1 (50%) from t0 to t0+10m, step 2 (100%) from t0+10m to t0+20m:
	// both versions fail 0.5% of tool calls.
	e.commit(t, "invoice-agent",
		arm{version: "2.3.1", n: 800, from: t0, span: 10 * time.Minute, toolCalls: 4, failEvery: 200},
		arm{version: "2.4.0", n: 800, from: t0, span: 10 * time.Minute, toolCalls: 4, failEvery: 200},
		arm{version: "2.4.0", n: 800, from: t0.Add(10 * time.Minute), span: 10 * time.Minute, toolCalls: 4, failEvery: 200})

	for m := 1; m < 10; m++ {
		e.tickAt(t, t0.Add(time.Duration(m)*time.Minute))
		if got := e.get(t, r.ID); got.Step != 0 || got.State != release.StateRunning {
			t.Fatalf("at minute %d (before the step duration): step %d state %s", m, got.Step, got.State)
		}
	}
	e.tickAt(t, t0.Add(10*time.Minute))
	got := e.get(t, r.ID)
	if got.Step != 1 || got.Weights != (release.Weights{Baseline: 0, Candidate: 100}) || !got.StepStartedAt.Equal(t0.Add(10*time.Minute)) || got.Looks != 0 {
		t.Fatalf("after the step duration: step %d weights %v started %s looks %d; verdicts %+v", got.Step, got.Weights, got.StepStartedAt, got.Looks, got.Verdicts[:1])
	}
	for m := 11; m <= 20; m++ {
		e.tickAt(t, t0.Add(time.Duration(m)*time.Minute))
	}
	got = e.get(t, r.ID)
	if got.State != release.StatePromoted {
		t.Fatalf("at t0+20m: state %s, verdicts %+v", got.State, got.Verdicts[:2])
	}
	var types []string
	for _, h := range got.History {
		types = append(types, h.Type)
	}
	if !slices.Equal(types, []string{"started", "advanced", "promoted"}) {
		t.Fatalf("history %v", types)
	}
	if evs := e.eventTypes(); !slices.Equal(evs, []string{"advanced", "promoted"}) {
		t.Fatalf("events %v", evs)
	}
	if len(got.Verdicts) != 20 || got.Verdicts[0].Step != 1 || got.Verdicts[0].Look != 10 || got.Verdicts[19].Look != 1 {
		t.Fatalf("verdicts: %d, newest step %d look %d", len(got.Verdicts), got.Verdicts[0].Step, got.Verdicts[0].Look)
	}
	as, err := e.svc.Assign(bg, "invoice-agent", "", "anyone", nil)
	if err != nil || as != (release.Assignment{Version: "2.4.0", Arm: release.ArmBaseline}) {
		t.Fatalf("after promotion Assign = %+v, %v", as, err)
	}
	res, ok, err := e.svc.ResolveFlag(bg, "rollout.invoice-agent", flags.EvalContext{"targetingKey": "anyone"})
	if err != nil || !ok || res.Value != "2.4.0" || res.Variant != "2.4.0" || res.Reason != flags.ReasonStatic {
		t.Fatalf("ResolveFlag = %+v %v %v", res, ok, err)
	}
}

func TestFrozenBudgetHoldsTheStep(t *testing.T) {
	e := newEnv(t)
	frozen := true
	var mu sync.Mutex
	e.frozen = func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return frozen, "task-success budget exhausted"
	}
	r := startCanary(t, e, "invoice-agent", []int{50, 100})
	e.commit(t, "invoice-agent",
		arm{version: "2.3.1", n: 900, from: t0, span: 15 * time.Minute, toolCalls: 4, failEvery: 200},
		arm{version: "2.4.0", n: 900, from: t0, span: 15 * time.Minute, toolCalls: 4, failEvery: 200})
	for m := 1; m <= 13; m++ {
		e.tickAt(t, t0.Add(time.Duration(m)*time.Minute))
	}
	got := e.get(t, r.ID)
	if got.Step != 0 || got.State != release.StateRunning {
		t.Fatalf("a frozen budget must hold the step: step %d state %s", got.Step, got.State)
	}
	var held []release.HistoryEntry
	for _, h := range got.History {
		if h.Type == release.HistoryHeld {
			held = append(held, h)
		}
	}
	if len(held) != 1 || held[0].Reason != "held: error budget frozen: task-success budget exhausted" || held[0].Actor != release.JudgeActor {
		t.Fatalf("held entries %+v, want one per step", held)
	}
	if evs := e.eventTypes(); !slices.Equal(evs, []string{"held"}) {
		t.Fatalf("events %v", evs)
	}
	mu.Lock()
	frozen = false
	mu.Unlock()
	e.tickAt(t, t0.Add(14*time.Minute))
	if got := e.get(t, r.ID); got.Step != 1 {
		t.Fatalf("after the freeze lifted: step %d", got.Step)
	}
}

func TestOneActiveRolloutPerServiceAndEnvironment(t *testing.T) {
	e := newEnv(t)
	r := startCanary(t, e, "invoice-agent", []int{5, 100})
	req, _ := release.ParseStartRequest([]byte(`{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.5.0"}`))
	_, err := e.svc.StartRollout(bg, "bob", req)
	if day2.ErrorCode(err) != day2.EConflict || !strings.Contains(err.Error(), r.ID) {
		t.Fatalf("second rollout: %v, want EConflict naming %s", err, r.ID)
	}
	// Another environment is independent.
	req.Environment = "staging"
	if _, err := e.svc.StartRollout(bg, "bob", req); err != nil {
		t.Fatal(err)
	}
	if a, err := e.svc.Active(bg, "invoice-agent", "prod"); err != nil || a.ID != r.ID {
		t.Fatalf("Active = %s, %v; want %s", a.ID, err, r.ID)
	}
	if _, err := e.svc.Act(bg, "bob", r.ID, "pause", "look closer"); err != nil {
		t.Fatal(err)
	}
	req.Environment = "prod"
	if _, err := e.svc.StartRollout(bg, "bob", req); day2.ErrorCode(err) != day2.EConflict {
		t.Fatalf("a paused rollout is still active: %v", err)
	}
	if _, err := e.svc.Act(bg, "bob", r.ID, "rollback", "wrong build"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Active(bg, "invoice-agent", "prod"); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("Active after the rollback: %v", err)
	}
	if _, err := e.svc.StartRollout(bg, "bob", req); err != nil {
		t.Fatalf("after the rollback a new rollout starts: %v", err)
	}
	list, err := e.svc.Rollouts(bg, release.RolloutFilter{Service: "invoice-agent", Environment: "prod"})
	if err != nil || len(list) != 2 || list[0].Candidate != "2.5.0" || list[1].State != release.StateRolledBack {
		t.Fatalf("Rollouts = %+v, %v", list, err)
	}
	if _, err := e.svc.Act(bg, "bob", "ro_nope", "pause", ""); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("unknown rollout: %v", err)
	}
}

func TestRollbackReachesOtherReplicasWithinASecond(t *testing.T) {
	e := newEnv(t)
	other := e.service(t)
	r := startCanary(t, e, "invoice-agent", []int{50, 100})
	var key string
	for i := range 100 {
		key = fmt.Sprint("user-", i)
		if as, _ := other.Assign(bg, "invoice-agent", "prod", key, nil); as.Arm == release.ArmCandidate {
			break
		}
	}
	if _, err := e.svc.Act(bg, "bob", r.ID, "rollback", "pager"); err != nil {
		t.Fatal(err)
	}
	if as, _ := e.svc.Assign(bg, "invoice-agent", "prod", key, nil); as.Arm != release.ArmBaseline || as.Version != "2.3.1" {
		t.Fatalf("this replica serves %+v right after its own rollback", as)
	}
	e.clock.Set(t0.Add(1100 * time.Millisecond))
	if as, _ := other.Assign(bg, "invoice-agent", "prod", key, nil); as.Arm != release.ArmBaseline || as.Version != "2.3.1" {
		t.Fatalf("the other replica serves %+v a second after the rollback", as)
	}
}

func TestConcurrentActAndTickLeaveOneState(t *testing.T) {
	e := newEnv(t)
	const services = 4
	var ids []string
	for i := range services {
		svc := fmt.Sprint("agent-", i)
		ids = append(ids, startCanary(t, e, svc, []int{5, 100}).ID)
		// A bad candidate: the judge wants to roll back at its first look.
		e.commit(t, svc,
			arm{version: "2.3.1", n: 300, from: t0, span: time.Minute, toolCalls: 4, failEvery: 200},
			arm{version: "2.4.0", n: 300, from: t0, span: time.Minute, toolCalls: 4, failEvery: 10})
	}
	e.clock.Set(t0.Add(time.Minute))
	judges := []*release.Service{e.svc, e.service(t)}
	var wg sync.WaitGroup
	humanErrs := make([]error, services)
	for _, j := range judges {
		wg.Go(func() {
			if err := j.Tick(bg); err != nil {
				t.Errorf("Tick: %v", err)
			}
		})
	}
	for i, id := range ids {
		wg.Go(func() {
			_, humanErrs[i] = e.svc.Act(bg, "bob", id, "promote", "ship it")
		})
	}
	wg.Wait()
	for i, id := range ids {
		r := e.get(t, id)
		var terminal []string
		for _, h := range r.History {
			if h.Type == release.HistoryPromoted || h.Type == release.HistoryRolledBack {
				terminal = append(terminal, h.Type+" by "+h.Actor)
			}
		}
		if len(terminal) != 1 || terminal[0] != r.State+" by "+map[string]string{release.StatePromoted: "bob", release.StateRolledBack: release.JudgeActor}[r.State] {
			t.Fatalf("%s ended %s with terminal history %v", id, r.State, terminal)
		}
		if r.State == release.StateRolledBack && day2.ErrorCode(humanErrs[i]) != day2.EConflict {
			t.Errorf("%s: the judge rolled back but the promotion answered %v", id, humanErrs[i])
		}
		if r.State == release.StatePromoted && humanErrs[i] != nil {
			t.Errorf("%s promoted, yet Act answered %v", id, humanErrs[i])
		}
		want := map[string]string{release.StatePromoted: "2.4.0", release.StateRolledBack: "2.3.1"}[r.State]
		as, err := e.svc.Assign(bg, r.Service, "prod", "k", nil)
		if err != nil || as.Version != want || as.Rollout != "" {
			t.Errorf("%s (%s) assigns %+v, %v; want %s outside rollouts", id, r.State, as, err, want)
		}
		rec, err := e.store.GetRecord(bg, release.KindRollout, id)
		if err != nil || rec.Key != "" || rec.State != r.State {
			t.Errorf("record of %s: key %q state %q, %v", id, rec.Key, rec.State, err)
		}
	}
	// Each rollout has exactly one judge look recorded at most: the two judges
	// raced, and the loser re-read and found the look taken.
	for _, id := range ids {
		if r := e.get(t, id); len(r.Verdicts) > 1 {
			t.Errorf("%s has %d verdicts from one tick time", id, len(r.Verdicts))
		}
	}
}

func TestVersions(t *testing.T) {
	e := newEnv(t)
	doc := "model: gpt-4o\ntemperature: 0.2\nprompt: |\n  Approve invoices.\n  Escalate above 10k.\ntools: [erp.lookup]\n"
	v, _, err := e.svc.RegisterVersionWithReason(bg, "alice", "invoice-agent", "2.3.1", "", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if v.Hash == "" || v.CreatedBy != "alice" || !v.CreatedAt.Equal(t0) {
		t.Fatalf("registered %+v", v)
	}
	// Same content, other formatting: idempotent.
	again, created, err := e.svc.RegisterVersionWithReason(bg, "bob", "invoice-agent", "2.3.1", "retry",
		[]byte(`{"tools": ["erp.lookup"], "prompt": "Approve invoices.\nEscalate above 10k.\n", "temperature": 0.2, "model": "gpt-4o"}`))
	if err != nil || created || again.CreatedBy != "alice" || again.Hash != v.Hash {
		t.Fatalf("re-register: %+v created=%v %v", again, created, err)
	}
	_, _, err = e.svc.RegisterVersionWithReason(bg, "bob", "invoice-agent", "2.3.1", "", []byte("model: gpt-4o-mini\n"))
	if day2.ErrorCode(err) != day2.EConflict || !strings.Contains(err.Error(), "versions are immutable; register 2.3.2") {
		t.Fatalf("changed content: %v", err)
	}
	if _, _, err := e.svc.RegisterVersionWithReason(bg, "bob", "invoice-agent", "2.4", "", []byte(doc)); day2.ErrorCode(err) != day2.EInvalid {
		t.Fatalf("bad semver: %v", err)
	}
	for _, ver := range []string{"2.10.0", "2.4.0-rc.1", "2.4.0"} {
		if _, _, err := e.svc.RegisterVersionWithReason(bg, "bob", "invoice-agent", ver, "", []byte(strings.Replace(doc, "10k", "5k", 1))); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := e.svc.Versions(bg, "invoice-agent")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, v := range vs {
		order = append(order, v.Version)
	}
	if !slices.Equal(order, []string{"2.10.0", "2.4.0", "2.4.0-rc.1", "2.3.1"}) {
		t.Fatalf("versions %v, want newest semver first", order)
	}
	d, err := e.svc.Diff(bg, "invoice-agent", "2.3.1", "2.4.0")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changes) != 1 || d.Changes[0].Field != "prompt" || !strings.Contains(d.PromptDiff, "-Escalate above 10k.\n+Escalate above 5k.\n") {
		t.Fatalf("diff %+v", d)
	}
	if _, err := e.svc.Diff(bg, "invoice-agent", "2.3.1", "9.9.9"); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("diff with an unknown version: %v", err)
	}
	audit, err := e.store.ListAudit(bg, day2.AuditFilter{Action: "version.register"})
	if err != nil || len(audit) != 4 {
		t.Fatalf("version.register audit entries: %d, %v (want one per new version)", len(audit), err)
	}
}

func TestResolveFlag(t *testing.T) {
	e := newEnv(t)
	if _, ok, err := e.svc.ResolveFlag(bg, "rollout.invoice-agent", flags.EvalContext{"targetingKey": "u"}); ok || err != nil {
		t.Fatalf("nothing known: ok=%v err=%v", ok, err)
	}
	req, _ := release.ParseStartRequest([]byte(`{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "rings", "rings": [{"name": "internal", "match": {"tenant": ["contoso-it"]}}, {"name": "org", "match": {}}]}}`))
	r, err := e.svc.StartRollout(bg, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	res, ok, err := e.svc.ResolveFlag(bg, "rollout.invoice-agent", flags.EvalContext{"targetingKey": "u1", "tenant": "contoso-it"})
	if err != nil || !ok || res.Value != "2.4.0" || res.Reason != flags.ReasonTargetingMatch || res.Metadata["rollout"] != r.ID || res.Metadata["arm"] != "candidate" {
		t.Fatalf("ring member: %+v %v %v", res, ok, err)
	}
	res, _, _ = e.svc.ResolveFlag(bg, "rollout.invoice-agent", flags.EvalContext{"targetingKey": "u2", "tenant": "fabrikam"})
	if res.Value != "2.3.1" || res.Metadata["arm"] != "baseline" {
		t.Fatalf("outside the ring: %+v", res)
	}
	if res, _, _ := e.svc.ResolveFlag(bg, "rollout.invoice-agent", flags.EvalContext{"targetingKey": "u2", "environment": "staging"}); res.Value != nil {
		// No rollout in staging and nothing known there.
		t.Fatalf("staging: %+v", res)
	}
	res, ok, _ = e.svc.ResolveFlag(bg, "rollout.invoice-agent", flags.EvalContext{"tenant": "x"})
	if !ok || res.ErrorCode != flags.CodeTargetingKeyMissing {
		t.Fatalf("no targeting key: %+v", res)
	}
	if _, ok, _ := e.svc.ResolveFlag(bg, "other-flag", nil); ok {
		t.Fatal("a key outside rollout.* must not be found")
	}
	keys, err := e.svc.DynamicKeys(bg)
	if err != nil || !slices.Equal(keys, []string{"rollout.invoice-agent"}) {
		t.Fatalf("DynamicKeys = %v, %v", keys, err)
	}
}

func TestNewServiceNeedsStores(t *testing.T) {
	if _, err := release.NewService(release.Options{}); err == nil {
		t.Fatal("NewService without stores succeeded")
	}
}

// BenchmarkAssign measures Service.Assign in process with a running canary and
// a ring attribute map, the work behind every GET /api/v1/assign.
func BenchmarkAssign(b *testing.B) {
	st, err := sqlite.Open(bg, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := release.NewService(release.Options{Records: st, Tasks: st})
	if err != nil {
		b.Fatal(err)
	}
	req, _ := release.ParseStartRequest([]byte(`{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.4.0", "strategy": {"steps": [25, 100]}}`))
	if _, err := svc.StartRollout(bg, "bench", req); err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprint("user-", i)
	}
	attrs := map[string]string{"tenant": "contoso"}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := svc.Assign(bg, "invoice-agent", "prod", keys[i%len(keys)], attrs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestShadowIsJudgedButPromotedOnlyByHand(t *testing.T) {
	e := newEnv(t)
	req, err := release.ParseStartRequest([]byte(`{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "shadow", "share": 20, "step_duration": "5m", "min_samples": 100}, "judge": {"interval": "1m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.StartRollout(bg, "alice", req)
	if err != nil {
		t.Fatal(err)
	}
	e.commit(t, "invoice-agent",
		arm{version: "2.3.1", n: 600, from: t0, span: 20 * time.Minute, toolCalls: 4, failEvery: 200},
		arm{version: "2.4.0", n: 600, from: t0, span: 20 * time.Minute, toolCalls: 4, failEvery: 200})
	for m := 1; m <= 15; m++ {
		e.tickAt(t, t0.Add(time.Duration(m)*time.Minute))
	}
	got := e.get(t, r.ID)
	if got.State != release.StateRunning || len(got.Verdicts) != 15 || got.Verdicts[0].Verdict != "pass" {
		t.Fatalf("shadow after 15 looks: state %s, %d verdicts, newest %+v", got.State, len(got.Verdicts), got.Verdicts[0])
	}
	as, err := e.svc.Assign(bg, "invoice-agent", "prod", "u", nil)
	if err != nil || as.Version != "2.3.1" || as.Rollout != r.ID {
		t.Fatalf("shadow assignment %+v, %v", as, err)
	}
	if got, err := e.svc.Act(bg, "alice", r.ID, "promote", "shadow looked good"); err != nil || got.State != release.StatePromoted {
		t.Fatalf("promote by hand: %+v, %v", got, err)
	}
	if evs := e.eventTypes(); !slices.Equal(evs, []string{"promoted"}) {
		t.Fatalf("events %v", evs)
	}
}

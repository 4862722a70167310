package incident

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

// commitOutage commits 20 support-triage prod tasks starting at t0, 10 s apart,
// each of one minute with one tool call: tasks 0-5 fail (tasks 0 and 1 with a
// second failed tool call), the rest succeed.
func commitOutage(t *testing.T, st *sqlite.Store) {
	t.Helper()
	var batch []day2.TaskData
	for i := range 20 {
		fail := i < 6
		tk := storetest.NewTask(i+1, t0.Add(time.Duration(i)*10*time.Second)).Service("support-triage", "prod", "1.5.0").
			Root(time.Minute).LLM(time.Second, time.Second, 500, 50).Tool(3*time.Second, time.Second, fail)
		if i < 2 {
			tk.Tool(5*time.Second, time.Second, true)
		}
		batch = append(batch, tk.Outcome(time.Minute, !fail).All())
	}
	// Healthy staging traffic that a prod rule must not count.
	for i := range 10 {
		batch = append(batch, storetest.NewTypical(100+i, t0, "support-triage", "staging", "1.5.0").All())
	}
	if _, err := st.CommitTasks(bg, batch); err != nil {
		t.Fatal(err)
	}
}

func rules() []Rule {
	return []Rule{
		{Name: "triage-success-drop", Service: "support-triage", Environment: "prod", SLI: SLITaskSuccess, Op: "lt", Threshold: 0.95,
			Window: day2.Duration(15 * time.Minute), For: day2.Duration(5 * time.Minute), MinEvents: 10, Severity: SeverityPage, Runbook: "tool-outage"},
		{Name: "needs-more-tasks", Service: "support-triage", Environment: "prod", SLI: SLITaskSuccess, Op: "lt", Threshold: 0.95,
			Window: day2.Duration(15 * time.Minute), MinEvents: 30, Severity: SeverityPage},
		{Name: "tool-failures", Service: "support-triage", Environment: "prod", SLI: SLIToolFailure, Op: "gt", Threshold: 0.2,
			Window: day2.Duration(15 * time.Minute), MinEvents: 10, Severity: SeverityTicket},
		{Name: "slow", Service: "support-triage", SLI: SLICycleTimeP95, Op: "gte", Threshold: 30000,
			Window: day2.Duration(15 * time.Minute), Severity: SeverityTicket},
		{Name: "staging-success", Service: "support-triage", Environment: "staging", SLI: SLITaskSuccess, Op: "lt", Threshold: 0.95,
			Window: day2.Duration(15 * time.Minute), Severity: SeverityTicket},
	}
}

func keys(alerts []Alert) string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Key+":"+a.Status)
	}
	return strings.Join(out, " ")
}

func TestRulesFireFromRollupsWithForAndMinEventsAndSurviveRestarts(t *testing.T) {
	st := openStore(t)
	commitOutage(t, st)
	ev, err := NewRuleEvaluator(st, st, rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tick := func(ev *RuleEvaluator, at time.Duration) []Alert {
		t.Helper()
		alerts, err := ev.Tick(bg, t0.Add(at))
		if err != nil {
			t.Fatalf("Tick at +%v: %v", at, err)
		}
		return alerts
	}
	// 6 of 20 prod tasks failed (70% success), 8 of 22 tool calls failed, and
	// every task took a minute.
	alerts := tick(ev, 6*time.Minute)
	if got, want := keys(alerts), "rule:tool-failures:firing rule:slow:firing"; got != want {
		t.Fatalf("alerts at +6m: %q, want %q (triage-success-drop pending for 5m, needs-more-tasks below min_events, staging healthy)", got, want)
	}
	a := alerts[0]
	if a.Service != "support-triage" || a.Environment != "prod" || a.Severity != SeverityTicket || a.Labels["value"] != "0.363636" ||
		a.Summary != "tool_failure of support-triage (prod) is 36.36%, above 20.00% over the last 15m" {
		t.Errorf("tool failure alert %+v", a)
	}
	states, err := ev.States(bg)
	if err != nil {
		t.Fatal(err)
	}
	if s := states["triage-success-drop"]; s.State != RulePending || !s.Since.Equal(t0.Add(6*time.Minute)) || s.Last.Value != 0.7 || s.Last.Events != 20 {
		t.Fatalf("triage-success-drop state %+v, want pending since +6m at 70%% of 20 tasks", s)
	}

	// A restart keeps the pending time: the rule fires 5 minutes after it
	// began to hold, not 5 minutes after the restart.
	ev, err = NewRuleEvaluator(st, st, rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if alerts = tick(ev, 10*time.Minute); len(alerts) != 0 {
		t.Fatalf("alerts at +10m: %q, want none (4m of 5m pending)", keys(alerts))
	}
	alerts = tick(ev, 11*time.Minute)
	if keys(alerts) != "rule:triage-success-drop:firing" {
		t.Fatalf("alerts at +11m: %q, want triage-success-drop firing", keys(alerts))
	}
	if a := alerts[0]; !a.StartsAt.Equal(t0.Add(6*time.Minute)) || a.Runbook != "tool-outage" || a.Severity != SeverityPage ||
		!strings.Contains(a.Summary, "task_success of support-triage (prod) is 70.00%, below 95.00%") {
		t.Errorf("alert %+v: want it to start when the condition began, with the rule's runbook", a)
	}

	// A restart does not fire again.
	ev, err = NewRuleEvaluator(st, st, rules(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if alerts = tick(ev, 12*time.Minute); len(alerts) != 0 {
		t.Fatalf("alerts after a restart: %q, want none", keys(alerts))
	}

	// When the outage leaves the window, every firing rule resolves once.
	alerts = tick(ev, 25*time.Minute)
	if got, want := keys(alerts), "rule:triage-success-drop:resolved rule:tool-failures:resolved rule:slow:resolved"; got != want {
		t.Fatalf("alerts at +25m: %q, want %q", got, want)
	}
	if alerts = tick(ev, 26*time.Minute); len(alerts) != 0 {
		t.Fatalf("alerts at +26m: %q, want none", keys(alerts))
	}
}

func TestARemovedFiringRuleResolves(t *testing.T) {
	st := openStore(t)
	commitOutage(t, st)
	ev, err := NewRuleEvaluator(st, st, rules()[2:3], nil)
	if err != nil {
		t.Fatal(err)
	}
	if alerts, _ := ev.Tick(bg, t0.Add(6*time.Minute)); len(alerts) != 1 {
		t.Fatalf("alerts %q, want tool-failures firing", keys(alerts))
	}
	if err := ev.SetRules(nil); err != nil {
		t.Fatal(err)
	}
	alerts, err := ev.Tick(bg, t0.Add(7*time.Minute))
	if err != nil || keys(alerts) != "rule:tool-failures:resolved" || alerts[0].Environment != "prod" {
		t.Fatalf("alerts %+v, err %v: want tool-failures resolved", alerts, err)
	}
}

func TestServiceTickOpensIncidentsFromRules(t *testing.T) {
	var ev *RuleEvaluator
	e := newEnv(t, func(o *Options) {
		var err error
		if ev, err = NewRuleEvaluator(o.Records, o.Rollups, rules()[:1], nil); err != nil {
			t.Fatal(err)
		}
		o.Rules = ev
		o.Runbooks = map[string]string{"tool-outage": "# Tool outage of {{.Incident.Service}}\n"}
	})
	commitOutage(t, e.st)
	e.clock.Set(t0.Add(6 * time.Minute))
	e.tick(t)
	if incs := e.list(t, Filter{}); len(incs) != 0 {
		t.Fatalf("an incident opened while the rule was pending: %s", titles(incs))
	}
	e.clock.Set(t0.Add(11 * time.Minute))
	e.tick(t)
	inc := e.only(t)
	if inc.Runbook != "tool-outage" || inc.Severity != SeverityPage || !inc.DetectedAt.Equal(t0.Add(6*time.Minute)) ||
		!inc.OpenedAt.Equal(t0.Add(11*time.Minute)) {
		t.Fatalf("incident %+v", inc)
	}
	rb, err := e.svc.Runbook(bg, inc.ID)
	if err != nil || rb != "# Tool outage of support-triage\n" {
		t.Fatalf("runbook %q, %v", rb, err)
	}

	// The triage found the failing version and the worst tasks.
	tri := inc.Triage
	if tri == nil || tri.TasksScanned != 30 || len(tri.Breakdown) != 2 {
		t.Fatalf("triage %+v", tri)
	}
	b := tri.Breakdown[0]
	if b.Environment != "prod" || b.Version != "1.5.0" || b.Tasks != 20 || b.Failures != 6 || b.ToolFailures != 8 || b.FailureRate != 0.3 {
		t.Errorf("worst breakdown %+v", b)
	}
	if len(tri.FailingTasks) != 5 || tri.FailingTasks[0].ToolFailures != 2 || tri.FailingTasks[1].ToolFailures != 2 ||
		tri.FailingTasks[0].URL != "https://day2.example.com/tasks/"+tri.FailingTasks[0].TaskID {
		t.Errorf("failing tasks %+v: want 5, the two with two tool failures first", tri.FailingTasks)
	}

	e.clock.Set(t0.Add(30 * time.Minute))
	e.tick(t)
	inc = e.get(t, inc.ID)
	if inc.State != StateTriggered || inc.AllAlertsResolvedAt.IsZero() {
		t.Fatalf("after the rule resolved: state %s, all resolved at %v", inc.State, inc.AllAlertsResolvedAt)
	}
}

func TestRuleValidation(t *testing.T) {
	good := rules()[0]
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		edit func(*Rule)
		want string
	}{
		{"no name", func(r *Rule) { r.Name = "" }, "set metadata.name"},
		{"no service", func(r *Rule) { r.Service = "" }, "service is required"},
		{"unknown sli", func(r *Rule) { r.SLI = "latency" }, `sli "latency" is unknown; use one of task_success, escalation_rate`},
		{"unknown op", func(r *Rule) { r.Op = "<" }, `op "<" is unknown; use lt, lte, gt or gte`},
		{"percent threshold", func(r *Rule) { r.Threshold = 95 }, "did you mean 0.95?"},
		{"negative threshold", func(r *Rule) { r.Threshold = -1 }, "zero or more"},
		{"no window", func(r *Rule) { r.Window = 0 }, "window 0s must be whole minutes"},
		{"seconds window", func(r *Rule) { r.Window = day2.Duration(90 * time.Second) }, "whole minutes"},
		{"long window", func(r *Rule) { r.Window = day2.Duration(8 * 24 * time.Hour) }, "longer than"},
		{"negative min events", func(r *Rule) { r.MinEvents = -1 }, "min_events must be zero or more"},
		{"min events of a count", func(r *Rule) { r.SLI, r.Threshold = SLIRateLimitHits, 10 }, "min_events does not apply to rate_limit_hits"},
		{"bad severity", func(r *Rule) { r.Severity = "critical" }, `severity "critical" is unknown; use page`},
	} {
		r := good
		c.edit(&r)
		err := r.Validate()
		wantCode(t, c.name, err, day2.EInvalid)
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q does not say %q", c.name, err, c.want)
		}
	}
	if _, err := NewRuleEvaluator(nil, nil, nil, nil); day2.ErrorCode(err) != day2.EInvalid {
		t.Errorf("evaluator without stores: %v", err)
	}
}

func TestRuleReadsTheAlertRuleDocument(t *testing.T) {
	doc := `
service: support-triage
environment: prod
sli: task_success
op: lt
threshold: 0.95
window: 15m
for: 0m
min_events: 10
severity: page
runbook: tool-outage
`
	var r Rule
	if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
		t.Fatal(err)
	}
	r.Name = "triage-success-drop"
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Window.D() != 15*time.Minute || r.For.D() != 0 || r.MinEvents != 10 || r.Runbook != "tool-outage" {
		t.Fatalf("rule %+v", r)
	}
}

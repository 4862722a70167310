package incident

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/storetest"
)

func TestTriageFindsChangesAndSpikes(t *testing.T) {
	e := newEnv(t, nil)
	var batch []day2.TaskData
	// The hour before the last 15 minutes: a task a minute, one failed tool call.
	for i := range 60 {
		start := t0.Add(-76*time.Minute + time.Duration(i)*time.Minute)
		batch = append(batch, storetest.NewTask(i+1, start).Service("support-triage", "prod", "1.4.0").
			Root(time.Minute).Tool(time.Second, time.Second, i == 0).Outcome(time.Minute, true).All())
	}
	// The last 15 minutes: every task's tool call fails, on the new version.
	for i := range 13 {
		start := t0.Add(-15*time.Minute + time.Duration(i)*time.Minute)
		batch = append(batch, storetest.NewTask(100+i, start).Service("support-triage", "prod", "1.5.0").
			Root(time.Minute).Tool(time.Second, time.Second, true).Outcome(time.Minute, false).All())
	}
	if _, err := e.st.CommitTasks(bg, batch); err != nil {
		t.Fatal(err)
	}
	var audit []day2.AuditEntry
	for i := range 40 { // old history the binary search skips
		audit = append(audit, day2.AuditEntry{At: t0.Add(-72*time.Hour + time.Duration(i)*time.Minute), Actor: "ci", Action: "rollout.start", Target: "rollout/old"})
	}
	audit = append(audit,
		day2.AuditEntry{At: t0.Add(-3 * time.Hour), Actor: "ci", Action: "version.register", Target: "version/support-triage/1.5.0"},
		day2.AuditEntry{At: t0.Add(-2 * time.Hour), Actor: "alice", Action: "policy.override", Target: "service/support-triage"},
		day2.AuditEntry{At: t0.Add(-time.Hour), Actor: "ci", Action: "rollout.start", Target: "rollout/ro_9", Reason: "canary 1.5.0",
			After: []byte(`{"service":"support-triage","environment":"prod"}`)},
		day2.AuditEntry{At: t0.Add(-30 * time.Minute), Actor: "bob", Action: "flag.set", Target: "flag/other.kill", After: []byte(`{"service":"invoice-agent"}`)},
	)
	if _, _, err := e.st.PutRecords(bg, nil, audit); err != nil {
		t.Fatal(err)
	}
	e.ingest(t, alert("a", "prod"))
	tri := e.only(t).Triage
	var changes []string
	for _, c := range tri.Changes {
		changes = append(changes, c.Action+" "+c.Target+" "+map[bool]string{true: "related", false: "other"}[c.Related])
	}
	if got, want := strings.Join(changes, "; "), "flag.set flag/other.kill other; rollout.start rollout/ro_9 related; version.register version/support-triage/1.5.0 related"; got != want {
		t.Errorf("changes %q, want %q", got, want)
	}
	spikes := map[string]bool{}
	for _, s := range tri.Signals {
		spikes[s.Name] = s.Spike
	}
	if !spikes["tool_failures"] || spikes["rate_limit_hits"] || spikes["safety_blocks"] {
		t.Errorf("signals %+v: want only tool failures spiking", tri.Signals)
	}
	if len(tri.Breakdown) != 2 || tri.Breakdown[0].Version != "1.5.0" || tri.Breakdown[0].FailureRate != 1 {
		t.Errorf("breakdown %+v: want 1.5.0 failing first", tri.Breakdown)
	}
	if h := tri.headline(); !strings.Contains(h, "worst: prod 1.5.0 with 100.0% of 13 tasks failing") || !strings.Contains(h, "tool_failures spiking") ||
		!strings.Contains(h, "2 change(s) to the service") {
		t.Errorf("headline %q", h)
	}
}

func TestDigestAndWeeklyReview(t *testing.T) {
	budget := func(_ context.Context, service string, from, to time.Time) (float64, bool) { return 0.05, true }
	e := newEnv(t, func(o *Options) { o.SLOBudget = budget })
	open := func(at time.Time, env string) string {
		t.Helper()
		e.clock.Set(at)
		a := alert("k", env)
		a.StartsAt = at.Add(-time.Minute)
		e.ingest(t, a)
		for _, inc := range e.list(t, Filter{State: "open"}) {
			if inc.Environment == env {
				return inc.ID
			}
		}
		t.Fatalf("no incident opened in %s", env)
		return ""
	}
	now := t0.Add(14 * 24 * time.Hour)
	old := open(now.Add(-9*24*time.Hour), "old")
	e.clock.Advance(time.Hour)
	if _, err := e.svc.Resolve(bg, "alice", old, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RecordReview(bg, "alice", old, "https://wiki/pm/1", ""); err != nil {
		t.Fatal(err)
	}
	week := open(now.Add(-2*24*time.Hour), "prod")
	e.clock.Advance(5 * time.Minute)
	if _, err := e.svc.Ack(bg, "bob", week, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	if _, err := e.svc.Mitigate(bg, "bob", week, LeverRequest{Reason: "restarted the CRM gateway"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(45 * time.Minute)
	if _, err := e.svc.Resolve(bg, "bob", week, ""); err != nil {
		t.Fatal(err)
	}
	today := open(now.Add(-time.Hour), "staging")
	e.clock.Set(now)

	d, err := e.svc.Digest(bg, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Daily reliability digest",
		"## Open incidents (1)", "[" + today + "]", "| triggered | 1h0m0s |",
		"## Incidents of the last 24 hours (1)",
		"## Rollouts and changes of the last 24 hours", "No deployment or flag change recorded.",
		"## Error budget burn of the last 24 hours", "| support-triage | 5.0% |",
		"## Postmortems pending (1)", "[" + week + "]",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("digest lacks %q", want)
		}
	}
	if strings.Contains(d, old) {
		t.Errorf("digest names the reviewed incident of last week")
	}
	if t.Failed() {
		t.Logf("digest:\n%s", d)
	}

	w, err := e.svc.WeeklyReview(bg, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Weekly reliability review",
		"## Incidents of the week (2)", "[" + week + "]", "[" + today + "]",
		// detection 1m, mitigated 16m and resolved 61m after the alert began
		"| resolved | Sat 14 Nov 09:00 | 1h1m0s | 1m0s | 16m0s | 1h1m0s | 5.0% |",
		"| Incidents | 2 | 1 |", "| Pages | 2 | 1 |", "| Mean time to detect | 1m0s | 1m0s |",
		"| Mean time to acknowledge | 5m0s | - |", "| Mean time to mitigate | 16m0s | - |", "| Mean time to resolve | 1h1m0s | 1h1m0s |",
		"More incidents than the week before (2 against 1).",
		"## Postmortems pending (1)",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("weekly review lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("weekly review:\n%s", w)
	}
}

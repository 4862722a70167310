package incident

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

func TestStatesMoveForwardWithActorTimelineAuditAndNotifications(t *testing.T) {
	e := newEnv(t, nil)
	e.ingest(t, alert("a", "prod"))
	id := e.only(t).ID

	e.clock.Advance(3 * time.Minute)
	inc, err := e.svc.Ack(bg, "alice", id, "looking")
	if err != nil {
		t.Fatal(err)
	}
	if inc.State != StateAcknowledged || !inc.AcknowledgedAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("after ack: state %s at %v", inc.State, inc.AcknowledgedAt)
	}
	_, err = e.svc.Ack(bg, "bob", id, "")
	wantCode(t, "ack twice", err, day2.EConflict)

	e.clock.Advance(2 * time.Minute)
	if inc, err = e.svc.Mitigate(bg, "alice", id, LeverRequest{Reason: "failed over to the backup CRM"}); err != nil {
		t.Fatal(err)
	}
	if inc.State != StateMitigated {
		t.Fatalf("state %s after mitigate without a lever, want mitigated", inc.State)
	}
	_, err = e.svc.Ack(bg, "bob", id, "")
	wantCode(t, "ack after mitigate", err, day2.EConflict)

	e.clock.Advance(10 * time.Minute)
	if inc, err = e.svc.Resolve(bg, "alice", id, "CRM is back"); err != nil {
		t.Fatal(err)
	}
	if inc.State != StateResolved || inc.ResolvedAt.IsZero() {
		t.Fatalf("state %s resolved at %v", inc.State, inc.ResolvedAt)
	}
	_, err = e.svc.Resolve(bg, "alice", id, "")
	wantCode(t, "resolve twice", err, day2.EConflict)
	_, err = e.svc.Mitigate(bg, "alice", id, LeverRequest{})
	wantCode(t, "mitigate a resolved incident", err, day2.EConflict)
	if _, err := e.svc.Note(bg, "carol", id, "customer impact: 40 tickets handled by hand"); err != nil {
		t.Fatalf("a note on a resolved incident: %v", err)
	}
	_, err = e.svc.Note(bg, "carol", id, "  ")
	wantCode(t, "empty note", err, day2.EInvalid)
	_, err = e.svc.Ack(bg, "", id, "")
	wantCode(t, "no actor", err, day2.EInvalid)
	_, err = e.svc.Ack(bg, "alice", "in_missing", "")
	wantCode(t, "unknown incident", err, day2.ENotFound)

	inc = e.get(t, id)
	var states []string
	for _, en := range entries(inc, EntryState) {
		states = append(states, en.Actor+":"+en.Data["to"].(string))
	}
	if got, want := strings.Join(states, " "), "day2:triggered alice:acknowledged alice:mitigated alice:resolved"; got != want {
		t.Errorf("state entries %q, want %q", got, want)
	}
	if n := len(entries(inc, EntryNote)); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	for _, ev := range []string{notify.EventIncidentTriggered, notify.EventIncidentAcknowledged, notify.EventIncidentMitigated, notify.EventIncidentResolved} {
		if n := e.stored(t, ev); n != 1 {
			t.Errorf("%d %s messages stored, want 1", n, ev)
		}
	}
	if n := len(entries(inc, EntryNotification)); n != 4 {
		t.Errorf("%d notification entries on the timeline, want 4", n)
	}
	audit, err := e.st.ListAudit(bg, day2.AuditFilter{Target: "incident/" + id})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Actor+":"+a.Action)
	}
	if got, want := strings.Join(actions, " "), "day2:incident.trigger alice:incident.ack alice:incident.mitigate alice:incident.resolve carol:incident.note"; got != want {
		t.Errorf("audit %q, want %q", got, want)
	}
	for _, a := range audit {
		if a.Hash == "" || a.Reason == "" && a.Action == "incident.ack" {
			t.Errorf("audit entry %+v: want a hash and the reason given", a)
		}
	}
}

func TestLeversArePulledRecordedAndMitigate(t *testing.T) {
	lv := &fakeLevers{weight: 25, rollout: "ro_1"}
	e := newEnv(t, func(o *Options) { o.Levers = lv })
	e.ingest(t, alert("a", "prod"))
	id := e.only(t).ID

	inc, err := e.svc.Mitigate(bg, "alice", id, LeverRequest{Lever: LeverCanaryToZero, Reason: "candidate fails 80% of tasks"})
	if err != nil {
		t.Fatal(err)
	}
	if calls := lv.Calls(); len(calls) != 1 || !strings.HasPrefix(calls[0], "weight alice support-triage prod 0 incident "+id) {
		t.Fatalf("calls %q; want the candidate weight of support-triage prod set to 0 by alice", calls)
	}
	if inc.State != StateMitigated {
		t.Fatalf("state %s after a lever worked, want mitigated", inc.State)
	}
	m := entries(inc, EntryMitigation)
	if len(m) != 1 || m[0].Actor != "alice" || m[0].Data["lever"] != LeverCanaryToZero || m[0].Data["ok"] != true ||
		!strings.Contains(m[0].Text, "canary weight of support-triage (prod) set to 0") {
		t.Fatalf("mitigation entries %+v", m)
	}

	// More levers on a mitigated incident are recorded; the state stays.
	off := false
	for _, r := range []LeverRequest{
		{Lever: LeverFlag, Flag: "crm_writes", On: &off, Reason: "stop writes"},
		{Lever: LeverForceManual, Reason: "people decide until stable"},
		{Lever: LeverOverride, Name: "temperature_cap", Value: "0.2", Reason: "stabilise"},
		{Lever: LeverOverride, Name: "tool_allowlist", Value: []any{"kb.search", "crm.lookup"}, Reason: "narrow tools"},
		{Lever: LeverOverride, Name: "timeout_ms", Value: 30000.0, Reason: "slow CRM"},
	} {
		if inc, err = e.svc.Mitigate(bg, "bob", id, r); err != nil {
			t.Fatalf("%s: %v", r.Lever, err)
		}
	}
	calls := lv.Calls()
	want := []string{
		"flag bob crm_writes false incident " + id + ": stop writes",
		"manual bob support-triage true incident " + id + ": people decide until stable",
		"override bob support-triage temperature_cap 0.2 incident " + id + ": stabilise",
		"override bob support-triage tool_allowlist [kb.search crm.lookup] incident " + id + ": narrow tools",
		"override bob support-triage timeout_ms 30000 incident " + id + ": slow CRM",
	}
	if strings.Join(calls[1:], "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(calls[1:], "\n"), strings.Join(want, "\n"))
	}
	if inc.State != StateMitigated || len(entries(inc, EntryMitigation)) != 6 {
		t.Fatalf("state %s with %d mitigation entries, want mitigated and 6", inc.State, len(entries(inc, EntryMitigation)))
	}
	if n := e.stored(t, notify.EventIncidentMitigated); n != 1 {
		t.Errorf("%d mitigated messages, want 1", n)
	}

	// A lever that fails is recorded as failed and returned; the state does
	// not move.
	lv2 := &fakeLevers{err: day2.Errorf(day2.ENotFound, "no rollout of support-triage is running")}
	e2 := newEnv(t, func(o *Options) { o.Levers = lv2 })
	e2.ingest(t, alert("a", "prod"))
	id2 := e2.only(t).ID
	_, err = e2.svc.Mitigate(bg, "alice", id2, LeverRequest{Lever: LeverCanaryToZero, Reason: "try"})
	wantCode(t, "failing lever", err, day2.ENotFound)
	inc = e2.get(t, id2)
	m = entries(inc, EntryMitigation)
	if inc.State != StateTriggered || len(m) != 1 || m[0].Data["ok"] != false || !strings.Contains(m[0].Text, "no rollout of support-triage is running") {
		t.Fatalf("after a failed lever: state %s, entries %+v", inc.State, m)
	}
}

func TestLeverRequestsAreChecked(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Levers = &fakeLevers{} })
	e.ingest(t, alert("a", "prod"))
	id := e.only(t).ID
	on := true
	for name, r := range map[string]LeverRequest{
		"no reason":          {Lever: LeverCanaryToZero},
		"unknown lever":      {Lever: "reboot", Reason: "x"},
		"flag without key":   {Lever: LeverFlag, On: &on, Reason: "x"},
		"flag without on":    {Lever: LeverFlag, Flag: "f", Reason: "x"},
		"unknown override":   {Lever: LeverOverride, Name: "max_tokens", Value: 1, Reason: "x"},
		"temperature of 5":   {Lever: LeverOverride, Name: "temperature_cap", Value: 5.0, Reason: "x"},
		"retry budget of .5": {Lever: LeverOverride, Name: "retry_budget", Value: 0.5, Reason: "x"},
		"empty allowlist":    {Lever: LeverOverride, Name: "tool_allowlist", Value: " , ", Reason: "x"},
		"no value":           {Lever: LeverOverride, Name: "timeout_ms", Reason: "x"},
	} {
		_, err := e.svc.Mitigate(bg, "alice", id, r)
		wantCode(t, name, err, day2.EInvalid)
	}
	if inc := e.get(t, id); inc.State != StateTriggered || len(entries(inc, EntryMitigation)) != 0 {
		t.Fatalf("refused requests changed the incident: %s, %+v", inc.State, entries(inc, EntryMitigation))
	}
	e2 := newEnv(t, nil)
	e2.ingest(t, alert("a", "prod"))
	_, err := e2.svc.Mitigate(bg, "alice", e2.only(t).ID, LeverRequest{Lever: LeverCanaryToZero, Reason: "x"})
	wantCode(t, "no levers", err, day2.EUnavailable)
}

func TestPostmortemDraftAndReviewReminder(t *testing.T) {
	budget := func(_ context.Context, service string, from, to time.Time) (float64, bool) {
		return 0.3, service == "support-triage"
	}
	e := newEnv(t, func(o *Options) { o.SLOBudget = budget; o.Levers = &fakeLevers{} })
	e.ingest(t, alert("a", "prod"))
	id := e.only(t).ID
	e.clock.Advance(4 * time.Minute)
	if _, err := e.svc.Ack(bg, "alice", id, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(6 * time.Minute)
	if _, err := e.svc.Mitigate(bg, "alice", id, LeverRequest{Lever: LeverCanaryToZero, Reason: "bad candidate"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(20 * time.Minute)
	inc, err := e.svc.Resolve(bg, "bob", id, "recovered")
	if err != nil {
		t.Fatal(err)
	}
	if inc.BudgetConsumed == nil || *inc.BudgetConsumed != 0.3 || !inc.PostmortemRequired {
		t.Fatalf("budget %v, postmortem required %v; want 30%% consumed and a postmortem required", inc.BudgetConsumed, inc.PostmortemRequired)
	}
	pm, err := e.svc.Postmortem(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"**Date:** 2026-11-02", "**Authors:** alice, bob", "**Status:**", "## Summary", "## Impact", "## Root Causes", "## Trigger",
		"## Resolution", "## Detection", "## Action Items", "| Action Item | Type | Owner | Bug |", "## Lessons Learned",
		"### What went well", "### What went wrong", "### Where we got lucky", "## Timeline", "## Supporting information",
		"**30.0%** of the service's 4-week budget", "detection took 2m0s", "time to mitigate 12m0s", "time to resolve 32m0s",
		"**2026-11-02 09:00:00** [state] day2: incident triggered",
		"**2026-11-02 09:04:00** [state] alice: acknowledged by alice",
		"**2026-11-02 09:10:00** [mitigation] alice: canary weight of support-triage (prod) set to 0 by alice: bad candidate",
		"**2026-11-02 09:30:00** [state] bob: resolved by bob: recovered",
		"A postmortem is required",
	} {
		if !strings.Contains(pm, want) {
			t.Errorf("postmortem lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("postmortem:\n%s", pm)
	}

	// No review 72 hours after resolution: one reminder.
	e.clock.Advance(ReviewDue - time.Minute)
	e.tick(t)
	if n := len(entries(e.get(t, id), EntryReminder)); n != 0 {
		t.Fatalf("%d reminders before 72 hours", n)
	}
	e.clock.Advance(time.Minute)
	e.tick(t)
	e.clock.Advance(time.Hour)
	e.tick(t)
	inc = e.get(t, id)
	if n := len(entries(inc, EntryReminder)); n != 1 {
		t.Fatalf("%d reminders, want exactly 1", n)
	}
	if n := e.stored(t, notify.EventIncidentUpdated); n != 1 {
		t.Fatalf("%d update messages, want the reminder's", n)
	}
	if _, err := e.svc.RecordReview(bg, "alice", id, "https://wiki.example.com/pm/42", "CRM capacity"); err != nil {
		t.Fatal(err)
	}
	if inc = e.get(t, id); inc.Review == nil || inc.Review.URL != "https://wiki.example.com/pm/42" {
		t.Fatalf("review %+v", inc.Review)
	}
	_, err = e.svc.RecordReview(bg, "alice", id, "", "")
	wantCode(t, "empty review", err, day2.EInvalid)
}

func TestReviewedIncidentGetsNoReminder(t *testing.T) {
	e := newEnv(t, nil)
	e.ingest(t, alert("a", "prod"))
	id := e.only(t).ID
	if _, err := e.svc.Resolve(bg, "alice", id, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RecordReview(bg, "alice", id, "", "nothing to learn: a test alert"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(100 * time.Hour)
	e.tick(t)
	if n := len(entries(e.get(t, id), EntryReminder)); n != 0 {
		t.Fatalf("%d reminders for a reviewed incident", n)
	}
}

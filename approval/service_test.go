package approval_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"github.com/day2ops/day2/internal/testclock"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/sqlite"
)

type fakeClock = testclock.Clock

const testPolicy = `
name: invoices
service: invoice-agent
rules:
  - {action: pay_invoice, tier: 2, when: "amount > 500"}
  - {action: pay_invoice, tier: 1}
  - {action: lookup_vendor, tier: 0}
approvers:
  tier1: {groups: [ops, manager]}
  tier2: {groups: [manager]}
timeout: 1h
auto_approve: {min_confidence: 0.9}
reminders: {after: 15m, every: 15m}
escalation: {after: 30m, groups: [director]}
`

func policy(t testing.TB) approval.Policy {
	t.Helper()
	var p approval.Policy
	if err := yaml.Unmarshal([]byte(testPolicy), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

type env struct {
	svc    *approval.Service
	store  *sqlite.Store
	clock  *fakeClock
	mu     sync.Mutex
	events []approval.Event
	req    []approval.Request // OnRequired calls
}

func (e *env) eventTypes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		out = append(out, ev.Type+"/"+ev.Seq)
	}
	return out
}

func newEnv(t testing.TB, mod func(*approval.Options)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{store: st, clock: testclock.New(time.Now().UTC().Truncate(time.Second))}
	o := approval.Options{
		Records: st, Policies: []approval.Policy{policy(t)}, Clock: e.clock.Now, BaseURL: "https://day2.example.com",
		Logger: slog.New(slog.DiscardHandler), PollInterval: 10 * time.Millisecond,
		Notify: func(ctx context.Context, ev approval.Event) []day2.Record {
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
			m := ev.Message()
			b, _ := json.Marshal(m)
			// An outbox record as notify.Outbox.Prepare makes them.
			return []day2.Record{{Kind: "outbox", ID: "ob_" + ev.Request.ID + "_" + strings.ReplaceAll(ev.Type+ev.Seq, ".", "_"),
				Service: ev.Request.Service, State: "pending", Due: ev.At, Body: b}}
		},
		OnRequired: func(ctx context.Context, r approval.Request) {
			e.mu.Lock()
			e.req = append(e.req, r)
			e.mu.Unlock()
		},
	}
	if mod != nil {
		mod(&o)
	}
	svc, err := approval.NewService(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	e.svc = svc
	return e
}

var (
	agent   = auth.Identity{Name: "invoice-agent", Scopes: []auth.Scope{auth.ScopeIngest}}
	olivia  = auth.Identity{Name: "olivia", Groups: []string{"ops"}, Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeApprove}}
	mia     = auth.Identity{Name: "mia", Groups: []string{"manager"}, Scopes: []auth.Scope{auth.ScopeRead, auth.ScopeApprove}}
	dora    = auth.Identity{Name: "dora", Groups: []string{"director"}, Scopes: []auth.Scope{auth.ScopeApprove}}
	noScope = auth.Identity{Name: "nina", Groups: []string{"manager"}, Scopes: []auth.Scope{auth.ScopeRead}}
)

func amount(v float64) *float64 { return &v }

func payment(v float64, key string) approval.CreateInput {
	return approval.CreateInput{Service: "invoice-agent", Environment: "prod", Action: "pay_invoice", TaskID: "t1",
		Amount: amount(v), IdempotencyKey: key,
		Context: map[string]any{"prompt": "pay ACME", "confidence": 0.95, "in_policy": true, "tool_plan": []any{"pay"}}}
}

func TestCreateTiers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	now := e.clock.Now()

	r0, existing, err := e.svc.Create(ctx, agent, approval.CreateInput{Service: "invoice-agent", Action: "lookup_vendor"})
	if err != nil || existing {
		t.Fatalf("Create Tier 0: %v existing=%v", err, existing)
	}
	if r0.State != approval.StateApproved || !r0.AutoApproved || r0.Tier != 0 || r0.DecidedBy != approval.Actor || !r0.ExpiresAt.IsZero() {
		t.Errorf("Tier 0 request: %+v, want approved at once by day2", r0)
	}
	if r0.Requester != "invoice-agent" || r0.CreatedBy != "invoice-agent" {
		t.Errorf("requester %q created by %q, want the token's name", r0.Requester, r0.CreatedBy)
	}

	r1, _, err := e.svc.Create(ctx, agent, payment(100, ""))
	if err != nil {
		t.Fatal(err)
	}
	if r1.State != approval.StateApproved || !r1.AutoApproved || r1.Tier != 1 || !strings.Contains(r1.Reason, "Tier 1 auto-approved") {
		t.Errorf("confident Tier 1 request: state %s auto %v reason %q, want auto-approved", r1.State, r1.AutoApproved, r1.Reason)
	}

	low := payment(100, "")
	low.Context["confidence"] = 0.5
	r1p, _, err := e.svc.Create(ctx, agent, low)
	if err != nil {
		t.Fatal(err)
	}
	if r1p.State != approval.StatePending || !r1p.ExpiresAt.Equal(now.Add(time.Hour)) || !strings.Contains(r1p.Reason, "confidence 0.5 is below 0.9") {
		t.Errorf("unsure Tier 1 request: state %s expires %s reason %q", r1p.State, r1p.ExpiresAt, r1p.Reason)
	}

	r2, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	if r2.State != approval.StatePending || r2.Tier != 2 || !strings.Contains(r2.Reason, "rules[0] (action pay_invoice, tier 2, when amount > 500)") {
		t.Errorf("large payment: state %s tier %d reason %q, want pending Tier 2 by rules[0]", r2.State, r2.Tier, r2.Reason)
	}
	if r2.Context["prompt"] != "pay ACME" {
		t.Errorf("the context was not kept: %v", r2.Context)
	}

	// Pending requests announced and handed to OnRequired; auto ones not.
	if got := e.eventTypes(); len(got) != 2 || got[0] != "approval.pending/" {
		t.Errorf("events %v, want two approval.pending", got)
	}
	if len(e.req) != 2 || e.req[1].ID != r2.ID {
		t.Errorf("OnRequired saw %d requests, want the 2 pending ones", len(e.req))
	}
	// The outbox record was stored with the request.
	if _, err := e.store.GetRecord(ctx, "outbox", "ob_"+r2.ID+"_approval_pending"); err != nil {
		t.Errorf("outbox record of the pending request: %v", err)
	}

	// Every request is audited, in the transaction that stored it.
	for _, r := range []approval.Request{r0, r1, r1p, r2} {
		es, err := e.store.ListAudit(ctx, day2.AuditFilter{Target: "approval/" + r.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 1 || es[0].Action != "approval.request" || es[0].Actor != "invoice-agent" || !strings.Contains(string(es[0].After), `"state":"`+r.State+`"`) {
			t.Errorf("audit of %s: %+v", r.ID, es)
		}
	}
}

func TestCreateValidates(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	three := 3
	for _, tc := range []struct {
		name string
		in   approval.CreateInput
		want string
	}{
		{"no service", approval.CreateInput{Action: "a"}, "service is missing"},
		{"no action", approval.CreateInput{Service: "s"}, "action is missing"},
		{"a bad tier", approval.CreateInput{Service: "s", Action: "a", RiskTier: &three}, "risk_tier 3 is not a tier"},
		{"a bad callback", approval.CreateInput{Service: "s", Action: "a", CallbackURL: "ftp://x"}, "callback_url"},
		{"a callback without a secret", approval.CreateInput{Service: "s", Action: "a", CallbackURL: "https://agent.example.com/cb"}, "no callback secret"},
	} {
		_, _, err := e.svc.Create(ctx, agent, tc.in)
		if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want invalid containing %q", tc.name, err, tc.want)
		}
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	first, existing, err := e.svc.Create(ctx, agent, payment(900, "inv-1"))
	if err != nil || existing {
		t.Fatalf("first: %v %v", err, existing)
	}
	again, existing, err := e.svc.Create(ctx, agent, payment(900, "inv-1"))
	if err != nil || !existing || again.ID != first.ID {
		t.Fatalf("repeat: id %s existing %v err %v, want %s existing", again.ID, existing, err, first.ID)
	}
	// Another service may use the same key.
	other := payment(900, "inv-1")
	other.Service = "other-agent"
	o, existing, err := e.svc.Create(ctx, agent, other)
	if err != nil || existing || o.ID == first.ID {
		t.Fatalf("same key, other service: %v existing %v", err, existing)
	}
	// The same key for a different request is a conflict, not a silent match.
	diff := payment(900, "inv-1")
	diff.Action = "refund"
	if _, _, err := e.svc.Create(ctx, agent, diff); day2.ErrorCode(err) != day2.EConflict || !strings.Contains(err.Error(), first.ID) {
		t.Errorf("key reused for another action: %v, want a conflict naming %s", err, first.ID)
	}
	// Concurrent repeats all get the one request.
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			r, _, err := e.svc.Create(ctx, agent, payment(900, "inv-2"))
			if err != nil {
				t.Error(err)
			}
			ids[i] = r.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent repeats got different requests: %v", ids)
		}
	}
}

func TestDecideRules(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	r, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	check := func(id auth.Identity, code, msg string) {
		t.Helper()
		_, err := e.svc.Decide(ctx, id, r.ID, approval.DecisionApprove, "ok")
		if day2.ErrorCode(err) != code || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s deciding: %v, want %s containing %q", id.Name, err, code, msg)
		}
	}
	check(noScope, day2.EForbidden, `lacks the "approve" scope`)
	check(olivia, day2.EForbidden, "olivia is not an approver of Tier 2 requests of invoice-agent: needs group manager")
	check(dora, day2.EForbidden, "after escalation at")
	requester := auth.Identity{Name: "invoice-agent", Groups: []string{"manager"}, Scopes: []auth.Scope{auth.ScopeApprove}}
	check(requester, day2.EForbidden, "two-person rule")
	if _, err := e.svc.Decide(ctx, mia, r.ID, "maybe", ""); day2.ErrorCode(err) != day2.EInvalid {
		t.Errorf("an unknown decision: %v", err)
	}

	// After the escalation time the director group may decide too.
	e.clock.Advance(31 * time.Minute)
	got, err := e.svc.Decide(ctx, dora, r.ID, approval.DecisionReject, "too much")
	if err != nil {
		t.Fatalf("escalation group after escalation: %v", err)
	}
	if got.State != approval.StateRejected || got.DecidedBy != "dora" || got.Comment != "too much" {
		t.Errorf("decided: %+v", got)
	}
	check(mia, day2.EConflict, "already rejected by dora")
	es, _ := e.store.ListAudit(ctx, day2.AuditFilter{Target: "approval/" + r.ID})
	if len(es) != 2 || es[1].Action != "approval.reject" || es[1].Actor != "dora" || es[1].Reason != "too much" || len(es[1].Before) == 0 {
		t.Errorf("audit: %+v", es)
	}
}

func TestRequesterFieldCannotDecide(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	in := payment(900, "")
	in.Requester = "mia" // the person the agent acts for
	r, _, err := e.svc.Create(ctx, agent, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Decide(ctx, mia, r.ID, approval.DecisionApprove, ""); day2.ErrorCode(err) != day2.EForbidden || !strings.Contains(err.Error(), "two-person rule") {
		t.Errorf("the requester approving: %v, want the two-person rule", err)
	}
}

func TestExpiryRemindersEscalation(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	r, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	sweep := func() {
		t.Helper()
		if err := e.svc.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sweep()
	if n := len(e.eventTypes()); n != 1 {
		t.Fatalf("a sweep before anything is due sent events: %v", e.eventTypes())
	}
	e.clock.Advance(15 * time.Minute)
	sweep()
	sweep() // a second sweep at the same time sends nothing more
	e.clock.Advance(15 * time.Minute)
	sweep() // 30m: escalation and the second reminder, one message
	e.clock.Advance(16 * time.Minute)
	sweep() // 46m: third reminder (due at 45m)
	want := []string{"approval.pending/", "approval.reminder/reminder-1", "approval.reminder/escalated", "approval.reminder/reminder-3"}
	if got := e.eventTypes(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("events %v, want %v", got, want)
	}
	e.mu.Lock()
	esc := e.events[2]
	e.mu.Unlock()
	if !esc.Escalated || !strings.Contains(esc.Summary, "group director may now decide too") || !strings.Contains(esc.Audience.String(), "director") {
		t.Errorf("escalation event: %+v", esc)
	}
	if esc.URL != "https://day2.example.com/approvals/"+r.ID {
		t.Errorf("event URL %q", esc.URL)
	}
	got, _ := e.svc.Get(ctx, r.ID)
	if got.State != approval.StatePending || !got.Escalated || got.Reminders != 3 {
		t.Errorf("after reminders: state %s escalated %v reminders %d", got.State, got.Escalated, got.Reminders)
	}

	e.clock.Advance(14 * time.Minute) // 60m: expired
	sweep()
	got, _ = e.svc.Get(ctx, r.ID)
	if got.State != approval.StateExpired || got.DecidedBy != approval.Actor {
		t.Errorf("after the timeout: %+v", got)
	}
	es, _ := e.store.ListAudit(ctx, day2.AuditFilter{Target: "approval/" + r.ID})
	var actions []string
	for _, a := range es {
		actions = append(actions, a.Action+" by "+a.Actor)
	}
	if strings.Join(actions, ", ") != "approval.request by invoice-agent, approval.escalate by day2, approval.expire by day2" {
		t.Errorf("audit: %v", actions)
	}
	if _, err := e.svc.Decide(ctx, mia, r.ID, approval.DecisionApprove, ""); day2.ErrorCode(err) != day2.EConflict || !strings.Contains(err.Error(), "expired at") {
		t.Errorf("deciding an expired request: %v", err)
	}
	if evs := e.eventTypes(); evs[len(evs)-1] != "approval.decided/" {
		t.Errorf("no decided event for the expiry: %v", evs)
	}
}

func TestExpiredBeforeTheSweeper(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	r, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	_, err = e.svc.Decide(ctx, mia, r.ID, approval.DecisionApprove, "")
	if day2.ErrorCode(err) != day2.EConflict || !strings.Contains(err.Error(), "expired at "+r.ExpiresAt.Format(time.RFC3339)) {
		t.Fatalf("deciding past the expiry, no sweep: %v", err)
	}
	got, _ := e.svc.Get(ctx, r.ID)
	if got.State != approval.StateExpired {
		t.Errorf("state %s, want expired", got.State)
	}
}

func TestWait(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	r, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	// A short wait returns the pending request and leaves its lifetime alone.
	got, err := e.svc.Wait(ctx, r.ID, 20*time.Millisecond)
	if err != nil || got.State != approval.StatePending || !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("short wait: %v %+v", err, got)
	}
	// A decision in this process wakes the waiter. This service polls the
	// store once an hour, so only the wake-up can end the wait in time.
	woken := newEnv(t, func(o *approval.Options) { o.PollInterval = time.Hour })
	r, _, err = woken.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan approval.Request)
	go func() {
		got, err := woken.svc.Wait(ctx, r.ID, approval.MaxWait)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	for deadline := time.Now().Add(10 * time.Second); woken.svc.Waiting(r.ID) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not start watching")
		}
	}
	if _, err := woken.svc.Decide(ctx, mia, r.ID, approval.DecisionApprove, "fine"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.State != approval.StateApproved {
			t.Errorf("the waiter got %s", got.State)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not wake on the decision")
	}

	// The clock passing the expiry ends a wait without any sweeper or event.
	r2, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		got, err := e.svc.Wait(ctx, r2.ID, approval.MaxWait)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	e.clock.Advance(2 * time.Hour)
	select {
	case got := <-done:
		if got.State != approval.StateExpired {
			t.Errorf("the waiter got %s, want expired", got.State)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter did not see the expiry")
	}
	if _, err := e.svc.Wait(ctx, "ap_nope", time.Second); day2.ErrorCode(err) != day2.ENotFound {
		t.Errorf("waiting for an unknown request: %v", err)
	}
}

func TestWaitSeesOtherReplicas(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	// A second service on the same store is another replica.
	other, err := approval.NewService(approval.Options{Records: e.store, Policies: []approval.Policy{policy(t)}, Clock: e.clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := e.svc.Create(ctx, agent, payment(900, ""))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan approval.Request)
	go func() {
		got, _ := e.svc.Wait(ctx, r.ID, approval.MaxWait)
		done <- got
	}()
	if _, err := other.Decide(ctx, mia, r.ID, approval.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got.State != approval.StateApproved {
			t.Errorf("state %s", got.State)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a decision by another replica was not seen")
	}
}

func TestForceManual(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	if on, err := e.svc.ForceManual(ctx, "invoice-agent"); err != nil || on {
		t.Fatalf("default: %v %v", on, err)
	}
	if err := e.svc.SetForceManual(ctx, "mia", "invoice-agent", true, ""); day2.ErrorCode(err) != day2.EInvalid {
		t.Errorf("a switch without a reason: %v", err)
	}
	if err := e.svc.SetForceManual(ctx, "mia", "invoice-agent", true, "INC-42 wrong payouts"); err != nil {
		t.Fatal(err)
	}
	r1, _, err := e.svc.Create(ctx, agent, payment(100, ""))
	if err != nil {
		t.Fatal(err)
	}
	if r1.State != approval.StatePending || !r1.ForceManual || !strings.Contains(r1.Reason, "force manual is on for invoice-agent") {
		t.Errorf("confident Tier 1 under force manual: %s %q", r1.State, r1.Reason)
	}
	r0, _, err := e.svc.Create(ctx, agent, approval.CreateInput{Service: "invoice-agent", Action: "lookup_vendor"})
	if err != nil || r0.State != approval.StateApproved {
		t.Errorf("Tier 0 under force manual: %v %s", err, r0.State)
	}
	sws, err := e.svc.Switches(ctx)
	if err != nil || len(sws) != 1 || !sws[0].On || sws[0].Actor != "mia" || sws[0].Source != "switch" {
		t.Errorf("switches: %+v %v", sws, err)
	}
	if err := e.svc.SetForceManual(ctx, "mia", "invoice-agent", false, "stable again"); err != nil {
		t.Fatal(err)
	}
	r1, _, _ = e.svc.Create(ctx, agent, payment(100, ""))
	if r1.State != approval.StateApproved {
		t.Errorf("after turning it off: %s", r1.State)
	}
	es, _ := e.store.ListAudit(ctx, day2.AuditFilter{Action: "approval.force_manual"})
	if len(es) != 2 || es[0].Reason != "INC-42 wrong payouts" || es[1].Target != "service/invoice-agent" || len(es[1].Before) == 0 {
		t.Errorf("audit: %+v", es)
	}

	// The policy's force_manual is the default until someone sets the switch.
	p := policy(t)
	p.ForceManual = true
	if err := e.svc.SetPolicies([]approval.Policy{p, {Service: "x", Approvers: approval.Approvers{Tier1: approval.ApproverSet{Groups: []string{"ops"}}, Tier2: approval.ApproverSet{Groups: []string{"manager"}}}, ForceManual: true}}); err != nil {
		t.Fatal(err)
	}
	if on, _ := e.svc.ForceManual(ctx, "x"); !on {
		t.Error("the policy's force_manual is not the default")
	}
	if on, _ := e.svc.ForceManual(ctx, "invoice-agent"); on {
		t.Error("the switch set off did not win over the policy's default")
	}
}

func TestSetPoliciesRefusesBadOnes(t *testing.T) {
	e := newEnv(t, nil)
	p := policy(t)
	err := e.svc.SetPolicies([]approval.Policy{p, p})
	if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), "both for service invoice-agent") {
		t.Errorf("two policies for one service: %v", err)
	}
	bad := p
	bad.Approvers.Tier2 = approval.ApproverSet{Groups: []string{"ops"}}
	if err := e.svc.SetPolicies([]approval.Policy{bad}); err == nil || !strings.Contains(err.Error(), "Tier 2 needs the manager group") {
		t.Errorf("tier 2 without managers: %v", err)
	}
	if len(e.svc.Policies()) != 1 || e.svc.Policies()[0].Approvers.Tier2.Groups[0] != "manager" {
		t.Error("a refused reload replaced the policies")
	}
}

func TestListAndStats(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	start := e.clock.Now()
	var pending []approval.Request
	for _, v := range []float64{900, 1000, 800} {
		e.clock.Advance(time.Minute)
		r, _, err := e.svc.Create(ctx, agent, payment(v, ""))
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, r)
	}
	if _, _, err := e.svc.Create(ctx, agent, approval.CreateInput{Service: "invoice-agent", Action: "lookup_vendor"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	if _, err := e.svc.Decide(ctx, mia, pending[1].ID, approval.DecisionApprove, ""); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * time.Minute)
	if _, err := e.svc.Decide(ctx, mia, pending[2].ID, approval.DecisionReject, ""); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.List(ctx, approval.Filter{State: approval.StatePending})
	if err != nil || len(list) != 1 || list[0].ID != pending[0].ID {
		t.Fatalf("pending list: %v %v", list, err)
	}
	all, err := e.svc.List(ctx, approval.Filter{Service: "invoice-agent"})
	if err != nil || len(all) != 4 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	if _, err := e.svc.List(ctx, approval.Filter{State: "open"}); day2.ErrorCode(err) != day2.EInvalid {
		t.Errorf("an unknown state: %v", err)
	}

	st, err := e.svc.Stats(ctx, "invoice-agent", start)
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != 4 || st.ByState["pending"] != 1 || st.ByState["approved"] != 2 || st.ByState["rejected"] != 1 ||
		st.ByOutcome["auto_approved"] != 1 || st.ByOutcome["approved"] != 1 || st.AutoShare != 0.25 || st.ByTier["2"] != 3 {
		t.Errorf("stats: %+v", st)
	}
	// pending[1] was created at +2m and approved at +13m, pending[2] created
	// at +3m and rejected at +23m; the auto-approval does not count.
	if st.LatencyP50 == nil || st.LatencyP50.D() != 11*time.Minute || st.LatencyP95.D() != 20*time.Minute {
		t.Errorf("latency p50 %v p95 %v, want 11m and 20m", st.LatencyP50, st.LatencyP95)
	}
}

func TestCallback(t *testing.T) {
	type hit struct {
		body []byte
		h    http.Header
	}
	hits := make(chan hit, 10)
	fails := 1
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 { // the first attempt fails; the retry must come
			fails--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		hits <- hit{b, r.Header.Clone()}
	}))
	defer srv.Close()
	e := newEnv(t, func(o *approval.Options) { o.CallbackSecret = "s3cret" })
	ctx := context.Background()
	in := payment(900, "")
	in.CallbackURL = srv.URL + "/cb"
	r, _, err := e.svc.Create(ctx, agent, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Decide(ctx, mia, r.ID, approval.DecisionApprove, "go"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-hits:
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(got.body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); got.h.Get("X-Day2-Signature-256") != want {
			t.Errorf("signature %q, want %q", got.h.Get("X-Day2-Signature-256"), want)
		}
		if got.h.Get("X-Day2-Timestamp") == "" {
			t.Error("no X-Day2-Timestamp")
		}
		var body approval.Request
		if err := json.Unmarshal(got.body, &body); err != nil || body.ID != r.ID || body.State != approval.StateApproved {
			t.Errorf("callback body %s: %v", got.body, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no callback")
	}
}

package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/day2ops/day2/internal/testclock"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/internal/pgtest"
	"github.com/day2ops/day2/postgres"
	"github.com/day2ops/day2/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestApprovalsSQLite(t *testing.T) {
	runApprovalSuite(t, func(t *testing.T) day2.RecordStore {
		st, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

func TestApprovalsPostgres(t *testing.T) {
	runApprovalSuite(t, func(t *testing.T) day2.RecordStore {
		st, err := postgres.Open(context.Background(), pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}

// approvalTokens are the tokens of the suite's auth file; each name is also the token's owner.
var approvalTokens = map[string]string{
	"invoice-agent": "agent-token-0123456789abcdef",
	"olivia":        "olivia-token-0123456789abcdef", // ops: Tier 1 only
	"mia":           "mia-token-0123456789abcdef",    // manager
	"max":           "max-token-0123456789abcdef",    // manager
	"alice":         "alice-token-0123456789abcdef",  // manager who can also ask (operate)
	"reader":        "reader-token-0123456789abcdef",
}

const approvalAuthFile = `tokens:
  - {name: invoice-agent, token: "agent-token-0123456789abcdef", scopes: [ingest]}
  - {name: olivia, token: "olivia-token-0123456789abcdef", scopes: [read, approve], groups: [ops]}
  - {name: mia, token: "mia-token-0123456789abcdef", scopes: [read, approve], groups: [manager]}
  - {name: max, token: "max-token-0123456789abcdef", scopes: [read, approve], groups: [manager]}
  - {name: alice, token: "alice-token-0123456789abcdef", scopes: [read, operate, approve], groups: [ops, manager]}
  - {name: reader, token: "reader-token-0123456789abcdef", scopes: [read]}
`

const approvalPolicyDoc = `
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
`

type approvalClock = testclock.Clock

type approvalEnv struct {
	t     *testing.T
	url   string
	svc   *approval.Service
	store day2.RecordStore
	clock *approvalClock
}

func newApprovalEnv(t *testing.T, store day2.RecordStore) *approvalEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(path, []byte(approvalAuthFile), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p approval.Policy
	if err := yaml.Unmarshal([]byte(approvalPolicyDoc), &p); err != nil {
		t.Fatal(err)
	}
	c := testclock.New(time.Now().UTC().Truncate(time.Second))
	log := slog.New(slog.DiscardHandler)
	svc, err := approval.NewService(approval.Options{Records: store, Policies: []approval.Policy{p}, Clock: c.Now,
		Logger: log, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Auth: a, Logger: log})
	httpapi.RegisterApprovals(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &approvalEnv{t: t, url: ts.URL, svc: svc, store: store, clock: c}
}

// call sends a request as who and decodes a JSON answer into out (when not nil);
// it returns the status and the raw body.
func (e *approvalEnv) call(who, method, path string, body any, out any) (int, string) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			rd = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				e.t.Fatal(err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+approvalTokens[who])
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Errorf("%s %s: %v", method, path, err)
		return 0, ""
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			e.t.Errorf("%s %s: answer %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, string(raw)
}

func (e *approvalEnv) ask(who string, body map[string]any) approval.Request {
	e.t.Helper()
	var r approval.Request
	status, raw := e.call(who, "POST", "/api/v1/approvals", body, &r)
	if status != http.StatusCreated {
		e.t.Fatalf("POST /api/v1/approvals: %d %s", status, raw)
	}
	return r
}

func approvalPay(v float64) map[string]any {
	return map[string]any{"service": "invoice-agent", "environment": "prod", "action": "pay_invoice", "task_id": "task-1",
		"amount": v, "context": map[string]any{"prompt": "pay invoice 42 of ACME", "facts": []string{"ACME is a known vendor"},
			"tool_plan": []string{"erp.pay"}, "side_effects": "money leaves the account", "confidence": 0.95, "in_policy": true}}
}

type approvalAuditLister interface {
	ListAudit(ctx context.Context, f day2.AuditFilter) ([]day2.AuditEntry, error)
}

func (e *approvalEnv) auditActions(id string) []string {
	e.t.Helper()
	es, err := e.store.(approvalAuditLister).ListAudit(context.Background(), day2.AuditFilter{Target: "approval/" + id})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, a := range es {
		out = append(out, a.Action)
	}
	return out
}

func runApprovalSuite(t *testing.T, newStore func(t *testing.T) day2.RecordStore) {
	t.Run("Tier 0 is approved at once and audited", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		r := e.ask("invoice-agent", map[string]any{"service": "invoice-agent", "action": "lookup_vendor", "entity_type": "vendor"})
		if r.State != "approved" || !r.AutoApproved || r.Tier != 0 || r.ID == "" || !strings.Contains(r.Reason, "Tier 0") {
			t.Errorf("answer %+v", r)
		}
		if got := e.auditActions(r.ID); len(got) != 1 || got[0] != "approval.request" {
			t.Errorf("audit %v", got)
		}
	})

	t.Run("Tier 2 waits until a manager approves", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		r := e.ask("invoice-agent", approvalPay(900))
		if r.State != "pending" || r.Tier != 2 || !r.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
			t.Fatalf("answer %+v", r)
		}
		var got approval.Request
		if status, raw := e.call("invoice-agent", "GET", "/api/v1/approvals/"+r.ID, nil, &got); status != 200 || got.State != "pending" {
			t.Fatalf("the agent polling: %d %s", status, raw)
		}
		if got.Context["prompt"] != "pay invoice 42 of ACME" || got.Context["side_effects"] != "money leaves the account" {
			t.Errorf("the approver does not see the full context: %v", got.Context)
		}
		status, raw := e.call("olivia", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "approve"}, nil)
		if status != http.StatusForbidden || !strings.Contains(raw, "olivia is not an approver of Tier 2 requests of invoice-agent: needs group manager") {
			t.Errorf("an ops approver on Tier 2: %d %s", status, raw)
		}
		if status, raw := e.call("invoice-agent", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "approve"}, nil); status != http.StatusForbidden {
			t.Errorf("the agent's ingest token deciding: %d %s", status, raw)
		}
		var list struct{ Approvals []approval.Request }
		if status, raw := e.call("reader", "GET", "/api/v1/approvals?state=pending&service=invoice-agent", nil, &list); status != 200 || len(list.Approvals) != 1 {
			t.Errorf("pending list: %d %s", status, raw)
		}
		var decided approval.Request
		status, raw = e.call("mia", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "approve", "comment": "invoice checked"}, &decided)
		if status != 200 || decided.State != "approved" || decided.DecidedBy != "mia" || decided.Comment != "invoice checked" {
			t.Fatalf("a manager approving: %d %s", status, raw)
		}
		if status, _ := e.call("invoice-agent", "GET", "/api/v1/approvals/"+r.ID+"?wait=55s", nil, &got); status != 200 || got.State != "approved" {
			t.Errorf("the agent's poll after the decision: %d %s", status, got.State)
		}
		if status, raw := e.call("max", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "reject"}, nil); status != http.StatusConflict || !strings.Contains(raw, "already approved by mia") {
			t.Errorf("deciding again: %d %s", status, raw)
		}
		if got := e.auditActions(r.ID); strings.Join(got, " ") != "approval.request approval.approve" {
			t.Errorf("audit %v", got)
		}
	})

	t.Run("self-approval is refused", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		r := e.ask("alice", approvalPay(900))
		if r.Requester != "alice" {
			t.Errorf("requester %q, want the token's name", r.Requester)
		}
		status, raw := e.call("alice", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "approve"}, nil)
		if status != http.StatusForbidden || !strings.Contains(raw, "two-person rule") {
			t.Errorf("alice approving her own request: %d %s", status, raw)
		}
	})

	t.Run("scopes and bad input", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		for _, tc := range []struct {
			who, method, path string
			body              any
			status            int
			msg               string
		}{
			{"reader", "POST", "/api/v1/approvals", approvalPay(1), 403, "one of ingest, operate"},
			{"", "POST", "/api/v1/approvals", approvalPay(1), 401, "token"},
			{"invoice-agent", "GET", "/api/v1/approvals", nil, 403, `lacks the \"read\" scope`},
			{"invoice-agent", "POST", "/api/v1/approvals", `{"service": "invoice-agent", "action": "x", "amout": 5}`, 400, "unknown field"},
			{"invoice-agent", "POST", "/api/v1/approvals", `{"service": "invoice-agent"}`, 400, "action is missing"},
			{"invoice-agent", "POST", "/api/v1/approvals", ``, 400, "body is empty"},
			{"invoice-agent", "GET", "/api/v1/approvals/ap_missing", nil, 404, "no approval request"},
			{"reader", "GET", "/api/v1/approvals/ap_missing?wait=soon", nil, 400, "wait="},
			{"reader", "GET", "/api/v1/approvals?limit=5000", nil, 400, "limit"},
			{"reader", "GET", "/api/v1/approvals?state=open", nil, 400, "state"},
			{"mia", "POST", "/api/v1/approvals/ap_missing/decision", map[string]string{"decision": "approve"}, 404, "no approval request"},
			{"reader", "POST", "/api/v1/services/invoice-agent/force-manual", map[string]any{"on": true, "reason": "x"}, 403, "operate"},
			{"alice", "POST", "/api/v1/services/invoice-agent/force-manual", map[string]any{"on": true}, 400, "reason is missing"},
		} {
			status, raw := e.call(tc.who, tc.method, tc.path, tc.body, nil)
			if status != tc.status || !strings.Contains(raw, tc.msg) {
				t.Errorf("%s %s as %q: %d %s, want %d containing %q", tc.method, tc.path, tc.who, status, raw, tc.status, tc.msg)
			}
		}
	})

	t.Run("expiry with a fake clock ends the long poll", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		r := e.ask("invoice-agent", approvalPay(900))
		done := make(chan approval.Request, 1)
		go func() {
			var got approval.Request
			status, raw := e.call("invoice-agent", "GET", "/api/v1/approvals/"+r.ID+"?wait=55s", nil, &got)
			if status != 200 {
				t.Errorf("long poll: %d %s", status, raw)
			}
			done <- got
		}()
		e.clock.Advance(59 * time.Minute)
		e.clock.Advance(time.Minute)
		select {
		case got := <-done:
			if got.State != "expired" {
				t.Errorf("the long poll returned %s, want expired", got.State)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the long poll did not return the expiry")
		}
		status, raw := e.call("mia", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "approve"}, nil)
		if status != http.StatusConflict || !strings.Contains(raw, "expired at") {
			t.Errorf("deciding after the expiry: %d %s", status, raw)
		}
		if got := e.auditActions(r.ID); strings.Join(got, " ") != "approval.request approval.expire" {
			t.Errorf("audit %v", got)
		}

		// The sweeper expires requests nobody polls.
		r2 := e.ask("invoice-agent", approvalPay(700))
		e.clock.Advance(2 * time.Hour)
		if err := e.svc.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		var list struct{ Approvals []approval.Request }
		e.call("reader", "GET", "/api/v1/approvals?state=expired", nil, &list)
		if len(list.Approvals) != 2 || list.Approvals[0].ID != r2.ID {
			t.Errorf("expired list: %+v", list.Approvals)
		}
	})

	t.Run("a short poll does not shorten the request's life", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		r := e.ask("invoice-agent", approvalPay(900))
		var got approval.Request
		if status, _ := e.call("invoice-agent", "GET", "/api/v1/approvals/"+r.ID+"?wait=50ms", nil, &got); status != 200 || got.State != "pending" || !got.ExpiresAt.Equal(r.ExpiresAt) {
			t.Errorf("after a short poll: %d %+v", status, got)
		}
	})

	t.Run("an idempotent re-request returns the same request", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		body := approvalPay(900)
		body["idempotency_key"] = "invoice-42"
		first := e.ask("invoice-agent", body)
		var again approval.Request
		status, raw := e.call("invoice-agent", "POST", "/api/v1/approvals", body, &again)
		if status != http.StatusOK || again.ID != first.ID {
			t.Errorf("repeat: %d %s, want 200 with %s", status, raw, first.ID)
		}
		if got := e.auditActions(first.ID); len(got) != 1 {
			t.Errorf("the repeat was audited again: %v", got)
		}
	})

	t.Run("force manual over HTTP", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		var sw approval.Switch
		status, raw := e.call("alice", "POST", "/api/v1/services/invoice-agent/force-manual", map[string]any{"on": true, "reason": "INC-7"}, &sw)
		if status != 200 || !sw.On || sw.Actor != "alice" {
			t.Fatalf("switch on: %d %s", status, raw)
		}
		r := e.ask("invoice-agent", approvalPay(100))
		if r.State != "pending" || r.Tier != 1 {
			t.Errorf("a confident Tier 1 request under force manual: %s", r.State)
		}
		var sws struct{ Switches []approval.Switch }
		if status, raw := e.call("reader", "GET", "/api/v1/approvals/switches", nil, &sws); status != 200 || len(sws.Switches) != 1 || !sws.Switches[0].On {
			t.Errorf("switches: %d %s", status, raw)
		}
		var st approval.Stats
		if status, raw := e.call("reader", "GET", "/api/v1/approvals/stats?service=invoice-agent&since=1h", nil, &st); status != 200 || st.Total != 1 || st.ByState["pending"] != 1 {
			t.Errorf("stats: %d %s", status, raw)
		}
	})

	t.Run("a decision racing the expiry ends in exactly one final state", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		approved, expired := 0, 0
		for round := range 40 {
			r := e.ask("invoice-agent", approvalPay(900))
			var wg sync.WaitGroup
			var status int
			wg.Go(func() {
				status, _ = e.call("mia", "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": "approve"}, nil)
			})
			wg.Go(func() {
				// Sweep a few times and let the clock pass the expiry
				// between two sweeps, at a point that moves from round to
				// round, so that the decision lands before, during and
				// after the expiry.
				for i := range 8 {
					if i == round%8 {
						e.clock.Advance(time.Hour)
					}
					if err := e.svc.Sweep(context.Background()); err != nil {
						t.Error(err)
					}
				}
			})
			wg.Wait()
			var got approval.Request
			e.call("reader", "GET", "/api/v1/approvals/"+r.ID, nil, &got)
			audit := e.auditActions(r.ID)
			switch {
			case status == 200 && got.State == "approved" && strings.Join(audit, " ") == "approval.request approval.approve":
				approved++
			case status == 409 && got.State == "expired" && strings.Join(audit, " ") == "approval.request approval.expire":
				expired++
			default:
				t.Fatalf("round %d: decision %d, state %s, audit %v: not exactly one final state", round, status, got.State, audit)
			}
		}
		t.Logf("approved %d, expired %d", approved, expired)
	})

	t.Run("two concurrent decisions leave one winner", func(t *testing.T) {
		e := newApprovalEnv(t, newStore(t))
		for round := range 15 {
			r := e.ask("invoice-agent", approvalPay(900))
			var wg sync.WaitGroup
			statuses := map[string]int{}
			var mu sync.Mutex
			for who, decision := range map[string]string{"mia": "approve", "max": "reject"} {
				wg.Go(func() {
					status, _ := e.call(who, "POST", "/api/v1/approvals/"+r.ID+"/decision", map[string]string{"decision": decision}, nil)
					mu.Lock()
					statuses[who] = status
					mu.Unlock()
				})
			}
			wg.Wait()
			var got approval.Request
			e.call("reader", "GET", "/api/v1/approvals/"+r.ID, nil, &got)
			winner := map[string]string{"approved": "mia", "rejected": "max"}[got.State]
			loser := map[string]string{"mia": "max", "max": "mia"}[winner]
			if winner == "" || statuses[winner] != 200 || statuses[loser] != 409 || got.DecidedBy != winner {
				t.Fatalf("round %d: statuses %v, state %s by %s", round, statuses, got.State, got.DecidedBy)
			}
			if audit := e.auditActions(r.ID); len(audit) != 2 {
				t.Fatalf("round %d: audit %v, want the request and one decision", round, audit)
			}
		}
	})
}

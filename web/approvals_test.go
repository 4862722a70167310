package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/day2ops/day2/internal/testclock"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/app"
)

// Tokens of the approvals and incidents tests. Dave and carol are managers;
// erin approves Tier 1 only (group ops); the fleet's token asks for approvals
// and sends alerts.
const (
	opsReadToken  = "ops-read-token-0123456789abcdef"
	opsFleetToken = "ops-fleet-token-0123456789abcdef"
	opsCarolToken = "ops-carol-token-0123456789abcdef"
	opsDaveToken  = "ops-dave-token-0123456789abcdef"
	opsErinToken  = "ops-erin-token-0123456789abcdef"
)

const opsAuthFile = `tokens:
  - name: alice
    token: "` + opsReadToken + `"
    scopes: [read]
  - name: fleet
    token: "` + opsFleetToken + `"
    scopes: [ingest]
  - name: carol
    token: "` + opsCarolToken + `"
    scopes: [read, operate, approve]
    groups: [manager]
  - name: dave
    token: "` + opsDaveToken + `"
    scopes: [read, approve]
    groups: [manager]
  - name: erin
    token: "` + opsErinToken + `"
    scopes: [read, approve]
    groups: [ops]
`

// opsPolicies give the two services different timeouts, so that the queue's
// order by expiry differs from the order the requests were made in.
const opsPolicies = `apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: invoices}
spec:
  service: invoice-agent
  rules:
    - {action: pay_invoice, tier: 2, when: "amount > 500"}
    - {action: pay_invoice, tier: 1}
  approvers:
    tier1: {groups: [ops, manager]}
    tier2: {groups: [manager]}
  timeout: 1h
  auto_approve: {min_confidence: 0.9}
---
apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: triage}
spec:
  service: support-triage
  rules:
    - {action: refund, tier: 1}
  approvers:
    tier1: {groups: [ops, manager]}
    tier2: {groups: [manager]}
  timeout: 20m
`

type fakeClock = testclock.Clock

// opsApp is a running day2 with the approval policies and tokens above and a
// fake clock.
type opsApp struct {
	*app.App
	base  string
	clock *fakeClock
}

func startOps(t *testing.T) *opsApp {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.MkdirAll(cfg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "approvals.yaml"), []byte(opsPolicies), 0o644); err != nil {
		t.Fatal(err)
	}
	authFile := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(authFile, []byte(opsAuthFile), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(time.Now().UTC().Truncate(time.Minute))
	a, err := app.New(context.Background(), app.Options{HTTPAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), ConfigDir: cfg,
		AuthFile: authFile, EvalInterval: time.Hour, Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	return &opsApp{App: a, base: a.HTTPURL(), clock: clock}
}

// api calls the API with a bearer token and decodes the JSON answer into out
// (when not nil); it fails the test unless the status is want.
func (o *opsApp) api(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, o.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// page loads a dashboard page as the holder of token (the login cookie) and
// returns its status and body.
func (o *opsApp) page(t *testing.T, token, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", o.base+path, nil)
	req.AddCookie(&http.Cookie{Name: "day2_token", Value: token})
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// submit posts a dashboard form as the holder of token, as a browser on
// day2's own page would (same-origin), with extra headers, and returns the
// status and where it redirects to.
func (o *opsApp) submit(t *testing.T, token, path string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", o.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", o.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	req.AddCookie(&http.Cookie{Name: "day2_token", Value: token})
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// follow submits a form that must redirect (303) and returns the page it
// redirects to, with the flash message.
func (o *opsApp) follow(t *testing.T, token, path string, form url.Values) string {
	t.Helper()
	status, loc := o.submit(t, token, path, form, nil)
	if status != http.StatusSeeOther || loc == "" {
		t.Fatalf("POST %s: status %d, Location %q; want 303", path, status, loc)
	}
	code, body := o.page(t, token, loc)
	if code != 200 {
		t.Fatalf("GET %s after POST %s: status %d\n%s", loc, path, code, body)
	}
	return body
}

// apiApproval is an approval request as the API shows it.
type apiApproval struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	Tier         int       `json:"tier"`
	AutoApproved bool      `json:"auto_approved"`
	ExpiresAt    time.Time `json:"expires_at"`
	DecidedBy    string    `json:"decided_by"`
	Comment      string    `json:"comment"`
}

func (o *opsApp) ask(t *testing.T, token string, body map[string]any) apiApproval {
	t.Helper()
	var r apiApproval
	o.api(t, "POST", "/api/v1/approvals", token, body, http.StatusCreated, &r)
	return r
}

func (o *opsApp) approvalState(t *testing.T, id string) apiApproval {
	t.Helper()
	var r apiApproval
	o.api(t, "GET", "/api/v1/approvals/"+id, opsReadToken, nil, http.StatusOK, &r)
	return r
}

// order returns the positions in body of each marker, failing when one is
// missing.
func order(t *testing.T, body string, markers ...string) []int {
	t.Helper()
	var pos []int
	for _, m := range markers {
		i := strings.Index(body, m)
		if i < 0 {
			t.Fatalf("the page lacks %s", m)
		}
		pos = append(pos, i)
	}
	return pos
}

// section returns the part of body from the element with id to the end of
// its section.
func section(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("the page has no #%s", id)
	}
	rest := body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestApprovalsQueue(t *testing.T) {
	o := startOps(t)
	ctx := map[string]any{
		"prompt":       "Pay invoice INV-7 of ACME for the October delivery.",
		"facts":        map[string]any{"vendor": "ACME GmbH", "invoice": "INV-7", "due": "2026-11-30"},
		"tool_plan":    []any{map[string]any{"tool": "erp.pay", "args": map[string]any{"invoice": "INV-7"}}, "email the vendor"},
		"side_effects": []any{"EUR 1,200 leave the company account"},
		"confidence":   0.72,
		"in_policy":    false,
		"ticket":       "SUP-1234",
		"vendor_note":  "<script>alert(1)</script>",
	}
	// Made in this order; the queue must show them by expiry: big (1h),
	// refund (20m, asked 2 min later), small (1h, 3 min later), self (1h, 4
	// min later).
	big := o.ask(t, opsFleetToken, map[string]any{"service": "invoice-agent", "action": "pay_invoice", "amount": 1200, "context": ctx,
		"task_id": "0123456789abcdef0123456789abcdef", "requester": "invoice-bot"})
	o.clock.Advance(2 * time.Minute)
	refund := o.ask(t, opsFleetToken, map[string]any{"service": "support-triage", "action": "refund", "amount": 40,
		"context": map[string]any{"confidence": 0.5}})
	o.clock.Advance(time.Minute)
	small := o.ask(t, opsFleetToken, map[string]any{"service": "invoice-agent", "action": "pay_invoice", "amount": 100,
		"context": map[string]any{"confidence": 0.5, "in_policy": true}})
	auto := o.ask(t, opsFleetToken, map[string]any{"service": "invoice-agent", "action": "pay_invoice", "amount": 50,
		"context": map[string]any{"confidence": 0.95, "in_policy": true}})
	o.clock.Advance(time.Minute)
	self := o.ask(t, opsCarolToken, map[string]any{"service": "invoice-agent", "action": "pay_invoice", "amount": 900})
	if big.Tier != 2 || refund.Tier != 1 || small.Tier != 1 || !auto.AutoApproved || self.Tier != 2 {
		t.Fatalf("the policies gave big %+v, refund %+v, small %+v, auto %+v, self %+v", big, refund, small, auto, self)
	}

	t.Run("the queue lists pending requests soonest to expire first", func(t *testing.T) {
		status, body := o.page(t, opsReadToken, "/approvals")
		if status != 200 {
			t.Fatalf("GET /approvals: %d\n%s", status, body)
		}
		queue := section(t, body, "h-queue")
		pos := order(t, queue, `data-approval="`+refund.ID+`"`, `data-approval="`+big.ID+`"`, `data-approval="`+small.ID+`"`, `data-approval="`+self.ID+`"`)
		for i := 1; i < len(pos); i++ {
			if pos[i] < pos[i-1] {
				t.Errorf("queue order: want refund, big, small, self (by expiry); positions %v", pos)
				break
			}
		}
		if strings.Contains(queue, auto.ID) {
			t.Errorf("the auto-approved request is in the queue")
		}
		for _, want := range []string{"in 18m", "in 56m", "Tier 2", "1,200", "72%", "invoice-bot", "4 requests"} {
			if !strings.Contains(queue, want) {
				t.Errorf("the queue lacks %q", want)
			}
		}
		// Each row carries the request's context, to expand in place.
		i := strings.Index(queue, `data-context="`+big.ID+`"`)
		if i < 0 {
			t.Fatal("the queue has no context row for the big payment")
		}
		row := queue[i:]
		row = row[:strings.Index(row, "</details>")]
		for _, want := range []string{"Pay invoice INV-7 of ACME for the October delivery.", "ACME GmbH", "erp.pay", "EUR 1,200 leave",
			"SUP-1234", "&lt;script&gt;", "Why Tier 2:"} {
			if !strings.Contains(row, want) {
				t.Errorf("the queue's context of the big payment lacks %q", want)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Error("the context's HTML reached the queue unescaped")
		}
		switches := section(t, body, "h-switches")
		for _, svc := range []string{"invoice-agent", "support-triage"} {
			if !strings.Contains(switches, `data-switch="`+svc+`"`) {
				t.Errorf("the force-manual switches lack %s", svc)
			}
		}
	})

	t.Run("a request's page shows its full context, safely", func(t *testing.T) {
		status, body := o.page(t, opsReadToken, "/approvals/"+big.ID)
		if status != 200 {
			t.Fatalf("GET /approvals/%s: %d\n%s", big.ID, status, body)
		}
		for _, want := range []string{
			"Pay invoice INV-7 of ACME for the October delivery.", // prompt
			"ACME GmbH", "2026-11-30", // facts
			`erp.pay`, "email the vendor", // tool plan
			"EUR 1,200 leave the company account", // side effects
			`data-ctx="confidence"><span class="text">72%<`, `data-ctx="in_policy"><span class="text">no<`,
			`data-ctx="ticket"`, "SUP-1234", // other keys
			"&lt;script&gt;alert(1)&lt;/script&gt;",
			"Why Tier 2:", "amount &gt; 500", "<dt>Approvers</dt><dd>group manager</dd>", // tier and why, approvers
			`href="/tasks/0123456789abcdef0123456789abcdef"`, "expires in 56m", "requested",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the request page lacks %q", want)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Error("the context's HTML reached the page unescaped")
		}
	})

	t.Run("a read-only token sees no buttons and cannot decide", func(t *testing.T) {
		_, body := o.page(t, opsReadToken, "/approvals/"+big.ID)
		if strings.Contains(body, `action="/approvals/`) || strings.Contains(body, ">Approve<") || strings.Contains(body, ">Reject<") {
			t.Error("alice (read only) is shown the decision form")
		}
		if !strings.Contains(body, "needs a token with the approve scope") {
			t.Error("the page does not say why there are no buttons")
		}
		status, _ := o.submit(t, opsReadToken, "/approvals/"+small.ID+"/decision", url.Values{"decision": {"approve"}}, nil)
		if status != http.StatusForbidden {
			t.Errorf("alice's decision: status %d, want 403", status)
		}
		if st := o.approvalState(t, small.ID).State; st != "pending" {
			t.Errorf("after alice's post the request is %s", st)
		}
	})

	t.Run("a cross-origin post is refused", func(t *testing.T) {
		status, _ := o.submit(t, opsDaveToken, "/approvals/"+small.ID+"/decision", url.Values{"decision": {"approve"}},
			http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}})
		if status != http.StatusForbidden {
			t.Errorf("cross-origin decision: status %d, want 403", status)
		}
		if st := o.approvalState(t, small.ID).State; st != "pending" {
			t.Errorf("after the cross-origin post the request is %s", st)
		}
	})

	o.clock.Advance(5 * time.Minute) // people take their time: big waited 9 min, refund 7 min

	t.Run("a manager approves from the page", func(t *testing.T) {
		_, body := o.page(t, opsDaveToken, "/approvals/"+big.ID)
		if !strings.Contains(body, `action="/approvals/`+big.ID+`/decision"`) || !strings.Contains(body, `value="approve"`) {
			t.Fatal("dave (manager) is not shown the decision form")
		}
		body = o.follow(t, opsDaveToken, "/approvals/"+big.ID+"/decision", url.Values{"decision": {"approve"}, "comment": {"checked INV-7 with ACME"}})
		if !strings.Contains(body, `class="flash"`) || !strings.Contains(body, "Request approved: pay_invoice of invoice-agent.") {
			t.Error("no confirmation after approving")
		}
		if strings.Contains(body, `action="/approvals/`+big.ID+`/decision"`) {
			t.Error("the decided request still shows the decision form")
		}
		r := o.approvalState(t, big.ID)
		if r.State != "approved" || r.DecidedBy != "dave" || r.Comment != "checked INV-7 with ACME" {
			t.Errorf("the API shows %+v, want approved by dave with the comment", r)
		}
	})

	t.Run("self-approval is refused with the two-person rule", func(t *testing.T) {
		body := o.follow(t, opsCarolToken, "/approvals/"+self.ID+"/decision", url.Values{"decision": {"approve"}})
		if !strings.Contains(body, `class="flash err"`) || !strings.Contains(body, "carol may not decide approval request "+self.ID+": it asked for it itself, and the two-person rule needs someone else") {
			t.Errorf("the page does not show the two-person rule:\n%s", section(t, body, "main"))
		}
		if st := o.approvalState(t, self.ID).State; st != "pending" {
			t.Errorf("after carol's own approval the request is %s", st)
		}
	})

	t.Run("an approver of the wrong group is refused", func(t *testing.T) {
		body := o.follow(t, opsErinToken, "/approvals/"+self.ID+"/decision", url.Values{"decision": {"approve"}})
		if !strings.Contains(body, "erin is not an approver of Tier 2 requests of invoice-agent: needs group manager") {
			t.Errorf("the page does not say erin may not approve Tier 2:\n%s", section(t, body, "main"))
		}
	})

	t.Run("an ops approver rejects a Tier 1 request with a comment", func(t *testing.T) {
		body := o.follow(t, opsErinToken, "/approvals/"+refund.ID+"/decision", url.Values{"decision": {"reject"}, "comment": {"refund needs a receipt"}})
		if !strings.Contains(body, "Request rejected") || !strings.Contains(body, "refund needs a receipt") {
			t.Error("the rejected request's page lacks the outcome or the comment")
		}
		if r := o.approvalState(t, refund.ID); r.State != "rejected" || r.DecidedBy != "erin" {
			t.Errorf("the API shows %+v", r)
		}
	})

	t.Run("outcomes and latency match the API", func(t *testing.T) {
		_, body := o.page(t, opsReadToken, "/approvals")
		stats := section(t, body, "h-stats")
		var api struct {
			Total      int            `json:"total"`
			ByOutcome  map[string]int `json:"by_outcome"`
			LatencyP50 day2.Duration  `json:"latency_p50"`
			LatencyP95 day2.Duration  `json:"latency_p95"`
		}
		o.api(t, "GET", "/api/v1/approvals/stats?since=24h", opsReadToken, nil, http.StatusOK, &api)
		// big waited 9 min, refund 7 min: nearest-rank p50 7 min, p95 9 min.
		if api.Total != 5 || api.ByOutcome["auto_approved"] != 1 || api.LatencyP50.D() != 7*time.Minute || api.LatencyP95.D() != 9*time.Minute {
			t.Fatalf("API stats %+v", api)
		}
		for _, want := range []string{
			`data-stat="total">5<`, `data-stat="auto_approved">1<`, `data-stat="approved">1<`, `data-stat="rejected">1<`,
			`data-stat="pending">2<`, `data-stat="expired">0<`, `data-stat="auto_share">20.00%<`,
			`data-stat="latency_p50">7m<`, `data-stat="latency_p95">9m<`, `<svg class="obar"`,
		} {
			if strings.Count(stats, want) != 2 { // the last 24 hours and the last 7 days
				t.Errorf("the stats show %q %d times, want 2 (24h and 7d)", want, strings.Count(stats, want))
			}
		}
	})

	t.Run("the history filters on service and state in the URL", func(t *testing.T) {
		_, body := o.page(t, opsReadToken, "/approvals?state=rejected")
		hist := section(t, body, "h-hist")
		if !strings.Contains(hist, `data-history="`+refund.ID+`"`) || strings.Contains(hist, `data-history="`+big.ID+`"`) {
			t.Error("state=rejected does not show only the rejected request")
		}
		_, body = o.page(t, opsReadToken, "/approvals?service=invoice-agent&state=approved")
		hist = section(t, body, "h-hist")
		if !strings.Contains(hist, `data-history="`+big.ID+`"`) || !strings.Contains(hist, `data-history="`+auto.ID+`"`) ||
			strings.Contains(hist, refund.ID) || !strings.Contains(hist, "auto-approved") || !strings.Contains(hist, ">9m<") {
			t.Error("service=invoice-agent&state=approved does not show the two approved requests with the latency")
		}
		if queue := section(t, body, "h-queue"); strings.Contains(queue, refund.ID) {
			t.Error("the queue filtered to invoice-agent shows support-triage's request")
		}
		if status, body := o.page(t, opsReadToken, "/approvals?state=maybe"); status != 400 || !strings.Contains(body, "use pending, approved, rejected or expired") {
			t.Errorf("state=maybe: %d", status)
		}
		if status, _ := o.page(t, opsReadToken, "/approvals/ap_nope"); status != 404 {
			t.Errorf("an unknown request: %d, want 404", status)
		}
	})
}

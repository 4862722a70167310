package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/sqlite"
)

const approvalsCLIAuth = `tokens:
  - {name: invoice-agent, token: "agent-token-0123456789abcdef", scopes: [ingest]}
  - {name: olivia, token: "olivia-token-0123456789abcdef", scopes: [read, approve], groups: [ops]}
  - {name: mia, token: "mia-token-0123456789abcdef", scopes: [read, approve], groups: [manager]}
`

const approvalsCLIPolicy = `
service: invoice-agent
rules:
  - {action: pay_invoice, tier: 2, when: "amount > 500"}
  - {action: pay_invoice, tier: 1}
  - {action: lookup_vendor, tier: 0}
approvers: {tier1: {groups: [ops, manager]}, tier2: {groups: [manager]}}
timeout: 1h
auto_approve: {min_confidence: 0.9}
`

// approvalsServer starts the approval API on SQLite with an auth file.
func approvalsServer(t *testing.T) (string, *approval.Service) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auth.yaml")
	if err := os.WriteFile(path, []byte(approvalsCLIAuth), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := auth.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var p approval.Policy
	if err := yaml.Unmarshal([]byte(approvalsCLIPolicy), &p); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc, err := approval.NewService(approval.Options{Records: st, Policies: []approval.Policy{p}, Logger: log, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Auth: a, Logger: log})
	httpapi.RegisterApprovals(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, svc
}

// runApprovals runs `day2 approvals ARGS` with the token of who and returns its
// output (stdout, stderr and the error) and exit code.
func runApprovals(t *testing.T, server, who string, args ...string) (string, int) {
	t.Helper()
	root := &cobra.Command{Use: "day2", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(newApprovalsCmd())
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(append([]string{"approvals"}, args...), "--server", server, "--token", who+"-token-0123456789abcdef"))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return out.String() + err.Error(), ee.code
	}
	return out.String() + err.Error(), 2
}

func TestApprovalsCLI(t *testing.T) {
	url, svc := approvalsServer(t)
	ctx := context.Background()
	expect := func(out string, code, want int, parts ...string) {
		t.Helper()
		if code != want {
			t.Errorf("exit %d, want %d; output:\n%s", code, want, out)
		}
		for _, p := range parts {
			if !strings.Contains(out, p) {
				t.Errorf("output does not contain %q:\n%s", p, out)
			}
		}
	}

	out, code := runApprovals(t, url, "agent", "request", "--service", "invoice-agent", "--action", "lookup_vendor")
	expect(out, code, 0, "AUTO-APPROVED", "Tier 0")

	out, code = runApprovals(t, url, "agent", "request", "--service", "invoice-agent", "--action", "pay_invoice",
		"--amount", "100", "--context", "confidence=0.95", "--context", "in_policy=true")
	expect(out, code, 0, "AUTO-APPROVED", "Tier 1 auto-approved")

	// Pending without --wait is not a go-ahead.
	out, code = runApprovals(t, url, "agent", "request", "--service", "invoice-agent", "--action", "pay_invoice", "--amount", "900")
	expect(out, code, 1, "PENDING", "use --wait")

	// Still pending after a short --wait.
	out, code = runApprovals(t, url, "agent", "request", "--service", "invoice-agent", "--action", "pay_invoice", "--amount", "900",
		"--idempotency-key", "inv-7", "--wait", "300ms")
	expect(out, code, 1, "still pending after --wait 300ms")
	pending, err := svc.List(ctx, approval.Filter{State: approval.StatePending})
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending: %d %v", len(pending), err)
	}
	var inv7 approval.Request
	for _, r := range pending {
		if r.IdempotencyKey == "inv-7" {
			inv7 = r
		}
	}

	out, code = runApprovals(t, url, "mia", "list", "--state", "pending")
	expect(out, code, 0, inv7.ID, "pay_invoice", "expires in")
	out, code = runApprovals(t, url, "mia", "show", inv7.ID)
	expect(out, code, 0, "approvers: group manager", "history:", "requested")

	// A person of the wrong group is refused with the reason.
	out, code = runApprovals(t, url, "olivia", "approve", inv7.ID)
	expect(out, code, 2, "olivia is not an approver of Tier 2 requests of invoice-agent: needs group manager")

	// --wait returns as soon as a manager approves.
	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, code := runApprovals(t, url, "agent", "request", "--service", "invoice-agent", "--action", "pay_invoice",
			"--amount", "900", "--idempotency-key", "inv-8", "--wait", "1m", "--context", "prompt=pay invoice 8")
		done <- result{out, code}
	}()
	deadline := time.Now().Add(20 * time.Second)
	var inv8 approval.Request
	for inv8.ID == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // poll interval
		rs, _ := svc.List(ctx, approval.Filter{State: approval.StatePending})
		for _, r := range rs {
			if r.IdempotencyKey == "inv-8" {
				inv8 = r
			}
		}
	}
	if inv8.ID == "" {
		t.Fatal("the request with --wait never appeared")
	}
	if inv8.Context["prompt"] != "pay invoice 8" {
		t.Errorf("context %v", inv8.Context)
	}
	out, code = runApprovals(t, url, "mia", "approve", inv8.ID, "--comment", "ok")
	expect(out, code, 0, "APPROVED", "by mia: ok")
	select {
	case r := <-done:
		expect(r.out, r.code, 0, "APPROVED")
	case <-time.After(30 * time.Second):
		t.Fatal("request --wait did not return after the approval")
	}

	// A rejected request exits 1, also when asked again with its key.
	out, code = runApprovals(t, url, "mia", "reject", inv7.ID, "--comment", "duplicate invoice")
	expect(out, code, 0, "REJECTED")
	out, code = runApprovals(t, url, "agent", "request", "--service", "invoice-agent", "--action", "pay_invoice", "--amount", "900",
		"--idempotency-key", "inv-7", "--wait", "1m")
	expect(out, code, 1, inv7.ID+" was rejected")

	// Usage errors exit 2.
	out, code = runApprovals(t, url, "agent", "request", "--action", "x")
	expect(out, code, 2, "--service and --action are required")
	out, code = runApprovals(t, url, "agent", "request", "--service", "s", "--action", "x", "--context", "novalue")
	expect(out, code, 2, "key=value")
	out, code = runApprovals(t, url, "agent", "request", "--service", "s", "--action", "x", "--wait", "soon")
	expect(out, code, 2, "--wait")
}

func TestApprovalContext(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ctx.yaml")
	if err := os.WriteFile(file, []byte("prompt: pay it\nfacts: [a, b]\nconfidence: 0.5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := approvalContext(nil, file, []string{"confidence=0.8", "in_policy=true", "note=plain text", "n=[1,2]"})
	if err != nil {
		t.Fatal(err)
	}
	if m["prompt"] != "pay it" || m["confidence"] != 0.8 || m["in_policy"] != true || m["note"] != "plain text" || len(m["facts"].([]any)) != 2 {
		t.Errorf("context %#v", m)
	}
	if _, err := approvalContext(strings.NewReader("[1, 2]"), "-", nil); err == nil {
		t.Error("a list as the context was accepted")
	}
}

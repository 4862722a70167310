package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserApprovalsAndIncidents logs in as a manager who may also operate,
// approves a request from the queue, and mitigates an incident by clicking
// its force-manual lever, in headless Chromium; every page must load without
// a console error. DAY2_UPDATE_SCREENSHOTS=1 also writes the documentation's
// screenshots of these pages.
func TestBrowserApprovalsAndIncidents(t *testing.T) {
	ctx, _ := browser(t)
	dir := artifacts(t)
	docs := ""
	if os.Getenv("DAY2_UPDATE_SCREENSHOTS") == "1" {
		docs = filepath.Join("..", "docs", "img")
		if err := os.MkdirAll(docs, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	o := startOps(t)
	req := o.ask(t, opsFleetToken, map[string]any{"service": "invoice-agent", "action": "pay_invoice", "amount": 1200, "requester": "invoice-bot",
		"context": map[string]any{
			"prompt":       "Pay invoice INV-7 of ACME for the October delivery.",
			"facts":        map[string]any{"vendor": "ACME GmbH", "invoice": "INV-7", "po": "PO-991"},
			"tool_plan":    []any{map[string]any{"tool": "erp.pay", "args": map[string]any{"invoice": "INV-7", "amount": 1200}}, "email the vendor the remittance"},
			"side_effects": []any{"EUR 1,200 leave the company account"},
			"confidence":   0.72, "in_policy": false,
		}})
	o.ask(t, opsFleetToken, map[string]any{"service": "support-triage", "action": "refund", "amount": 40, "requester": "triage-bot",
		"context": map[string]any{"confidence": 0.55, "in_policy": true}})
	o.ask(t, opsFleetToken, map[string]any{"service": "invoice-agent", "action": "pay_invoice", "amount": 80, "requester": "invoice-bot",
		"context": map[string]any{"confidence": 0.97, "in_policy": true}})
	incID := o.openIncident(t, "invoice-agent", "Vendor payouts fail: 38% of erp.pay calls return 502")

	row := `tr[data-approval="` + req.ID + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(o.base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), opsCarolToken),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(row)),
		// The queue holds each request's context, opened in place.
		chromedp.Click(chromedp.CSS(`tr[data-context="`+req.ID+`"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-context="`+req.ID+`"] [data-ctx="facts"]`)),
	); err != nil {
		t.Fatalf("log in, open the queue and a request's context: %v", err)
	}
	if facts := text(t, ctx, `tr[data-context="`+req.ID+`"] [data-ctx="facts"]`); !strings.Contains(facts, "PO-991") {
		t.Errorf("the queue's facts read %q", facts)
	}
	shoot(t, ctx, dir, docs, "approvals.png")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(row+` a[href="/approvals/`+req.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#decide`)),
	); err != nil {
		t.Fatalf("open the request from the queue: %v", err)
	}
	if got := text(t, ctx, `[data-ctx="prompt"]`); got != "Pay invoice INV-7 of ACME for the October delivery." {
		t.Errorf("the prompt reads %q", got)
	}
	shoot(t, ctx, dir, docs, "approval.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#comment`), "checked INV-7 against PO-991"),
		chromedp.Click(chromedp.CSS(`#decide button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if st := text(t, ctx, `[data-state]`); st != "approved" {
		t.Errorf("after approving, the page says %q", st)
	}
	if r := o.approvalState(t, req.ID); r.State != "approved" || r.DecidedBy != "carol" || r.Comment != "checked INV-7 against PO-991" {
		t.Errorf("the API shows %+v", r)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(o.base+"/incidents"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-incident="`+incID+`"]`)),
		chromedp.Click(chromedp.CSS(`tr[data-incident="`+incID+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`#lever-force_manual`)),
	); err != nil {
		t.Fatalf("open the incident from the list: %v", err)
	}
	shoot(t, ctx, dir, docs, "incident.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#fm-reason`), "wrong payouts"),
		chromedp.Click(chromedp.CSS(`#lever-force_manual button`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)),
	); err != nil {
		t.Fatalf("pull the force-manual lever: %v", err)
	}
	if st := text(t, ctx, `[data-state]`); st != "mitigated" {
		t.Errorf("after the lever, the page says %q", st)
	}
	if tl := text(t, ctx, `#timeline tr[data-entry="mitigation"]`); !strings.Contains(tl, "carol") || !strings.Contains(tl, "forced on by carol: wrong payouts") {
		t.Errorf("the timeline's mitigation reads %q", tl)
	}
	var sw struct {
		Switches []struct {
			Service string
			On      bool
		} `json:"switches"`
	}
	o.api(t, "GET", "/api/v1/approvals/switches", opsReadToken, nil, http.StatusOK, &sw)
	for _, s := range sw.Switches {
		if s.Service == "invoice-agent" && !s.On {
			t.Error("force manual of invoice-agent is off after the lever")
		}
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/incidents/`+incID+`/postmortem"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-doc] h2`)),
	); err != nil {
		t.Fatalf("open the postmortem draft: %v", err)
	}
	if doc := text(t, ctx, `[data-doc]`); !strings.Contains(doc, "forced on by carol: wrong payouts") {
		t.Error("the postmortem draft's timeline lacks the lever")
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(o.base+"/review?period=week"),
		chromedp.WaitVisible(chromedp.CSS(`[data-doc] table`)),
	); err != nil {
		t.Fatalf("open the weekly review: %v", err)
	}
}

package demo

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// The approvals scenario's agent: invoice-agent's serving version.
var invoiceStream = Stream{Service: "invoice-agent", Version: "2.3.1", Environment: "prod"}

// approvalCase is one invoice the agent processes, the action it asks
// approval for, and what the simulated approver does with the request.
type approvalCase struct {
	invoice    string
	vendor     string
	action     string // post_invoice or lookup_vendor
	amount     float64
	confidence float64
	inPolicy   bool
	// riskTier, when above 0, is the tier the agent asks for itself.
	riskTier int
	facts    []string
	// decision is what the approver decides ("approve", "reject"), or ""
	// when nobody looks at the request and it expires.
	decision string
	comment  string
}

// approvalCases cover every tier of invoice-agent's policy (approvals.yaml):
// Tier 0 approved at once, Tier 1 auto-approved when confident and in
// policy, Tier 1 and Tier 2 waiting for a person, who approves, rejects or
// never comes (expiry denies).
var approvalCases = []approvalCase{
	{invoice: "VEN-311", vendor: "Fabrikam GmbH", action: "lookup_vendor", confidence: 0.99, inPolicy: true,
		facts: []string{"vendor lookups are read-only"}},
	{invoice: "INV-2038", vendor: "Northwind Traders", action: "post_invoice", amount: 180, confidence: 0.97, inPolicy: true,
		facts: []string{"matches PO-7719 line for line", "vendor paid 14 times before"}},
	{invoice: "INV-2041", vendor: "Tailspin Toys", action: "post_invoice", amount: 420, confidence: 0.71, inPolicy: true,
		facts:    []string{"matches PO-7731", "unit price 4% above the PO"},
		decision: "approve", comment: "price rise agreed with the vendor in March"},
	{invoice: "INV-2044", vendor: "Wingtip Supplies", action: "post_invoice", amount: 95.5, confidence: 0.93, inPolicy: false,
		facts:    []string{"the vendor's bank account changed yesterday"},
		decision: "reject", comment: "bank details changed: call the vendor before paying"},
	{invoice: "INV-2047", vendor: "Contoso Ltd", action: "post_invoice", amount: 1240, confidence: 0.95, inPolicy: true,
		facts:    []string{"matches PO-7740", "goods received on the 3rd"},
		decision: "approve", comment: "matches the PO and the goods receipt"},
	{invoice: "INV-2049", vendor: "Adventure Works", action: "post_invoice", amount: 450, confidence: 0.92, inPolicy: true, riskTier: 2,
		facts:    []string{"first invoice from this vendor"},
		decision: "approve", comment: "new vendor checked with procurement"},
	{invoice: "INV-2052", vendor: "Litware Inc", action: "post_invoice", amount: 18400, confidence: 0.88, inPolicy: true,
		facts: []string{"matches PO-7702", "annual licence renewal"}},
	{invoice: "INV-2055", vendor: "Proseware", action: "post_invoice", amount: 310, confidence: 0.64, inPolicy: true,
		facts: []string{"no purchase order found"}},
}

// approvalView is the part of an approval request the story reads.
type approvalView struct {
	ID             string   `json:"id"`
	State          string   `json:"state"`
	Tier           int      `json:"tier"`
	AutoApproved   bool     `json:"auto_approved"`
	Reason         string   `json:"reason"`
	Action         string   `json:"action"`
	TaskID         string   `json:"task_id"`
	Amount         *float64 `json:"amount"`
	IdempotencyKey string   `json:"idempotency_key"`
	DecidedBy      string   `json:"decided_by"`
	Comment        string   `json:"comment"`
}

// approvals tells the approvals scenario: invoice-agent processes one invoice
// per case, asking day2 for approval in the middle of each traced task, and
// a simulated approver works through the queue.
func (s *opsRun) approvals(ctx context.Context, _ *sync.WaitGroup) {
	const scenario = "approvals"
	e, err := newEmitter(ctx, invoiceStream, s.otlp, s.ops.opts.Token, s.delivery)
	if err != nil {
		s.fail("%s: %v", scenario, err)
		return
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout+5*time.Second)
		defer cancel()
		if err := e.shutdown(sctx); err != nil {
			s.fail("%s: flush telemetry: %v", scenario, err)
		}
	}()
	// Idempotency keys stay unique across demos on the same data.
	run := strconv.FormatInt(s.now().Unix(), 36)
	decisions := map[string]approvalCase{}
	for _, c := range approvalCases {
		if c.decision != "" {
			decisions[c.key(run)] = c
		}
	}
	approverCtx, stopApprover := context.WithCancel(ctx)
	var approver sync.WaitGroup
	approver.Go(func() { s.runApprover(approverCtx, decisions) })

	if sleep(ctx, s.t.approvalStart) != nil {
		stopApprover()
		return
	}
	s.say(scenario, "%s asks for approvals at every tier of its policy; requests nobody decides expire after %s (/approvals)",
		invoiceStream.Service, shortDuration(s.t.approvalTimeout))
	var tasks sync.WaitGroup
	for i, c := range approvalCases {
		if i > 0 && sleep(ctx, s.t.approvalGap) != nil {
			break
		}
		tasks.Go(func() { s.invoiceTask(ctx, e, c, run) })
	}
	tasks.Wait()
	stopApprover()
	approver.Wait()
}

// key is the idempotency key of the case's request in one run of the demo.
func (c approvalCase) key(run string) string {
	return fmt.Sprintf("%s-%s-%s", c.invoice, c.action, run)
}

// invoiceTask runs one traced invoice task: fetch and read the invoice, look
// the vendor up, ask day2 for approval, wait for the decision, then post the
// invoice or hand it to a person. The spans are sent as the work happens.
func (s *opsRun) invoiceTask(ctx context.Context, e *emitter, c approvalCase, run string) {
	const scenario = "approvals"
	clk := s.clock()
	step := func(d time.Duration) error {
		return sleep(ctx, time.Duration(float64(d)*s.t.scale))
	}
	start := clk.now()
	risk := 0
	switch {
	case c.riskTier > 0:
		risk = c.riskTier
	case c.amount > 500:
		risk = 2
	case c.action == "post_invoice":
		risk = 1
	}
	tctx, root := e.tracer.Start(ctx, "invoke_workflow invoice_processing",
		trace.WithNewRoot(), trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("business_process", "invoice_processing"),
			attribute.String("gen_ai.workflow.name", "invoice_processing"),
			attribute.String("flow_run_id", c.key(run)),
			attribute.String("tenant", "contoso"),
			attribute.Int("risk_tier", risk),
			attribute.String("environment", invoiceStream.Environment),
			attribute.String("gen_ai.agent.name", invoiceStream.Service),
			attribute.String("gen_ai.agent.version", invoiceStream.Version),
			attribute.String("invoice.id", c.invoice),
			attribute.Float64("invoice.amount", c.amount),
			attribute.String("invoice.currency", "EUR"),
		))
	taskID := root.SpanContext().TraceID().String()
	// span runs one step of the task as a child span of duration d.
	span := func(name string, kind trace.SpanKind, d time.Duration, attrs ...attribute.KeyValue) error {
		_, sp := e.tracer.Start(tctx, name, trace.WithTimestamp(clk.now()), trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
		err := step(d)
		sp.End(trace.WithTimestamp(clk.now()))
		return err
	}
	tool := func(name string, d time.Duration, status int) error {
		return span("execute_tool "+name, trace.SpanKindClient, d,
			attribute.String("gen_ai.operation.name", "execute_tool"),
			attribute.String("gen_ai.tool.name", name),
			attribute.String("gen_ai.tool.type", "function"),
			attribute.Int("http.response.status_code", status))
	}
	finish := func(success, escalated bool, reason string) {
		end := clk.now()
		root.AddEvent("outcome", trace.WithTimestamp(end), trace.WithAttributes(
			attribute.Bool("success", success), attribute.Bool("escalation", escalated),
			attribute.String("reason_code", reason), attribute.Int64("cycle_time_ms", end.Sub(start).Milliseconds())))
		if !success {
			root.SetStatus(codes.Error, reason)
		}
		root.End(trace.WithTimestamp(end))
	}

	// Abandoned tasks (the demo stopped) are never ended, as when an agent
	// process dies.
	if tool("docs.fetch_invoice", 400*time.Millisecond, 200) != nil {
		return
	}
	if span("chat gpt-4o", trace.SpanKindClient, 2*time.Second,
		attribute.String("gen_ai.operation.name", "chat"),
		attribute.String("gen_ai.request.model", "gpt-4o"),
		attribute.String("gen_ai.provider.name", "azure.ai.openai"),
		attribute.String("gen_ai.prompt.name", "extract_fields"),
		attribute.Int64("gen_ai.usage.input_tokens", 5200),
		attribute.Int64("gen_ai.usage.output_tokens", 520),
		attribute.StringSlice("gen_ai.response.finish_reasons", []string{"stop"})) != nil {
		return
	}
	if tool("erp.lookup_vendor", 220*time.Millisecond, 200) != nil {
		return
	}

	ask := map[string]any{
		"service": invoiceStream.Service, "environment": invoiceStream.Environment, "action": c.action,
		"task_id": taskID, "entity_type": "invoice", "idempotency_key": c.key(run),
		"context": map[string]any{
			"prompt":       fmt.Sprintf("Process invoice %s from %s", c.invoice, c.vendor),
			"facts":        c.facts,
			"tool_plan":    []string{fmt.Sprintf("erp.%s(%s)", c.action, c.invoice)},
			"side_effects": sideEffects(c),
			"confidence":   c.confidence,
			"in_policy":    c.inPolicy,
			"vendor":       c.vendor,
			"currency":     "EUR",
		},
	}
	if c.action == "post_invoice" {
		ask["amount"] = c.amount
	} else {
		ask["entity_type"] = "vendor"
	}
	if c.riskTier > 0 {
		ask["risk_tier"] = c.riskTier
	}
	_, asking := e.tracer.Start(tctx, "execute_tool approvals.request", trace.WithTimestamp(clk.now()), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("gen_ai.operation.name", "execute_tool"), attribute.String("gen_ai.tool.name", "approvals.request")))
	var ap approvalView
	err := s.agent.call(ctx, "POST", "/api/v1/approvals", ask, &ap)
	if err != nil {
		asking.SetStatus(codes.Error, err.Error())
		asking.End(trace.WithTimestamp(clk.now()))
		if ctx.Err() == nil {
			s.fail("%s: ask approval for %s: %v", scenario, c.invoice, err)
			finish(false, true, "approval_unavailable")
		}
		return
	}
	asking.SetAttributes(attribute.String("approval.id", ap.ID), attribute.Int("approval.tier", ap.Tier), attribute.Int("http.response.status_code", 201))
	asking.End(trace.WithTimestamp(clk.now()))
	s.recordApproval(ap, c)
	s.say(scenario, "%s asks %s: %s (%s, task /tasks/%s)", invoiceStream.Service, describeCase(c), lastClause(ap.Reason), ap.ID, taskID)

	if ap.State == "pending" {
		_, waiting := e.tracer.Start(tctx, "await_approval", trace.WithTimestamp(clk.now()),
			trace.WithAttributes(attribute.String("approval.id", ap.ID)))
		for ap.State == "pending" {
			// Long-poll: the call returns as soon as the request is final.
			if err := s.agent.call(ctx, "GET", "/api/v1/approvals/"+ap.ID+"?wait=55s", nil, &ap); err != nil {
				waiting.End(trace.WithTimestamp(clk.now()))
				if ctx.Err() == nil {
					s.fail("%s: wait for %s: %v", scenario, ap.ID, err)
				}
				return
			}
		}
		waiting.SetAttributes(attribute.String("approval.state", ap.State))
		waiting.End(trace.WithTimestamp(clk.now()))
		s.recordApproval(ap, c)
	}
	switch {
	case ap.State == "approved" && ap.AutoApproved:
		// Said when it was asked.
	case ap.State == "approved":
		s.say(scenario, "%s %s: approved by %s: %q", ap.ID, c.invoice, ap.DecidedBy, ap.Comment)
	case ap.State == "rejected":
		s.say(scenario, "%s %s: rejected by %s: %q", ap.ID, c.invoice, ap.DecidedBy, ap.Comment)
	case ap.State == "expired":
		s.say(scenario, "%s %s: expired after %s: nobody decided, so it is denied and the invoice goes to a person", ap.ID, c.invoice, shortDuration(s.t.approvalTimeout))
	}
	switch {
	case ap.State != "approved":
		finish(false, true, "approval_"+ap.State)
	case c.action == "lookup_vendor":
		finish(true, false, "vendor_checked")
	default:
		if tool("erp.post_invoice", 450*time.Millisecond, 201) != nil {
			return
		}
		finish(true, !ap.AutoApproved, "posted")
	}
}

// runApprover is the simulated approver: it reads the queue of pending requests
// every poll interval and, after thinking a while, decides the ones it is
// given in decisions; it never looks at the others, which expire.
func (s *opsRun) runApprover(ctx context.Context, decisions map[string]approvalCase) {
	const scenario = "approvals"
	seen := map[string]time.Time{}
	q := url.Values{"service": {invoiceStream.Service}, "state": {"pending"}}
	for {
		var list struct {
			Approvals []approvalView `json:"approvals"`
		}
		if err := s.approver.call(ctx, "GET", "/api/v1/approvals?"+q.Encode(), nil, &list); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.fail("%s: the approver cannot read the queue: %v", scenario, err)
		}
		for _, ap := range list.Approvals {
			c, ok := decisions[ap.IdempotencyKey]
			if !ok {
				continue
			}
			first, ok := seen[ap.ID]
			if !ok {
				seen[ap.ID] = time.Now()
				continue
			}
			if time.Since(first) < s.t.thinkTime {
				continue
			}
			body := map[string]string{"decision": c.decision, "comment": c.comment}
			if err := s.approver.call(ctx, "POST", "/api/v1/approvals/"+ap.ID+"/decision", body, nil); err != nil && ctx.Err() == nil {
				s.fail("%s: the approver cannot decide %s: %v", scenario, ap.ID, err)
			}
			delete(decisions, ap.IdempotencyKey)
		}
		if sleep(ctx, s.t.poll) != nil {
			return
		}
	}
}

// recordApproval keeps the request's latest state in the report.
func (s *opsRun) recordApproval(ap approvalView, c approvalCase) {
	res := ApprovalResult{ID: ap.ID, TaskID: ap.TaskID, Action: ap.Action, Amount: c.amount, Tier: ap.Tier,
		State: ap.State, AutoApproved: ap.AutoApproved, DecidedBy: ap.DecidedBy}
	s.record(func(r *OpsReport) {
		for i := range r.Approvals {
			if r.Approvals[i].ID == ap.ID {
				r.Approvals[i] = res
				return
			}
		}
		r.Approvals = append(r.Approvals, res)
	})
}

// describeCase says what the agent asks for: "to post INV-2041 (EUR 420.00,
// confidence 0.71)".
func describeCase(c approvalCase) string {
	if c.action == "lookup_vendor" {
		return fmt.Sprintf("to look vendor %s (%s) up", c.invoice, c.vendor)
	}
	extra := ""
	if !c.inPolicy {
		extra = ", out of policy"
	}
	if c.riskTier > 0 {
		extra += fmt.Sprintf(", asking for Tier %d itself", c.riskTier)
	}
	return fmt.Sprintf("to post %s (EUR %s, confidence %.2f%s)", c.invoice, money(c.amount), c.confidence, extra)
}

// sideEffects says what the action changes, for the approver.
func sideEffects(c approvalCase) string {
	if c.action == "lookup_vendor" {
		return "none: reads the vendor master data"
	}
	return fmt.Sprintf("EUR %s leaves the operating account to %s", money(c.amount), c.vendor)
}

// money formats an amount with thousands separators and cents: 18,400.00.
func money(v float64) string {
	cents := int64(math.Round(v * 100))
	return fmt.Sprintf("%s.%02d", count(cents/100), cents%100)
}

// lastClause returns the end of day2's reason for a request's tier, which
// says what the tier means for it: "Tier 2 always waits for a manager".
func lastClause(reason string) string {
	if i := strings.LastIndex(reason, "; "); i >= 0 {
		return reason[i+2:]
	}
	return reason
}

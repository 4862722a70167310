package demo

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Plan is one simulated task: a root span for the business process run, its child
// spans (LLM and tool calls, in order), and the outcome. Plans are pure data; the
// emitter turns them into telemetry through the OpenTelemetry SDK, and the load
// generator into OTLP requests directly.
type Plan struct {
	Stream   Stream
	TraceID  trace.TraceID
	Start    time.Time
	End      time.Time
	Root     SpanPlan
	Children []SpanPlan
	Outcome  Outcome

	// The rest summarises the plan as day2 should read it from the telemetry.
	// LLMCalls counts llm.prompt/llm.completion pairs and GenAI chat and
	// embeddings spans; ToolCalls counts llm.tool and execute_tool spans.
	LLMCalls  int
	ToolCalls int
	// ToolFailures counts tool calls that failed for good (status error, span
	// status ERROR); ToolRetries the retries within all tool calls.
	ToolFailures int
	ToolRetries  int
	// RateLimitHits counts tool calls that failed for good with HTTP 429
	// (http_status on llm.tool, http.response.status_code on execute_tool).
	RateLimitHits int
	// SafetyBlocks counts content_filter finishes; SafetyFlags the LLM calls
	// whose input was flagged as a prompt injection attempt.
	SafetyBlocks int
	SafetyFlags  int
	// InputTokens and OutputTokens sum the token usage of the LLM calls.
	InputTokens  int64
	OutputTokens int64
}

// SpanCount returns the number of spans in the plan, root included.
func (p *Plan) SpanCount() int { return 1 + len(p.Children) }

// SpanPlan is one span of a plan. All children of a plan are children of its root.
type SpanPlan struct {
	SpanID        trace.SpanID
	Name          string
	Kind          trace.SpanKind
	Start         time.Time
	End           time.Time
	Status        codes.Code
	StatusMessage string
	Attrs         []attribute.KeyValue
}

// Outcome is the terminal outcome of a task.
type Outcome struct {
	Success    bool
	Escalation bool
	ReasonCode string
	CycleTime  time.Duration
	// Time is when the outcome is recorded: the end of the root span.
	Time time.Time
	// AsLog sends the outcome as a log record with event=outcome rather than as a
	// span event named outcome on the root span.
	AsLog bool
	// BoolsAsStrings sends success and escalation as "true"/"false" strings, as
	// Application Insights customDimensions do.
	BoolsAsStrings bool
}

// Attrs returns the outcome's attributes as the seed names them: success,
// escalation, reason_code and cycle_time_ms.
func (o Outcome) Attrs() []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 4)
	if o.BoolsAsStrings {
		kv = append(kv,
			attribute.String("success", fmt.Sprint(o.Success)),
			attribute.String("escalation", fmt.Sprint(o.Escalation)))
	} else {
		kv = append(kv, attribute.Bool("success", o.Success), attribute.Bool("escalation", o.Escalation))
	}
	return append(kv,
		attribute.String("reason_code", o.ReasonCode),
		attribute.Int64("cycle_time_ms", o.CycleTime.Milliseconds()))
}

// Generator draws task plans for one stream from a seeded random source. It does no
// I/O and reads no clock, so a seed and the start times fully determine its plans.
// A Generator is not safe for concurrent use.
type Generator struct {
	stream   Stream
	p        profile
	rng      *rand.Rand
	incident *Incident
	// toolsOff names the tools a kill switch turned off; the agent works
	// without them. retryBudget, when set, replaces the profile's maxRetries
	// (an override flag).
	toolsOff    map[string]bool
	retryBudget *int
}

// NewGenerator returns a generator for s, which must be one of Streams.
func NewGenerator(s Stream, seed int64) (*Generator, error) {
	p, ok := lookupProfile(s)
	if !ok {
		return nil, fmt.Errorf("demo: no simulated agent %s", s)
	}
	return newGenerator(s, p, seed), nil
}

func newGenerator(s Stream, p profile, seed int64) *Generator {
	return &Generator{stream: s, p: p, rng: rand.New(rand.NewPCG(uint64(seed), streamHash(s, 0)))}
}

// SetToolEnabled turns a tool on or off for the tasks drawn from now on, as a
// kill switch read by the agent would. Only the question-answering agents of
// the operations scenarios can work without a tool (their CRM); the others
// ignore it.
func (g *Generator) SetToolEnabled(tool string, on bool) {
	if g.toolsOff == nil {
		g.toolsOff = map[string]bool{}
	}
	g.toolsOff[tool] = !on
}

// SetRetryBudget sets how many times a failed tool call is retried, for the
// tasks drawn from now on; a negative n restores the agent's own budget.
func (g *Generator) SetRetryBudget(n int) {
	if n < 0 {
		g.retryBudget = nil
		return
	}
	g.retryBudget = &n
}

// maxRetries is the retry budget of one tool call.
func (g *Generator) maxRetries() int {
	if g.retryBudget != nil {
		return *g.retryBudget
	}
	return g.p.maxRetries
}

// SetIncident makes the tasks the generator draws from now on suffer inc when
// they start during it; nil lifts it. The generator keeps inc and does not
// change it.
func (g *Generator) SetIncident(inc *Incident) { g.incident = inc }

// streamHash derives a per-stream seed so that each stream draws its own sequence
// whatever the order streams are generated in.
func streamHash(s Stream, salt uint64) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%s", s.Service, s.Version, s.Environment)
	return h.Sum64() ^ salt
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// step is a run of consecutive spans, timed relative to the step's start until the
// plan lays the steps out on the task's timeline.
type step struct {
	spans []stepSpan
	dur   time.Duration
}

type stepSpan struct {
	span     SpanPlan
	from, to time.Duration
}

// task carries the state of one plan while it is drawn.
type task struct {
	g        *Generator
	plan     Plan
	steps    []step
	riskTier int
	// toolReason is the reason code for the last tool call that failed for
	// good: reasonToolError, or the incident's when its outage failed the call.
	toolReason string
}

// Next draws the plan of a task that starts at start.
func (g *Generator) Next(start time.Time) Plan {
	r := g.rng
	t := &task{g: g}
	t.plan.Stream = g.stream
	t.plan.Start = start
	hi := r.Uint64() ^ mix64(uint64(start.UnixNano()))
	lo := r.Uint64()
	if hi == 0 && lo == 0 {
		lo = 1
	}
	putUint64(t.plan.TraceID[:8], hi)
	putUint64(t.plan.TraceID[8:], lo)

	var outcome Outcome
	var rootAttrs []attribute.KeyValue
	switch g.p.kind {
	case kindTriage:
		outcome, rootAttrs = t.triage()
	case kindAnswer:
		outcome, rootAttrs = t.answer()
	default:
		outcome, rootAttrs = t.invoice()
	}

	// Lay the steps out over the cycle time, with waits between them: queueing,
	// orchestration and the flow's own work take most of a task's time.
	cycle := time.Duration(float64(g.p.cycleMedian) * math.Exp(g.p.cycleSigma*r.NormFloat64()))
	if r.Float64() < g.p.slowTail {
		cycle = time.Duration(float64(cycle) * (3.5 + 2.5*r.Float64()))
	}
	if rc := outcome.ReasonCode; rc == reasonToolError || rc == reasonSafetyBlock || g.incident != nil && rc == g.incident.ReasonCode {
		// The task ended early and went to a human.
		cycle = cycle * 6 / 10
	}
	var busy time.Duration
	for _, s := range t.steps {
		busy += s.dur
	}
	cycle = max(cycle, busy+time.Second).Truncate(time.Millisecond)
	gaps := make([]float64, len(t.steps)+1)
	var gapSum float64
	for i := range gaps {
		gaps[i] = 0.5 + r.Float64()
		gapSum += gaps[i]
	}
	idle := float64(cycle - busy)
	at := start
	for i, s := range t.steps {
		at = at.Add(time.Duration(idle * gaps[i] / gapSum))
		for _, ss := range s.spans {
			sp := ss.span
			sp.SpanID = g.spanID()
			sp.Start = at.Add(ss.from)
			sp.End = at.Add(ss.to)
			t.plan.Children = append(t.plan.Children, sp)
		}
		at = at.Add(s.dur)
	}
	end := start.Add(cycle)
	t.plan.End = end

	outcome.CycleTime = cycle
	outcome.Time = end
	outcome.AsLog = r.Float64() < 0.5
	outcome.BoolsAsStrings = r.Float64() < 0.25
	t.plan.Outcome = outcome

	root := SpanPlan{
		SpanID: g.spanID(),
		Name:   g.p.businessProcess,
		Kind:   trace.SpanKindServer,
		Start:  start,
		End:    end,
		Attrs:  rootAttrs,
	}
	if g.p.kind == kindInvoice {
		// The invoice agent runs under a GenAI workflow span, so its root is
		// named the convention's way.
		root.Name = "invoke_workflow " + g.p.businessProcess
	}
	if !outcome.Success {
		root.Status = codes.Error
		root.StatusMessage = outcome.ReasonCode
	}
	t.plan.Root = root
	return t.plan
}

func (g *Generator) spanID() trace.SpanID {
	var id trace.SpanID
	v := g.rng.Uint64()
	if v == 0 {
		v = 1
	}
	putUint64(id[:], v)
	return id
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

var tenants = []string{"contoso", "fabrikam", "northwind", "adventure-works", "tailspin", "wingtip"}

// tenant draws a tenant with a skew: a couple of large customers and a tail.
func (t *task) tenant() string {
	r := t.g.rng.Float64()
	i := int(math.Floor(r * r * float64(len(tenants))))
	return tenants[i]
}

func (t *task) flowRunID() string {
	r := t.g.rng
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x",
		r.Uint32(), r.Uint32()&0xffff, 0x4000|r.Uint32()&0x0fff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
}

func (t *task) rootAttrs(extra ...attribute.KeyValue) []attribute.KeyValue {
	s := t.g.stream
	kv := []attribute.KeyValue{
		attribute.String("business_process", t.g.p.businessProcess),
		attribute.String("flow_run_id", t.flowRunID()),
		attribute.String("tenant", t.tenant()),
		attribute.Int("risk_tier", t.riskTier),
		attribute.String("environment", s.Environment),
		attribute.String("gen_ai.agent.name", s.Service),
		attribute.String("gen_ai.agent.version", s.Version),
	}
	return append(kv, extra...)
}

// triage draws a support ticket triage: classify, look the customer up, maybe
// search the knowledge base, draft a reply, update the ticket, maybe notify.
func (t *task) triage() (Outcome, []attribute.KeyValue) {
	r := t.g.rng
	switch x := r.Float64(); {
	case x < 0.03:
		t.riskTier = 2
	case x < 0.25:
		t.riskTier = 1
	}
	attrs := t.rootAttrs(attribute.String("ticket.channel", pick(r, "email", "email", "chat", "web", "phone")))
	injection := r.Float64() < t.g.p.injection

	if t.llm(llmCall{model: "gpt-4o-mini", purpose: "classify", in: lognormal(r, 1200, 0.4), out: lognormal(r, 90, 0.5),
		temperature: 0, grounding: "ticket", injection: injection}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: reasonSafetyBlock}, attrs
	}
	if t.tool(toolCall{tool: "crm", action: "get_customer", latency: 180}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	grounding := "none"
	if r.Float64() < 0.6 {
		// A failed knowledge base search is not fatal: the agent drafts
		// without grounding.
		if !t.tool(toolCall{tool: "kb", action: "search", latency: 350}) {
			grounding = "kb"
		}
	}
	if t.llm(llmCall{model: "gpt-4o", purpose: "draft_reply", in: lognormal(r, 3200, 0.35), out: lognormal(r, 320, 0.4),
		temperature: 0.3, grounding: grounding, filter: true}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: reasonSafetyBlock}, attrs
	}
	if t.tool(toolCall{tool: "ticketing", action: "update_ticket", latency: 250, sideEffect: true}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	switch {
	case r.Float64() < t.g.p.lowConfidence:
		return Outcome{Success: false, Escalation: true, ReasonCode: "low_confidence"}, attrs
	case t.riskTier == 2 && r.Float64() < 0.5:
		return Outcome{Success: true, Escalation: true, ReasonCode: "policy_review"}, attrs
	}
	if r.Float64() < 0.4 {
		if t.tool(toolCall{tool: "notify", action: "send_email", latency: 150, sideEffect: true}) {
			return Outcome{Success: false, Escalation: false, ReasonCode: t.toolReason}, attrs
		}
	}
	return Outcome{Success: true, ReasonCode: "resolved"}, attrs
}

// Reason codes of tasks that ended early. A task the incident's outage ended
// has the incident's reason code instead of reasonToolError.
const (
	reasonToolError   = "tool_error"
	reasonSafetyBlock = "safety_block"
)

// approvalLimit is the invoice amount above which a manager must approve.
const approvalLimit = 25000

// invoice draws an invoice run: fetch the document, extract the fields, look the
// vendor up, match the purchase order, validate, then post the invoice or ask for
// approval.
func (t *task) invoice() (Outcome, []attribute.KeyValue) {
	r := t.g.rng
	amount := math.Round(lognormal(r, 1800, 1.1)*100) / 100
	switch {
	case amount > approvalLimit:
		t.riskTier = 2
	case amount > 2500:
		t.riskTier = 1
	}
	attrs := t.rootAttrs(
		attribute.String("gen_ai.workflow.name", t.g.p.businessProcess),
		attribute.Float64("invoice.amount", amount),
		attribute.String("invoice.currency", pick(r, "EUR", "EUR", "USD", "GBP")))
	injection := r.Float64() < t.g.p.injection

	if t.tool(toolCall{tool: "docs", action: "fetch_invoice", latency: 400}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	if t.llm(llmCall{model: "gpt-4o", purpose: "extract_fields", in: lognormal(r, 5200, 0.35), out: lognormal(r, 520, 0.3),
		temperature: 0, grounding: "invoice_pdf", injection: injection, filter: true}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: reasonSafetyBlock}, attrs
	}
	if r.Float64() < 0.5 {
		t.embedding(lognormal(r, 60, 0.3))
	}
	if t.tool(toolCall{tool: "erp", action: "lookup_vendor", latency: 220}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	if t.tool(toolCall{tool: "erp", action: "match_po", latency: 600}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	if t.llm(llmCall{model: "gpt-4o-mini", purpose: "validate", in: lognormal(r, 2100, 0.25), out: lognormal(r, 110, 0.4),
		temperature: 0, grounding: "erp"}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: reasonSafetyBlock}, attrs
	}
	if r.Float64() < t.g.p.lowConfidence {
		return Outcome{Success: false, Escalation: true, ReasonCode: pick(r, "validation_failed", "validation_failed", "duplicate_invoice")}, attrs
	}
	if amount > approvalLimit || (t.riskTier == 1 && r.Float64() < 0.02) {
		if t.tool(toolCall{tool: "approvals", action: "request_approval", latency: 300, sideEffect: true}) {
			return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
		}
		return Outcome{Success: true, Escalation: true, ReasonCode: "approval_required"}, attrs
	}
	if t.tool(toolCall{tool: "erp", action: "post_invoice", latency: 450, sideEffect: true}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	return Outcome{Success: true, ReasonCode: "posted"}, attrs
}

// Reason codes of the question-answering agents.
const (
	reasonAnswered        = "answered"
	reasonAnsweredGeneric = "answered_without_account"
)

// answer draws a customer question answered by a question-answering agent:
// classify the question, read the customer and their orders from the CRM,
// search the knowledge base, draft the answer. A CRM call that fails is not
// fatal: the agent answers from the knowledge base alone, without the
// customer's account, as it also does when a kill switch turned the CRM off.
// A failed knowledge base search, a safety block or low confidence hand the
// question to a person.
func (t *task) answer() (Outcome, []attribute.KeyValue) {
	r := t.g.rng
	if r.Float64() < 0.05 {
		t.riskTier = 1
	}
	attrs := t.rootAttrs(attribute.String("question.channel", pick(r, "chat", "chat", "chat", "email", "web")))
	injection := r.Float64() < t.g.p.injection

	if t.llm(llmCall{model: "gpt-4o-mini", purpose: "classify_question", in: lognormal(r, 600, 0.3), out: lognormal(r, 25, 0.4),
		temperature: 0, grounding: "question", injection: injection}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: reasonSafetyBlock}, attrs
	}
	reason := reasonAnswered
	if t.g.toolsOff["crm"] {
		reason = reasonAnsweredGeneric
	} else {
		// The second call is skipped when the first failed: no customer, no orders.
		if t.tool(toolCall{tool: "crm", action: "get_customer", latency: 120}) ||
			t.tool(toolCall{tool: "crm", action: "list_orders", latency: 160}) {
			reason = reasonAnsweredGeneric
		}
	}
	if t.tool(toolCall{tool: "kb", action: "search", latency: 200}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: t.toolReason}, attrs
	}
	if t.llm(llmCall{model: "gpt-4o-mini", purpose: "draft_answer", in: lognormal(r, 2400, 0.3), out: lognormal(r, 140, 0.3),
		temperature: 0.2, grounding: "kb", filter: true}) {
		return Outcome{Success: false, Escalation: true, ReasonCode: reasonSafetyBlock}, attrs
	}
	if r.Float64() < t.g.p.lowConfidence {
		return Outcome{Success: false, Escalation: true, ReasonCode: "low_confidence"}, attrs
	}
	return Outcome{Success: true, ReasonCode: reason}, attrs
}

type llmCall struct {
	model, purpose, grounding string
	in, out                   float64
	temperature               float64
	injection                 bool // the input carries a prompt injection attempt
	filter                    bool // the output may be content filtered
}

var responseModels = map[string]string{
	"gpt-4o":                 "gpt-4o-2024-08-06",
	"gpt-4o-mini":            "gpt-4o-mini-2024-07-18",
	"text-embedding-3-small": "text-embedding-3-small",
}

// tokensPerSecond is the generation speed of each model.
var tokensPerSecond = map[string]float64{"gpt-4o": 60, "gpt-4o-mini": 110}

// llm adds one LLM call and reports whether a safety block ended the task.
func (t *task) llm(c llmCall) (blocked bool) {
	r := t.g.rng
	p := &t.plan
	in := int64(max(c.in, 50))
	out := int64(max(c.out, 5))
	finish := "stop"
	var flags []string
	guardrail := "allow"
	if c.injection {
		flags = append(flags, "prompt_injection")
		p.SafetyFlags++
		if r.Float64() < 0.6 {
			blocked = true
			guardrail = "block"
		} else {
			guardrail = "sanitize"
		}
	}
	if !blocked && c.filter && r.Float64() < t.g.p.outputFilter {
		blocked = true
		if r.Float64() < 0.5 {
			flags = append(flags, pick(r, "hate", "violence", "self_harm", "sexual"))
		}
	}
	if blocked {
		finish = "content_filter"
		out = 0
		p.SafetyBlocks++
	} else if r.Float64() < 0.01 {
		finish = "length"
	}
	p.LLMCalls++
	p.InputTokens += in
	p.OutputTokens += out
	latency := time.Duration((0.3 + 0.5*r.Float64() + float64(out)/tokensPerSecond[c.model]) * float64(time.Second))
	latency = latency.Truncate(time.Millisecond)
	safetyBlocks := 0
	if blocked {
		safetyBlocks = 1
	}

	if r.Float64() < t.g.p.genAILLM {
		kv := []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "chat"),
			attribute.String("gen_ai.request.model", c.model),
			attribute.String("gen_ai.response.model", responseModels[c.model]),
			attribute.Float64("gen_ai.request.temperature", c.temperature),
			attribute.Int("gen_ai.request.max_tokens", 1024),
			attribute.StringSlice("gen_ai.response.finish_reasons", []string{finish}),
			attribute.String("gen_ai.prompt.name", c.purpose),
			attribute.String("server.address", "day2-demo.openai.azure.com"),
		}
		if t.g.p.oldGenAI {
			kv = append(kv,
				attribute.String("gen_ai.system", "az.ai.openai"),
				attribute.Int64("gen_ai.usage.prompt_tokens", in),
				attribute.Int64("gen_ai.usage.completion_tokens", out))
		} else {
			kv = append(kv,
				attribute.String("gen_ai.provider.name", "azure.ai.openai"),
				attribute.Int64("gen_ai.usage.input_tokens", in),
				attribute.Int64("gen_ai.usage.output_tokens", out))
		}
		if len(flags) > 0 {
			kv = append(kv, attribute.StringSlice("safety_flags", flags))
		}
		t.add(step{dur: latency, spans: []stepSpan{{to: latency, span: SpanPlan{
			Name: "chat " + c.model, Kind: trace.SpanKindClient, Attrs: kv,
		}}}})
		return blocked
	}

	// Seed style: a prompt span (assembly and guardrails) then a completion span.
	prep := time.Duration(30+r.IntN(220)) * time.Millisecond
	promptAttrs := []attribute.KeyValue{
		attribute.String("model", c.model),
		attribute.Float64("temperature", c.temperature),
		attribute.Float64("top_p", 1),
		attribute.Int64("input_tokens", in),
		attribute.String("grounding_source", c.grounding),
		attribute.String("guardrail_decisions", guardrail),
		attribute.String("prompt.name", c.purpose),
	}
	if len(flags) > 0 {
		promptAttrs = append(promptAttrs, attribute.StringSlice("safety_flags", flags))
	}
	t.add(step{dur: prep + latency, spans: []stepSpan{
		{to: prep, span: SpanPlan{Name: "llm.prompt", Kind: trace.SpanKindInternal, Attrs: promptAttrs}},
		{from: prep, to: prep + latency, span: SpanPlan{Name: "llm.completion", Kind: trace.SpanKindClient, Attrs: []attribute.KeyValue{
			attribute.String("model", c.model),
			attribute.Int64("output_tokens", out),
			attribute.String("finish_reason", finish),
			attribute.Int("safety_blocks", safetyBlocks),
			attribute.Int64("latency_ms", latency.Milliseconds()),
		}}},
	}})
	return blocked
}

// embedding adds an embeddings call, which only GenAI instrumentation reports.
func (t *task) embedding(tokens float64) {
	r := t.g.rng
	in := int64(max(tokens, 5))
	t.plan.LLMCalls++
	t.plan.InputTokens += in
	latency := time.Duration(80+r.IntN(150)) * time.Millisecond
	kv := []attribute.KeyValue{
		attribute.String("gen_ai.operation.name", "embeddings"),
		attribute.String("gen_ai.request.model", "text-embedding-3-small"),
		attribute.String("gen_ai.provider.name", "azure.ai.openai"),
		attribute.Int64("gen_ai.usage.input_tokens", in),
		attribute.String("server.address", "day2-demo.openai.azure.com"),
	}
	t.add(step{dur: latency, spans: []stepSpan{{to: latency, span: SpanPlan{
		Name: "embeddings text-embedding-3-small", Kind: trace.SpanKindClient, Attrs: kv,
	}}}})
}

type toolCall struct {
	tool, action string
	latency      float64 // median milliseconds of one attempt
	sideEffect   bool    // the call changes something, so it carries an idempotency key
}

// attemptTimeout is how long a tool attempt may take before the client gives up.
const attemptTimeout = 10 * time.Second

// tool adds one tool call, with its retries, and reports whether it failed for good.
func (t *task) tool(c toolCall) (failed bool) {
	r := t.g.rng
	p := &t.plan
	transient := t.g.p.toolTransient
	if t.g.p.kind == kindTriage && c.tool == "crm" && rateLimitStorm(p.Start) {
		transient = 0.5
	}
	// down: the call hits the incident's outage, so every attempt answers 503.
	var down bool
	if inc := t.g.incident; inc != nil && c.tool == inc.Tool && inc.covers(p.Start) {
		if share := inc.Down[t.g.stream]; share > 0 {
			down = r.Float64() < share
		}
	}
	var (
		elapsed, external, backoff time.Duration
		status                     int // 0: timed out, no HTTP status
		errMsg                     string
		retries                    int
	)
	for attempt := 0; ; attempt++ {
		lat := time.Duration(lognormal(r, c.latency, 0.4) * float64(time.Millisecond))
		if !down && attempt == 0 && r.Float64() < t.g.p.toolPermanent {
			// An error no retry fixes.
			status = pickInt(r, 400, 404, 422)
			errMsg = fmt.Sprintf("%s.%s: HTTP %d", c.tool, c.action, status)
			if c.sideEffect && r.Float64() < 0.5 {
				status = 409
				errMsg = fmt.Sprintf("%s.%s: idempotency key conflict, request aborted", c.tool, c.action)
			}
			elapsed += lat
			external += lat
			failed = true
			break
		}
		// throttled: the tool rate-limits this attempt (429 with Retry-After).
		throttled := !down && c.tool == t.g.p.throttled && r.Float64() < t.g.p.throttle
		if !throttled && !down && r.Float64() >= transient {
			status = 200
			if c.sideEffect && c.action != "update_ticket" {
				status = 201
			}
			elapsed += lat
			external += lat
			break
		}
		// A retryable failure.
		var wait time.Duration
		switch x := r.Float64(); {
		case !throttled && (down || x >= 0.45 && x < 0.7):
			status = 503
			lat /= 2
			errMsg = fmt.Sprintf("%s.%s: HTTP 503 Service Unavailable", c.tool, c.action)
		case throttled || x < 0.45:
			status = 429
			lat /= 4
			wait = time.Duration(1+r.IntN(4)) * time.Second // Retry-After
			errMsg = fmt.Sprintf("%s.%s: HTTP 429 Too Many Requests", c.tool, c.action)
		case x < 0.85:
			status = 504
			lat = time.Duration(5+r.IntN(5)) * time.Second
			errMsg = fmt.Sprintf("%s.%s: HTTP 504 Gateway Timeout", c.tool, c.action)
		default:
			status = 0
			lat = attemptTimeout
			errMsg = fmt.Sprintf("%s.%s: timed out after %s", c.tool, c.action, attemptTimeout)
		}
		elapsed += lat
		external += lat
		if attempt == t.g.maxRetries() || (status == 429 && c.tool == t.g.p.giveUpOn429) {
			failed = true
			break
		}
		if wait == 0 {
			wait = time.Duration(float64(250*time.Millisecond<<attempt) * (0.75 + 0.5*r.Float64()))
		}
		backoff += wait
		elapsed += wait
		retries++
	}
	p.ToolCalls++
	p.ToolRetries += retries
	if failed {
		p.ToolFailures++
		t.toolReason = reasonToolError
		if down {
			t.toolReason = t.g.incident.ReasonCode
		}
		if status == 429 {
			p.RateLimitHits++
		}
	}
	dur := (elapsed + time.Duration(5+r.IntN(20))*time.Millisecond).Truncate(time.Millisecond)

	sp := SpanPlan{Kind: trace.SpanKindClient}
	if failed {
		sp.Status = codes.Error
		sp.StatusMessage = errMsg
	}
	if r.Float64() < t.g.p.genAITool {
		name := c.tool + "." + c.action
		sp.Name = "execute_tool " + name
		sp.Attrs = []attribute.KeyValue{
			attribute.String("gen_ai.operation.name", "execute_tool"),
			attribute.String("gen_ai.tool.name", name),
			attribute.String("gen_ai.tool.type", "function"),
			attribute.String("gen_ai.tool.call.id", fmt.Sprintf("call_%016x", r.Uint64())),
		}
		if status != 0 {
			sp.Attrs = append(sp.Attrs, attribute.Int("http.response.status_code", status))
		}
		if failed {
			errType := "timeout"
			if status != 0 {
				errType = fmt.Sprint(status)
			}
			sp.Attrs = append(sp.Attrs, attribute.String("error.type", errType))
		}
	} else {
		st := "ok"
		if failed {
			st = "error"
		}
		sp.Name = "llm.tool"
		sp.Attrs = []attribute.KeyValue{
			attribute.String("tool.name", c.tool),
			attribute.String("tool.action", c.action),
			attribute.String("status", st),
			attribute.Int("retries", retries),
			attribute.Int64("backoff_ms", backoff.Milliseconds()),
			attribute.Int64("external_latency_ms", external.Milliseconds()),
		}
		if status != 0 {
			sp.Attrs = append(sp.Attrs, attribute.Int("http_status", status))
		}
	}
	if c.sideEffect {
		sp.Attrs = append(sp.Attrs, attribute.String("request_idempotency_key", fmt.Sprintf("%s-%016x", c.action, r.Uint64())))
	}
	t.add(step{dur: dur, spans: []stepSpan{{to: dur, span: sp}}})
	return failed
}

func (t *task) add(s step) { t.steps = append(t.steps, s) }

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func pick(r *rand.Rand, options ...string) string { return options[r.IntN(len(options))] }

func pickInt(r *rand.Rand, options ...int) int { return options[r.IntN(len(options))] }

package day2

import "strconv"

// MergeTaskData adds the spans and log records of src to dst, skipping those dst
// already holds (same span id; same log record id), and reports how many were added
// and how many were duplicates. Within src, later duplicates are skipped too.
func MergeTaskData(dst *TaskData, src *TaskData) (r CommitResult) {
	if dst.TraceID.IsZero() {
		dst.TraceID = src.TraceID
	}
	if len(src.Spans) > 0 {
		seen := make(map[SpanID]struct{}, len(dst.Spans)+len(src.Spans))
		for i := range dst.Spans {
			seen[dst.Spans[i].SpanID] = struct{}{}
		}
		for i := range src.Spans {
			id := src.Spans[i].SpanID
			if _, dup := seen[id]; dup {
				r.DuplicateSpans++
				continue
			}
			seen[id] = struct{}{}
			dst.Spans = append(dst.Spans, src.Spans[i])
			r.Spans++
		}
	}
	if len(src.Logs) > 0 {
		seen := make(map[uint64]struct{}, len(dst.Logs)+len(src.Logs))
		for i := range dst.Logs {
			seen[dst.Logs[i].ID] = struct{}{}
		}
		for i := range src.Logs {
			id := src.Logs[i].ID
			if _, dup := seen[id]; dup {
				r.DuplicateLogs++
				continue
			}
			seen[id] = struct{}{}
			dst.Logs = append(dst.Logs, src.Logs[i])
			r.Logs++
		}
	}
	return r
}

// Operation names of the OpenTelemetry GenAI conventions that day2 counts as LLM calls.
var llmOperations = map[string]bool{
	"chat":             true,
	"text_completion":  true,
	"generate_content": true,
	"embeddings":       true,
}

// Summarize derives a task's summary from its raw telemetry. It is a pure function
// of the set of spans and log records, so the summary is the same whatever order
// and batches they arrived in, and it is recomputed whenever more arrive.
//
// The mapping accepts both the OpenTelemetry GenAI conventions and the seed's trace
// model (llm.prompt, llm.completion, llm.tool, outcome); docs/ingest.md lists it.
func Summarize(d *TaskData) Task {
	t := Task{TaskID: d.TraceID.String(), Spans: len(d.Spans)}
	root := findRoot(d.Spans)
	var rootAttrs Attrs
	var res *Resource
	if root != nil {
		t.RootSeen = root.ParentSpanID.IsZero()
		rootAttrs = root.Attrs
		res = root.Resource
	}
	if res == nil {
		res = firstResource(d)
	}
	var resAttrs Attrs
	if res != nil {
		resAttrs = res.Attrs
	}

	t.Service = resAttrs.Str("service.name")
	t.Environment = resAttrs.Str("deployment.environment.name", "deployment.environment")
	if t.Environment == "" {
		t.Environment = rootAttrs.Str("environment", "deployment.environment.name", "deployment.environment")
	}
	t.Version = rootAttrs.Str("gen_ai.agent.version")
	if t.Version == "" {
		t.Version = resAttrs.Str("service.version")
	}
	t.BusinessProcess = rootAttrs.Str("business_process", "gen_ai.workflow.name")
	if t.BusinessProcess == "" && root != nil {
		t.BusinessProcess = root.Name
	}
	t.Arm = armOf(rootAttrs)
	t.FlowRunID = rootAttrs.Str("flow_run_id")
	t.RiskTier = rootAttrs.Str("risk_tier")
	t.Tenant = rootAttrs.Str("tenant", "tenant.id", "enduser.id", "user", "user.id")
	// Attributes the root lacks may sit on any span (for example a child that
	// knows the flow run id); take the first found in start order.
	if t.FlowRunID == "" || t.RiskTier == "" || t.Tenant == "" {
		for i := range d.Spans {
			a := d.Spans[i].Attrs
			if t.FlowRunID == "" {
				t.FlowRunID = a.Str("flow_run_id")
			}
			if t.RiskTier == "" {
				t.RiskTier = a.Str("risk_tier")
			}
			if t.Tenant == "" {
				t.Tenant = a.Str("tenant", "tenant.id", "enduser.id")
			}
		}
	}

	// Times: the root's span when present, otherwise the extent of what arrived.
	var start, end int64
	if root != nil && root.ParentSpanID.IsZero() {
		start, end = root.Start, root.End
	} else {
		for i := range d.Spans {
			s := &d.Spans[i]
			if start == 0 || (s.Start != 0 && s.Start < start) {
				start = s.Start
			}
			if s.End > end {
				end = s.End
			}
		}
	}

	var prompts, completions, genai, blockedPrompt, blockedCompletion, blockedGenAI int
	for i := range d.Spans {
		s := &d.Spans[i]
		switch {
		case IsLLMSpan(s):
			in, _ := InputTokens(s.Attrs)
			out, _ := OutputTokens(s.Attrs)
			t.InputTokens += in
			t.OutputTokens += out
			blocked := safetyBlocked(s.Attrs)
			switch {
			case s.Name == "llm.prompt":
				prompts++
				if blocked {
					blockedPrompt++
				}
			case s.Name == "llm.completion":
				completions++
				if blocked {
					blockedCompletion++
				}
			default:
				genai++
				if blocked {
					blockedGenAI++
				}
			}
			if RateLimited(s) {
				t.RateLimitHits++
			}
		case IsToolSpan(s):
			t.ToolCalls++
			if ToolFailed(s) {
				t.ToolFailures++
			}
			if r, ok := s.Attrs.Int("retries"); ok && r > 0 {
				t.ToolRetries += int(r)
			}
			if RateLimited(s) {
				t.RateLimitHits++
			}
		}
	}
	// The seed's model splits one model call into an llm.prompt and an
	// llm.completion span, so a pair counts once.
	t.LLMCalls = genai + max(prompts, completions)
	t.SafetyBlocks = blockedGenAI + max(blockedPrompt, blockedCompletion)
	if t.SafetyBlocks > t.LLMCalls {
		t.SafetyBlocks = t.LLMCalls
	}

	if o, ok := findOutcome(d); ok {
		t.OutcomeTime = UnixNano(o.time)
		if b, ok := o.attrs.Bool("success"); ok {
			t.Success = &b
		} else {
			f := false
			t.Success = &f
		}
		esc, ok := o.attrs.Bool("escalation", "escalated")
		if !ok {
			esc = false
		}
		// A task that had to wait for a person's approval was escalated,
		// whatever the agent reported.
		esc = esc || approvalRequired(d)
		t.Escalated = &esc
		t.ReasonCode = o.attrs.Str("reason_code")
		if ms, ok := o.attrs.Int("cycle_time_ms"); ok && ms >= 0 {
			t.CycleTimeMS = &ms
		}
		if !t.RootSeen && o.time > end {
			end = o.time
		}
		if start == 0 {
			start = o.time
		}
	}
	if t.CycleTimeMS == nil && t.RootSeen && root.End > root.Start {
		ms := (root.End - root.Start) / 1e6
		t.CycleTimeMS = &ms
	}
	t.StartTime = UnixNano(start)
	t.EndTime = UnixNano(end)
	return t
}

// findRoot returns the span without a parent; failing that (the root has not
// arrived, or the trace was started by a caller day2 does not see), the earliest
// span whose parent is not in the trace. Ties go to the smaller span id so the
// choice does not depend on arrival order.
func findRoot(spans []Span) *Span {
	var best *Span
	better := func(s *Span) bool {
		if best == nil {
			return true
		}
		if s.Start != best.Start {
			return s.Start < best.Start
		}
		return string(s.SpanID[:]) < string(best.SpanID[:])
	}
	for i := range spans {
		if spans[i].ParentSpanID.IsZero() && better(&spans[i]) {
			best = &spans[i]
		}
	}
	if best != nil {
		return best
	}
	ids := make(map[SpanID]struct{}, len(spans))
	for i := range spans {
		ids[spans[i].SpanID] = struct{}{}
	}
	for i := range spans {
		if _, ok := ids[spans[i].ParentSpanID]; !ok && better(&spans[i]) {
			best = &spans[i]
		}
	}
	return best
}

// firstResource returns a resource that names a service, preferring spans over
// log records, for tasks whose root has not arrived.
func firstResource(d *TaskData) *Resource {
	for i := range d.Spans {
		if r := d.Spans[i].Resource; r != nil && r.Attrs.Str("service.name") != "" {
			return r
		}
	}
	for i := range d.Logs {
		if r := d.Logs[i].Resource; r != nil && r.Attrs.Str("service.name") != "" {
			return r
		}
	}
	return nil
}

func safetyBlocked(a Attrs) bool {
	for _, k := range []string{"gen_ai.response.finish_reasons", "finish_reason", "gen_ai.response.finish_reason"} {
		if v, ok := a.Get(k); ok {
			for _, r := range v.Strings() {
				if r == "content_filter" {
					return true
				}
			}
		}
	}
	if n, ok := a.Int("safety_blocks"); ok && n > 0 {
		return true
	}
	return false
}

// IsLLMSpan reports whether s is a model call: the seed's llm.prompt or
// llm.completion, or a GenAI span whose operation is chat, text_completion,
// generate_content or embeddings.
func IsLLMSpan(s *Span) bool {
	return s.Name == "llm.prompt" || s.Name == "llm.completion" || llmOperations[s.Attrs.Str("gen_ai.operation.name")]
}

// IsToolSpan reports whether s is a tool call: the seed's llm.tool or a GenAI
// execute_tool span.
func IsToolSpan(s *Span) bool {
	return s.Name == "llm.tool" || s.Attrs.Str("gen_ai.operation.name") == "execute_tool"
}

// InputTokens returns a model call's input tokens under any of the names in use.
func InputTokens(a Attrs) (int64, bool) {
	return a.Int("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "input_tokens", "prompt_tokens")
}

// OutputTokens returns a model call's output tokens under any of the names in use.
func OutputTokens(a Attrs) (int64, bool) {
	return a.Int("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "output_tokens", "completion_tokens")
}

// ToolFailed reports whether a tool call failed: attribute status "error", span
// status ERROR, or error.type set.
func ToolFailed(s *Span) bool {
	if s.StatusCode == StatusError {
		return true
	}
	if st := s.Attrs.Str("status"); st == "error" || st == "ERROR" {
		return true
	}
	_, hasErr := s.Attrs.Get("error.type")
	return hasErr
}

// RateLimited reports whether a call was answered HTTP 429.
func RateLimited(s *Span) bool {
	code, ok := s.Attrs.Int("http_status", "http.response.status_code", "http.status_code")
	if ok && code == 429 {
		return true
	}
	return s.Attrs.Str("error.type") == "429"
}

type outcome struct {
	time  int64
	attrs Attrs
	key   string
}

// findOutcome returns the task's outcome: a span event named "outcome" or a log
// record whose event name or "event" attribute is "outcome". When several arrived
// the latest wins; equal times are broken by a stable key so arrival order does not
// matter.
func findOutcome(d *TaskData) (outcome, bool) {
	var best outcome
	found := false
	consider := func(o outcome) {
		if !found || o.time > best.time || (o.time == best.time && o.key > best.key) {
			best, found = o, true
		}
	}
	for i := range d.Spans {
		s := &d.Spans[i]
		for j := range s.Events {
			if s.Events[j].Name == "outcome" {
				consider(outcome{time: s.Events[j].Time, attrs: s.Events[j].Attrs, key: "s" + string(s.SpanID[:]) + strconv.Itoa(j)})
			}
		}
	}
	for i := range d.Logs {
		l := &d.Logs[i]
		if l.EventName == "outcome" || l.Attrs.Str("event") == "outcome" {
			var k [8]byte
			for b := 0; b < 8; b++ {
				k[b] = byte(l.ID >> (56 - 8*b))
			}
			consider(outcome{time: l.Time, attrs: l.Attrs, key: "l" + string(k[:])})
		}
	}
	return best, found
}

// Arms of a rollout a task may run in (Task.Arm).
const (
	ArmBaseline  = "baseline"
	ArmCandidate = "candidate"
	ArmShadow    = "shadow"
)

// armOf returns the rollout arm named by the root attribute day2.arm, or
// "shadow" when day2.shadow is true; other values are ignored.
func armOf(root Attrs) string {
	switch a := root.Str("day2.arm"); a {
	case ArmBaseline, ArmCandidate, ArmShadow:
		return a
	}
	if b, ok := root.Bool("day2.shadow"); ok && b {
		return ArmShadow
	}
	return ""
}

// ApprovalRequiredEvent is the name of the log record day2 adds to a task's
// trace when one of its actions needed a person's approval; such a task counts
// as escalated.
const ApprovalRequiredEvent = "day2.approval.required"

// approvalRequired reports whether the task's telemetry says an approval was
// required: the log record day2 writes, or a span event of that name.
func approvalRequired(d *TaskData) bool {
	for i := range d.Logs {
		if d.Logs[i].EventName == ApprovalRequiredEvent || d.Logs[i].Attrs.Str("event") == ApprovalRequiredEvent {
			return true
		}
	}
	for i := range d.Spans {
		for j := range d.Spans[i].Events {
			if d.Spans[i].Events[j].Name == ApprovalRequiredEvent {
				return true
			}
		}
	}
	return false
}

package day2_test

import (
	"testing"
	"time"

	"github.com/day2ops/day2"
)

var (
	t0      = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	traceID = day2.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
)

func sid(n byte) day2.SpanID { return day2.SpanID{0, 0, 0, 0, 0, 0, 0, n} }

func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

func str(k, v string) day2.Attr { return day2.Attr{Key: k, Value: day2.StringValue(v)} }
func num(k string, v int64) day2.Attr {
	return day2.Attr{Key: k, Value: day2.IntValue(v)}
}
func flag(k string, v bool) day2.Attr { return day2.Attr{Key: k, Value: day2.BoolValue(v)} }

var prodResource = &day2.Resource{Attrs: day2.Attrs{
	str("service.name", "invoice-agent"),
	str("service.version", "2.3.1"),
	str("deployment.environment.name", "prod"),
}}

func span(id, parent byte, name string, from, to time.Duration, attrs ...day2.Attr) day2.Span {
	return day2.Span{TraceID: traceID, SpanID: sid(id), ParentSpanID: sid(parent), Name: name,
		Start: at(from), End: at(to), Attrs: attrs, Resource: prodResource}
}

func ptr[T any](v T) *T { return &v }

func TestSummarize(t *testing.T) {
	root := span(1, 0, "invoice approval", 0, 90*time.Second,
		str("business_process", "invoice_approval"), str("flow_run_id", "run-42"),
		num("risk_tier", 2), str("tenant", "contoso"))
	outcomeEvent := day2.Event{Name: "outcome", Time: at(90 * time.Second), Attrs: day2.Attrs{
		flag("success", true), str("escalation", "false"), str("reason_code", "ok"), num("cycle_time_ms", 88000)}}
	rootWithOutcome := root
	rootWithOutcome.Events = []day2.Event{outcomeEvent}

	tests := []struct {
		name string
		data day2.TaskData
		want day2.Task
	}{
		{
			name: "seed model with outcome event counts a prompt and completion pair once",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{
				rootWithOutcome,
				span(2, 1, "llm.prompt", time.Second, 3*time.Second, num("input_tokens", 812), str("model", "gpt-4o")),
				span(3, 1, "llm.completion", 3*time.Second, 5*time.Second, num("output_tokens", 120), str("finish_reason", "stop")),
				span(4, 1, "llm.tool", 6*time.Second, 8*time.Second, str("tool.name", "erp"), str("status", "error"), num("retries", 2), num("http_status", 503)),
				span(5, 1, "llm.tool", 9*time.Second, 10*time.Second, str("tool.name", "erp"), str("status", "ok"), num("retries", 0), num("http_status", 200)),
			}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "2.3.1",
				BusinessProcess: "invoice_approval", RiskTier: "2", FlowRunID: "run-42", Tenant: "contoso",
				StartTime: t0, EndTime: t0.Add(90 * time.Second), CycleTimeMS: ptr(int64(88000)),
				Success: ptr(true), Escalated: ptr(false), ReasonCode: "ok", OutcomeTime: t0.Add(90 * time.Second),
				LLMCalls: 1, ToolCalls: 2, ToolFailures: 1, ToolRetries: 2, InputTokens: 812, OutputTokens: 120,
				Spans: 5, RootSeen: true,
			},
		},
		{
			name: "GenAI conventions with old token names, content filter and agent version",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{
				span(1, 0, "invoke_agent triage", 0, 30*time.Second, str("gen_ai.operation.name", "invoke_agent"),
					str("gen_ai.workflow.name", "support_triage"), str("gen_ai.agent.version", "1.5.0"),
					num("gen_ai.usage.input_tokens", 9999)),
				span(2, 1, "chat gpt-4o", time.Second, 2*time.Second, str("gen_ai.operation.name", "chat"),
					num("gen_ai.usage.prompt_tokens", 100), num("gen_ai.usage.completion_tokens", 20),
					day2.Attr{Key: "gen_ai.response.finish_reasons", Value: day2.ArrayValue(day2.StringValue("content_filter"))}),
				span(3, 1, "chat gpt-4o", 3*time.Second, 4*time.Second, str("gen_ai.operation.name", "chat"),
					day2.Attr{Key: "gen_ai.usage.input_tokens", Value: day2.StringValue("50")}, num("gen_ai.usage.output_tokens", 10)),
				span(4, 1, "execute_tool crm", 5*time.Second, 6*time.Second, str("gen_ai.operation.name", "execute_tool"),
					str("error.type", "timeout")),
			}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "1.5.0",
				BusinessProcess: "support_triage", StartTime: t0, EndTime: t0.Add(30 * time.Second),
				CycleTimeMS: ptr(int64(30000)), LLMCalls: 2, ToolCalls: 1, ToolFailures: 1,
				InputTokens: 150, OutputTokens: 30, SafetyBlocks: 1, Spans: 4, RootSeen: true,
			},
		},
		{
			name: "outcome log record before the root span: string booleans, no cycle time yet",
			data: day2.TaskData{TraceID: traceID, Logs: []day2.LogRecord{{
				ID: 7, TraceID: traceID, Time: at(2 * time.Minute), Resource: prodResource,
				Attrs: day2.Attrs{str("event", "outcome"), str("success", "FALSE"), str("escalation", "true"), str("reason_code", "needs_human")},
			}}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "2.3.1",
				StartTime: t0.Add(2 * time.Minute), EndTime: t0.Add(2 * time.Minute),
				Success: ptr(false), Escalated: ptr(true), ReasonCode: "needs_human", OutcomeTime: t0.Add(2 * time.Minute),
			},
		},
		{
			name: "a shadow run of a candidate whose action needed an approval counts as escalated",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{
				span(1, 0, "triage", 0, 20*time.Second, str("day2.arm", "shadow"), str("gen_ai.agent.version", "2.4.0")),
			}, Logs: []day2.LogRecord{
				{ID: 1, TraceID: traceID, Time: at(5 * time.Second), Resource: prodResource, EventName: day2.ApprovalRequiredEvent},
				{ID: 2, TraceID: traceID, Time: at(20 * time.Second), Resource: prodResource,
					Attrs: day2.Attrs{str("event", "outcome"), flag("success", true), flag("escalation", false)}},
			}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "2.4.0", Arm: "shadow",
				BusinessProcess: "triage", StartTime: t0, EndTime: t0.Add(20 * time.Second), CycleTimeMS: ptr(int64(20000)),
				Success: ptr(true), Escalated: ptr(true), OutcomeTime: t0.Add(20 * time.Second), Spans: 1, RootSeen: true,
			},
		},
		{
			name: "an unknown arm is ignored; day2.shadow marks a shadow run",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{
				span(1, 0, "triage", 0, 20*time.Second, str("day2.arm", "blue"), flag("day2.shadow", true)),
			}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "2.3.1", Arm: "shadow",
				BusinessProcess: "triage", StartTime: t0, EndTime: t0.Add(20 * time.Second), CycleTimeMS: ptr(int64(20000)),
				Spans: 1, RootSeen: true,
			},
		},
		{
			name: "span status error and a 429 are a failed tool call and a rate-limit hit",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{
				root,
				func() day2.Span {
					s := span(2, 1, "llm.tool", time.Second, 2*time.Second, num("http_status", 429), num("retries", 3))
					s.StatusCode = day2.StatusError
					return s
				}(),
			}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "2.3.1",
				BusinessProcess: "invoice_approval", RiskTier: "2", FlowRunID: "run-42", Tenant: "contoso",
				StartTime: t0, EndTime: t0.Add(90 * time.Second), CycleTimeMS: ptr(int64(90000)),
				ToolCalls: 1, ToolFailures: 1, ToolRetries: 3, RateLimitHits: 1, Spans: 2, RootSeen: true,
			},
		},
		{
			name: "environment from the root attribute when the resource has none; name as business process",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{{
				TraceID: traceID, SpanID: sid(1), Name: "flow run", Start: at(0), End: at(time.Second),
				Attrs:    day2.Attrs{str("environment", "staging")},
				Resource: &day2.Resource{Attrs: day2.Attrs{str("service.name", "triage"), str("deployment.environment", "")}},
			}}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "triage", Environment: "staging", BusinessProcess: "flow run",
				StartTime: t0, EndTime: t0.Add(time.Second), CycleTimeMS: ptr(int64(1000)), Spans: 1, RootSeen: true,
			},
		},
		{
			name: "safety_blocks on a completion blocks the call; outcome with no success attribute is a failure",
			data: day2.TaskData{TraceID: traceID, Spans: []day2.Span{
				func() day2.Span {
					s := root
					s.Events = []day2.Event{{Name: "outcome", Time: at(90 * time.Second), Attrs: day2.Attrs{str("reason_code", "blocked")}}}
					return s
				}(),
				span(2, 1, "llm.prompt", time.Second, 2*time.Second, num("input_tokens", 10)),
				span(3, 1, "llm.completion", 2*time.Second, 3*time.Second, num("output_tokens", 0), num("safety_blocks", 1)),
			}},
			want: day2.Task{
				TaskID: traceID.String(), Service: "invoice-agent", Environment: "prod", Version: "2.3.1",
				BusinessProcess: "invoice_approval", RiskTier: "2", FlowRunID: "run-42", Tenant: "contoso",
				StartTime: t0, EndTime: t0.Add(90 * time.Second), CycleTimeMS: ptr(int64(90000)),
				Success: ptr(false), Escalated: ptr(false), ReasonCode: "blocked", OutcomeTime: t0.Add(90 * time.Second),
				LLMCalls: 1, InputTokens: 10, SafetyBlocks: 1, Spans: 3, RootSeen: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := day2.Summarize(&tt.data)
			assertTask(t, got, tt.want)
		})
	}
}

func TestSummarizeDoesNotDependOnArrivalOrder(t *testing.T) {
	spans := []day2.Span{
		span(1, 0, "root", 0, time.Minute, str("business_process", "p")),
		span(2, 1, "llm.tool", time.Second, 2*time.Second, str("status", "error")),
		span(3, 1, "chat m", 3*time.Second, 4*time.Second, str("gen_ai.operation.name", "chat"), num("gen_ai.usage.input_tokens", 5)),
	}
	spans[0].Events = []day2.Event{{Name: "outcome", Time: at(time.Minute), Attrs: day2.Attrs{flag("success", true)}}}
	logs := []day2.LogRecord{{ID: 1, TraceID: traceID, Time: at(2 * time.Minute), Attrs: day2.Attrs{str("event", "outcome"), flag("success", false)}}}

	forward := day2.TaskData{TraceID: traceID, Spans: spans, Logs: logs}
	want := day2.Summarize(&forward)
	if want.Success == nil || *want.Success {
		t.Fatalf("the later outcome (log record, success=false) must win, got %v", want.Success)
	}

	var merged day2.TaskData
	for i := len(spans) - 1; i >= 0; i-- {
		day2.MergeTaskData(&merged, &day2.TaskData{TraceID: traceID, Spans: spans[i : i+1]})
	}
	day2.MergeTaskData(&merged, &day2.TaskData{TraceID: traceID, Logs: logs})
	assertTask(t, day2.Summarize(&merged), want)
}

func TestMergeTaskDataSkipsDuplicates(t *testing.T) {
	a := day2.TaskData{TraceID: traceID, Spans: []day2.Span{span(1, 0, "root", 0, time.Second)},
		Logs: []day2.LogRecord{{ID: 9, TraceID: traceID}}}
	b := day2.TaskData{TraceID: traceID, Spans: []day2.Span{span(1, 0, "root", 0, time.Second), span(2, 1, "x", 0, time.Second), span(2, 1, "x", 0, time.Second)},
		Logs: []day2.LogRecord{{ID: 9, TraceID: traceID}, {ID: 10, TraceID: traceID}}}
	r := day2.MergeTaskData(&a, &b)
	want := day2.CommitResult{Spans: 1, DuplicateSpans: 2, Logs: 1, DuplicateLogs: 1}
	if r != want {
		t.Fatalf("MergeTaskData result = %+v, want %+v", r, want)
	}
	if len(a.Spans) != 2 || len(a.Logs) != 2 {
		t.Fatalf("merged data has %d spans and %d logs, want 2 and 2", len(a.Spans), len(a.Logs))
	}
}

func assertTask(t *testing.T, got, want day2.Task) {
	t.Helper()
	if !got.StartTime.Equal(want.StartTime) || !got.EndTime.Equal(want.EndTime) || !got.OutcomeTime.Equal(want.OutcomeTime) {
		t.Errorf("times = start %v end %v outcome %v, want %v %v %v", got.StartTime, got.EndTime, got.OutcomeTime, want.StartTime, want.EndTime, want.OutcomeTime)
	}
	got.StartTime, got.EndTime, got.OutcomeTime = want.StartTime, want.EndTime, want.OutcomeTime
	if deref(got.CycleTimeMS) != deref(want.CycleTimeMS) || boolp(got.Success) != boolp(want.Success) || boolp(got.Escalated) != boolp(want.Escalated) {
		t.Errorf("cycle/success/escalated = %s %s %s, want %s %s %s", deref(got.CycleTimeMS), boolp(got.Success), boolp(got.Escalated),
			deref(want.CycleTimeMS), boolp(want.Success), boolp(want.Escalated))
	}
	got.CycleTimeMS, got.Success, got.Escalated = want.CycleTimeMS, want.Success, want.Escalated
	if got != want {
		t.Errorf("task =\n %+v\nwant\n %+v", got, want)
	}
}

func deref(p *int64) string {
	if p == nil {
		return "null"
	}
	return time.Duration(*p * int64(time.Millisecond)).String()
}

func boolp(p *bool) string {
	if p == nil {
		return "null"
	}
	if *p {
		return "true"
	}
	return "false"
}

package otlp

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/day2ops/day2"
)

// collectSink is a Sink that keeps what it is given, or fails with err.
type collectSink struct {
	mu      sync.Mutex
	err     error
	batches [][]day2.TaskData
}

func (s *collectSink) Submit(_ context.Context, batch []day2.TaskData) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.batches = append(s.batches, batch)
	return nil
}

func (s *collectSink) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

// spans returns every span submitted so far.
func (s *collectSink) spans() []day2.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []day2.Span
	for _, b := range s.batches {
		for _, t := range b {
			out = append(out, t.Spans...)
		}
	}
	return out
}

// logs returns every log record submitted so far.
func (s *collectSink) logs() []day2.LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []day2.LogRecord
	for _, b := range s.batches {
		for _, t := range b {
			out = append(out, t.Logs...)
		}
	}
	return out
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func traceID(n uint64) pcommon.TraceID {
	var id pcommon.TraceID
	binary.BigEndian.PutUint64(id[:8], 0x5b8efff798038103)
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

func spanID(n uint64) pcommon.SpanID {
	var id pcommon.SpanID
	binary.BigEndian.PutUint64(id[:], 0xeee19b7e00000000|n)
	return id
}

// newSpan appends a span with the given ids and attrs to ss.
func newSpan(ss ptrace.ScopeSpans, tid pcommon.TraceID, sid pcommon.SpanID, name string) ptrace.Span {
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName(name)
	sp.SetStartTimestamp(1767225600000000000)
	sp.SetEndTimestamp(1767225601000000000)
	return sp
}

// tracesOf returns traces with one resource and one scope, and that scope.
func tracesOf() (ptrace.Traces, ptrace.ScopeSpans) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "refund-agent")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("day2.agent")
	return td, ss
}

// logsOf returns logs with one resource and one scope, and its record slice.
func logsOf() (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "refund-agent")
	sl := rl.ScopeLogs().AppendEmpty()
	return ld, sl.LogRecords()
}

// realisticTraces builds an agent workload of nTraces tasks of ten spans each,
// shaped like the fixture: a root with the business attributes, prompt,
// completion and GenAI chat spans, and tool calls.
func realisticTraces(nTraces int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	ra := rs.Resource().Attributes()
	ra.PutStr("service.name", "refund-agent")
	ra.PutStr("service.version", "1.4.2")
	ra.PutStr("deployment.environment.name", "prod")
	ra.PutStr("telemetry.sdk.language", "python")
	ra.PutStr("host.name", "agent-7c9f6d")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("day2.agent")
	var sid uint64
	for t := range nTraces {
		tid := traceID(uint64(t + 1))
		sid++
		root := spanID(sid)
		sp := newSpan(ss, tid, root, "process_refund")
		sp.SetKind(ptrace.SpanKindServer)
		a := sp.Attributes()
		a.PutStr("business_process", "refund_request")
		a.PutStr("environment", "prod")
		a.PutStr("flow_run_id", "run-2f0c9a71-0001")
		a.PutStr("risk_tier", "high")
		a.PutStr("tenant", "contoso")
		a.PutStr("user.id", "u-10442")
		ev := sp.Events().AppendEmpty()
		ev.SetName("outcome")
		ev.SetTimestamp(1767225648211000000)
		ev.Attributes().PutBool("success", true)
		ev.Attributes().PutBool("escalation", false)
		ev.Attributes().PutStr("reason_code", "auto_approved")
		ev.Attributes().PutInt("cycle_time_ms", 48211)
		for k := range 3 {
			sid++
			sp = newSpan(ss, tid, spanID(sid), "llm.prompt")
			sp.SetParentSpanID(root)
			a = sp.Attributes()
			a.PutStr("model", "gpt-4o-2024-08-06")
			a.PutDouble("temperature", 0.2)
			a.PutDouble("top_p", 0.95)
			a.PutInt("input_tokens", int64(800+k))
			a.PutEmptySlice("safety_flags").AppendEmpty().SetStr("none")
			a.PutStr("grounding_source", "kb://refund-policy/v7")
			g := a.PutEmptySlice("guardrail_decisions")
			g.AppendEmpty().SetStr("pii_redacted")
			g.AppendEmpty().SetStr("allowed")

			sid++
			sp = newSpan(ss, tid, spanID(sid), "chat gpt-4o")
			sp.SetParentSpanID(root)
			sp.SetKind(ptrace.SpanKindClient)
			a = sp.Attributes()
			a.PutStr("gen_ai.operation.name", "chat")
			a.PutStr("gen_ai.provider.name", "openai")
			a.PutStr("gen_ai.request.model", "gpt-4o")
			a.PutStr("gen_ai.response.model", "gpt-4o-2024-08-06")
			a.PutDouble("gen_ai.request.temperature", 0.2)
			a.PutInt("gen_ai.usage.input_tokens", 812)
			a.PutInt("gen_ai.usage.output_tokens", 143)
			a.PutEmptySlice("gen_ai.response.finish_reasons").AppendEmpty().SetStr("stop")
			a.PutStr("server.address", "api.openai.com")
			a.PutStr("gen_ai.conversation.id", "conv-5b8efff7")

			sid++
			sp = newSpan(ss, tid, spanID(sid), "llm.tool")
			sp.SetParentSpanID(root)
			sp.SetKind(ptrace.SpanKindClient)
			a = sp.Attributes()
			a.PutStr("tool.name", "payments_api")
			a.PutStr("tool.action", "issue_refund")
			a.PutStr("request_idempotency_key", "refund-8842-1")
			a.PutStr("status", "ok")
			a.PutInt("retries", 0)
			a.PutInt("backoff_ms", 0)
			a.PutInt("http_status", 200)
			a.PutDouble("external_latency_ms", 210.5)
		}
	}
	return td
}

func marshalTracesProto(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func marshalTracesJSON(t testing.TB, td ptrace.Traces) []byte {
	t.Helper()
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// discardSink accepts everything and keeps nothing.
type discardSink struct{}

func (discardSink) Submit(context.Context, []day2.TaskData) error { return nil }

// Package storetest is the conformance suite every day2.TaskStore passes, run
// against real databases by the tests of packages sqlite and postgres, and the
// builder of task telemetry it uses.
package storetest

import (
	"encoding/binary"
	"slices"
	"time"

	"github.com/day2ops/day2"
)

// T0 is the start of the suite's timeline.
var T0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// TraceID returns the trace id of task number n: distinct for distinct n, and
// spread over the key space like real trace ids.
func TraceID(n int) day2.TraceID {
	var id day2.TraceID
	binary.BigEndian.PutUint64(id[:8], mix(uint64(n)))
	binary.BigEndian.PutUint64(id[8:], mix(uint64(n)^0x9e3779b97f4a7c15))
	return id
}

// mix is the splitmix64 finalizer, a bijection on uint64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Task builds the telemetry of one task the way an agent instrumented with the
// OpenTelemetry GenAI conventions emits it: a root span, child spans for model and
// tool calls, and an outcome log record.
type Task struct {
	id       day2.TraceID
	start    int64
	res      *day2.Resource
	rootSpan day2.SpanID // assigned when first needed, by Root or by a child
	root     *day2.Span
	children []day2.Span
	logs     []day2.LogRecord
	nextSpan uint64
}

// NewTask starts task number n of service invoice-agent, environment prod, version
// 1.0, beginning at start.
func NewTask(n int, start time.Time) *Task {
	return (&Task{id: TraceID(n), start: start.UnixNano()}).Service("invoice-agent", "prod", "1.0")
}

// NewTypical returns a complete task: a root span of a minute, one model call, one
// tool call and a successful outcome log.
func NewTypical(n int, start time.Time, service, env, version string) *Task {
	return NewTask(n, start).Service(service, env, version).
		Root(time.Minute).
		LLM(time.Second, 2*time.Second, 800, 120).
		Tool(4*time.Second, time.Second, false).
		Outcome(time.Minute, true)
}

// ID returns the task's trace id.
func (t *Task) ID() day2.TraceID { return t.id }

// Start returns the task's start time.
func (t *Task) Start() time.Time { return day2.UnixNano(t.start) }

// Service sets the resource of the spans and logs added from now on.
func (t *Task) Service(service, env, version string) *Task {
	t.res = &day2.Resource{Attrs: day2.Attrs{
		Str("service.name", service),
		Str("deployment.environment.name", env),
		Str("service.version", version),
	}}
	return t
}

// Str returns a string attribute.
func Str(k, v string) day2.Attr { return day2.Attr{Key: k, Value: day2.StringValue(v)} }

// Int returns an integer attribute.
func Int(k string, v int64) day2.Attr { return day2.Attr{Key: k, Value: day2.IntValue(v)} }

// Bool returns a boolean attribute.
func Bool(k string, v bool) day2.Attr { return day2.Attr{Key: k, Value: day2.BoolValue(v)} }

func (t *Task) spanID() day2.SpanID {
	t.nextSpan++
	var id day2.SpanID
	binary.BigEndian.PutUint64(id[:], mix(t.nextSpan^uint64(t.id[0])<<56))
	return id
}

func (t *Task) rootID() day2.SpanID {
	if t.rootSpan.IsZero() {
		t.rootSpan = t.spanID()
	}
	return t.rootSpan
}

// Root sets the root span, lasting d from the task's start, with attrs (for
// example gen_ai.agent.version, which overrides the resource's version). The
// root has business_process invoice_approval and risk_tier 2 unless attrs set
// them: the first of repeated attributes counts, and attrs come first.
func (t *Task) Root(d time.Duration, attrs ...day2.Attr) *Task {
	t.root = &day2.Span{
		TraceID: t.id, SpanID: t.rootID(), Name: "invoice approval", Kind: day2.SpanKindServer,
		Start: t.start, End: t.start + int64(d), StatusCode: day2.StatusOK, Scope: "storetest",
		Attrs:    append(slices.Clone(day2.Attrs(attrs)), Str("business_process", "invoice_approval"), Str("risk_tier", "2")),
		Resource: t.res,
	}
	return t
}

// LLM adds a model call starting at offset from the task's start.
func (t *Task) LLM(offset, d time.Duration, in, out int64) *Task {
	t.children = append(t.children, day2.Span{
		TraceID: t.id, SpanID: t.spanID(), ParentSpanID: t.rootID(), Name: "chat gpt-4o", Kind: day2.SpanKindClient,
		Start: t.start + int64(offset), End: t.start + int64(offset+d), Scope: "storetest",
		Attrs: day2.Attrs{Str("gen_ai.operation.name", "chat"), Str("gen_ai.request.model", "gpt-4o"),
			Int("gen_ai.usage.input_tokens", in), Int("gen_ai.usage.output_tokens", out)},
		Resource: t.res,
	})
	return t
}

// Tool adds a tool call starting at offset from the task's start.
func (t *Task) Tool(offset, d time.Duration, failed bool) *Task {
	s := day2.Span{
		TraceID: t.id, SpanID: t.spanID(), ParentSpanID: t.rootID(), Name: "execute_tool erp.lookup", Kind: day2.SpanKindClient,
		Start: t.start + int64(offset), End: t.start + int64(offset+d), Scope: "storetest",
		Attrs:    day2.Attrs{Str("gen_ai.operation.name", "execute_tool"), Str("gen_ai.tool.name", "erp.lookup")},
		Resource: t.res,
	}
	if failed {
		s.StatusCode, s.StatusMessage = day2.StatusError, "erp unavailable"
	}
	t.children = append(t.children, s)
	return t
}

// Outcome adds the task's outcome log record at offset from the task's start,
// with attrs besides success and reason_code (for example escalation or
// cycle_time_ms).
func (t *Task) Outcome(offset time.Duration, success bool, attrs ...day2.Attr) *Task {
	t.logs = append(t.logs, day2.LogRecord{
		ID: mix(uint64(len(t.logs)+1) ^ binary.BigEndian.Uint64(t.id[8:])), TraceID: t.id, SpanID: t.rootID(),
		Time: t.start + int64(offset), EventName: "outcome", SeverityText: "INFO", Body: "task finished",
		Attrs:    append(day2.Attrs{Bool("success", success), Str("reason_code", "ok")}, attrs...),
		Resource: t.res,
	})
	return t
}

// All returns all the task's telemetry.
func (t *Task) All() day2.TaskData {
	d := t.Children()
	if t.root != nil {
		d.Spans = append([]day2.Span{*t.root}, d.Spans...)
	}
	d.Logs = append([]day2.LogRecord(nil), t.logs...)
	return d
}

// RootOnly returns the root span alone.
func (t *Task) RootOnly() day2.TaskData {
	d := day2.TaskData{TraceID: t.id}
	if t.root != nil {
		d.Spans = []day2.Span{*t.root}
	}
	return d
}

// Children returns the spans other than the root.
func (t *Task) Children() day2.TaskData {
	return day2.TaskData{TraceID: t.id, Spans: append([]day2.Span(nil), t.children...)}
}

// Logs returns the log records alone.
func (t *Task) Logs() day2.TaskData {
	return day2.TaskData{TraceID: t.id, Logs: append([]day2.LogRecord(nil), t.logs...)}
}

// NewSized returns a complete task of the given number of spans: a root span,
// alternating model and tool calls, and an outcome log.
func NewSized(n int, start time.Time, spans int) *Task {
	t := NewTask(n, start).Root(time.Minute, Str("gen_ai.agent.version", "1.0"))
	for i := 1; i < spans; i++ {
		at := time.Duration(i) * time.Second
		if i%2 == 1 {
			t.LLM(at, 800*time.Millisecond, 800, 120)
		} else {
			t.Tool(at, 300*time.Millisecond, i%6 == 0)
		}
	}
	return t.Outcome(time.Minute, true)
}

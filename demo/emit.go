package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const instrumentationScope = "github.com/day2ops/day2/demo"

// Exporter tuning. Span queues block rather than drop when full, so a backfill runs
// at the speed the endpoint accepts. The log SDK has no blocking mode, so the
// backfill flushes a stream's logs every logFlushEvery records, well before its
// queue of logQueueSize could overflow.
const (
	spanQueueSize   = 8192
	exportBatchSize = 1024
	logQueueSize    = 8192
	logFlushEvery   = 2048
	exportTimeout   = 30 * time.Second
)

var exportRetry = struct {
	initial, max, elapsed time.Duration
}{500 * time.Millisecond, 5 * time.Second, 2 * time.Minute}

// emitter sends one stream's tasks through its own tracer and logger providers,
// whose resource names the agent version and environment.
type emitter struct {
	stream    Stream
	tp        *sdktrace.TracerProvider
	lp        *sdklog.LoggerProvider
	tracer    trace.Tracer
	logger    log.Logger
	delivered *delivery
	// logsSinceFlush is only touched by the backfill, which runs on one goroutine.
	logsSinceFlush int
}

func newEmitter(ctx context.Context, s Stream, base, token string, d *delivery) (*emitter, error) {
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	spanExp, err := otlptracehttp.New(ctx,
		otlptracehttp.WithEndpointURL(base+"/v1/traces"),
		otlptracehttp.WithHeaders(headers),
		otlptracehttp.WithTimeout(exportTimeout),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{
			Enabled: true, InitialInterval: exportRetry.initial, MaxInterval: exportRetry.max, MaxElapsedTime: exportRetry.elapsed,
		}))
	if err != nil {
		return nil, fmt.Errorf("create trace exporter for %s: %w", s, err)
	}
	logExp, err := otlploghttp.New(ctx,
		otlploghttp.WithEndpointURL(base+"/v1/logs"),
		otlploghttp.WithHeaders(headers),
		otlploghttp.WithTimeout(exportTimeout),
		otlploghttp.WithRetry(otlploghttp.RetryConfig{
			Enabled: true, InitialInterval: exportRetry.initial, MaxInterval: exportRetry.max, MaxElapsedTime: exportRetry.elapsed,
		}))
	if err != nil {
		return nil, fmt.Errorf("create log exporter for %s: %w", s, err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", s.Service),
		attribute.String("service.version", s.Version),
		attribute.String(EnvironmentKey(s), s.Environment),
		attribute.String("service.namespace", "day2-demo"),
		attribute.String("telemetry.sdk.language", "go"),
		attribute.String("telemetry.sdk.name", "opentelemetry"),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(newPlanIDGenerator()),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(&countingSpanExporter{SpanExporter: spanExp, d: d},
			sdktrace.WithBlocking(),
			sdktrace.WithMaxQueueSize(spanQueueSize),
			sdktrace.WithMaxExportBatchSize(exportBatchSize),
			sdktrace.WithBatchTimeout(time.Second)))
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(res),
		sdklog.WithProcessor(sdklog.NewBatchProcessor(&countingLogExporter{Exporter: logExp, d: d},
			sdklog.WithMaxQueueSize(logQueueSize),
			sdklog.WithExportMaxBatchSize(exportBatchSize),
			sdklog.WithExportInterval(time.Second))))
	return &emitter{
		stream:    s,
		tp:        tp,
		lp:        lp,
		tracer:    tp.Tracer(instrumentationScope, trace.WithInstrumentationVersion(s.Version)),
		logger:    lp.Logger(instrumentationScope, log.WithInstrumentationVersion(s.Version)),
		delivered: d,
	}, nil
}

// flush exports everything the emitter's providers hold.
func (e *emitter) flush(ctx context.Context) error {
	e.logsSinceFlush = 0
	return errors.Join(e.tp.ForceFlush(ctx), e.lp.ForceFlush(ctx))
}

func (e *emitter) shutdown(ctx context.Context) error {
	return errors.Join(e.tp.Shutdown(ctx), e.lp.Shutdown(ctx))
}

// waitFunc blocks until t, or returns an error if the task must be abandoned.
type waitFunc func(t time.Time) error

// emit sends plan p through the SDK with the plan's timestamps and returns how many
// spans it ended. With a nil wait the whole task is emitted at once (backfill);
// otherwise wait is called before each span starts and ends, so the telemetry
// leaves in real time as a running agent's would. If wait fails the task is
// abandoned: its open spans are never ended, as when an agent process dies.
func (e *emitter) emit(ctx context.Context, p *Plan, wait waitFunc) (spans int, err error) {
	if wait == nil {
		wait = func(time.Time) error { return nil }
	}
	ctx = withPlanIDs(ctx, p)
	ctx, root := e.tracer.Start(ctx, p.Root.Name,
		trace.WithNewRoot(),
		trace.WithTimestamp(p.Start),
		trace.WithSpanKind(p.Root.Kind),
		trace.WithAttributes(p.Root.Attrs...))
	for i := range p.Children {
		c := &p.Children[i]
		if err := wait(c.Start); err != nil {
			return spans, err
		}
		_, sp := e.tracer.Start(ctx, c.Name,
			trace.WithTimestamp(c.Start),
			trace.WithSpanKind(c.Kind),
			trace.WithAttributes(c.Attrs...))
		if err := wait(c.End); err != nil {
			return spans, err
		}
		if c.Status != codes.Unset {
			sp.SetStatus(c.Status, c.StatusMessage)
		}
		sp.End(trace.WithTimestamp(c.End))
		spans++
	}
	if err := wait(p.End); err != nil {
		return spans, err
	}
	o := p.Outcome
	if o.AsLog {
		e.logger.Emit(ctx, outcomeRecord(p))
	} else {
		root.AddEvent("outcome", trace.WithTimestamp(o.Time), trace.WithAttributes(o.Attrs()...))
	}
	if p.Root.Status != codes.Unset {
		root.SetStatus(p.Root.Status, p.Root.StatusMessage)
	}
	root.End(trace.WithTimestamp(p.End))
	return spans + 1, nil
}

// outcomeRecord builds the outcome log record the way Application Insights users
// write it: event=outcome plus the outcome and a few of the run's dimensions.
func outcomeRecord(p *Plan) log.Record {
	o := p.Outcome
	var rec log.Record
	rec.SetEventName("outcome")
	rec.SetTimestamp(o.Time)
	rec.SetObservedTimestamp(o.Time)
	rec.SetSeverity(log.SeverityInfo)
	rec.SetSeverityText("INFO")
	verdict := "succeeded"
	if !o.Success {
		verdict = "failed"
	}
	rec.SetBody(attribute.StringValue(fmt.Sprintf("task %s (%s)", verdict, o.ReasonCode)))
	rec.AddAttributes(attribute.String("event", "outcome"))
	rec.AddAttributes(o.Attrs()...)
	for _, kv := range p.Root.Attrs {
		switch kv.Key {
		case "business_process", "flow_run_id", "risk_tier", "tenant":
			rec.AddAttributes(kv)
		}
	}
	return rec
}

// delivery counts what the exporters delivered and remembers the last failure.
// The SDK retries retryable failures itself, so a failure here means data lost.
type delivery struct {
	mu          sync.Mutex
	spans, logs int64
	lostSpans   int64
	lostLogs    int64
	lastErr     error
}

func (d *delivery) record(spans, logs int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		d.lostSpans += int64(spans)
		d.lostLogs += int64(logs)
		d.lastErr = err
		return
	}
	d.spans += int64(spans)
	d.logs += int64(logs)
}

// err returns an error describing lost telemetry, or nil if nothing was lost.
func (d *delivery) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastErr == nil {
		return nil
	}
	return fmt.Errorf("%d spans and %d log records could not be delivered: %w", d.lostSpans, d.lostLogs, d.lastErr)
}

// countingSpanExporter records each export in a delivery. It reports failures
// through the delivery rather than to the SDK, which would only log them through
// the process-wide OpenTelemetry error handler.
type countingSpanExporter struct {
	sdktrace.SpanExporter
	d *delivery
}

func (e *countingSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.d.record(len(spans), 0, e.SpanExporter.ExportSpans(ctx, spans))
	return nil
}

// countingLogExporter is countingSpanExporter for log records.
type countingLogExporter struct {
	sdklog.Exporter
	d *delivery
}

func (e *countingLogExporter) Export(ctx context.Context, records []sdklog.Record) error {
	if len(records) == 0 {
		return nil
	}
	e.d.record(0, len(records), e.Exporter.Export(ctx, records))
	return nil
}

// planIDs hands out a plan's ids to the SDK in the order its spans start, so that
// the telemetry carries the ids the plan drew from the seed.
type planIDs struct {
	traceID trace.TraceID
	spans   []trace.SpanID
	next    int
}

type planIDsKey struct{}

func withPlanIDs(ctx context.Context, p *Plan) context.Context {
	ids := &planIDs{traceID: p.TraceID, spans: make([]trace.SpanID, 0, p.SpanCount())}
	ids.spans = append(ids.spans, p.Root.SpanID)
	for i := range p.Children {
		ids.spans = append(ids.spans, p.Children[i].SpanID)
	}
	return context.WithValue(ctx, planIDsKey{}, ids)
}

// planIDGenerator is an sdktrace.IDGenerator that uses the ids of the plan in the
// context, and random ids for any span outside a plan.
type planIDGenerator struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newPlanIDGenerator() *planIDGenerator {
	return &planIDGenerator{rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

func (g *planIDGenerator) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	if ids, ok := ctx.Value(planIDsKey{}).(*planIDs); ok {
		return ids.traceID, g.nextSpanID(ids)
	}
	var tid trace.TraceID
	g.mu.Lock()
	putUint64(tid[:8], g.rng.Uint64())
	putUint64(tid[8:], g.rng.Uint64()|1)
	g.mu.Unlock()
	return tid, g.nextSpanID(nil)
}

func (g *planIDGenerator) NewSpanID(ctx context.Context, traceID trace.TraceID) trace.SpanID {
	ids, _ := ctx.Value(planIDsKey{}).(*planIDs)
	if ids != nil && ids.traceID != traceID {
		ids = nil
	}
	return g.nextSpanID(ids)
}

func (g *planIDGenerator) nextSpanID(ids *planIDs) trace.SpanID {
	if ids != nil && ids.next < len(ids.spans) {
		id := ids.spans[ids.next]
		ids.next++
		return id
	}
	var sid trace.SpanID
	g.mu.Lock()
	putUint64(sid[:], g.rng.Uint64()|1)
	g.mu.Unlock()
	return sid
}

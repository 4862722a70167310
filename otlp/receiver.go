// Package otlp holds day2's OpenTelemetry receivers: OTLP/HTTP (protobuf and JSON)
// and OTLP/gRPC for traces and logs. They decode a request, convert it to the
// domain model (one day2.TaskData per trace id) and hand it to a Sink, answering
// the exporter with the codes the OTLP specification defines: partial success for
// items refused by the limits, 400/InvalidArgument for bad data, and 429/503 or
// Unavailable with a retry delay when the ingest queue cannot take the batch.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/day2ops/day2"
)

// Sink takes converted telemetry. The ingest queue implements it.
type Sink interface {
	// Submit returns only once the batch is durably committed, or with a coded
	// error: day2.EOverloaded when the queue is full, day2.EUnavailable when the
	// store is not ready or shutting down. The receivers never pass an empty
	// batch. The slices of one batch may share backing arrays, so keeping any
	// part of a batch keeps the whole of it in memory.
	Submit(ctx context.Context, batch []day2.TaskData) error
}

// Option configures a Receiver.
type Option func(*options)

type options struct {
	reg        prometheus.Registerer
	log        *slog.Logger
	retryAfter time.Duration
}

// WithRegisterer registers the receiver's metrics with reg. Without it the
// metrics are kept but not exported.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.reg = reg }
}

// WithLogger sets the logger for failures the exporter is not told the details
// of; the default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithRetryAfter sets the delay exporters are asked to wait before retrying a
// batch the sink could not take (HTTP Retry-After, gRPC RetryInfo). It is rounded
// up to whole seconds for HTTP; the default is one second.
func WithRetryAfter(d time.Duration) Option {
	return func(o *options) { o.retryAfter = d }
}

// Receiver serves OTLP exports over HTTP and gRPC and submits what they carry to
// a Sink. It is safe for concurrent use.
type Receiver struct {
	sink       Sink
	lim        Limits
	log        *slog.Logger
	retryAfter time.Duration
	m          *metrics
	bufs       bufferPool
}

// NewReceiver returns a receiver that submits to sink under the limits lim (zero
// fields take their defaults). It fails when a limit is negative or the metrics
// cannot be registered.
func NewReceiver(sink Sink, lim Limits, opts ...Option) (*Receiver, error) {
	if sink == nil {
		return nil, errors.New("new otlp receiver: sink is nil")
	}
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("new otlp receiver: %w", err)
	}
	o := options{retryAfter: time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	if o.retryAfter <= 0 {
		o.retryAfter = time.Second
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("new otlp receiver: %w", err)
	}
	return &Receiver{
		sink:       sink,
		lim:        lim.withDefaults(),
		log:        o.log,
		retryAfter: o.retryAfter,
		m:          m,
	}, nil
}

// Limits returns the limits in force, defaults filled in.
func (r *Receiver) Limits() Limits { return r.lim }

// signal describes one OTLP signal (traces or logs) to the shared request path.
type signal struct {
	name string // "traces" or "logs": the metric label and the URL path
	noun string // "spans" or "log records"
	logs bool
	// decode decodes a request body and converts it.
	decode func(body []byte, asJSON bool, lim Limits) ([]day2.TaskData, Rejections, error)
	// response encodes the export response for rej.
	response func(rej Rejections, asJSON bool) ([]byte, error)
}

// unmarshal decodes an OTLP export request from JSON or protobuf.
func unmarshal(req interface {
	UnmarshalJSON([]byte) error
	UnmarshalProto([]byte) error
}, body []byte, asJSON bool) error {
	if asJSON {
		return req.UnmarshalJSON(body)
	}
	return req.UnmarshalProto(body)
}

// marshal encodes an OTLP export response as JSON or protobuf.
func marshal(resp interface {
	MarshalJSON() ([]byte, error)
	MarshalProto() ([]byte, error)
}, asJSON bool) ([]byte, error) {
	if asJSON {
		return resp.MarshalJSON()
	}
	return resp.MarshalProto()
}

var tracesSignal = &signal{
	name: "traces",
	noun: "spans",
	decode: func(body []byte, asJSON bool, lim Limits) ([]day2.TaskData, Rejections, error) {
		req := ptraceotlp.NewExportRequest()
		if err := unmarshal(&req, body, asJSON); err != nil {
			return nil, Rejections{}, err
		}
		tasks, rej := TracesToTasks(req.Traces(), lim)
		return tasks, rej, nil
	},
	response: func(rej Rejections, asJSON bool) ([]byte, error) {
		resp := tracesResponse(rej)
		return marshal(&resp, asJSON)
	},
}

var logsSignal = &signal{
	name: "logs",
	noun: "log records",
	logs: true,
	decode: func(body []byte, asJSON bool, lim Limits) ([]day2.TaskData, Rejections, error) {
		req := plogotlp.NewExportRequest()
		if err := unmarshal(&req, body, asJSON); err != nil {
			return nil, Rejections{}, err
		}
		tasks, rej := LogsToTasks(req.Logs(), lim)
		return tasks, rej, nil
	},
	response: func(rej Rejections, asJSON bool) ([]byte, error) {
		resp := logsResponse(rej)
		return marshal(&resp, asJSON)
	},
}

func tracesResponse(rej Rejections) ptraceotlp.ExportResponse {
	resp := ptraceotlp.NewExportResponse()
	if rej.Rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedSpans(int64(rej.Rejected))
		ps.SetErrorMessage(rej.Message)
	}
	return resp
}

func logsResponse(rej Rejections) plogotlp.ExportResponse {
	resp := plogotlp.NewExportResponse()
	if rej.Rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedLogRecords(int64(rej.Rejected))
		ps.SetErrorMessage(rej.Message)
	}
	return resp
}

// outcome classifies how an export ended, for the transports to map to their
// status codes.
type outcome uint8

const (
	accepted    outcome = iota // stored, possibly in part
	invalid                    // every item was rejected
	overloaded                 // the sink is full: retry later
	unavailable                // the sink is not ready or shutting down: retry later
	canceled                   // the caller went away or ran out of time
	failed                     // an internal error, logged
)

// store submits what a request carried and says how the export ended, with the
// message for the exporter.
func (r *Receiver) store(ctx context.Context, sig *signal, transport string, tasks []day2.TaskData, rej Rejections) (outcome, string) {
	r.m.count(sig, rej)
	if rej.Rejected > 0 {
		r.log.DebugContext(ctx, "otlp: rejected telemetry", "transport", transport, "signal", sig.name,
			"received", rej.Received, "rejected", rej.Rejected, "reason", rej.Message)
	}
	if rej.AllRejected() {
		return invalid, rej.Message
	}
	if len(tasks) == 0 {
		return accepted, ""
	}
	err := r.sink.Submit(ctx, tasks)
	if err == nil {
		return accepted, ""
	}
	switch day2.ErrorCode(err) {
	case day2.EOverloaded:
		return overloaded, day2.ErrorMessage(err)
	case day2.EUnavailable:
		return unavailable, day2.ErrorMessage(err)
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		r.log.DebugContext(ctx, "otlp: export abandoned by the caller", "transport", transport, "signal", sig.name, "err", err)
		return canceled, fmt.Sprintf("the request ended before the %s were stored; send them again", sig.noun)
	}
	r.log.ErrorContext(ctx, "otlp: submit telemetry", "transport", transport, "signal", sig.name, "err", err)
	return failed, fmt.Sprintf("internal error while storing %s; the server log has the details", sig.noun)
}

// retryAfterSeconds is the Retry-After header value: whole seconds, at least one.
func (r *Receiver) retryAfterSeconds() int64 {
	return int64(math.Ceil(r.retryAfter.Seconds()))
}

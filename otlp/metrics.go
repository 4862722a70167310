package otlp

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the receiver's Prometheus counters.
type metrics struct {
	requests      *prometheus.CounterVec
	spansReceived prometheus.Counter
	spansRejected prometheus.Counter
	logsReceived  prometheus.Counter
	logsRejected  prometheus.Counter
	logsDropped   prometheus.Counter
}

// newMetrics creates the counters and registers them with reg, if it is not nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "day2_otlp_requests_total",
			Help: "OTLP export requests answered, by transport (http, grpc), signal (traces, logs) and response code (HTTP status or gRPC code).",
		}, []string{"transport", "signal", "code"}),
		spansReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "day2_otlp_spans_received_total",
			Help: "Spans decoded from OTLP requests, whether stored or rejected.",
		}),
		spansRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "day2_otlp_spans_rejected_total",
			Help: "Spans refused for invalid ids or for breaking the attribute limits.",
		}),
		logsReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "day2_otlp_log_records_received_total",
			Help: "Log records decoded from OTLP requests, whether stored, rejected or dropped.",
		}),
		logsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "day2_otlp_log_records_rejected_total",
			Help: "Log records refused for breaking the attribute or value length limits.",
		}),
		logsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "day2_otlp_log_records_dropped_total",
			Help: "Log records accepted but not stored because they carry no trace id.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.spansReceived, m.spansRejected, m.logsReceived, m.logsRejected, m.logsDropped} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register otlp metrics: %w (is a second receiver using the same registry?)", err)
			}
			return nil, fmt.Errorf("register otlp metrics: %w", err)
		}
	}
	return m, nil
}

// count adds the item counts of one converted request.
func (m *metrics) count(sig *signal, rej Rejections) {
	if sig.logs {
		m.logsReceived.Add(float64(rej.Received))
		m.logsRejected.Add(float64(rej.Rejected))
		m.logsDropped.Add(float64(rej.Dropped))
		return
	}
	m.spansReceived.Add(float64(rej.Received))
	m.spansRejected.Add(float64(rej.Rejected))
}

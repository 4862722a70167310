package demo

import (
	"compress/gzip"
	"io"
	"net/http"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// sink is an OTLP/HTTP receiver for tests: it decodes protobuf requests with the
// collector's pdata and keeps what it received.
type sink struct {
	t         testing.TB
	mu        sync.Mutex
	spans     []receivedSpan
	logs      []receivedLog
	auth      []string
	discard   bool // count only
	spanCount int
	logCount  int
}

type receivedSpan struct {
	resource pcommon.Map
	span     ptrace.Span
}

type receivedLog struct {
	resource pcommon.Map
	record   plog.LogRecord
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "unexpected content type "+ct, http.StatusUnsupportedMediaType)
		return
	}
	s.mu.Lock()
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	s.mu.Unlock()
	var out []byte
	switch r.URL.Path {
	case "/v1/traces":
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(data); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.addTraces(req.Traces())
		out, _ = ptraceotlp.NewExportResponse().MarshalProto()
	case "/v1/logs":
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(data); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.addLogs(req.Logs())
		out, _ = plogotlp.NewExportResponse().MarshalProto()
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (s *sink) addTraces(td ptrace.Traces) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spanCount += td.SpanCount()
	if s.discard {
		return
	}
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				s.spans = append(s.spans, receivedSpan{resource: res, span: sp})
			}
		}
	}
}

func (s *sink) addLogs(ld plog.Logs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logCount += ld.LogRecordCount()
	if s.discard {
		return
	}
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				s.logs = append(s.logs, receivedLog{resource: res, record: lr})
			}
		}
	}
}

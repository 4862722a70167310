package otlp

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/day2ops/day2"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBomb returns a small gzip stream that inflates to n zero bytes.
func gzipBomb(t testing.TB, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range n >> 20 {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// errorStatus decodes a google.rpc.Status error body in the given content type.
func errorStatus(t *testing.T, contentType string, body []byte) (int32, string) {
	t.Helper()
	switch {
	case strings.HasPrefix(contentType, contentTypeProto):
		var st spb.Status
		if err := proto.Unmarshal(body, &st); err != nil {
			t.Fatalf("error body is not a protobuf google.rpc.Status: %v", err)
		}
		return st.Code, st.Message
	case strings.HasPrefix(contentType, contentTypeJSON):
		var st struct {
			Code    int32  `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &st); err != nil {
			t.Fatalf("error body is not a JSON google.rpc.Status: %v: %s", err, body)
		}
		return st.Code, st.Message
	}
	return -1, string(body)
}

// partialSuccess decodes an export response and returns its partial success.
func partialSuccess(t *testing.T, path, contentType string, body []byte) (int64, string) {
	t.Helper()
	asJSON := strings.HasPrefix(contentType, contentTypeJSON)
	if path == "/v1/logs" {
		resp := plogotlp.NewExportResponse()
		var err error
		if asJSON {
			err = resp.UnmarshalJSON(body)
		} else {
			err = resp.UnmarshalProto(body)
		}
		if err != nil {
			t.Fatalf("decode logs response: %v", err)
		}
		return resp.PartialSuccess().RejectedLogRecords(), resp.PartialSuccess().ErrorMessage()
	}
	resp := ptraceotlp.NewExportResponse()
	var err error
	if asJSON {
		err = resp.UnmarshalJSON(body)
	} else {
		err = resp.UnmarshalProto(body)
	}
	if err != nil {
		t.Fatalf("decode traces response: %v", err)
	}
	return resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage()
}

func TestHTTPReceiver(t *testing.T) {
	const limit = 1 << 20
	fixtureJSON := readTestdata(t, "agent_task.json")
	fixtureProto := marshalTracesProto(t, decodeTracesJSON(t, fixtureJSON))
	logsJSON := readTestdata(t, "agent_logs.json")

	partial, ss := tracesOf()
	newSpan(ss, traceID(1), spanID(1), "ok")
	newSpan(ss, traceID(1), pcommon.SpanID{}, "no.span.id")
	allBad, ss2 := tracesOf()
	newSpan(ss2, pcommon.TraceID{}, spanID(1), "no.trace.id")
	manyAttrs, ss3 := tracesOf()
	sp := newSpan(ss3, traceID(1), spanID(1), "llm.tool")
	for i := range 300 {
		sp.Attributes().PutInt(fmt.Sprintf("a%d", i), int64(i))
	}
	newSpan(ss3, traceID(2), spanID(2), "ok")

	tests := []struct {
		name        string
		method      string // POST when empty
		path        string
		contentType string
		encoding    string
		body        []byte
		sinkErr     error

		wantStatus      int
		wantContentType string
		wantMessage     string // in the error message or the partial success message
		wantRejected    int64
		wantRetryAfter  string
		wantAllow       string
		wantStored      int // spans or log records handed to the sink
		wantCalls       int
	}{
		{
			name: "protobuf traces are stored and answered in protobuf", path: "/v1/traces",
			contentType: contentTypeProto, body: fixtureProto,
			wantStatus: 200, wantContentType: contentTypeProto, wantStored: 5, wantCalls: 1,
		},
		{
			name: "JSON traces are stored and answered in JSON", path: "/v1/traces",
			contentType: contentTypeJSON, body: fixtureJSON,
			wantStatus: 200, wantContentType: contentTypeJSON, wantStored: 5, wantCalls: 1,
		},
		{
			name: "content type parameters are ignored", path: "/v1/traces",
			contentType: "application/json; charset=utf-8", body: fixtureJSON,
			wantStatus: 200, wantContentType: contentTypeJSON, wantStored: 5, wantCalls: 1,
		},
		{
			name: "gzip protobuf", path: "/v1/traces",
			contentType: contentTypeProto, encoding: "gzip", body: gzipped(t, fixtureProto),
			wantStatus: 200, wantContentType: contentTypeProto, wantStored: 5, wantCalls: 1,
		},
		{
			name: "gzip JSON", path: "/v1/traces",
			contentType: contentTypeJSON, encoding: "gzip", body: gzipped(t, fixtureJSON),
			wantStatus: 200, wantContentType: contentTypeJSON, wantStored: 5, wantCalls: 1,
		},
		{
			name: "an empty protobuf request is accepted without touching the sink", path: "/v1/traces",
			contentType: contentTypeProto, body: nil,
			wantStatus: 200, wantContentType: contentTypeProto,
		},
		{
			name: "an empty JSON request is accepted without touching the sink", path: "/v1/traces",
			contentType: contentTypeJSON, body: []byte(`{}`),
			wantStatus: 200, wantContentType: contentTypeJSON,
		},
		{
			name: "a body over the limit is refused", path: "/v1/traces",
			contentType: contentTypeProto, body: bytes.Repeat([]byte{0}, limit+1),
			wantStatus: 413, wantContentType: contentTypeProto, wantMessage: "raise --max-body",
		},
		{
			name: "a gzip bomb is refused", path: "/v1/traces",
			contentType: contentTypeJSON, encoding: "gzip", body: gzipBomb(t, 64<<20),
			wantStatus: 413, wantContentType: contentTypeJSON, wantMessage: "larger than the limit of 1048576 bytes (after decompression)",
		},
		{
			name: "a compressed body over the limit is refused", path: "/v1/logs",
			contentType: contentTypeJSON, encoding: "gzip", body: bytes.Repeat([]byte{0x1f}, limit+10),
			wantStatus: 413, wantContentType: contentTypeJSON, wantMessage: "--max-body",
		},
		{
			name: "an unknown content encoding", path: "/v1/traces",
			contentType: contentTypeProto, encoding: "br", body: fixtureProto,
			wantStatus: 415, wantContentType: contentTypeProto, wantMessage: `Content-Encoding "br" is not supported; send gzip`,
		},
		{
			name: "an unsupported content type", path: "/v1/traces",
			contentType: "text/plain", body: fixtureJSON,
			wantStatus: 415, wantContentType: "text/plain; charset=utf-8", wantMessage: `Content-Type "text/plain" is not supported; send application/x-protobuf or application/json`,
		},
		{
			name: "a missing content type", path: "/v1/logs",
			body:       logsJSON,
			wantStatus: 415, wantContentType: "text/plain; charset=utf-8", wantMessage: `Content-Type "" is not supported`,
		},
		{
			name: "GET is not allowed", method: http.MethodGet, path: "/v1/traces",
			contentType: contentTypeJSON,
			wantStatus:  405, wantContentType: contentTypeJSON, wantAllow: "POST", wantMessage: "method GET is not allowed on /v1/traces",
		},
		{
			name: "garbage protobuf", path: "/v1/traces",
			contentType: contentTypeProto, body: []byte("\xff\xff\xff\xff garbage"),
			wantStatus: 400, wantContentType: contentTypeProto, wantMessage: "cannot decode the OTLP/protobuf traces request: ",
		},
		{
			name: "garbage JSON", path: "/v1/logs",
			contentType: contentTypeJSON, body: []byte(`{"resourceLogs": [ nope`),
			wantStatus: 400, wantContentType: contentTypeJSON, wantMessage: "cannot decode the OTLP/JSON logs request: ",
		},
		{
			name: "JSON nested deeper than any OTLP request", path: "/v1/traces",
			contentType: contentTypeJSON, body: []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"a","value":` +
				strings.Repeat(`{"arrayValue":{"values":[`, 50) + strings.Repeat(`]}}`, 50) + `}]}]}]}]}`),
			wantStatus: 400, wantContentType: contentTypeJSON, wantMessage: "deeper than 128 levels",
		},
		{
			name: "a corrupt gzip stream", path: "/v1/traces",
			contentType: contentTypeProto, encoding: "gzip", body: gzipped(t, fixtureProto)[:40],
			wantStatus: 400, wantContentType: contentTypeProto, wantMessage: "cannot decompress the gzip body",
		},
		{
			name: "partial success names the rejected span", path: "/v1/traces",
			contentType: contentTypeJSON, body: marshalTracesJSON(t, partial),
			wantStatus: 200, wantContentType: contentTypeJSON, wantStored: 1, wantCalls: 1,
			wantRejected: 1, wantMessage: `rejected 1 of 2 spans: span "no.span.id"`,
		},
		{
			name: "partial success over protobuf", path: "/v1/traces",
			contentType: contentTypeProto, body: marshalTracesProto(t, manyAttrs),
			wantStatus: 200, wantContentType: contentTypeProto, wantStored: 1, wantCalls: 1,
			wantRejected: 1, wantMessage: `span "llm.tool" (trace 5b8efff7980381030000000000000001, span eee19b7e00000001) has 300 attributes, over the limit of 256; drop attributes in the exporter or raise --max-attributes`,
		},
		{
			name: "every span rejected is a bad request", path: "/v1/traces",
			contentType: contentTypeProto, body: marshalTracesProto(t, allBad),
			wantStatus: 400, wantContentType: contentTypeProto, wantMessage: "rejected 1 of 1 spans",
		},
		{
			name: "an overloaded sink asks the exporter to retry later", path: "/v1/traces",
			contentType: contentTypeProto, body: fixtureProto,
			sinkErr:    day2.Errorf(day2.EOverloaded, "the ingest queue is full; retry later"),
			wantStatus: 429, wantContentType: contentTypeProto, wantRetryAfter: "2", wantMessage: "the ingest queue is full",
		},
		{
			name: "an unavailable sink is a 503", path: "/v1/logs",
			contentType: contentTypeJSON, body: logsJSON,
			sinkErr:    fmt.Errorf("submit: %w", day2.Errorf(day2.EUnavailable, "day2 is shutting down")),
			wantStatus: 503, wantContentType: contentTypeJSON, wantRetryAfter: "2", wantMessage: "day2 is shutting down",
		},
		{
			name: "a failing sink is a 500 that hides the details", path: "/v1/traces",
			contentType: contentTypeJSON, body: fixtureJSON,
			sinkErr:    errors.New("disk /var/lib/day2 secret detail"),
			wantStatus: 500, wantContentType: contentTypeJSON, wantMessage: "internal error while storing spans; the server log has the details",
		},
		{
			name: "JSON logs are stored", path: "/v1/logs",
			contentType: contentTypeJSON, body: logsJSON,
			wantStatus: 200, wantContentType: contentTypeJSON, wantStored: 2, wantCalls: 1,
		},
		{
			name: "logs without a trace id are accepted and not stored", path: "/v1/logs",
			contentType: contentTypeProto, body: func() []byte {
				ld, recs := logsOf()
				recs.AppendEmpty().Body().SetStr("worker started")
				b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
				if err != nil {
					t.Fatal(err)
				}
				return b
			}(),
			wantStatus: 200, wantContentType: contentTypeProto,
		},
		{
			name: "logs partial success", path: "/v1/logs",
			contentType: contentTypeJSON, body: func() []byte {
				ld, recs := logsOf()
				lr := recs.AppendEmpty()
				lr.SetTraceID(traceID(1))
				lr.Body().SetStr(strings.Repeat("b", 70000))
				lr = recs.AppendEmpty()
				lr.SetTraceID(traceID(1))
				lr.Body().SetStr("fine")
				b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				return b
			}(),
			wantStatus: 200, wantContentType: contentTypeJSON, wantStored: 1, wantCalls: 1,
			wantRejected: 1, wantMessage: "has a body of 70000 bytes, over the limit of 65536",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := &collectSink{err: tc.sinkErr}
			recv, err := NewReceiver(sink, Limits{MaxBodyBytes: limit}, WithRetryAfter(1500*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			recv.Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()

			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, srv.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.encoding != "" {
				req.Header.Set("Content-Encoding", tc.encoding)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}

			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status = %d, want %d; body %q", resp.StatusCode, tc.wantStatus, body)
			}
			ct := resp.Header.Get("Content-Type")
			if ct != tc.wantContentType {
				t.Errorf("Content-Type = %q, want %q", ct, tc.wantContentType)
			}
			if got := resp.Header.Get("Retry-After"); got != tc.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tc.wantRetryAfter)
			}
			if got := resp.Header.Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}

			var msg string
			if resp.StatusCode == http.StatusOK {
				var rejected int64
				rejected, msg = partialSuccess(t, tc.path, ct, body)
				if rejected != tc.wantRejected {
					t.Errorf("partial success rejected %d, want %d", rejected, tc.wantRejected)
				}
				if tc.wantRejected == 0 && msg != "" {
					t.Errorf("partial success message %q with nothing rejected", msg)
				}
			} else {
				_, msg = errorStatus(t, ct, body)
				if strings.Contains(msg, "secret") {
					t.Errorf("message %q leaks internals", msg)
				}
			}
			if !strings.Contains(msg, tc.wantMessage) {
				t.Errorf("message %q does not contain %q", msg, tc.wantMessage)
			}

			if got := sink.calls(); got != tc.wantCalls {
				t.Errorf("sink called %d times, want %d", got, tc.wantCalls)
			}
			if got := len(sink.spans()) + len(sink.logs()); got != tc.wantStored {
				t.Errorf("stored %d items, want %d", got, tc.wantStored)
			}
		})
	}
}

func TestJSONDepthWithin(t *testing.T) {
	tests := []struct {
		name string
		body string
		want bool
	}{
		{"flat", `{"a":[1,2]}`, true},
		{"exactly the limit", `{"a":[[1]]}`, true},
		{"one over the limit", `{"a":[[[1]]]}`, false},
		{"brackets inside strings do not count", `{"a":"[[[[{{{{"}`, true},
		{"escaped quotes do not end a string", `{"a":"\"[[[[[\\"}`, true},
		{"an escaped backslash before the closing quote", `{"a":"x\\","b":[[[1]]]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := jsonDepthWithin([]byte(tc.body), 3); got != tc.want {
				t.Errorf("jsonDepthWithin(%s, 3) = %v, want %v", tc.body, got, tc.want)
			}
		})
	}
}

func TestHTTPErrorBodiesCarryTheGRPCCode(t *testing.T) {
	tests := []struct {
		name     string
		sinkErr  error
		body     []byte
		wantCode codes.Code
	}{
		{"bad data", nil, []byte("{nope"), codes.InvalidArgument},
		{"overload", day2.Errorf(day2.EOverloaded, "full"), readTestdata(t, "agent_task.json"), codes.Unavailable},
		{"internal", errors.New("boom"), readTestdata(t, "agent_task.json"), codes.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recv, err := NewReceiver(&collectSink{err: tc.sinkErr}, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", contentTypeJSON)
			rec := httptest.NewRecorder()
			recv.TracesHandler().ServeHTTP(rec, req)
			code, _ := errorStatus(t, rec.Header().Get("Content-Type"), rec.Body.Bytes())
			if codes.Code(code) != tc.wantCode {
				t.Errorf("code = %v, want %v", codes.Code(code), tc.wantCode)
			}
		})
	}
}

func TestGzipBombDoesNotAllocatePastTheLimit(t *testing.T) {
	const limit = 1 << 20
	bomb := gzipBomb(t, 256<<20)
	recv, err := NewReceiver(&collectSink{}, Limits{MaxBodyBytes: limit})
	if err != nil {
		t.Fatal(err)
	}
	serve := func() int {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(bomb))
		req.Header.Set("Content-Type", contentTypeProto)
		req.Header.Set("Content-Encoding", "gzip")
		rec := httptest.NewRecorder()
		recv.TracesHandler().ServeHTTP(rec, req)
		return rec.Code
	}
	serve() // warm the pools
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code := serve()
	runtime.ReadMemStats(&after)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", code)
	}
	// The body buffer may reach the limit; the gzip reader's window and the
	// request plumbing add a little. 256 MiB inflated must not show.
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d bytes answering the bomb", alloc)
	if alloc > 4*limit {
		t.Errorf("allocated %d bytes for a bomb against a limit of %d", alloc, limit)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestReceiverMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	sink := &collectSink{}
	recv, err := NewReceiver(sink, Limits{}, WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	post := func(path string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentTypeJSON)
		rec := httptest.NewRecorder()
		if path == "/v1/logs" {
			recv.LogsHandler().ServeHTTP(rec, req)
		} else {
			recv.TracesHandler().ServeHTTP(rec, req)
		}
	}
	partial, ss := tracesOf()
	newSpan(ss, traceID(1), spanID(1), "ok")
	newSpan(ss, pcommon.TraceID{}, spanID(2), "bad")
	post("/v1/traces", readTestdata(t, "agent_task.json"))
	post("/v1/traces", marshalTracesJSON(t, partial))
	post("/v1/traces", []byte("nope"))
	post("/v1/logs", readTestdata(t, "agent_logs.json"))

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"traces 200", counterValue(t, recv.m.requests.WithLabelValues("http", "traces", "200")), 2},
		{"traces 400", counterValue(t, recv.m.requests.WithLabelValues("http", "traces", "400")), 1},
		{"logs 200", counterValue(t, recv.m.requests.WithLabelValues("http", "logs", "200")), 1},
		{"spans received", counterValue(t, recv.m.spansReceived), 7},
		{"spans rejected", counterValue(t, recv.m.spansRejected), 1},
		{"log records received", counterValue(t, recv.m.logsReceived), 3},
		{"log records rejected", counterValue(t, recv.m.logsRejected), 0},
		{"log records dropped", counterValue(t, recv.m.logsDropped), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if _, err := NewReceiver(sink, Limits{}, WithRegisterer(reg)); err == nil {
		t.Error("a second receiver on the same registry must fail, not panic or share counters silently")
	}
}

func TestNewReceiverValidates(t *testing.T) {
	tests := []struct {
		name string
		sink Sink
		lim  Limits
		want string
	}{
		{"no sink", nil, Limits{}, "sink is nil"},
		{"negative body limit", &collectSink{}, Limits{MaxBodyBytes: -1}, "--max-body"},
		{"negative attribute limit", &collectSink{}, Limits{MaxAttributes: -1}, "--max-attributes"},
		{"negative value length", &collectSink{}, Limits{MaxValueLength: -1}, "--max-value-length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReceiver(tc.sink, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	recv, err := NewReceiver(&collectSink{}, Limits{MaxAttributes: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := recv.Limits(), (Limits{MaxBodyBytes: DefaultMaxBodyBytes, MaxAttributes: 10, MaxValueLength: DefaultMaxValueLength}); got != want {
		t.Errorf("Limits() = %+v, want %+v", got, want)
	}
}

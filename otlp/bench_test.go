package otlp

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// benchTraces is the benchmark workload: 100 agent tasks of ten spans, 1000
// spans in all, with the attributes the fixture carries.
const benchTraces = 100

func benchmarkDecodeMap(b *testing.B, asJSON bool) {
	td := realisticTraces(benchTraces)
	spans := td.SpanCount()
	body := marshalTracesProto(b, td)
	if asJSON {
		body = marshalTracesJSON(b, td)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		tasks, rej, err := tracesSignal.decode(body, asJSON, Limits{})
		if err != nil || rej.Rejected != 0 || len(tasks) != benchTraces {
			b.Fatalf("decode: %v, %+v, %d tasks", err, rej, len(tasks))
		}
		n++
	}
	b.ReportMetric(float64(n*spans)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkDecodeMapProto measures decoding and converting a realistic
// 1000-span OTLP/protobuf request.
func BenchmarkDecodeMapProto(b *testing.B) { benchmarkDecodeMap(b, false) }

// BenchmarkDecodeMapJSON is BenchmarkDecodeMapProto for OTLP/JSON.
func BenchmarkDecodeMapJSON(b *testing.B) { benchmarkDecodeMap(b, true) }

// BenchmarkHTTPTracesProto measures the whole HTTP handler (body read,
// decode, convert, response) for the same request, with a sink that does
// nothing.
func BenchmarkHTTPTracesProto(b *testing.B) {
	td := realisticTraces(benchTraces)
	spans := td.SpanCount()
	body := marshalTracesProto(b, td)
	recv, err := NewReceiver(&discardSink{}, Limits{})
	if err != nil {
		b.Fatal(err)
	}
	h := recv.TracesHandler()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentTypeProto)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		n++
	}
	b.ReportMetric(float64(n*spans)/b.Elapsed().Seconds(), "spans/s")
}

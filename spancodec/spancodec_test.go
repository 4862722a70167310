package spancodec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/spancodec"
)

var (
	trace = day2.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	other = day2.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	t0    = int64(1_793_610_000_000_000_000)
)

func sid(n byte) day2.SpanID { return day2.SpanID{0xa0, 0, 0, 0, 0, 0, 0, n} }

func str(k, v string) day2.Attr { return day2.Attr{Key: k, Value: day2.StringValue(v)} }
func num(k string, v int64) day2.Attr {
	return day2.Attr{Key: k, Value: day2.IntValue(v)}
}

func resource(service string) *day2.Resource {
	return &day2.Resource{Attrs: day2.Attrs{
		str("service.name", service),
		str("service.version", "2.3.1"),
		str("deployment.environment.name", "prod"),
	}}
}

// agentTask returns a typical task: a root span with an outcome event, an LLM call
// pair, tool calls and an outcome log record, all from one resource.
func agentTask(trace day2.TraceID, spans int) day2.TaskData {
	res := resource("invoice-agent")
	d := day2.TaskData{TraceID: trace}
	d.Spans = append(d.Spans, day2.Span{
		TraceID: trace, SpanID: sid(1), Name: "invoice approval", Kind: day2.SpanKindServer,
		Start: t0, End: t0 + 90e9, StatusCode: day2.StatusOK, Scope: "day2/sdk",
		Attrs: day2.Attrs{str("business_process", "invoice_approval"), str("flow_run_id", "run-42"),
			num("risk_tier", 2), str("tenant", "contoso"), str("gen_ai.agent.version", "2.3.1")},
		Events: []day2.Event{{Name: "outcome", Time: t0 + 90e9, Attrs: day2.Attrs{
			{Key: "success", Value: day2.BoolValue(true)}, str("reason_code", "ok"), num("cycle_time_ms", 88000)}}},
		Resource: res,
	})
	for i := 1; i < spans; i++ {
		s := day2.Span{
			TraceID: trace, SpanID: sid(byte(i + 1)), ParentSpanID: sid(1), Kind: day2.SpanKindClient,
			Start: t0 + int64(i)*1e9, End: t0 + int64(i)*1e9 + 750e6, Scope: "day2/sdk", Resource: res,
		}
		if i%2 == 1 {
			s.Name = "chat gpt-4o"
			s.Attrs = day2.Attrs{str("gen_ai.operation.name", "chat"), str("gen_ai.request.model", "gpt-4o"),
				num("gen_ai.usage.input_tokens", 812), num("gen_ai.usage.output_tokens", 120),
				{Key: "gen_ai.response.finish_reasons", Value: day2.ArrayValue(day2.StringValue("stop"))}}
		} else {
			s.Name = "execute_tool erp.lookup"
			s.Attrs = day2.Attrs{str("gen_ai.operation.name", "execute_tool"), str("gen_ai.tool.name", "erp.lookup"),
				num("retries", 1), num("http.response.status_code", 200)}
		}
		d.Spans = append(d.Spans, s)
	}
	d.Logs = []day2.LogRecord{{
		ID: 0x1122334455667788, TraceID: trace, SpanID: sid(1), Time: t0 + 90e9, EventName: "outcome",
		SeverityText: "INFO", Body: "task finished",
		Attrs:    day2.Attrs{str("event", "outcome"), {Key: "success", Value: day2.BoolValue(true)}},
		Resource: res,
	}}
	return d
}

func TestRoundTrip(t *testing.T) {
	shared := resource("shared")
	manyResources := day2.TaskData{TraceID: trace}
	for i := range 20 {
		r := resource(fmt.Sprintf("svc-%d", i))
		manyResources.Spans = append(manyResources.Spans,
			day2.Span{TraceID: trace, SpanID: sid(byte(i)), Resource: r},
			day2.Span{TraceID: trace, SpanID: sid(byte(100 + i)), Resource: r})
	}

	tests := []struct {
		name string
		data day2.TaskData
	}{
		{name: "empty task keeps its trace id", data: day2.TaskData{TraceID: trace}},
		{name: "zero trace id", data: day2.TaskData{}},
		{name: "one bare span", data: day2.TaskData{TraceID: trace, Spans: []day2.Span{{TraceID: trace, SpanID: sid(1)}}}},
		{name: "typical agent task", data: agentTask(trace, 7)},
		{name: "large task is compressed", data: agentTask(trace, 200)},
		{name: "every value kind", data: day2.TaskData{TraceID: trace, Spans: []day2.Span{{
			TraceID: trace, SpanID: sid(1), Name: "values", Kind: day2.SpanKindConsumer,
			StatusCode: day2.StatusError, StatusMessage: "boom",
			Attrs: day2.Attrs{
				{Key: "empty"},
				str("string", "héllo\x00world"),
				{Key: "true", Value: day2.BoolValue(true)},
				{Key: "false", Value: day2.BoolValue(false)},
				num("int", -1),
				num("min", math.MinInt64),
				num("max", math.MaxInt64),
				{Key: "double", Value: day2.DoubleValue(-3.25)},
				{Key: "nan", Value: day2.DoubleValue(math.NaN())},
				{Key: "bytes", Value: day2.Value{Kind: day2.KindBytes, Str: "\xff\x00\x01"}},
				{Key: "map", Value: day2.Value{Kind: day2.KindMap, Str: `{"a":1}`}},
				{Key: "array", Value: day2.ArrayValue(day2.StringValue("a"), day2.IntValue(2),
					day2.ArrayValue(day2.BoolValue(true), day2.ArrayValue()))},
				{Key: "", Value: day2.StringValue("empty key")},
			},
		}}}},
		{name: "records of another trace keep their trace id", data: day2.TaskData{TraceID: trace,
			Spans: []day2.Span{{TraceID: other, SpanID: sid(1)}, {TraceID: trace, SpanID: sid(2)}},
			Logs:  []day2.LogRecord{{ID: 1, TraceID: other}, {ID: 2, TraceID: trace}},
		}},
		{name: "times out of order, negative and zero", data: day2.TaskData{TraceID: trace,
			Spans: []day2.Span{
				{TraceID: trace, SpanID: sid(1), Start: t0, End: t0 - 5,
					Events: []day2.Event{{Name: "before", Time: 0}, {Name: "after", Time: math.MaxInt64}}},
				{TraceID: trace, SpanID: sid(2), Start: math.MinInt64, End: math.MaxInt64},
				{TraceID: trace, SpanID: sid(3)},
			},
			Logs: []day2.LogRecord{{ID: 1, Time: t0}, {ID: math.MaxUint64, Time: -1}, {ID: 3, Time: math.MinInt64}},
		}},
		{name: "span kinds and status codes outside the enumerations", data: day2.TaskData{TraceID: trace,
			Spans: []day2.Span{{TraceID: trace, SpanID: sid(1), Kind: -3, StatusCode: 100}},
		}},
		{name: "resources shared by spans and logs", data: day2.TaskData{TraceID: trace,
			Spans: []day2.Span{
				{TraceID: trace, SpanID: sid(1), Resource: shared},
				{TraceID: trace, SpanID: sid(2), Resource: resource("own")},
				{TraceID: trace, SpanID: sid(3)},
			},
			Logs: []day2.LogRecord{{ID: 1, TraceID: trace, Resource: shared}},
		}},
		{name: "many resources", data: manyResources},
		{name: "highly repetitive body", data: day2.TaskData{TraceID: trace,
			Logs: []day2.LogRecord{{ID: 1, TraceID: trace, Body: strings.Repeat("a", 1<<20)}},
		}},
		{name: "logs only", data: day2.TaskData{TraceID: trace, Logs: agentTask(trace, 1).Logs}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			blob := spancodec.Encode(&tt.data)
			got, err := spancodec.Decode(blob)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tt.data) {
				t.Fatalf("round trip changed the data\n got: %+v\nwant: %+v", got, tt.data)
			}
			// Records that shared a resource still share it, and the others do not.
			want, have := resourceGroups(&tt.data), resourceGroups(&got)
			if !reflect.DeepEqual(have, want) {
				t.Errorf("resource sharing %v, want %v", have, want)
			}
		})
	}
}

// resourceGroups numbers the distinct resources of d in order of first use, so two
// TaskData can be compared for which records share a resource.
func resourceGroups(d *day2.TaskData) []int {
	ids := map[*day2.Resource]int{}
	var out []int
	add := func(r *day2.Resource) {
		if r == nil {
			out = append(out, -1)
			return
		}
		if _, ok := ids[r]; !ok {
			ids[r] = len(ids)
		}
		out = append(out, ids[r])
	}
	for i := range d.Spans {
		add(d.Spans[i].Resource)
	}
	for i := range d.Logs {
		add(d.Logs[i].Resource)
	}
	return out
}

func TestEncodeCompresses(t *testing.T) {
	d := agentTask(trace, 200)
	blob := spancodec.Encode(&d)
	if blob[1] != 1 {
		t.Fatalf("compression byte %d, want 1 (zstd)", blob[1])
	}
	if len(blob) > 8000 {
		t.Errorf("200-span task encodes to %d bytes; want it compressed below 8000", len(blob))
	}
	small := day2.TaskData{TraceID: trace, Spans: []day2.Span{{TraceID: trace, SpanID: sid(1)}}}
	if blob := spancodec.Encode(&small); blob[1] != 0 {
		t.Errorf("tiny task: compression byte %d, want 0 (none)", blob[1])
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	d := agentTask(trace, 7)
	valid := spancodec.Encode(&d)
	small := day2.TaskData{TraceID: trace, Spans: []day2.Span{{TraceID: trace, SpanID: sid(1), Name: "x"}}}
	plain := spancodec.Encode(&small)
	if plain[1] != 0 {
		t.Fatalf("test setup: small blob is compressed")
	}

	withBody := func(body []byte) []byte {
		b := []byte{1, 0}
		b = binary.AppendUvarint(b, uint64(len(body)))
		return append(b, body...)
	}
	tests := []struct {
		name string
		blob []byte
	}{
		{name: "nil", blob: nil},
		{name: "too short", blob: []byte{1, 0}},
		{name: "unknown version", blob: append([]byte{2}, valid[1:]...)},
		{name: "unknown compression", blob: append([]byte{1, 7}, valid[2:]...)},
		{name: "overlong length varint", blob: []byte{1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{name: "length larger than the payload", blob: append([]byte{1, 0, 0x7f}, plain[3:]...)},
		{name: "length implausible for the compressed size", blob: []byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x28, 0xb5, 0x2f, 0xfd}},
		{name: "zstd payload that is not zstd", blob: []byte{1, 1, 4, 'a', 'b', 'c', 'd'}},
		{name: "trailing bytes", blob: withBody(append(append([]byte(nil), plain[3:]...), 0))},
		{name: "span count beyond the input", blob: withBody(append(trace[:], 0, 0xff, 0xff, 0x03))},
		{name: "string length beyond the input", blob: withBody(append(trace[:], 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f))},
		{name: "unknown value kind", blob: withBody(append(trace[:], 1, 1, 1, 'k', 99, 0, 0))},
		{name: "bool value other than 0 or 1", blob: withBody(append(trace[:], 1, 1, 1, 'k', 2, 7, 0, 0))},
		{name: "unknown record flags", blob: withBody(append(trace[:], append([]byte{0, 1, 9}, make([]byte, 40)...)...))},
		{name: "resource index out of range", blob: withBody(append(trace[:], append(append([]byte{0, 1, 0}, make([]byte, 16)...),
			0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0)...))},
		{name: "arrays nested too deep", blob: withBody(append(append(trace[:], 1, 1, 1, 'k'),
			append(bytes.Repeat([]byte{6, 1}, 40), 0, 0, 0)...))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := spancodec.Decode(tt.blob)
			if !errors.Is(err, spancodec.ErrCorrupt) {
				t.Fatalf("Decode error %v, want one wrapping ErrCorrupt", err)
			}
		})
	}

	t.Run("every truncation", func(t *testing.T) {
		for _, blob := range [][]byte{valid, plain} {
			for n := range len(blob) {
				if _, err := spancodec.Decode(blob[:n]); !errors.Is(err, spancodec.ErrCorrupt) {
					t.Fatalf("Decode of the first %d of %d bytes: error %v, want ErrCorrupt", n, len(blob), err)
				}
			}
		}
	})
	t.Run("every flipped byte of an uncompressed blob", func(t *testing.T) {
		// A flipped byte may still decode (a changed name), but must never panic.
		for i := range plain {
			b := bytes.Clone(plain)
			b[i] ^= 0xff
			_, _ = spancodec.Decode(b)
		}
	})
}

func FuzzDecode(f *testing.F) {
	seeds := []day2.TaskData{
		{TraceID: trace},
		agentTask(trace, 1),
		agentTask(trace, 7),
		agentTask(trace, 40),
		{TraceID: trace, Spans: []day2.Span{{TraceID: other, SpanID: sid(1),
			Attrs: day2.Attrs{{Key: "a", Value: day2.ArrayValue(day2.ArrayValue(day2.DoubleValue(1.5)))}}}}},
	}
	for i := range seeds {
		f.Add(spancodec.Encode(&seeds[i]))
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		d, err := spancodec.Decode(blob)
		if err != nil {
			if !errors.Is(err, spancodec.ErrCorrupt) {
				t.Fatalf("Decode error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes is a valid TaskData, and encoding it is lossless.
		again, err := spancodec.Decode(spancodec.Encode(&d))
		if err != nil {
			t.Fatalf("re-encoded data does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, d) {
			t.Fatalf("re-encoding changed the data\n got: %+v\nwant: %+v", again, d)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	d := agentTask(trace, 7)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(spancodec.Encode(&d))
	}
	b.ReportMetric(float64(n), "bytes/task")
	b.ReportMetric(float64(len(d.Spans)*b.N)/b.Elapsed().Seconds(), "spans/s")
}

func BenchmarkDecode(b *testing.B) {
	d := agentTask(trace, 7)
	blob := spancodec.Encode(&d)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := spancodec.Decode(blob); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(d.Spans)*b.N)/b.Elapsed().Seconds(), "spans/s")
}

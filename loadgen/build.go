package loadgen

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/day2ops/day2/demo"
)

// batch is one pre-built ExportTraceServiceRequest.
type batch struct {
	body  []byte
	spans int
	// traceIDs holds the offset in body of every span's 16-byte trace id, so a
	// copy of the body can be sent again under fresh trace ids.
	traceIDs []int
	// times holds the offset of every span start, span end and event time
	// (fixed64 fields), so a copy can be sent with timestamps moved to the time
	// of sending, as a live fleet's would be.
	times []int
}

// buildBatches builds n distinct requests of tasksPerBatch tasks each, drawn from
// the demo fleet's generators, on all cores. Batch i depends only on seed and i.
func buildBatches(n, tasksPerBatch int, seed int64, now time.Time) ([]batch, error) {
	out := make([]batch, n)
	errs := make([]error, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				next.Lock()
				k := i
				i++
				next.Unlock()
				if k >= n {
					return
				}
				out[k], errs[k] = buildBatch(tasksPerBatch, seed, k, now)
			}
		})
	}
	wg.Wait()
	for k, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("build request %d: %w", k, err)
		}
	}
	return out, nil
}

func buildBatch(tasks int, seed int64, k int, now time.Time) (batch, error) {
	streams := demo.Streams()
	gens := make([]*demo.Generator, len(streams))
	batchSeed := seed ^ int64(uint64(k+1)*0x9e3779b97f4a7c15)
	for i, s := range streams {
		g, err := demo.NewGenerator(s, batchSeed)
		if err != nil {
			return batch{}, err
		}
		gens[i] = g
	}
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(k)))
	td := ptrace.NewTraces()
	scopes := make([]ptrace.SpanSlice, len(streams))
	ids := make(map[[16]byte]struct{}, tasks)
	stamps := make(map[uint64]struct{}, tasks*16)
	for range tasks {
		i := rng.IntN(len(streams))
		if scopes[i] == (ptrace.SpanSlice{}) {
			rs := td.ResourceSpans().AppendEmpty()
			res := rs.Resource().Attributes()
			s := streams[i]
			res.PutStr("service.name", s.Service)
			res.PutStr("service.version", s.Version)
			res.PutStr(demo.EnvironmentKey(s), s.Environment)
			res.PutStr("service.namespace", "day2-loadgen")
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("github.com/day2ops/day2/loadgen")
			ss.Scope().SetVersion(s.Version)
			scopes[i] = ss.Spans()
		}
		// Tasks that ended in the last quarter of an hour, as a busy fleet's.
		start := now.Add(-15*time.Minute + time.Duration(rng.Int64N(int64(10*time.Minute))))
		p := gens[i].Next(start)
		ids[p.TraceID] = struct{}{}
		stamps[uint64(p.Outcome.Time.UnixNano())] = struct{}{}
		for _, sp := range append([]demo.SpanPlan{p.Root}, p.Children...) {
			stamps[uint64(sp.Start.UnixNano())] = struct{}{}
			stamps[uint64(sp.End.UnixNano())] = struct{}{}
		}
		appendPlan(scopes[i], &p)
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return batch{}, fmt.Errorf("marshal: %w", err)
	}
	b := batch{body: body, spans: td.SpanCount()}
	// A span's trace_id is field 1, length 16: bytes 0x0a 0x10 then the id. Only
	// ids this batch drew count, so a coincidence elsewhere in the body cannot
	// match; the count must then equal the number of spans.
	for off := 0; off+18 <= len(body); off++ {
		if body[off] != 0x0a || body[off+1] != 0x10 {
			continue
		}
		if _, ok := ids[[16]byte(body[off+2:off+18])]; ok {
			b.traceIDs = append(b.traceIDs, off+2)
			off += 17
		}
	}
	if len(b.traceIDs) != b.spans {
		return batch{}, fmt.Errorf("found %d trace ids in a request of %d spans", len(b.traceIDs), b.spans)
	}
	// Span start and end are fields 7 and 8 (tags 0x39, 0x41), an event's time
	// field 1 (tag 0x09), all fixed64. Only values this batch drew count.
	for off := 0; off+9 <= len(body); off++ {
		if t := body[off]; t != 0x39 && t != 0x41 && t != 0x09 {
			continue
		}
		if _, ok := stamps[binary.LittleEndian.Uint64(body[off+1:off+9])]; ok {
			b.times = append(b.times, off+1)
			off += 8
		}
	}
	return b, nil
}

// shiftTimes moves every timestamp of a patched body by d.
func shiftTimes(body []byte, b *batch, d time.Duration) {
	for _, off := range b.times {
		v := binary.LittleEndian.Uint64(body[off : off+8])
		binary.LittleEndian.PutUint64(body[off:off+8], v+uint64(d))
	}
}

// appendPlan adds the plan's spans to spans, the outcome as a span event on the
// root (the load generator sends traces only).
func appendPlan(spans ptrace.SpanSlice, p *demo.Plan) {
	root := spans.AppendEmpty()
	fillSpan(root, p, &p.Root)
	ev := root.Events().AppendEmpty()
	ev.SetName("outcome")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(p.Outcome.Time))
	putAttrs(ev.Attributes(), p.Outcome.Attrs())
	for i := range p.Children {
		sp := spans.AppendEmpty()
		fillSpan(sp, p, &p.Children[i])
		sp.SetParentSpanID(pcommon.SpanID(p.Root.SpanID))
	}
}

func fillSpan(sp ptrace.Span, p *demo.Plan, s *demo.SpanPlan) {
	sp.SetTraceID(pcommon.TraceID(p.TraceID))
	sp.SetSpanID(pcommon.SpanID(s.SpanID))
	sp.SetName(s.Name)
	// OpenTelemetry Go and OTLP number span kinds alike.
	sp.SetKind(ptrace.SpanKind(s.Kind))
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(s.Start))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(s.End))
	switch s.Status {
	case codes.Error:
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(s.StatusMessage)
	case codes.Ok:
		sp.Status().SetCode(ptrace.StatusCodeOk)
	}
	putAttrs(sp.Attributes(), s.Attrs)
}

func putAttrs(m pcommon.Map, kvs []attribute.KeyValue) {
	m.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		k := string(kv.Key)
		switch kv.Value.Type() {
		case attribute.STRING:
			m.PutStr(k, kv.Value.AsString())
		case attribute.INT64:
			m.PutInt(k, kv.Value.AsInt64())
		case attribute.FLOAT64:
			m.PutDouble(k, kv.Value.AsFloat64())
		case attribute.BOOL:
			m.PutBool(k, kv.Value.AsBool())
		case attribute.STRINGSLICE:
			sl := m.PutEmptySlice(k)
			for _, s := range kv.Value.AsStringSlice() {
				sl.AppendEmpty().SetStr(s)
			}
		default:
			m.PutStr(k, kv.Value.Emit())
		}
	}
}

// patchTraceIDs writes b's body into dst under trace ids unique to round: each
// id's low half is XORed with a mask derived from nonce and round. Round 0 of a
// run is masked too, so runs against the same day2 never collide.
func patchTraceIDs(dst []byte, b *batch, nonce uint64, round int) []byte {
	dst = append(dst[:0], b.body...)
	mask := mix64(nonce + uint64(round)*0x9e3779b97f4a7c15)
	for _, off := range b.traceIDs {
		id := dst[off+8 : off+16]
		for i := range 8 {
			id[i] ^= byte(mask >> (56 - 8*i))
		}
	}
	return dst
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

package otlp

import (
	"encoding/base64"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/day2ops/day2"
)

// TracesToTasks converts decoded OTLP traces into one day2.TaskData per trace id,
// in the order the trace ids first appear. Spans that break a rule of lim (see
// Limits) or carry an all-zero trace or span id are left out and reported in rej.
// The spans of one OTLP resource share one *day2.Resource. A zero field of lim
// takes its default.
func TracesToTasks(td ptrace.Traces, lim Limits) (tasks []day2.TaskData, rej Rejections) {
	lim = lim.withDefaults()
	c := &converter{lim: lim}
	rj := rejecter{lim: lim, noun: "spans"}

	// Size the arenas in one cheap pass, so that a request costs a handful of
	// large allocations instead of one per span, event and attribute list.
	nSpans, nAttrs, nEvents := 0, 0, 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		nAttrs += rs.Resource().Attributes().Len()
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			nSpans += spans.Len()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				if n := sp.Attributes().Len(); n <= lim.MaxAttributes {
					nAttrs += n
				}
				evs := sp.Events()
				nEvents += evs.Len()
				for e := 0; e < evs.Len(); e++ {
					if n := evs.At(e).Attributes().Len(); n <= lim.MaxAttributes {
						nAttrs += n
					}
				}
			}
		}
	}
	c.attrs = make([]day2.Attr, nAttrs)
	c.events = make([]day2.Event, nEvents)

	flat := make([]day2.Span, 0, nSpans)
	owner := make([]int32, 0, nSpans)
	var g grouper
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		var res *day2.Resource // made on the first accepted span
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope := ss.Scope().Name()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				rj.rej.Received++
				sp := spans.At(k)
				out, ok := c.span(sp)
				if !ok {
					rj.reject(item{kind: "span", name: sp.Name(), traceID: out.TraceID, spanID: out.SpanID}, c.prob)
					continue
				}
				if res == nil {
					res = &day2.Resource{Attrs: c.resourceAttrs(rs.Resource().Attributes())}
				}
				out.Scope = scope
				out.Resource = res
				flat = append(flat, out)
				owner = append(owner, g.index(out.TraceID))
			}
		}
	}
	if len(flat) == 0 {
		return nil, rj.result()
	}
	groups := group(flat, owner, g.counts)
	tasks = make([]day2.TaskData, len(groups))
	for i := range groups {
		tasks[i] = day2.TaskData{TraceID: g.ids[i], Spans: groups[i]}
	}
	return tasks, rj.result()
}

// LogsToTasks converts decoded OTLP logs into one day2.TaskData per trace id, in
// the order the trace ids first appear. Log records without a trace id belong to
// no task: they are counted as dropped, not rejected. Records that break a rule of
// lim are left out and reported in rej. A zero field of lim takes its default.
func LogsToTasks(ld plog.Logs, lim Limits) (tasks []day2.TaskData, rej Rejections) {
	lim = lim.withDefaults()
	c := &converter{lim: lim}
	rj := rejecter{lim: lim, noun: "log records"}

	nRecs, nAttrs := 0, 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		nAttrs += rl.Resource().Attributes().Len()
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			recs := sls.At(j).LogRecords()
			nRecs += recs.Len()
			for k := 0; k < recs.Len(); k++ {
				// Records without a trace id are dropped: room for them would be
				// wasted, and plain application logs may be most of a request.
				lr := recs.At(k)
				if n := lr.Attributes().Len(); n <= lim.MaxAttributes && !lr.TraceID().IsEmpty() {
					nAttrs += n
				}
			}
		}
	}
	c.attrs = make([]day2.Attr, nAttrs)

	flat := make([]day2.LogRecord, 0, nRecs)
	owner := make([]int32, 0, nRecs)
	var g grouper
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var res *day2.Resource
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			recs := sls.At(j).LogRecords()
			for k := 0; k < recs.Len(); k++ {
				rj.rej.Received++
				lr := recs.At(k)
				if lr.TraceID().IsEmpty() {
					rj.rej.Dropped++
					continue
				}
				out, ok := c.logRecord(lr)
				if !ok {
					rj.reject(item{kind: "log record", name: out.EventName, traceID: out.TraceID, spanID: out.SpanID}, c.prob)
					continue
				}
				if res == nil {
					res = &day2.Resource{Attrs: c.resourceAttrs(rl.Resource().Attributes())}
				}
				out.Resource = res
				flat = append(flat, out)
				owner = append(owner, g.index(out.TraceID))
			}
		}
	}
	if len(flat) == 0 {
		return nil, rj.result()
	}
	groups := group(flat, owner, g.counts)
	tasks = make([]day2.TaskData, len(groups))
	for i := range groups {
		tasks[i] = day2.TaskData{TraceID: g.ids[i], Logs: groups[i]}
	}
	return tasks, rj.result()
}

// converter turns pdata items into day2 ones, carving attribute lists and event
// lists out of arenas sized for the whole request.
type converter struct {
	lim    Limits
	attrs  []day2.Attr
	events []day2.Event
	prob   problem // the rule the last rejected item broke
}

// span converts one span. On false the span breaks a rule, described by c.prob;
// its ids are still filled in for the message.
func (c *converter) span(sp ptrace.Span) (day2.Span, bool) {
	out := day2.Span{
		TraceID:      day2.TraceID(sp.TraceID()),
		SpanID:       day2.SpanID(sp.SpanID()),
		ParentSpanID: day2.SpanID(sp.ParentSpanID()),
	}
	if out.TraceID.IsZero() {
		c.prob = problem{kind: badTraceID}
		return out, false
	}
	if out.SpanID.IsZero() {
		c.prob = problem{kind: badSpanID}
		return out, false
	}
	out.Name = sp.Name()
	out.Kind = spanKind(sp.Kind())
	out.Start = unixNano(sp.StartTimestamp())
	out.End = unixNano(sp.EndTimestamp())
	st := sp.Status()
	out.StatusCode = statusCode(st.Code())
	out.StatusMessage = st.Message()

	var ok bool
	if out.Attrs, ok = c.checkedAttrs(sp.Attributes()); !ok {
		return out, false
	}
	evs := sp.Events()
	if n := evs.Len(); n > 0 {
		out.Events = c.takeEvents(n)
		for i := 0; i < n; i++ {
			ev := evs.At(i)
			e := day2.Event{Name: ev.Name(), Time: unixNano(ev.Timestamp())}
			if e.Attrs, ok = c.checkedAttrs(ev.Attributes()); !ok {
				c.prob.event = e.Name
				if c.prob.event == "" {
					c.prob.event = "(unnamed)"
				}
				return out, false
			}
			out.Events = append(out.Events, e)
		}
	}
	return out, true
}

// logRecord converts one log record that has a trace id. On false the record
// breaks a rule, described by c.prob.
func (c *converter) logRecord(lr plog.LogRecord) (day2.LogRecord, bool) {
	out := day2.LogRecord{
		TraceID:      day2.TraceID(lr.TraceID()),
		SpanID:       day2.SpanID(lr.SpanID()),
		EventName:    lr.EventName(),
		SeverityText: lr.SeverityText(),
	}
	ts, observed := lr.Timestamp(), lr.ObservedTimestamp()
	out.Time = unixNano(ts)
	if out.Time == 0 {
		out.Time = unixNano(observed)
	}
	body := lr.Body()
	bodyKind := body.Type()
	if bodyKind == pcommon.ValueTypeStr {
		out.Body = body.Str()
	} else if bodyKind != pcommon.ValueTypeEmpty {
		out.Body = body.AsString()
	}
	if len(out.Body) > c.lim.MaxValueLength {
		c.prob = problem{kind: bodyTooLong, n: len(out.Body)}
		return out, false
	}
	var ok bool
	if out.Attrs, ok = c.checkedAttrs(lr.Attributes()); !ok {
		return out, false
	}
	out.ID = logRecordID(&out, uint64(ts), uint64(observed), int32(lr.SeverityNumber()), uint8(bodyKind))
	return out, true
}

// checkedAttrs converts an item's attributes, enforcing the limits.
func (c *converter) checkedAttrs(m pcommon.Map) (day2.Attrs, bool) {
	if n := m.Len(); n > c.lim.MaxAttributes {
		c.prob = problem{kind: tooManyAttrs, n: n}
		return nil, false
	}
	return c.attrList(m, c.lim.MaxValueLength)
}

// resourceAttrs converts resource attributes, which are not limited: they
// describe the sender, and refusing them would refuse all of its telemetry.
func (c *converter) resourceAttrs(m pcommon.Map) day2.Attrs {
	attrs, _ := c.attrList(m, math.MaxInt)
	return attrs
}

// attrList converts an attribute map, refusing values longer than maxLen.
func (c *converter) attrList(m pcommon.Map, maxLen int) (day2.Attrs, bool) {
	n := m.Len()
	if n == 0 {
		return nil, true
	}
	out := c.takeAttrs(n)
	ok := true
	m.Range(func(k string, v pcommon.Value) bool {
		var dv day2.Value
		if dv, ok = c.value(k, v, maxLen); !ok {
			return false
		}
		out = append(out, day2.Attr{Key: k, Value: dv})
		return true
	})
	return out, ok
}

// value converts one attribute value, refusing strings, bytes, map texts and
// array elements longer than maxLen (key names the attribute in the problem).
func (c *converter) value(key string, v pcommon.Value, maxLen int) (day2.Value, bool) {
	var out day2.Value
	switch v.Type() {
	case pcommon.ValueTypeStr:
		out = day2.Value{Kind: day2.KindString, Str: v.Str()}
	case pcommon.ValueTypeBool:
		return day2.BoolValue(v.Bool()), true
	case pcommon.ValueTypeInt:
		return day2.IntValue(v.Int()), true
	case pcommon.ValueTypeDouble:
		return day2.DoubleValue(v.Double()), true
	case pcommon.ValueTypeBytes:
		// The limit applies to the bytes sent, not to their longer base64 text.
		b := v.Bytes()
		if b.Len() > maxLen {
			c.prob = problem{kind: valueTooLong, key: key, n: b.Len()}
			return out, false
		}
		return day2.Value{Kind: day2.KindBytes, Str: base64.StdEncoding.EncodeToString(b.AsRaw())}, true
	case pcommon.ValueTypeMap:
		out = day2.Value{Kind: day2.KindMap, Str: v.AsString()}
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		n := s.Len()
		out = day2.Value{Kind: day2.KindArray}
		if n > 0 {
			out.Arr = make([]day2.Value, n)
		}
		for i := 0; i < n; i++ {
			e, ok := c.value(key, s.At(i), maxLen)
			if !ok {
				return day2.Value{}, false
			}
			out.Arr[i] = e
		}
		return out, true
	default:
		return out, true
	}
	if len(out.Str) > maxLen {
		c.prob = problem{kind: valueTooLong, key: key, n: len(out.Str)}
		return day2.Value{}, false
	}
	return out, true
}

// takeAttrs returns an empty list with room for n attributes from the arena.
// The capacity is exact, so appending to one list never runs into the next.
func (c *converter) takeAttrs(n int) day2.Attrs {
	if len(c.attrs) < n {
		// Only resource attributes counted before their first span was accepted
		// and items over the attribute limit are not in the estimate; refill.
		c.attrs = make([]day2.Attr, max(n, 256))
	}
	out := c.attrs[:0:n]
	c.attrs = c.attrs[n:]
	return out
}

// takeEvents is takeAttrs for span events.
func (c *converter) takeEvents(n int) []day2.Event {
	if len(c.events) < n {
		c.events = make([]day2.Event, max(n, 64))
	}
	out := c.events[:0:n]
	c.events = c.events[n:]
	return out
}

// unixNano converts an OTLP timestamp; values past the int64 range (year 2262)
// are clamped rather than turned negative.
func unixNano(ts pcommon.Timestamp) int64 {
	if uint64(ts) > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(ts)
}

// spanKind maps the OTLP kind, treating values outside the enumeration as
// unspecified.
func spanKind(k ptrace.SpanKind) day2.SpanKind {
	if k < 0 || k > ptrace.SpanKindConsumer {
		return day2.SpanKindUnspecified
	}
	return day2.SpanKind(k)
}

// statusCode maps the OTLP status code, treating values outside the enumeration
// as unset.
func statusCode(s ptrace.StatusCode) day2.StatusCode {
	if s < 0 || s > ptrace.StatusCodeError {
		return day2.StatusUnset
	}
	return day2.StatusCode(s)
}

// grouper assigns each trace id an index in order of first appearance.
type grouper struct {
	ids    []day2.TraceID
	counts []int
	byID   map[day2.TraceID]int32 // built once there are more ids than a scan suits
	last   int32
}

// index returns the group of id, counting one more member.
func (g *grouper) index(id day2.TraceID) int32 {
	// Exporters send the spans of one trace together more often than not, so the
	// previous group is checked first.
	if len(g.ids) > 0 && g.ids[g.last] == id {
		g.counts[g.last]++
		return g.last
	}
	i, ok := g.find(id)
	if !ok {
		i = int32(len(g.ids))
		g.ids = append(g.ids, id)
		g.counts = append(g.counts, 0)
		if g.byID != nil {
			g.byID[id] = i
		} else if len(g.ids) > 8 {
			g.byID = make(map[day2.TraceID]int32, 2*len(g.ids))
			for j, prev := range g.ids {
				g.byID[prev] = int32(j)
			}
		}
	}
	g.counts[i]++
	g.last = i
	return i
}

func (g *grouper) find(id day2.TraceID) (int32, bool) {
	if g.byID != nil {
		i, ok := g.byID[id]
		return i, ok
	}
	for j := range g.ids {
		if g.ids[j] == id {
			return int32(j), true
		}
	}
	return 0, false
}

// group splits flat into one slice per group, keeping the order within each group.
// When the groups are already contiguous it slices flat in place.
func group[T any](flat []T, owner []int32, counts []int) [][]T {
	out := make([][]T, len(counts))
	contiguous := true
	for i := 1; i < len(owner); i++ {
		if owner[i] < owner[i-1] || owner[i] > owner[i-1]+1 {
			contiguous = false
			break
		}
	}
	if contiguous {
		off := 0
		for i, n := range counts {
			out[i] = flat[off : off+n : off+n]
			off += n
		}
		return out
	}
	backing := make([]T, len(flat))
	off := 0
	for i, n := range counts {
		out[i] = backing[off : off : off+n]
		off += n
	}
	for i := range flat {
		o := owner[i]
		out[o] = append(out[o], flat[i])
	}
	return out
}

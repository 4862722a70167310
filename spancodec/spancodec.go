// Package spancodec encodes a task's raw telemetry (day2.TaskData) into the compact,
// versioned binary blob that the stores keep in their raw column, and decodes it
// back. The stores treat the blob as opaque; only this package knows its layout.
//
// A blob is a small header followed by the body, compressed with zstd unless the
// body is tiny:
//
//	blob     = version:byte(1) compression:byte bodyLen:uvarint payload
//	payload  = zstd frame of body (compression 1) | body (compression 0)
//	body     = traceID:[16] nres:uvarint resource* nspans:uvarint span* nlogs:uvarint log*
//	resource = attrs
//	span     = flags:byte [traceID:[16]] spanID:[8] parentID:[8] name:str kind:byte
//	           start:varint end:varint status:byte statusMessage:str scope:str attrs
//	           nevents:uvarint event* resource:uvarint
//	event    = name:str time:varint attrs
//	log      = flags:byte [traceID:[16]] id:[8] spanID:[8] time:varint eventName:str
//	           severity:str body:str attrs resource:uvarint
//	attrs    = n:uvarint (key:str value)*
//	value    = kind:byte, then by kind: nothing (empty), str (string, bytes, map),
//	           byte (bool), varint (int), 8 bytes little endian (double),
//	           n:uvarint value* (array)
//	str      = len:uvarint bytes
//
// Integers are encoding/binary varints. A span's start is stored as the difference
// to the previous span's start and its end as the difference to its own start;
// event times are relative to their span's start and log times to the previous
// log's time, so the numbers stay small. Flag bit 0 says the record's trace id
// differs from the blob's and follows. Resources are written once per blob and
// referenced by index (0 means none, i means the i-th), so records that shared one
// *day2.Resource before encoding share one after decoding.
//
// Values are encoded by kind: only the fields a kind uses survive a round trip (a
// string value's Num is not kept), and values of an unknown kind are stored as
// empty values.
package spancodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"

	"github.com/day2ops/day2"
)

const (
	version1 = 1

	compressionNone = 0
	compressionZstd = 1

	// minCompressSize is the body size below which compression costs more than it
	// saves.
	minCompressSize = 128

	// maxBodyLen bounds the decoded size of one blob. A task is far smaller: the
	// ingest path bounds request sizes well below this.
	maxBodyLen = 1 << 30
	// maxRatio bounds how much larger than its compressed form a body may claim
	// to be, so that a short corrupt blob cannot make Decode allocate much.
	// Encode stores bodies that compress better than this uncompressed.
	maxRatio = 1024

	// maxValueDepth bounds the nesting of array values.
	maxValueDepth = 32

	flagTraceID = 1

	// Minimum encoded sizes of the records, used to reject element counts that
	// the remaining input could not hold before allocating for them.
	minAttrSize  = 2  // empty key, kind
	minEventSize = 3  // empty name, time, no attrs
	minSpanSize  = 27 // flags, ids, one byte per remaining field
	minLogSize   = 23 // flags, id, span id, one byte per remaining field
)

var (
	encoder *zstd.Encoder
	decoder *zstd.Decoder
)

func init() {
	var err error
	// EncodeAll and DecodeAll are safe for concurrent use; one shared encoder and
	// decoder keep their internal state pooled across calls.
	//
	// A task's blob is small (a few KiB), and at that size building the entropy
	// tables costs more than the matching: without them encoding is about three
	// times faster and blobs only 10-15% larger, because the repetition in
	// telemetry (attribute keys, names, resources) is what the matcher removes.
	encoder, err = zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithNoEntropyCompression(true),
		zstd.WithEncoderCRC(true),
		zstd.WithZeroFrames(true))
	if err != nil {
		panic(fmt.Sprintf("spancodec: zstd encoder: %v", err))
	}
	decoder, err = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxBodyLen),
		zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(fmt.Sprintf("spancodec: zstd decoder: %v", err))
	}
}

// ErrCorrupt is wrapped by every error Decode returns for input that is not a
// valid blob.
var ErrCorrupt = errors.New("corrupt task blob")

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Encode returns the blob for d. It never fails: every TaskData has an encoding.
func Encode(d *day2.TaskData) []byte {
	bp := bodyPool.Get().(*[]byte)
	w := writer{trace: d.TraceID}
	body := w.data((*bp)[:0], d)

	// Room for the header and a body that compresses to about half, typical of
	// telemetry; EncodeAll grows it if needed.
	out := make([]byte, 0, 2+binary.MaxVarintLen64+len(body)/2+64)
	out = append(out, version1, compressionNone)
	out = binary.AppendUvarint(out, uint64(len(body)))
	if len(body) >= minCompressSize {
		hdr := len(out)
		out = encoder.EncodeAll(body, out)
		if payload := len(out) - hdr; payload < len(body) && payload*maxRatio >= len(body) {
			out[1] = compressionZstd
		} else {
			out = append(out[:hdr], body...)
		}
	} else {
		out = append(out, body...)
	}

	if cap(body) <= 1<<20 { // do not let one huge task pin memory in the pool
		*bp = body[:0]
		bodyPool.Put(bp)
	}
	return out
}

// Decode parses a blob made by Encode. It returns an error wrapping ErrCorrupt for
// anything else, never panics, and allocates in proportion to the input's size.
func Decode(blob []byte) (day2.TaskData, error) {
	if len(blob) < 3 {
		return day2.TaskData{}, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(blob))
	}
	if blob[0] != version1 {
		return day2.TaskData{}, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, blob[0])
	}
	n, k := binary.Uvarint(blob[2:])
	if k <= 0 {
		return day2.TaskData{}, fmt.Errorf("%w: bad body length", ErrCorrupt)
	}
	payload := blob[2+k:]
	// All strings of the result are slices of one string holding the body, which
	// saves an allocation per string.
	var body string
	switch blob[1] {
	case compressionNone:
		if n != uint64(len(payload)) {
			return day2.TaskData{}, fmt.Errorf("%w: body length %d, have %d bytes", ErrCorrupt, n, len(payload))
		}
		body = string(payload) // a copy: the caller may reuse blob
	case compressionZstd:
		if n > maxBodyLen || n > uint64(len(payload))*maxRatio {
			return day2.TaskData{}, fmt.Errorf("%w: body length %d implausible for %d compressed bytes", ErrCorrupt, n, len(payload))
		}
		b, err := decoder.DecodeAll(payload, make([]byte, 0, n))
		if err != nil {
			return day2.TaskData{}, fmt.Errorf("%w: decompress: %w", ErrCorrupt, err)
		}
		if uint64(len(b)) != n {
			return day2.TaskData{}, fmt.Errorf("%w: body length %d, decompressed %d bytes", ErrCorrupt, n, len(b))
		}
		// b is a fresh buffer that nothing else references or ever writes
		// again, so it can back the string without a copy.
		body = unsafe.String(unsafe.SliceData(b), len(b))
	default:
		return day2.TaskData{}, fmt.Errorf("%w: unknown compression %d", ErrCorrupt, blob[1])
	}

	r := reader{s: body}
	d, err := r.data()
	if err != nil {
		return day2.TaskData{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return d, nil
}

// writer encodes a body. Its append methods take and return the buffer, which
// stays in a local variable: storing it through a pointer instead costs a GC
// write barrier per append whenever a collection is running.
type writer struct {
	trace day2.TraceID
	res   []*day2.Resource
	resIx map[*day2.Resource]uint64 // used once res grows beyond a linear scan
}

func (w *writer) data(b []byte, d *day2.TaskData) []byte {
	b = append(b, d.TraceID[:]...)
	for i := range d.Spans {
		w.collect(d.Spans[i].Resource)
	}
	for i := range d.Logs {
		w.collect(d.Logs[i].Resource)
	}
	b = binary.AppendUvarint(b, uint64(len(w.res)))
	for _, r := range w.res {
		b = appendAttrs(b, r.Attrs)
	}

	b = binary.AppendUvarint(b, uint64(len(d.Spans)))
	var prev int64
	for i := range d.Spans {
		s := &d.Spans[i]
		b = w.appendTraceID(b, &s.TraceID)
		b = append(b, s.SpanID[:]...)
		b = append(b, s.ParentSpanID[:]...)
		b = appendStr(b, s.Name)
		b = append(b, byte(s.Kind))
		b = binary.AppendVarint(b, s.Start-prev)
		b = binary.AppendVarint(b, s.End-s.Start)
		prev = s.Start
		b = append(b, byte(s.StatusCode))
		b = appendStr(b, s.StatusMessage)
		b = appendStr(b, s.Scope)
		b = appendAttrs(b, s.Attrs)
		b = binary.AppendUvarint(b, uint64(len(s.Events)))
		for j := range s.Events {
			e := &s.Events[j]
			b = appendStr(b, e.Name)
			b = binary.AppendVarint(b, e.Time-s.Start)
			b = appendAttrs(b, e.Attrs)
		}
		b = binary.AppendUvarint(b, w.index(s.Resource))
	}

	b = binary.AppendUvarint(b, uint64(len(d.Logs)))
	prev = 0
	for i := range d.Logs {
		l := &d.Logs[i]
		b = w.appendTraceID(b, &l.TraceID)
		b = binary.LittleEndian.AppendUint64(b, l.ID)
		b = append(b, l.SpanID[:]...)
		b = binary.AppendVarint(b, l.Time-prev)
		prev = l.Time
		b = appendStr(b, l.EventName)
		b = appendStr(b, l.SeverityText)
		b = appendStr(b, l.Body)
		b = appendAttrs(b, l.Attrs)
		b = binary.AppendUvarint(b, w.index(l.Resource))
	}
	return b
}

func (w *writer) collect(r *day2.Resource) {
	if r == nil || w.index(r) != 0 {
		return
	}
	w.res = append(w.res, r)
	if w.resIx != nil {
		w.resIx[r] = uint64(len(w.res))
	} else if len(w.res) > 8 {
		w.resIx = make(map[*day2.Resource]uint64, 2*len(w.res))
		for i, r := range w.res {
			w.resIx[r] = uint64(i + 1)
		}
	}
}

// index returns the 1-based index of r among the collected resources, 0 for nil
// or unknown.
func (w *writer) index(r *day2.Resource) uint64 {
	if r == nil {
		return 0
	}
	if w.resIx != nil {
		return w.resIx[r]
	}
	for i, x := range w.res {
		if x == r {
			return uint64(i + 1)
		}
	}
	return 0
}

func (w *writer) appendTraceID(b []byte, t *day2.TraceID) []byte {
	if *t == w.trace {
		return append(b, 0)
	}
	b = append(b, flagTraceID)
	return append(b, t[:]...)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendAttrs(b []byte, a day2.Attrs) []byte {
	b = binary.AppendUvarint(b, uint64(len(a)))
	for i := range a {
		b = appendStr(b, a[i].Key)
		b = appendValue(b, &a[i].Value)
	}
	return b
}

func appendValue(b []byte, v *day2.Value) []byte {
	switch v.Kind {
	case day2.KindString, day2.KindBytes, day2.KindMap:
		b = append(b, byte(v.Kind))
		return appendStr(b, v.Str)
	case day2.KindBool:
		bit := byte(0)
		if v.Num != 0 {
			bit = 1
		}
		return append(b, byte(v.Kind), bit)
	case day2.KindInt:
		b = append(b, byte(v.Kind))
		return binary.AppendVarint(b, v.Num)
	case day2.KindDouble:
		b = append(b, byte(v.Kind))
		return binary.LittleEndian.AppendUint64(b, uint64(v.Num))
	case day2.KindArray:
		b = append(b, byte(v.Kind))
		b = binary.AppendUvarint(b, uint64(len(v.Arr)))
		for i := range v.Arr {
			b = appendValue(b, &v.Arr[i])
		}
		return b
	}
	return append(b, byte(day2.KindEmpty))
}

// reader decodes a body. Strings it returns share the memory of s.
type reader struct {
	s     string
	off   int
	trace day2.TraceID
	res   []*day2.Resource
	slab  []day2.Attr // attribute lists are carved from here to save allocations
}

var errShort = errors.New("unexpected end of data")

func (r *reader) data() (day2.TaskData, error) {
	var d day2.TaskData
	if err := r.fixed(d.TraceID[:]); err != nil {
		return d, fmt.Errorf("trace id: %w", err)
	}
	r.trace = d.TraceID

	n, err := r.count(1)
	if err != nil {
		return d, fmt.Errorf("resources: %w", err)
	}
	if n > 0 {
		r.res = make([]*day2.Resource, n)
		all := make([]day2.Resource, n)
		for i := range all {
			if all[i].Attrs, err = r.attrs(); err != nil {
				return d, fmt.Errorf("resource %d: %w", i, err)
			}
			r.res[i] = &all[i]
		}
	}

	if n, err = r.count(minSpanSize); err != nil {
		return d, fmt.Errorf("spans: %w", err)
	}
	if n > 0 {
		d.Spans = make([]day2.Span, n)
	}
	var prev int64
	for i := range d.Spans {
		if err := r.span(&d.Spans[i], &prev); err != nil {
			return d, fmt.Errorf("span %d: %w", i, err)
		}
	}

	if n, err = r.count(minLogSize); err != nil {
		return d, fmt.Errorf("logs: %w", err)
	}
	if n > 0 {
		d.Logs = make([]day2.LogRecord, n)
	}
	prev = 0
	for i := range d.Logs {
		if err := r.log(&d.Logs[i], &prev); err != nil {
			return d, fmt.Errorf("log %d: %w", i, err)
		}
	}
	if r.off != len(r.s) {
		return d, fmt.Errorf("%d trailing bytes", len(r.s)-r.off)
	}
	return d, nil
}

func (r *reader) span(s *day2.Span, prev *int64) error {
	var err error
	if s.TraceID, err = r.traceID(); err != nil {
		return err
	}
	if err = r.fixed(s.SpanID[:]); err != nil {
		return err
	}
	if err = r.fixed(s.ParentSpanID[:]); err != nil {
		return err
	}
	if s.Name, err = r.str(); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	kind, err := r.byte()
	if err != nil {
		return err
	}
	s.Kind = day2.SpanKind(int8(kind))
	start, err := r.varint()
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	dur, err := r.varint()
	if err != nil {
		return fmt.Errorf("end: %w", err)
	}
	s.Start = *prev + start
	s.End = s.Start + dur
	*prev = s.Start
	status, err := r.byte()
	if err != nil {
		return err
	}
	s.StatusCode = day2.StatusCode(int8(status))
	if s.StatusMessage, err = r.str(); err != nil {
		return fmt.Errorf("status message: %w", err)
	}
	if s.Scope, err = r.str(); err != nil {
		return fmt.Errorf("scope: %w", err)
	}
	if s.Attrs, err = r.attrs(); err != nil {
		return fmt.Errorf("attributes: %w", err)
	}
	n, err := r.count(minEventSize)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if n > 0 {
		s.Events = make([]day2.Event, n)
		for i := range s.Events {
			e := &s.Events[i]
			if e.Name, err = r.str(); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
			t, err := r.varint()
			if err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
			e.Time = s.Start + t
			if e.Attrs, err = r.attrs(); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
		}
	}
	s.Resource, err = r.resource()
	return err
}

func (r *reader) log(l *day2.LogRecord, prev *int64) error {
	var err error
	if l.TraceID, err = r.traceID(); err != nil {
		return err
	}
	var id [8]byte
	if err = r.fixed(id[:]); err != nil {
		return err
	}
	l.ID = binary.LittleEndian.Uint64(id[:])
	if err = r.fixed(l.SpanID[:]); err != nil {
		return err
	}
	t, err := r.varint()
	if err != nil {
		return fmt.Errorf("time: %w", err)
	}
	l.Time = *prev + t
	*prev = l.Time
	if l.EventName, err = r.str(); err != nil {
		return fmt.Errorf("event name: %w", err)
	}
	if l.SeverityText, err = r.str(); err != nil {
		return fmt.Errorf("severity: %w", err)
	}
	if l.Body, err = r.str(); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if l.Attrs, err = r.attrs(); err != nil {
		return fmt.Errorf("attributes: %w", err)
	}
	l.Resource, err = r.resource()
	return err
}

func (r *reader) traceID() (day2.TraceID, error) {
	f, err := r.byte()
	if err != nil {
		return day2.TraceID{}, err
	}
	switch f {
	case 0:
		return r.trace, nil
	case flagTraceID:
		var t day2.TraceID
		err := r.fixed(t[:])
		return t, err
	}
	return day2.TraceID{}, fmt.Errorf("unknown flags %#x", f)
}

func (r *reader) resource() (*day2.Resource, error) {
	i, err := r.uvarint()
	if err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	if i == 0 {
		return nil, nil
	}
	if i > uint64(len(r.res)) {
		return nil, fmt.Errorf("resource %d of %d", i, len(r.res))
	}
	return r.res[i-1], nil
}

func (r *reader) attrs() (day2.Attrs, error) {
	n, err := r.count(minAttrSize)
	if err != nil || n == 0 {
		return nil, err
	}
	if n > len(r.slab) {
		// Telemetry averages well over 24 bytes per attribute, key and value
		// together, so this rarely needs a second slab and wastes little.
		r.slab = make([]day2.Attr, max(n, min(256, (len(r.s)-r.off)/24)))
	}
	a := r.slab[:n:n]
	r.slab = r.slab[n:]
	for i := range a {
		if a[i].Key, err = r.str(); err != nil {
			return nil, fmt.Errorf("attribute %d key: %w", i, err)
		}
		if err = r.value(&a[i].Value, 0); err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a[i].Key, err)
		}
	}
	return a, nil
}

func (r *reader) value(v *day2.Value, depth int) error {
	k, err := r.byte()
	if err != nil {
		return err
	}
	v.Kind = day2.ValueKind(k)
	switch v.Kind {
	case day2.KindEmpty:
	case day2.KindString, day2.KindBytes, day2.KindMap:
		v.Str, err = r.str()
	case day2.KindBool:
		var b byte
		if b, err = r.byte(); err == nil {
			if b > 1 {
				return fmt.Errorf("bool value %d", b)
			}
			v.Num = int64(b)
		}
	case day2.KindInt:
		v.Num, err = r.varint()
	case day2.KindDouble:
		var b [8]byte
		if err = r.fixed(b[:]); err == nil {
			v.Num = int64(binary.LittleEndian.Uint64(b[:]))
		}
	case day2.KindArray:
		if depth >= maxValueDepth {
			return fmt.Errorf("arrays nested deeper than %d", maxValueDepth)
		}
		var n int
		if n, err = r.count(1); err != nil || n == 0 {
			return err
		}
		v.Arr = make([]day2.Value, n)
		for i := range v.Arr {
			if err = r.value(&v.Arr[i], depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unknown value kind %d", k)
	}
	return err
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.s) {
		return 0, errShort
	}
	b := r.s[r.off]
	r.off++
	return b, nil
}

func (r *reader) fixed(dst []byte) error {
	if len(r.s)-r.off < len(dst) {
		return errShort
	}
	r.off += copy(dst, r.s[r.off:])
	return nil
}

func (r *reader) uvarint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.off >= len(r.s) {
			return 0, errShort
		}
		b := r.s[r.off]
		r.off++
		if shift == 63 && b > 1 {
			break
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("varint overflows 64 bits")
}

func (r *reader) varint() (int64, error) {
	u, err := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v, err
}

// count reads an element count and rejects it when the rest of the input cannot
// hold that many elements of at least minSize bytes each.
func (r *reader) count(minSize int) (int, error) {
	n, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.s)-r.off)/uint64(minSize) {
		return 0, fmt.Errorf("count %d exceeds the remaining %d bytes", n, len(r.s)-r.off)
	}
	return int(n), nil
}

func (r *reader) str() (string, error) {
	n, err := r.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(r.s)-r.off) {
		return "", fmt.Errorf("string length %d exceeds the remaining %d bytes", n, len(r.s)-r.off)
	}
	s := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

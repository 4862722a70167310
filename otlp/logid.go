package otlp

import "github.com/day2ops/day2"

// FNV-1a, 64 bit. It is written out here rather than taken from hash/fnv so that
// strings are hashed without conversion to []byte and the hash state stays on the
// stack.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

type fnv64 uint64

func (h *fnv64) byte(b byte) {
	*h = (*h ^ fnv64(b)) * fnvPrime64
}

func (h *fnv64) u64(v uint64) {
	for i := 0; i < 8; i++ {
		h.byte(byte(v))
		v >>= 8
	}
}

func (h *fnv64) bytes(b []byte) {
	h.u64(uint64(len(b)))
	for _, c := range b {
		h.byte(c)
	}
}

// str hashes s with its length first, so that adjacent fields cannot run into
// each other ("ab"+"c" and "a"+"bc" differ).
func (h *fnv64) str(s string) {
	h.u64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h.byte(s[i])
	}
}

func (h *fnv64) value(v *day2.Value) {
	h.byte(byte(v.Kind))
	switch v.Kind {
	case day2.KindString, day2.KindBytes, day2.KindMap:
		h.str(v.Str)
	case day2.KindBool, day2.KindInt, day2.KindDouble:
		h.u64(uint64(v.Num))
	case day2.KindArray:
		h.u64(uint64(len(v.Arr)))
		for i := range v.Arr {
			h.value(&v.Arr[i])
		}
	}
}

// logRecordID returns the identity of a log record: a hash of its content, so that
// a record delivered twice (an exporter retry) gets the same ID in any process.
// OTLP gives log records no id of their own. The inputs and their order are part
// of the stored data's identity: changing them makes redelivered records look new.
func logRecordID(lr *day2.LogRecord, ts, observed uint64, severity int32, bodyKind uint8) uint64 {
	h := fnv64(fnvOffset64)
	h.bytes(lr.TraceID[:])
	h.bytes(lr.SpanID[:])
	h.u64(ts)
	h.u64(observed)
	h.str(lr.EventName)
	h.u64(uint64(uint32(severity)))
	h.str(lr.SeverityText)
	h.byte(bodyKind)
	h.str(lr.Body)
	h.u64(uint64(len(lr.Attrs)))
	for i := range lr.Attrs {
		h.str(lr.Attrs[i].Key)
		h.value(&lr.Attrs[i].Value)
	}
	return uint64(h)
}

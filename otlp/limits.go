package otlp

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/day2ops/day2"
)

// Default limits, used for every zero field of Limits.
const (
	// DefaultMaxBodyBytes is the default body limit: 16 MiB after decompression.
	DefaultMaxBodyBytes = 16 << 20
	// DefaultMaxAttributes is the default attribute limit per span, event or log record.
	DefaultMaxAttributes = 256
	// DefaultMaxValueLength is the default value length limit: 64 KiB.
	DefaultMaxValueLength = 64 << 10
)

// Limits bounds what one OTLP request may carry. A zero field takes its default;
// the command line sets the fields with --max-body, --max-attributes and
// --max-value-length.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted, counted after
	// decompression. It is also the gRPC receive message size limit.
	MaxBodyBytes int64
	// MaxAttributes is the most attributes one span, span event or log record may
	// carry; an item with more is rejected.
	MaxAttributes int
	// MaxValueLength is the longest attribute value, array element or log body, in
	// bytes; an item with a longer one is rejected. Map values count as their JSON
	// text.
	MaxValueLength int
}

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:   DefaultMaxBodyBytes,
		MaxAttributes:  DefaultMaxAttributes,
		MaxValueLength: DefaultMaxValueLength,
	}
}

// Validate reports a coded EInvalid error when a limit is negative.
func (l Limits) Validate() error {
	switch {
	case l.MaxBodyBytes < 0:
		return day2.Errorf(day2.EInvalid, "--max-body is %d; it must be a positive number of bytes (0 means the default of %d)", l.MaxBodyBytes, DefaultMaxBodyBytes)
	case l.MaxAttributes < 0:
		return day2.Errorf(day2.EInvalid, "--max-attributes is %d; it must be positive (0 means the default of %d)", l.MaxAttributes, DefaultMaxAttributes)
	case l.MaxValueLength < 0:
		return day2.Errorf(day2.EInvalid, "--max-value-length is %d; it must be a positive number of bytes (0 means the default of %d)", l.MaxValueLength, DefaultMaxValueLength)
	}
	return nil
}

// withDefaults fills the zero (and, defensively, negative) fields of l.
func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = DefaultMaxAttributes
	}
	if l.MaxValueLength <= 0 {
		l.MaxValueLength = DefaultMaxValueLength
	}
	return l
}

// Rejections reports what a conversion did not store. The receivers send it back
// as the OTLP partial success, so the exporter learns what was refused and why.
type Rejections struct {
	// Received counts the spans or log records of the request.
	Received int
	// Rejected counts the items refused because they break a rule (invalid ids,
	// too many attributes, a value too long).
	Rejected int
	// Dropped counts log records that were accepted but not stored because they
	// carry no trace id, so they belong to no task. They are not rejections.
	Dropped int
	// Message describes the first few rejected items and how to fix them; it is
	// empty when nothing was rejected.
	Message string
}

// AllRejected reports whether the request had items and every one was rejected,
// which the receivers answer as a bad request rather than a partial success.
func (r Rejections) AllRejected() bool {
	return r.Received > 0 && r.Rejected == r.Received
}

// maxDescribed is how many rejected items the message describes one by one.
const maxDescribed = 3

// problemKind says which rule an item broke.
type problemKind uint8

const (
	badTraceID problemKind = iota + 1
	badSpanID
	tooManyAttrs
	valueTooLong
	bodyTooLong
)

// problem is a broken rule found while converting one item. It is kept as data
// and formatted only for the few items the message describes, so a request full
// of bad items costs no string formatting beyond those.
type problem struct {
	kind  problemKind
	event string // the span event holding the offending attributes, if any
	key   string // the offending attribute
	n     int    // the attribute count or value length found
}

// item identifies a rejected span or log record in a message.
type item struct {
	kind    string // "span" or "log record"
	name    string // span name or log event name, may be empty
	traceID [16]byte
	spanID  [8]byte
}

// rejecter counts rejections and builds the message.
type rejecter struct {
	lim       Limits
	noun      string // plural of the item kind, for the message head
	rej       Rejections
	described []string
}

// reject records that it broke the rule in p.
func (r *rejecter) reject(it item, p problem) {
	r.rej.Rejected++
	if len(r.described) < maxDescribed {
		r.described = append(r.described, r.describe(it, p))
	}
}

// result returns the counts with the message filled in.
func (r *rejecter) result() Rejections {
	out := r.rej
	if out.Rejected == 0 {
		return out
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rejected %d of %d %s: ", out.Rejected, out.Received, r.noun)
	b.WriteString(strings.Join(r.described, ". "))
	if more := out.Rejected - len(r.described); more > 0 {
		fmt.Fprintf(&b, ". %d more rejected %s are not described here", more, r.noun)
	}
	out.Message = b.String()
	return out
}

// describe writes one sentence naming the item, the rule it broke and the fix.
func (r *rejecter) describe(it item, p problem) string {
	var who string
	switch {
	case it.kind == "span":
		who = fmt.Sprintf("span %q (trace %s, span %s)", it.name, hex.EncodeToString(it.traceID[:]), hex.EncodeToString(it.spanID[:]))
	case it.name != "":
		who = fmt.Sprintf("log record %q (trace %s, span %s)", it.name, hex.EncodeToString(it.traceID[:]), hex.EncodeToString(it.spanID[:]))
	default:
		who = fmt.Sprintf("log record (trace %s, span %s)", hex.EncodeToString(it.traceID[:]), hex.EncodeToString(it.spanID[:]))
	}
	if p.event != "" {
		who = fmt.Sprintf("event %q of %s", p.event, who)
	}
	switch p.kind {
	case badTraceID:
		return fmt.Sprintf("%s has an invalid all-zero trace id; every span needs a 16-byte trace id", who)
	case badSpanID:
		return fmt.Sprintf("%s has an invalid all-zero span id; every span needs an 8-byte span id", who)
	case tooManyAttrs:
		return fmt.Sprintf("%s has %d attributes, over the limit of %d; drop attributes in the exporter or raise --max-attributes", who, p.n, r.lim.MaxAttributes)
	case valueTooLong:
		return fmt.Sprintf("%s has attribute %q with a value of %d bytes, over the limit of %d; truncate it in the exporter or raise --max-value-length", who, p.key, p.n, r.lim.MaxValueLength)
	case bodyTooLong:
		return fmt.Sprintf("%s has a body of %d bytes, over the limit of %d; truncate it in the exporter or raise --max-value-length", who, p.n, r.lim.MaxValueLength)
	}
	return who + " is invalid"
}

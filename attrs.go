package day2

import (
	"math"
	"strconv"
	"strings"
)

// ValueKind is the type of an attribute value.
type ValueKind uint8

// Value kinds, following the OTLP AnyValue variants.
const (
	KindEmpty ValueKind = iota
	KindString
	KindBool
	KindInt
	KindDouble
	KindBytes
	KindArray
	KindMap // kept as its JSON text in Str
)

// Value is an attribute value. Str holds strings, bytes and the JSON text of maps;
// Num holds ints, bools (0 or 1) and the bits of doubles; Arr holds array elements.
type Value struct {
	Kind ValueKind
	Str  string
	Num  int64
	Arr  []Value
}

// StringValue returns a string value.
func StringValue(s string) Value { return Value{Kind: KindString, Str: s} }

// IntValue returns an integer value.
func IntValue(i int64) Value { return Value{Kind: KindInt, Num: i} }

// BoolValue returns a boolean value.
func BoolValue(b bool) Value {
	v := Value{Kind: KindBool}
	if b {
		v.Num = 1
	}
	return v
}

// DoubleValue returns a floating-point value.
func DoubleValue(f float64) Value {
	return Value{Kind: KindDouble, Num: int64(math.Float64bits(f))}
}

// ArrayValue returns an array value.
func ArrayValue(vs ...Value) Value { return Value{Kind: KindArray, Arr: vs} }

// Float returns the value of a double.
func (v Value) Float() float64 { return math.Float64frombits(uint64(v.Num)) }

// String renders the value as text: strings as they are, numbers and bools in
// their usual form, arrays as comma-separated elements.
func (v Value) String() string {
	switch v.Kind {
	case KindString, KindBytes, KindMap:
		return v.Str
	case KindBool:
		return strconv.FormatBool(v.Num != 0)
	case KindInt:
		return strconv.FormatInt(v.Num, 10)
	case KindDouble:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case KindArray:
		parts := make([]string, len(v.Arr))
		for i, e := range v.Arr {
			parts[i] = e.String()
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// AsBool interprets the value as a boolean: a bool, the strings "true"/"false"
// (any case, surrounding spaces ignored), or the integers 1 and 0.
func (v Value) AsBool() (bool, bool) {
	switch v.Kind {
	case KindBool:
		return v.Num != 0, true
	case KindString:
		switch strings.ToLower(strings.TrimSpace(v.Str)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	case KindInt:
		switch v.Num {
		case 1:
			return true, true
		case 0:
			return false, true
		}
	}
	return false, false
}

// AsInt interprets the value as an integer: an int, a whole double, or a string
// holding a decimal integer (OTLP/JSON sends int64 as strings).
func (v Value) AsInt() (int64, bool) {
	switch v.Kind {
	case KindInt:
		return v.Num, true
	case KindDouble:
		f := v.Float()
		if f == math.Trunc(f) && f >= math.MinInt64 && f <= math.MaxInt64 {
			return int64(f), true
		}
	case KindString:
		s := strings.TrimSpace(v.Str)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
			return int64(f), true
		}
	}
	return 0, false
}

// Strings returns the value as a list of strings: the elements of an array, or a
// single string.
func (v Value) Strings() []string {
	switch v.Kind {
	case KindArray:
		out := make([]string, 0, len(v.Arr))
		for _, e := range v.Arr {
			out = append(out, e.String())
		}
		return out
	case KindEmpty:
		return nil
	}
	return []string{v.String()}
}

// Attr is one key/value attribute.
type Attr struct {
	Key   string
	Value Value
}

// Attrs is an attribute list. Lists are short, so lookups scan.
type Attrs []Attr

// Get returns the value for key.
func (a Attrs) Get(key string) (Value, bool) {
	for i := range a {
		if a[i].Key == key {
			return a[i].Value, true
		}
	}
	return Value{}, false
}

// Str returns the string form of the first of keys present with a non-empty value.
func (a Attrs) Str(keys ...string) string {
	for _, k := range keys {
		if v, ok := a.Get(k); ok {
			if s := v.String(); s != "" {
				return s
			}
		}
	}
	return ""
}

// Int returns the integer value of the first of keys that holds one.
func (a Attrs) Int(keys ...string) (int64, bool) {
	for _, k := range keys {
		if v, ok := a.Get(k); ok {
			if i, ok := v.AsInt(); ok {
				return i, true
			}
		}
	}
	return 0, false
}

// Bool returns the boolean value of the first of keys that holds one.
func (a Attrs) Bool(keys ...string) (bool, bool) {
	for _, k := range keys {
		if v, ok := a.Get(k); ok {
			if b, ok := v.AsBool(); ok {
				return b, true
			}
		}
	}
	return false, false
}

package day2

import "encoding/json"

// Number returns v as a float64 when it is one of Go's numeric types or a
// json.Number that parses, as values from decoded JSON, YAML and callers'
// contexts come; ok is false for anything else. Flag targeting, approval
// conditions and incident levers compare numbers as float64 through it.
func Number(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

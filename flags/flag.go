// Package flags is day2's feature flag service: flag definitions in flagd's
// shape, a JSONLogic targeting engine with flagd's custom operations
// (fractional, sem_ver, starts_with, ends_with), and a Service that serves
// flags from configuration and run-time changes with an audit trail. Package
// httpapi exposes it over OFREP, the OpenFeature Remote Evaluation Protocol, so
// any OpenFeature SDK with an OFREP provider can evaluate day2's flags.
//
// Evaluation is pure: a Flag and an EvalContext give a Result. The Service keeps
// an in-memory snapshot of every flag with its targeting compiled, so an
// evaluation never reads the store.
package flags

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
)

// Flag states.
const (
	StateEnabled  = "ENABLED"
	StateDisabled = "DISABLED"
)

// Evaluation reasons, as OpenFeature and OFREP name them.
const (
	// ReasonStatic: the flag has no targeting; its default variant applies.
	ReasonStatic = "STATIC"
	// ReasonTargetingMatch: the targeting rule chose the variant.
	ReasonTargetingMatch = "TARGETING_MATCH"
	// ReasonSplit: a fractional rule chose the variant by hashing the context.
	ReasonSplit = "SPLIT"
	// ReasonDisabled: the flag is disabled; the caller's code default applies.
	ReasonDisabled = "DISABLED"
	// ReasonDefault: the targeting rule returned null; the default variant applies.
	ReasonDefault = "DEFAULT"
	// ReasonError: the evaluation failed; ErrorCode says why.
	ReasonError = "ERROR"
)

// Error codes of failed evaluations, as OpenFeature and OFREP name them.
const (
	CodeFlagNotFound        = "FLAG_NOT_FOUND"
	CodeParseError          = "PARSE_ERROR"
	CodeTargetingKeyMissing = "TARGETING_KEY_MISSING"
	CodeInvalidContext      = "INVALID_CONTEXT"
	CodeGeneral             = "GENERAL"
)

// TargetingKey is the evaluation context attribute that identifies the subject
// of an evaluation (a user, a session, an agent run); fractional splits hash it.
const TargetingKey = "targetingKey"

// MaxKeyLength is the longest flag key accepted.
const MaxKeyLength = 200

// Flag is one feature flag in flagd's shape: its variants (the values it can
// take), the one served by default, and an optional JSONLogic targeting rule
// that picks a variant from the evaluation context.
type Flag struct {
	// Key names the flag. In a flag set it is the map key and may be omitted.
	Key string `json:"key,omitempty"`
	// State is ENABLED or DISABLED. A disabled flag evaluates to the caller's
	// code default (reason DISABLED).
	State string `json:"state"`
	// Variants maps variant names to values, all of one type: booleans,
	// strings, numbers or objects.
	Variants map[string]any `json:"variants"`
	// DefaultVariant is served when there is no targeting or it returns null.
	DefaultVariant string `json:"defaultVariant"`
	// Targeting is a JSONLogic rule returning a variant name or null; empty,
	// null or {} means none.
	Targeting json.RawMessage `json:"targeting,omitempty"`
	// Metadata is returned with every evaluation: string, number or boolean
	// values only.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// EvalContext is the evaluation context: targetingKey plus any attributes, as
// decoded from JSON (numbers are float64, objects map[string]any).
type EvalContext map[string]any

// Result is the outcome of evaluating one flag, with OFREP's field names. A
// failed evaluation has Reason ERROR, an ErrorCode and ErrorDetails, and no
// Value; a disabled flag has Reason DISABLED and no Value, so that the caller
// uses its code default.
type Result struct {
	Key          string `json:"key"`
	Value        any    `json:"value,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Variant      string `json:"variant,omitempty"`
	ErrorCode    string `json:"errorCode,omitempty"`
	ErrorDetails string `json:"errorDetails,omitempty"`
	// Metadata is the flag's metadata. Like an object Value, it may be shared
	// with the flag definition: treat both as read-only.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Failed reports whether the evaluation failed (ErrorCode is set).
func (r Result) Failed() bool { return r.ErrorCode != "" }

// ValidKey returns nil if key can name a flag: 1 to 200 letters, digits, '.',
// '_', '-' or ':', starting with a letter or digit, so that it fits in a URL
// path segment unescaped.
func ValidKey(key string) error {
	if key == "" {
		return day2.Errorf(day2.EInvalid, "the flag key is empty; name the flag, e.g. \"new-planner\"")
	}
	if len(key) > MaxKeyLength {
		return day2.Errorf(day2.EInvalid, "flag key %.40q... is %d characters long; the limit is %d", key, len(key), MaxKeyLength)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-' && c != ':') {
			return day2.Errorf(day2.EInvalid, "flag key %q: use letters, digits, '.', '_', '-' and ':' only, starting with a letter or digit", key)
		}
	}
	return nil
}

// Validate checks the flag and returns an EInvalid error listing every problem:
// a bad key or state, no variants, variants of mixed types, a default variant
// that is not a variant, metadata values that are not strings, numbers or
// booleans, and targeting rules that do not compile or return a variant the
// flag does not have (each with the path of the problem in the rule).
func (f Flag) Validate() error {
	_, problems := f.check()
	return f.invalid(problems)
}

// invalid is the EInvalid error listing problems, nil when there are none.
func (f Flag) invalid(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	name := f.Key
	if name == "" {
		name = "(no key)"
	}
	return day2.Errorf(day2.EInvalid, "flag %q: %s", name, strings.Join(problems, "; "))
}

// check lists f's problems and returns its compiled targeting rule (nil when
// it has none or the rule is invalid).
func (f Flag) check() (rule *node, ps []string) {
	if err := ValidKey(f.Key); err != nil {
		ps = append(ps, day2.ErrorMessage(err))
	}
	switch f.State {
	case StateEnabled, StateDisabled:
	case "":
		ps = append(ps, `state is missing; set "state": "ENABLED" or "DISABLED"`)
	default:
		ps = append(ps, fmt.Sprintf(`unknown state %q; use "ENABLED" or "DISABLED"`, f.State))
	}
	ps = append(ps, variantProblems(f.Variants)...)
	if f.DefaultVariant == "" {
		ps = append(ps, fmt.Sprintf("defaultVariant is missing; set it to one of the variants (%s)", variantList(f.Variants)))
	} else if _, ok := f.Variants[f.DefaultVariant]; !ok && len(f.Variants) > 0 {
		ps = append(ps, fmt.Sprintf("defaultVariant %q is not among the variants (%s)", f.DefaultVariant, variantList(f.Variants)))
	}
	for _, k := range sortedKeys(f.Metadata) {
		switch v := f.Metadata[k].(type) {
		case string, bool:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				ps = append(ps, fmt.Sprintf("metadata %q is not a finite number", k))
			}
		case int, int64:
		default:
			ps = append(ps, fmt.Sprintf("metadata %q is %s; OFREP allows only strings, numbers and booleans", k, kindOf(v)))
		}
	}
	if hasTargeting(f.Targeting) {
		var err error
		if rule, err = compileTargeting(f.Targeting, f.Variants); err != nil {
			ps = append(ps, err.Error())
		}
	}
	return rule, ps
}

// variantProblems checks that there are variants and that their values are
// all of one type.
func variantProblems(vs map[string]any) []string {
	if len(vs) == 0 {
		return []string{`variants are missing; add at least one, e.g. "variants": {"on": true, "off": false}`}
	}
	var ps []string
	kinds := map[string][]string{}
	for _, name := range sortedKeys(vs) {
		if name == "" {
			ps = append(ps, "a variant has an empty name")
		}
		k := valueKind(vs[name])
		if k == "" {
			ps = append(ps, fmt.Sprintf("variant %q is %s; a variant is a boolean, string, number or object", name, kindOf(vs[name])))
			continue
		}
		kinds[k] = append(kinds[k], name)
	}
	if len(kinds) > 1 {
		var parts []string
		for _, k := range sortedKeys(kinds) {
			parts = append(parts, fmt.Sprintf("%s (%s)", k, strings.Join(kinds[k], ", ")))
		}
		ps = append(ps, "variants are of mixed types: "+strings.Join(parts, ", ")+"; all variants of a flag must have one type")
	}
	return ps
}

// valueKind is the OpenFeature type of a variant value, or "" if it cannot be one.
func valueKind(v any) string {
	switch x := v.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return "number"
	case int, int32, int64, float32, uint, uint32, uint64:
		return "number"
	case map[string]any, []any:
		return "object"
	}
	return ""
}

// kindOf describes v's JSON type for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case float64, int, int64:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func variantList(vs map[string]any) string {
	if len(vs) == 0 {
		return "none defined"
	}
	keys := sortedKeys(vs)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(keys, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// hasTargeting reports whether raw holds a targeting rule: not empty, null or {}.
func hasTargeting(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return false
	}
	empty := len(t) >= 2 && t[0] == '{' && t[len(t)-1] == '}' && len(bytes.TrimSpace(t[1:len(t)-1])) == 0
	return !empty
}

// flagSetDoc is flagd's flag set document.
type flagSetDoc struct {
	Schema     string                     `json:"$schema,omitempty"`
	Flags      map[string]json.RawMessage `json:"flags"`
	Evaluators map[string]json.RawMessage `json:"$evaluators,omitempty"`
	Metadata   map[string]any             `json:"metadata,omitempty"`
}

// ParseFlagSet reads a flag set in flagd's format, JSON or YAML:
//
//	{"flags": {"new-planner": {"state": "ENABLED", "variants": {"on": true, "off": false},
//	  "defaultVariant": "off", "targeting": {...}}}}
//
// Shared rules under "$evaluators" are substituted for {"$ref": "name"} in
// targeting rules, and the set's "metadata" is added to each flag's (the flag's
// own entries win). Every flag is validated; the error, EInvalid, lists every
// problem of every flag.
func ParseFlagSet(data []byte) (map[string]Flag, error) {
	js, err := toJSON(data)
	if err != nil {
		return nil, err
	}
	var doc flagSetDoc
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err == nil {
		for _, name := range sortedKeys(top) {
			if !slices.Contains([]string{"$schema", "flags", "$evaluators", "metadata"}, name) {
				return nil, day2.Errorf(day2.EInvalid, "the flag set has an unknown field %q; it has flags and optionally $evaluators, metadata and $schema (names are case-sensitive)", name)
			}
		}
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, day2.Errorf(day2.EInvalid, "the flag set is not in flagd's format (%v); write {\"flags\": {\"my-flag\": {\"state\": \"ENABLED\", \"variants\": {...}, \"defaultVariant\": \"...\"}}}", cleanJSONError(err))
	}
	if doc.Flags == nil {
		return nil, day2.Errorf(day2.EInvalid, "the flag set has no \"flags\" object; write {\"flags\": {\"my-flag\": {...}}}")
	}
	evaluators := map[string]any{}
	for name, raw := range doc.Evaluators {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, day2.Errorf(day2.EInvalid, "$evaluators.%s is not valid JSON: %v", name, cleanJSONError(err))
		}
		evaluators[name] = v
	}
	for k, v := range doc.Metadata {
		switch v.(type) {
		case string, bool, float64:
		default:
			return nil, day2.Errorf(day2.EInvalid, "metadata %q of the flag set is %s; OFREP allows only strings, numbers and booleans", k, kindOf(v))
		}
	}
	out := make(map[string]Flag, len(doc.Flags))
	var problems []string
	for _, key := range sortedKeys(doc.Flags) {
		f, err := decodeFlag(key, doc.Flags[key], evaluators)
		if err != nil {
			problems = append(problems, fmt.Sprintf("flag %q: %s", key, err))
			continue
		}
		if len(doc.Metadata) > 0 {
			md := make(map[string]any, len(doc.Metadata)+len(f.Metadata))
			for k, v := range doc.Metadata {
				md[k] = v
			}
			for k, v := range f.Metadata {
				md[k] = v
			}
			f.Metadata = md
		}
		if _, ps := f.check(); len(ps) > 0 {
			problems = append(problems, fmt.Sprintf("flag %q: %s", key, strings.Join(ps, "; ")))
			continue
		}
		out[key] = f
	}
	if len(problems) > 0 {
		return nil, day2.Errorf(day2.EInvalid, "%s", strings.Join(problems, "\n"))
	}
	return out, nil
}

// decodeFlag decodes one flag of a set, rejecting unknown fields and
// substituting shared evaluators in its targeting.
func decodeFlag(key string, raw json.RawMessage, evaluators map[string]any) (Flag, error) {
	f, err := decodeFlagJSON(raw)
	if err != nil {
		return f, err
	}
	if f.Key != "" && f.Key != key {
		return f, fmt.Errorf("its key field says %q; leave it out or make it match", f.Key)
	}
	f.Key = key
	if hasTargeting(f.Targeting) && bytes.Contains(f.Targeting, []byte(`"$ref"`)) {
		var t any
		if err := json.Unmarshal(f.Targeting, &t); err != nil {
			return f, fmt.Errorf("targeting is not valid JSON: %v", cleanJSONError(err))
		}
		t, err := substituteRefs(t, evaluators, 0)
		if err != nil {
			return f, err
		}
		f.Targeting, _ = json.Marshal(t)
	}
	if !hasTargeting(f.Targeting) {
		f.Targeting = nil
	}
	return f, nil
}

// flagFields are the fields of a flag, which encoding/json would match without
// regard to case.
var flagFields = []string{"key", "state", "variants", "defaultVariant", "targeting", "metadata"}

// decodeFlagJSON decodes one flag definition, refusing unknown fields and
// fields in the wrong case ("defaultvariant").
func decodeFlagJSON(raw []byte) (Flag, error) {
	var f Flag
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return f, fmt.Errorf("not a flag definition (%v); a flag is an object with state, variants, defaultVariant and optionally targeting and metadata", cleanJSONError(err))
	}
	for _, name := range sortedKeys(fields) {
		if !slices.Contains(flagFields, name) {
			return f, fmt.Errorf("unknown field %q; a flag has the fields state, variants, defaultVariant, targeting and metadata (names are case-sensitive)", name)
		}
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return f, fmt.Errorf("not a flag definition (%v); a flag has state, variants, defaultVariant and optionally targeting and metadata", cleanJSONError(err))
	}
	return f, nil
}

// ParseFlag reads one flag definition in flagd's shape, JSON or YAML, as the
// API receives it: {"state": "ENABLED", "variants": {...}, "defaultVariant":
// "...", "targeting": {...}}. It checks the fields but does not Validate.
func ParseFlag(data []byte) (Flag, error) {
	js, err := toJSON(data)
	if err != nil {
		return Flag{}, day2.Errorf(day2.EInvalid, "%s", strings.Replace(day2.ErrorMessage(err), "the flag set", "the flag", 1))
	}
	f, err := decodeFlagJSON(js)
	if err != nil {
		return Flag{}, day2.Errorf(day2.EInvalid, "%v", err)
	}
	if !hasTargeting(f.Targeting) {
		f.Targeting = nil
	}
	return f, nil
}

// substituteRefs replaces every {"$ref": "name"} in v by the shared evaluator name.
func substituteRefs(v any, evaluators map[string]any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("targeting nests $ref deeper than %d levels; is an evaluator referring to itself?", maxDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"]; ok && len(x) == 1 {
			name, _ := ref.(string)
			e, ok := evaluators[name]
			if !ok {
				return nil, fmt.Errorf("targeting refers to evaluator %q, which $evaluators does not define", name)
			}
			return substituteRefs(e, evaluators, depth+1)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := substituteRefs(e, evaluators, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := substituteRefs(e, evaluators, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// toJSON returns data as JSON: as is when it looks like JSON, converted from
// YAML otherwise.
func toJSON(data []byte) ([]byte, error) {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return nil, day2.Errorf(day2.EInvalid, "the flag set is empty; write {\"flags\": {...}} in JSON or YAML")
	}
	if t[0] == '{' {
		if !json.Valid(t) {
			var v any
			err := json.Unmarshal(t, &v)
			return nil, day2.Errorf(day2.EInvalid, "the flag set is not valid JSON: %s", jsonErrorAt(t, err))
		}
		return t, nil
	}
	var v any
	if err := yaml.Unmarshal(t, &v); err != nil {
		return nil, day2.Errorf(day2.EInvalid, "the flag set is neither JSON nor valid YAML: %v", err)
	}
	v, err := yamlToJSONValue(v, "", 0)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, day2.Errorf(day2.EInvalid, "the flag set cannot be read as JSON: %v", err)
	}
	return js, nil
}

// yamlToJSONValue converts what yaml.v3 decodes into values encoding/json can
// write, refusing mappings with keys that are not strings.
func yamlToJSONValue(v any, path string, depth int) (any, error) {
	if depth > 2*maxDepth {
		return nil, day2.Errorf(day2.EInvalid, "the flag set nests deeper than %d levels", 2*maxDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			r, err := yamlToJSONValue(e, path+"."+k, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
		return x, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, day2.Errorf(day2.EInvalid, "the flag set has a key %v at %q that is not a string; quote it", k, strings.TrimPrefix(path, "."))
			}
			r, err := yamlToJSONValue(e, path+"."+ks, depth+1)
			if err != nil {
				return nil, err
			}
			out[ks] = r
		}
		return out, nil
	case []any:
		for i, e := range x {
			r, err := yamlToJSONValue(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, day2.Errorf(day2.EInvalid, "the flag set has a value at %q that is not a finite number", strings.TrimPrefix(path, "."))
		}
	}
	return v, nil
}

// jsonErrorAt describes a JSON syntax error with its line and column.
func jsonErrorAt(data []byte, err error) string {
	var se *json.SyntaxError
	if e, ok := err.(*json.SyntaxError); ok {
		se = e
	}
	if se == nil || se.Offset <= 0 {
		return cleanJSONError(err)
	}
	off := int(min(se.Offset, int64(len(data))))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - (bytes.LastIndexByte(data[:off], '\n') + 1) // the offending byte, counting from 1
	return fmt.Sprintf("line %d, column %d: %s", line, col, cleanJSONError(err))
}

// cleanJSONError removes Go type names from encoding/json messages.
func cleanJSONError(err error) string {
	msg := err.Error()
	msg = strings.ReplaceAll(msg, "Go struct field ", "field ")
	msg = strings.ReplaceAll(msg, "flags.flagSetDoc.", "")
	msg = strings.ReplaceAll(msg, "flags.Flag.", "")
	msg = strings.ReplaceAll(msg, "of type flags.Flag", "")
	msg = strings.ReplaceAll(msg, "of type flags.flagSetDoc", "")
	return msg
}

// clone returns a deep copy of f whose maps and targeting the caller may change.
func (f Flag) clone() Flag {
	c := f
	c.Variants = cloneValue(f.Variants).(map[string]any)
	if f.Metadata != nil {
		c.Metadata = cloneValue(f.Metadata).(map[string]any)
	}
	c.Targeting = slices.Clone(f.Targeting)
	return c
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	}
	return v
}

package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
)

// The day2 kinds of the later capabilities (flags, approvals, alert rules,
// notifiers) have their spec types in the capability's own package, with yaml
// tags and a Validate method. decodeSpec reads a spec into such a type: it
// first walks the YAML against the type to report unknown keys (with the
// nearest valid key) and values of the wrong shape at their lines, then decodes
// it, then runs Validate and reports its message at the document.

// validator is a spec type that checks itself.
type validator interface{ Validate() error }

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// decodeSpec decodes o's spec into a new T, lets prep (when not nil) fill in
// what comes from the envelope, such as the name, and validates it, reporting
// every problem; ok is false when there was any.
func decodeSpec[T any](l *loader, o *object, example string, prep func(*T)) (v T, ok bool) {
	if !o.spec.ok() {
		return v, false
	}
	before := l.count()
	l.checkShape(o.spec.val, reflect.TypeFor[T](), "the "+o.kind+" spec", example)
	if l.count() > before {
		return v, false
	}
	if err := o.spec.val.Decode(&v); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			l.addf(o.spec.line(), "the %s spec: %s", o.kind, yamlMessage(err))
			return v, false
		}
		for _, e := range te.Errors {
			line := o.spec.line()
			if m := typeErrorLine.FindStringSubmatch(e); m != nil {
				line, _ = strconv.Atoi(m[1])
				e = e[len(m[0]):]
			}
			l.addf(line, "in the %s spec: %s", o.kind, e)
		}
		return v, false
	}
	if prep != nil {
		prep(&v)
	}
	if val, isVal := any(&v).(validator); isVal {
		if err := val.Validate(); err != nil {
			l.addf(o.line, "%s %s: %s", o.kind, o.name, day2.ErrorMessage(err))
			return v, false
		}
	}
	return v, true
}

// typeErrorLine matches the "line N: " prefix of yaml.v3 type errors.
var typeErrorLine = regexp.MustCompile(`^line (\d+): `)

// yamlMessage strips the yaml package's prefixes from a decoding error.
func yamlMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
	return strings.Join(strings.Fields(msg), " ")
}

// checkShape compares YAML node n with the Go type t it will be decoded into,
// reporting unknown keys of structs and mappings where a list or scalar is
// needed (and the reverse). Types that decode themselves are not inspected.
func (l *loader) checkShape(n *yaml.Node, t reflect.Type, what, example string) {
	n = l.deref(n)
	if isNull(n) {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) || reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		fields := yamlFields(t)
		known := sortedKeys(fields)
		m, ok := l.mapping(n, n.Line, what, example, known...)
		if !ok {
			return
		}
		for k, f := range m {
			if f.ok() {
				l.checkShape(f.val, fields[k], k+" in "+what, "")
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			l.addf(n.Line, "%s must be a mapping of key: value lines, not %s%s", what, describe(n), forExample(example))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.checkShape(n.Content[i+1], t.Elem(), fmt.Sprintf("%s of %s", l.deref(n.Content[i]).Value, what), "")
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return
		}
		if n.Kind != yaml.SequenceNode {
			// A single value where a list is expected is accepted by types
			// that say so (they implement yaml.Unmarshaler); others need a list.
			l.addf(n.Line, "%s must be a list (- item lines or [a, b]), not %s", what, describe(n))
			return
		}
		for i, c := range n.Content {
			l.checkShape(c, t.Elem(), fmt.Sprintf("item %d of %s", i+1, what), "")
		}
	case reflect.Interface:
	default:
		if n.Kind != yaml.ScalarNode {
			l.addf(n.Line, "%s must be a single value, not %s", what, describe(n))
		}
	}
}

// yamlFields returns the YAML keys of struct t's fields and their types,
// following inline fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

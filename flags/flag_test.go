package flags

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/day2ops/day2"
)

func TestParseFlagSetJSON(t *testing.T) {
	fs, err := ParseFlagSet([]byte(`{
	  "$schema": "https://flagd.dev/schema/v0/flags.json",
	  "metadata": {"owner": "platform", "tier": 1},
	  "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@day2.dev"]}},
	  "flags": {
	    "new-planner": {
	      "state": "ENABLED",
	      "variants": {"on": true, "off": false},
	      "defaultVariant": "off",
	      "targeting": {"if": [{"$ref": "staff"}, "on", null]},
	      "metadata": {"owner": "agents"}
	    },
	    "model": {
	      "state": "DISABLED",
	      "variants": {"small": "gpt-small", "large": "gpt-large"},
	      "defaultVariant": "small",
	      "targeting": {}
	    }
	  }
	}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 {
		t.Fatalf("got %d flags", len(fs))
	}
	p := fs["new-planner"]
	if p.Key != "new-planner" || p.State != StateEnabled || p.DefaultVariant != "off" {
		t.Errorf("new-planner = %+v", p)
	}
	if !reflect.DeepEqual(p.Metadata, map[string]any{"owner": "agents", "tier": 1.0}) {
		t.Errorf("metadata = %v; the flag's own entries should win over the set's", p.Metadata)
	}
	if r := p.Evaluate(EvalContext{"email": "ana@day2.dev"}); r.Variant != "on" {
		t.Errorf("the $ref evaluator did not apply: %+v", r)
	}
	if m := fs["model"]; m.Targeting != nil || m.State != StateDisabled {
		t.Errorf("model = %+v; {} targeting should be dropped", m)
	}
}

func TestParseFlagSetYAML(t *testing.T) {
	fs, err := ParseFlagSet([]byte(`
flags:
  max-tool-calls:
    state: ENABLED
    variants:
      low: 5
      high: 50
    defaultVariant: low
    targeting:
      if:
        - sem_ver: [{var: agentVersion}, ">=", "2.0.0"]
        - high
        - null
  greeting:
    state: ENABLED
    variants: {formal: {text: "Good day"}, casual: {text: "Hi"}}
    defaultVariant: casual
`))
	if err != nil {
		t.Fatal(err)
	}
	r := fs["max-tool-calls"].Evaluate(EvalContext{"agentVersion": "2.1.0"})
	if r.Variant != "high" || r.Value != 50.0 {
		t.Errorf("max-tool-calls = %+v", r)
	}
	r = fs["greeting"].Evaluate(nil)
	if !reflect.DeepEqual(r.Value, map[string]any{"text": "Hi"}) {
		t.Errorf("greeting = %+v", r)
	}
}

func TestParseFlagSetErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", ``, []string{"the flag set is empty"}},
		{"bad JSON", "{\"flags\": {\n  \"a\": }}", []string{"not valid JSON: line 2, column 8"}},
		{"bad YAML", "flags:\n  a: [\n", []string{"neither JSON nor valid YAML"}},
		{"no flags", `{"flag": {}}`, []string{`unknown field "flag"`}},
		{"flags missing", `{}`, []string{`no "flags" object`}},
		{"unknown flag field", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "defaultvariant": "on"}}}`,
			[]string{`flag "a": unknown field "defaultvariant"`}},
		{"unknown state", `{"flags": {"a": {"state": "ON", "variants": {"on": true}, "defaultVariant": "on"}}}`,
			[]string{`flag "a": unknown state "ON"; use "ENABLED" or "DISABLED"`}},
		{"default variant not a variant", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "of"}}}`,
			[]string{`defaultVariant "of" is not among the variants ("off", "on")`}},
		{"mixed types", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": "false", "n": 1}, "defaultVariant": "on"}}}`,
			[]string{`variants are of mixed types: boolean (on), number (n), string (off)`}},
		{"null variant", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": null}, "defaultVariant": "on"}}}`,
			[]string{`variant "on" is null`}},
		{"no variants", `{"flags": {"a": {"state": "ENABLED", "defaultVariant": "on"}}}`, []string{`variants are missing`}},
		{"bad metadata", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "metadata": {"x": [1]}}}}`,
			[]string{`metadata "x" is an array; OFREP allows only strings, numbers and booleans`}},
		{"bad targeting", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "targeting": {"if": [{"regex": ["a", "b"]}, "on", null]}}}}`,
			[]string{`flag "a": bad targeting rule: targeting.if[0].regex: unknown operator "regex"`}},
		{"unknown $ref", `{"flags": {"a": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on", "targeting": {"$ref": "nope"}}}}`,
			[]string{`refers to evaluator "nope"`}},
		{"bad key", `{"flags": {"a b": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}`,
			[]string{`flag key "a b": use letters, digits`}},
		{"key field differs", `{"flags": {"a": {"key": "b", "state": "ENABLED", "variants": {"on": true}, "defaultVariant": "on"}}}`,
			[]string{`its key field says "b"`}},
		{"every flag's problems", `{"flags": {"a": {"state": "X", "variants": {"on": true}, "defaultVariant": "on"}, "b": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "off"}}}`,
			[]string{`flag "a": unknown state "X"`, `flag "b": defaultVariant "off"`}},
		{"YAML key that is not a string", "flags:\n  a:\n    state: ENABLED\n    variants: {1: true}\n    defaultVariant: \"1\"\n", []string{"is not a string; quote it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFlagSet([]byte(tt.in))
			if err == nil {
				t.Fatal("no error")
			}
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Errorf("code %s", day2.ErrorCode(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "flags.Flag") || strings.Contains(err.Error(), "Go struct") {
				t.Errorf("error leaks Go type names: %s", err)
			}
		})
	}
}

func TestValidKey(t *testing.T) {
	for _, k := range []string{"a", "new-planner", "rollout.invoice-agent", "team:ops_v2", "A1"} {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "-a", ".a", "a b", "a/b", "a?b", "ä", strings.Repeat("a", 201)} {
		if ValidKey(k) == nil {
			t.Errorf("ValidKey(%q) accepted it", k)
		}
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	f := Flag{Key: "x", State: "on", Variants: map[string]any{"a": 1.0, "b": "two"}, DefaultVariant: "c",
		Targeting: json.RawMessage(`{"if": [true, "d", null]}`)}
	err := f.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{`flag "x": unknown state "on"`, "mixed types", `defaultVariant "c"`, `returns variant "d"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

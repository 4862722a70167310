package flags

import (
	"encoding/json"
	"reflect"
	"testing"
)

func FuzzParseFlagSet(f *testing.F) {
	f.Add([]byte(`{"flags": {"a": {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off",
		"targeting": {"if": [{"in": ["@x.com", {"var": "email"}]}, "on", {"fractional": [["on", 10], ["off", 90]]}]}}}}`))
	f.Add([]byte("flags:\n  b:\n    state: DISABLED\n    variants: {x: 1, y: 2}\n    defaultVariant: x\n"))
	f.Add([]byte(`{"$evaluators": {"e": {"==": [1, 1]}}, "flags": {"c": {"state": "ENABLED", "variants": {"s": "a"}, "defaultVariant": "s", "targeting": {"if": [{"$ref": "e"}, "s", null]}}}}`))
	f.Add([]byte(`{"flags": {"d": {"state": "ENABLED", "variants": {"v": {"k": [1, 2]}}, "defaultVariant": "v", "metadata": {"m": 1}}}}`))
	f.Add([]byte(`{"flags": {}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := ParseFlagSet(data)
		if err != nil {
			if fs != nil {
				t.Fatal("flags returned with an error")
			}
			return
		}
		for key, fl := range fs {
			if fl.Key != key {
				t.Fatalf("flag under %q has key %q", key, fl.Key)
			}
			if err := fl.Validate(); err != nil {
				t.Fatalf("ParseFlagSet returned an invalid flag: %v", err)
			}
			checkResult(t, fl, fl.Evaluate(EvalContext{"targetingKey": "user-1", "email": "a@x.com"}))
			checkResult(t, fl, fl.Evaluate(nil))
		}
	})
}

// FuzzTargeting compiles arbitrary rules and evaluates them against arbitrary
// contexts: nothing may panic, evaluation is deterministic, and a result is a
// variant of the flag or a failure.
func FuzzTargeting(f *testing.F) {
	f.Add(`{"if": [{"==": [{"var": "a"}, 1]}, "on", "off"]}`, `{"a": 1, "targetingKey": "k"}`)
	f.Add(`{"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["on", 25], ["off", 75]]}`, `{"email": "x@y"}`)
	f.Add(`{"fractional": [["on", 1], ["off", 1]]}`, `{}`)
	f.Add(`{"if": [{"sem_ver": [{"var": "v"}, "^", "1.0.0"]}, "on", null]}`, `{"v": "1.9.0-rc.1"}`)
	f.Add(`{"or": [{"<": [1, {"var": "n"}, 10]}, {"starts_with": [{"var": "s"}, "ab"]}, {"!": {"in": ["x", {"var": "l"}]}}]}`, `{"n": "5", "s": "abc", "l": ["x"]}`)
	f.Add(`{"substr": [{"var": ""}, -3, -1]}`, `{"k": [1, {"a": null}]}`)
	f.Add(`{"var": {"cat": ["a", ".", 0]}}`, `{"a": [true]}`)
	f.Add(`{"fractional": [{"var": "w"}, ["on", {"var": "w"}], [{"var": "v"}]]}`, `{"w": 3, "v": "off"}`)
	f.Fuzz(func(t *testing.T, rule, ctx string) {
		var ec EvalContext
		if json.Unmarshal([]byte(ctx), &ec) != nil {
			ec = EvalContext{"raw": ctx}
		}
		fl := Flag{Key: "fuzz", State: StateEnabled, DefaultVariant: "off",
			Variants: map[string]any{"on": true, "off": false}, Targeting: json.RawMessage(rule)}
		c, err := compile(fl)
		if err != nil {
			// Rules that return unknown variants are refused by Validate;
			// compile them without that check to evaluate them anyway.
			n, err := compileTargeting(json.RawMessage(rule), nil)
			if err != nil {
				return
			}
			c = &compiled{flag: fl, rule: n}
		}
		r1 := c.evaluate(ec, fixedNow)
		r2 := c.evaluate(ec, fixedNow)
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("two evaluations differ: %+v and %+v", r1, r2)
		}
		checkResult(t, fl, r1)
	})
}

func checkResult(t *testing.T, f Flag, r Result) {
	t.Helper()
	if r.Key != f.Key {
		t.Fatalf("result key %q for flag %q", r.Key, f.Key)
	}
	switch r.Reason {
	case ReasonError:
		switch r.ErrorCode {
		case CodeTargetingKeyMissing, CodeInvalidContext, CodeGeneral, CodeParseError:
		default:
			t.Fatalf("unexpected error code %q", r.ErrorCode)
		}
		if r.Value != nil || r.ErrorDetails == "" {
			t.Fatalf("failed result %+v", r)
		}
	case ReasonDisabled:
		if r.Value != nil || f.State != StateDisabled {
			t.Fatalf("disabled result %+v for state %s", r, f.State)
		}
	case ReasonStatic, ReasonDefault, ReasonTargetingMatch, ReasonSplit:
		v, ok := f.Variants[r.Variant]
		if !ok || !reflect.DeepEqual(v, r.Value) {
			t.Fatalf("result %+v is not a variant of %v", r, f.Variants)
		}
		if (r.Reason == ReasonStatic || r.Reason == ReasonDefault) && r.Variant != f.DefaultVariant {
			t.Fatalf("%s result %+v is not the default variant", r.Reason, r)
		}
	default:
		t.Fatalf("unexpected reason %q", r.Reason)
	}
}

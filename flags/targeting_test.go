package flags

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// apply compiles rule without checking variant names and evaluates it for ec,
// returning the raw value.
func apply(t *testing.T, rule string, ec EvalContext) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(rule), &v); err != nil {
		t.Fatalf("rule %s is not JSON: %v", rule, err)
	}
	c := &compiler{}
	n := c.compile(v, "targeting", 0, false)
	if len(c.problems) > 0 {
		t.Fatalf("rule %s does not compile: %s", rule, strings.Join(c.problems, "; "))
	}
	st := evalState{ec: ec, flagKey: "my-flag", now: 1700000000}
	return st.eval(n)
}

func TestOperators(t *testing.T) {
	user := EvalContext{
		"targetingKey": "user-1",
		"email":        "ana@example.com",
		"age":          42.0,
		"count":        7, // a Go int from a caller's context
		"beta":         true,
		"plan":         nil,
		"score":        "10",
		"tags":         []any{"ops", "admin"},
		"org":          map[string]any{"name": "acme", "tier": map[string]any{"level": 3.0}},
		"version":      "1.4.2",
	}
	tests := []struct {
		name string
		rule string
		want any
	}{
		// var
		{"var reads an attribute", `{"var": "email"}`, "ana@example.com"},
		{"var reads a dotted path", `{"var": "org.tier.level"}`, 3.0},
		{"var reads an array element by index", `{"var": "tags.1"}`, "admin"},
		{"var with a missing attribute gives null", `{"var": "nope"}`, nil},
		{"var falls back to its default", `{"var": ["nope.deeper", "fallback"]}`, "fallback"},
		{"var of a null attribute gives null, not the default", `{"var": ["plan", "free"]}`, nil},
		{"var in array form", `{"var": ["email"]}`, "ana@example.com"},
		{"var turns Go ints into numbers", `{"var": "count"}`, 7.0},
		{"var with a computed path", `{"var": {"cat": ["org.", "name"]}}`, "acme"},
		{"var reads $flagd.flagKey", `{"var": "$flagd.flagKey"}`, "my-flag"},
		{"var reads $flagd.timestamp", `{"var": "$flagd.timestamp"}`, 1700000000.0},
		{"var of an unknown $flagd property gives its default", `{"var": ["$flagd.nope", 1]}`, 1.0},
		{"var of the whole context includes $flagd", `{"var": "$flagd"}`, map[string]any{"flagKey": "my-flag", "timestamp": 1700000000.0}},

		// == and != (JavaScript's loose equality)
		{"== of equal strings", `{"==": [{"var": "email"}, "ana@example.com"]}`, true},
		{"== compares a number with a numeric string", `{"==": [{"var": "score"}, 10]}`, true},
		{"== compares true with 1", `{"==": [true, 1]}`, true},
		{"== of null and null", `{"==": [null, {"var": "plan"}]}`, true},
		{"== of null and 0 is false", `{"==": [null, 0]}`, false},
		{"== of different strings", `{"==": ["a", "b"]}`, false},
		{"!= of different values", `{"!=": [{"var": "age"}, 41]}`, true},
		{"!= of a number and its string", `{"!=": [1, "1"]}`, false},

		// === and !==
		{"=== of the same number", `{"===": [{"var": "age"}, 42]}`, true},
		{"=== of a number and a numeric string is false", `{"===": [{"var": "score"}, 10]}`, false},
		{"!== of a number and a numeric string", `{"!==": [1, "1"]}`, true},
		{"!== of equal strings is false", `{"!==": ["x", "x"]}`, false},

		// < <= > >=
		{"< of numbers", `{"<": [{"var": "age"}, 50]}`, true},
		{"< of equal numbers is false", `{"<": [42, {"var": "age"}]}`, false},
		{"< compares a numeric string as a number", `{"<": [9, {"var": "score"}]}`, true},
		{"< compares two strings as text", `{"<": ["apple", "banana"]}`, true},
		{"< with a non-numeric string is false", `{"<": ["abc", 5]}`, false},
		{"< between, inside", `{"<": [18, {"var": "age"}, 65]}`, true},
		{"< between, on the edge", `{"<": [42, {"var": "age"}, 65]}`, false},
		{"<= between, on the edge", `{"<=": [42, {"var": "age"}, 42]}`, true},
		{"<= of a larger number is false", `{"<=": [43, 42]}`, false},
		{"> of numbers", `{">": [{"var": "age"}, 40]}`, true},
		{"> of null and a negative number", `{">": [null, -1]}`, true},
		{">= of equal numbers", `{">=": [{"var": "age"}, 42]}`, true},
		{">= three arguments descending", `{">=": [10, 5, 5]}`, true},
		{"> three arguments not descending", `{">": [10, 5, 7]}`, false},

		// ! and !!
		{"! of false", `{"!": [false]}`, true},
		{"! with unary sugar", `{"!": {"var": "beta"}}`, false},
		{"! of an empty string", `{"!": ""}`, true},
		{"! of \"0\" (a non-empty string is true)", `{"!": "0"}`, false},
		{"!! of an empty array", `{"!!": [[]]}`, false},
		{"!! of a non-empty array", `{"!!": [{"var": "tags"}]}`, true},
		{"!! of zero", `{"!!": 0}`, false},
		{"!! of an object", `{"!!": {"var": "org"}}`, true},

		// and, or
		{"and of true values returns the last", `{"and": [true, "yes", 3]}`, 3.0},
		{"and returns the first false value", `{"and": [true, 0, "never"]}`, 0.0},
		{"and short-circuits before a failing split", `{"and": [false, {"fractional": [["a", 1]]}]}`, false},
		{"or returns the first true value", `{"or": [0, "", "first", "second"]}`, "first"},
		{"or of false values returns the last", `{"or": [0, false, null]}`, nil},

		// if
		{"if takes the then branch", `{"if": [{"var": "beta"}, "on", "off"]}`, "on"},
		{"if takes the else branch", `{"if": [{"var": "plan"}, "on", "off"]}`, "off"},
		{"if chains else-ifs", `{"if": [false, "a", {"==": [{"var": "org.name"}, "acme"]}, "b", "c"]}`, "b"},
		{"if falls to the final else", `{"if": [false, "a", false, "b", "c"]}`, "c"},
		{"if without else gives null", `{"if": [false, "a"]}`, nil},
		{"if without arguments gives null", `{"if": []}`, nil},
		{"?: is if", `{"?:": [true, "x", "y"]}`, "x"},

		// in
		{"in finds a substring", `{"in": ["@example.com", {"var": "email"}]}`, true},
		{"in misses a substring", `{"in": ["@other.com", {"var": "email"}]}`, false},
		{"in finds an array member", `{"in": ["ops", {"var": "tags"}]}`, true},
		{"in uses strict equality in arrays", `{"in": ["1", [1, 2]]}`, false},
		{"in a number array", `{"in": [{"var": "age"}, [41, 42]]}`, true},
		{"in something that is neither string nor array", `{"in": ["a", {"var": "age"}]}`, false},

		// cat, substr
		{"cat joins strings and numbers", `{"cat": ["v", 1, ".", 2.5, true]}`, "v1.2.5true"},
		{"cat writes null as nothing", `{"cat": ["a", null, "b"]}`, "ab"},
		{"cat of nothing", `{"cat": []}`, ""},
		{"substr from a start", `{"substr": ["jsonlogic", 4]}`, "logic"},
		{"substr from the end", `{"substr": ["jsonlogic", -5]}`, "logic"},
		{"substr with a length", `{"substr": ["jsonlogic", 1, 3]}`, "son"},
		{"substr with a negative length drops the end", `{"substr": ["jsonlogic", 4, -2]}`, "log"},
		{"substr past the end", `{"substr": ["abc", 10]}`, ""},
		{"substr of a number", `{"substr": [12345, 1, 2]}`, "23"},

		// starts_with, ends_with
		{"starts_with matches", `{"starts_with": [{"var": "email"}, "ana@"]}`, true},
		{"starts_with does not match", `{"starts_with": [{"var": "email"}, "bob@"]}`, false},
		{"starts_with of a non-string is false", `{"starts_with": [{"var": "age"}, "4"]}`, false},
		{"ends_with matches", `{"ends_with": [{"var": "email"}, "@example.com"]}`, true},
		{"ends_with does not match", `{"ends_with": [{"var": "email"}, "@example.org"]}`, false},
		{"ends_with of a missing attribute is false", `{"ends_with": [{"var": "nope"}, "x"]}`, false},

		// sem_ver
		{"sem_ver >=", `{"sem_ver": [{"var": "version"}, ">=", "1.4.0"]}`, true},
		{"sem_ver <", `{"sem_ver": [{"var": "version"}, "<", "1.4.0"]}`, false},
		{"sem_ver =", `{"sem_ver": [{"var": "version"}, "=", "v1.4.2"]}`, true},
		{"sem_ver !=", `{"sem_ver": [{"var": "version"}, "!=", "1.4.2"]}`, false},
		{"sem_ver <=", `{"sem_ver": ["1.4.2-rc.1", "<=", "1.4.2"]}`, true},
		{"sem_ver >", `{"sem_ver": [{"var": "version"}, ">", "1.4.1"]}`, true},
		{"sem_ver ^ same major", `{"sem_ver": [{"var": "version"}, "^", "1.0.0"]}`, true},
		{"sem_ver ~ same minor", `{"sem_ver": [{"var": "version"}, "~", "1.5.0"]}`, false},
		{"sem_ver of a missing attribute is false", `{"sem_ver": [{"var": "nope"}, ">", "1.0.0"]}`, false},

		// fractional (the raw value; splits are tested in fractional_test.go)
		{"fractional with one bucket", `{"fractional": [["only", 1]]}`, "only"},
		{"fractional with weight zero everywhere gives null", `{"fractional": ["x", ["a", 0], ["b", {"var": "nope"}]]}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apply(t, tt.rule, user)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v, want %#v", tt.rule, got, tt.want)
			}
		})
	}
}

func TestJSNumber(t *testing.T) {
	tests := map[float64]string{0: "0", 1: "1", -3: "-3", 2.5: "2.5", 0.1: "0.1", 1e21: "1e+21", 1e-7: "1e-7", 123456789012: "123456789012", math.NaN(): "NaN"}
	for f, want := range tests {
		if got := jsNumber(f); got != want {
			t.Errorf("jsNumber(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestCompileProblemsNameThePath(t *testing.T) {
	variants := map[string]any{"on": true, "off": false}
	tests := []struct {
		name, rule, want string
	}{
		{"unknown operator", `{"if": [{"contains": ["a", "b"]}, "on", "off"]}`, `targeting.if[0].contains: unknown operator "contains"`},
		{"wrong arity", `{"if": [{"==": [1]}, "on", "off"]}`, `targeting.if[0].==: "==" takes 2 arguments, got 1`},
		{"too many arguments for <", `{"<": [1, 2, 3, 4]}`, `targeting.<: "<" takes 2 or 3 arguments, got 4`},
		{"an object with two keys", `{"if": [{"var": "a", "cat": []}, "on", "off"]}`, `targeting.if[0]: an operation is an object with exactly one key`},
		{"returns an unknown variant", `{"if": [true, "on", "of"]}`, `targeting.if[2]: returns variant "of", which is not one of the flag's variants ("off", "on")`},
		{"an else-if returns an unknown variant", `{"if": [true, "on", false, "maybe", "off"]}`, `targeting.if[3]: returns variant "maybe"`},
		{"fractional bucket names an unknown variant", `{"fractional": [["on", 50], ["nope", 50]]}`, `targeting.fractional[1][0]: returns variant "nope"`},
		{"fractional weight is not a whole number", `{"fractional": ["x", ["on", 50.5], ["off", 50]]}`, `targeting.fractional[1][1]: a bucket's weight is a whole number`},
		{"fractional weight is negative", `{"fractional": [["on", -1], ["off", 50]]}`, `targeting.fractional[0][1]: a bucket's weight is a whole number`},
		{"fractional weights overflow", `{"fractional": [["on", 2147483647], ["off", 1]]}`, `targeting.fractional: the weights add up to 2147483648`},
		{"fractional without buckets", `{"fractional": [{"var": "email"}]}`, `fractional needs at least one bucket`},
		{"fractional not an array", `{"fractional": "on"}`, `fractional takes an array`},
		{"fractional bucket not an array", `{"fractional": ["x", "on"]}`, `targeting.fractional[1]: a fractional bucket is ["variant", weight]`},
		{"sem_ver operator", `{"if": [{"sem_ver": [{"var": "v"}, "=>", "1.0.0"]}, "on", null]}`, `targeting.if[0].sem_ver[1]: unknown sem_ver operator "=>"`},
		{"sem_ver literal version", `{"if": [{"sem_ver": [{"var": "v"}, ">=", "1.0"]}, "on", null]}`, ``},
		{"sem_ver bad literal version", `{"if": [{"sem_ver": [{"var": "v"}, ">=", "1.x"]}, "on", null]}`, `targeting.if[0].sem_ver[2]: "1.x" is not a semantic version`},
		{"var path of the wrong type", `{"if": [{"var": true}, "on", null]}`, `targeting.if[0].var[0]: a var path is a string`},
		{"not an object", `"on"`, `targeting must be a JSONLogic rule object`},
		{"returns an array", `{"if": [true, ["on"], null]}`, `targeting.if[1]: returns an array`},
		{"too deep", strings.Repeat(`{"!": `, 70) + "true" + strings.Repeat("}", 70), `the rule nests deeper than 64 levels`},
		{"invalid JSON", `{"if": [}`, `targeting is not valid JSON: line 1, column 9`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileTargeting(json.RawMessage(tt.rule), variants)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error for %s", tt.rule)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func testFlag(targeting string) Flag {
	f := Flag{Key: "new-planner", State: StateEnabled, DefaultVariant: "off",
		Variants: map[string]any{"on": true, "off": false}, Metadata: map[string]any{"team": "agents"}}
	if targeting != "" {
		f.Targeting = json.RawMessage(targeting)
	}
	return f
}

func TestFlagEvaluate(t *testing.T) {
	tests := []struct {
		name        string
		flag        Flag
		ec          EvalContext
		wantValue   any
		wantVariant string
		wantReason  string
		wantCode    string
	}{
		{"no targeting serves the default variant as STATIC", testFlag(""), nil, false, "off", ReasonStatic, ""},
		{"an empty rule is no targeting", testFlag(`{}`), nil, false, "off", ReasonStatic, ""},
		{"a matching rule serves its variant", testFlag(`{"if": [{"ends_with": [{"var": "email"}, "@day2.dev"]}, "on", null]}`),
			EvalContext{"email": "ana@day2.dev"}, true, "on", ReasonTargetingMatch, ""},
		{"a rule returning null serves the default variant", testFlag(`{"if": [{"ends_with": [{"var": "email"}, "@day2.dev"]}, "on", null]}`),
			EvalContext{"email": "ana@else.com"}, false, "off", ReasonDefault, ""},
		{"a rule choosing the default variant explicitly is a match", testFlag(`{"if": [false, "on", "off"]}`),
			nil, false, "off", ReasonTargetingMatch, ""},
		{"a boolean result names the variant \"true\"", Flag{Key: "k", State: StateEnabled, DefaultVariant: "false",
			Variants: map[string]any{"true": "yes", "false": "no"}, Targeting: json.RawMessage(`{"==": [{"var": "tier"}, "gold"]}`)},
			EvalContext{"tier": "gold"}, "yes", "true", ReasonTargetingMatch, ""},
		{"a fractional split is SPLIT", testFlag(`{"fractional": [["on", 50], ["off", 50]]}`),
			EvalContext{"targetingKey": "user-1"}, nil, "", ReasonSplit, ""},
		{"a split inside an if is SPLIT", testFlag(`{"if": [{"var": "beta"}, {"fractional": [["on", 1], ["off", 0]]}, "off"]}`),
			EvalContext{"targetingKey": "u", "beta": true}, true, "on", ReasonSplit, ""},
		{"the other branch of that if is a match", testFlag(`{"if": [{"var": "beta"}, {"fractional": [["on", 1], ["off", 0]]}, "off"]}`),
			EvalContext{"beta": false}, false, "off", ReasonTargetingMatch, ""},
		{"a split without a targeting key fails", testFlag(`{"fractional": [["on", 50], ["off", 50]]}`),
			EvalContext{"email": "x"}, nil, "", ReasonError, CodeTargetingKeyMissing},
		{"a split by an attribute needs no targeting key", testFlag(`{"fractional": [{"var": "email"}, ["on", 1], ["off", 0]]}`),
			EvalContext{"email": "x"}, true, "on", ReasonSplit, ""},
		{"a targeting key that is not a string is an invalid context", testFlag(`{"fractional": [["on", 50], ["off", 50]]}`),
			EvalContext{"targetingKey": 42.0}, nil, "", ReasonError, CodeInvalidContext},
		{"a computed unknown variant is an error", testFlag(`{"var": "want"}`),
			EvalContext{"want": "maybe"}, nil, "", ReasonError, CodeGeneral},
		{"a computed object is an error", testFlag(`{"var": "obj"}`),
			EvalContext{"obj": map[string]any{"a": 1.0}}, nil, "", ReasonError, CodeGeneral},
		{"a disabled flag gives DISABLED and no value", func() Flag { f := testFlag(`{"if": [true, "on", null]}`); f.State = StateDisabled; return f }(),
			nil, nil, "", ReasonDisabled, ""},
		{"an invalid flag is a parse error", func() Flag { f := testFlag(""); f.DefaultVariant = "nope"; return f }(),
			nil, nil, "", ReasonError, CodeParseError},
		{"$flagd.flagKey is the flag's key", testFlag(`{"if": [{"==": [{"var": "$flagd.flagKey"}, "new-planner"]}, "on", "off"]}`),
			nil, true, "on", ReasonTargetingMatch, ""},
		{"$flagd in the context cannot fake the key", testFlag(`{"if": [{"==": [{"var": "$flagd.flagKey"}, "other"]}, "on", "off"]}`),
			EvalContext{"$flagd": map[string]any{"flagKey": "other"}}, false, "off", ReasonTargetingMatch, ""},
		{"$flagd.timestamp is the evaluation time", testFlag(`{"if": [{">": [{"var": "$flagd.timestamp"}, 1600000000]}, "on", "off"]}`),
			nil, true, "on", ReasonTargetingMatch, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.flag.Evaluate(tt.ec)
			if r.Key != tt.flag.Key {
				t.Errorf("key = %q", r.Key)
			}
			if r.Reason != tt.wantReason || r.ErrorCode != tt.wantCode {
				t.Fatalf("reason %s code %q (%s), want %s code %q", r.Reason, r.ErrorCode, r.ErrorDetails, tt.wantReason, tt.wantCode)
			}
			if tt.wantCode != "" {
				if r.ErrorDetails == "" || r.Value != nil || r.Variant != "" {
					t.Errorf("failed result = %+v; want details and no value or variant", r)
				}
				return
			}
			if tt.wantReason == ReasonSplit && tt.wantVariant == "" {
				if r.Variant != "on" && r.Variant != "off" {
					t.Errorf("variant = %q", r.Variant)
				}
				return
			}
			if r.Variant != tt.wantVariant || !reflect.DeepEqual(r.Value, tt.wantValue) {
				t.Errorf("variant %q value %#v, want %q %#v", r.Variant, r.Value, tt.wantVariant, tt.wantValue)
			}
			if tt.wantReason != ReasonDisabled && r.Metadata["team"] != "agents" && tt.flag.Key == "new-planner" {
				t.Errorf("metadata = %v", r.Metadata)
			}
		})
	}
}

func TestEvaluationTimestampUsesTheGivenTime(t *testing.T) {
	c, err := compile(testFlag(`{"if": [{">=": [{"var": "$flagd.timestamp"}, 1767225600]}, "on", "off"]}`))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)
	if r := c.evaluate(nil, before); r.Variant != "off" {
		t.Errorf("before 2026: %s", r.Variant)
	}
	if r := c.evaluate(nil, before.Add(time.Second)); r.Variant != "on" {
		t.Errorf("at 2026: %s", r.Variant)
	}
}

// fixedNow is the evaluation time of tests that do not care about it.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

package flags

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

var colorVariants = map[string]any{"red": "#FF0000", "blue": "#0000FF", "green": "#00FF00", "yellow": "#FFFF00"}

func colorFlag(key, targeting string) Flag {
	return Flag{Key: key, State: StateEnabled, DefaultVariant: "red", Variants: colorVariants, Targeting: json.RawMessage(targeting)}
}

// TestFractionalMatchesFlagd evaluates the cases of flagd's own fractional
// tests (core/pkg/evaluator/fractional_test.go, with its integer bucketing
// hash*totalWeight>>32) and expects the variants flagd expects, so users keep
// their arm when moving between flagd and day2.
func TestFractionalMatchesFlagd(t *testing.T) {
	const byFlagAndEmail = `{"if": [{"in": ["@faas.com", {"var": ["email"]}]},
		{"fractional": [{"cat": [{"var": "$flagd.flagKey"}, {"var": "email"}]}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, null]}`
	const bySeed = `{"if": [{"in": ["@faas.com", {"var": ["email"]}]},
		{"fractional": [{"cat": ["my-seed", {"var": "email"}]}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, null]}`
	const byEmail = `{"if": [{"in": ["@faas.com", {"var": ["email"]}]},
		{"fractional": [{"var": "email"}, ["red", 25], ["blue", 25], ["green", 25], ["yellow", 25]]}, null]}`
	tests := []struct {
		name       string
		flag       Flag
		ec         EvalContext
		want       string
		wantReason string
	}{
		{"rachel by flag key and email", colorFlag("headerColor", byFlagAndEmail), EvalContext{"email": "rachel@faas.com"}, "blue", ReasonSplit},
		{"monica by flag key and email", colorFlag("headerColor", byFlagAndEmail), EvalContext{"email": "monica@faas.com"}, "yellow", ReasonSplit},
		{"joey by flag key and email", colorFlag("headerColor", byFlagAndEmail), EvalContext{"email": "joey@faas.com"}, "red", ReasonSplit},
		{"ross by flag key and email", colorFlag("headerColor", byFlagAndEmail), EvalContext{"email": "ross@faas.com"}, "blue", ReasonSplit},
		{"rachel with a custom seed", colorFlag("customSeededHeaderColor", bySeed), EvalContext{"email": "rachel@faas.com"}, "green", ReasonSplit},
		{"monica with a custom seed", colorFlag("customSeededHeaderColor", bySeed), EvalContext{"email": "monica@faas.com"}, "red", ReasonSplit},
		{"joey with a custom seed", colorFlag("customSeededHeaderColor", bySeed), EvalContext{"email": "joey@faas.com"}, "blue", ReasonSplit},
		{"ross with a custom seed", colorFlag("customSeededHeaderColor", bySeed), EvalContext{"email": "ross@faas.com"}, "green", ReasonSplit},
		{"ross by email alone", colorFlag("footerColor", byEmail), EvalContext{"email": "ross@faas.com"}, "red", ReasonSplit},
		{"a literal bucketing string puts everyone in one bucket", colorFlag("headerColor",
			`{"if": [{"in": ["@faas.com", {"var": ["email"]}]}, {"fractional": ["email", ["red", 50], ["blue", 25], ["green", 25]]}, null]}`),
			EvalContext{"email": "test4@faas.com"}, "green", ReasonSplit},
		{"weights that are not percentages", colorFlag("headerColor", `{"fractional": [{"var": "email"}, ["red", 25], ["blue", 25]]}`),
			EvalContext{"email": "foo@foo.com"}, "blue", ReasonSplit},
		{"weights left out count 1", colorFlag("headerColor", `{"fractional": [{"var": "email"}, ["red"], ["blue"]]}`),
			EvalContext{"email": "foo@foo.com"}, "blue", ReasonSplit},
		{"no bucketing expression uses flag key and targeting key", colorFlag("headerColor", `{"fractional": [["blue", 50], ["green", 50]]}`),
			EvalContext{"targetingKey": "foo@foo.com"}, "green", ReasonSplit},
		{"a missing bucketing attribute falls back to the targeting key", colorFlag("headerColor", `{"fractional": [{"var": "email"}, ["red", 50], ["blue", 50]]}`),
			EvalContext{"targetingKey": "foo@foo.com"}, "blue", ReasonSplit},
		{"a bucket variant can be computed", colorFlag("nestedIf", `{"fractional": ["email", [{"if": [{"in": ["us", {"var": "locale"}]}, "red", "blue"]}, 25], ["green", 75]]}`),
			EvalContext{"locale": "us"}, "green", ReasonSplit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.flag.Evaluate(tt.ec)
			if r.Failed() {
				t.Fatalf("evaluation failed: %s: %s", r.ErrorCode, r.ErrorDetails)
			}
			if r.Variant != tt.want || r.Reason != tt.wantReason {
				t.Errorf("got %s (%s), flagd gives %s (%s)", r.Variant, r.Reason, tt.want, tt.wantReason)
			}
			if r.Value != colorVariants[tt.want] {
				t.Errorf("value %v, want %v", r.Value, colorVariants[tt.want])
			}
		})
	}
}

func TestFractionalIsStable(t *testing.T) {
	c, err := compile(testFlag(`{"fractional": [["on", 30], ["off", 70]]}`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		key := fmt.Sprintf("agent-run-%d", i)
		first := c.evaluate(EvalContext{"targetingKey": key}, fixedNow).Variant
		for range 5 {
			// Other attributes do not move a subject between buckets.
			if got := c.evaluate(EvalContext{"targetingKey": key, "attempt": float64(i)}, fixedNow).Variant; got != first {
				t.Fatalf("%s got %s after %s", key, got, first)
			}
		}
	}
	// The same subject may land differently for another flag: buckets hash the
	// flag key too, so flags do not all split the same users.
	other, _ := compile(Flag{Key: "other-flag", State: StateEnabled, DefaultVariant: "off",
		Variants: map[string]any{"on": true, "off": false}, Targeting: json.RawMessage(`{"fractional": [["on", 30], ["off", 70]]}`)})
	differ := 0
	for i := range 1000 {
		ec := EvalContext{"targetingKey": fmt.Sprintf("agent-run-%d", i)}
		if c.evaluate(ec, fixedNow).Variant != other.evaluate(ec, fixedNow).Variant {
			differ++
		}
	}
	if differ < 200 {
		t.Errorf("only %d of 1000 subjects differ between two flags with the same split; the flag key is not in the hash", differ)
	}
}

func TestFractionalDistributionFollowsTheWeights(t *testing.T) {
	tests := []struct {
		name    string
		rule    string
		weights map[string]float64
	}{
		{"50/50", `{"fractional": [["a", 50], ["b", 50]]}`, map[string]float64{"a": 50, "b": 50}},
		{"10/90", `{"fractional": [["a", 10], ["b", 90]]}`, map[string]float64{"a": 10, "b": 90}},
		{"1/2/7", `{"fractional": [["a", 1], ["b", 2], ["c", 7]]}`, map[string]float64{"a": 1, "b": 2, "c": 7}},
		{"25 each", `{"fractional": [["a", 25], ["b", 25], ["c", 25], ["d", 25]]}`, map[string]float64{"a": 25, "b": 25, "c": 25, "d": 25}},
	}
	const n = 10000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			variants := map[string]any{}
			var total float64
			for v, w := range tt.weights {
				variants[v] = v
				total += w
			}
			c, err := compile(Flag{Key: "split", State: StateEnabled, DefaultVariant: "a", Variants: variants, Targeting: json.RawMessage(tt.rule)})
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for i := range n {
				r := c.evaluate(EvalContext{"targetingKey": fmt.Sprintf("user-%d", i)}, fixedNow)
				if r.Reason != ReasonSplit {
					t.Fatalf("reason %s", r.Reason)
				}
				counts[r.Variant]++
			}
			for v, w := range tt.weights {
				p := w / total
				// Five standard deviations of a binomial count: a correct
				// hash fails this about once in 3.5 million runs.
				tolerance := 5 * math.Sqrt(n*p*(1-p))
				if diff := math.Abs(float64(counts[v]) - n*p); diff > tolerance {
					t.Errorf("variant %s got %d of %d, want %.0f ± %.0f", v, counts[v], n, n*p, tolerance)
				}
			}
		})
	}
}

func TestFractionalBucketEdges(t *testing.T) {
	// hash*total>>32 maps the lowest hashes to the first bucket and the highest
	// to the last, whatever the weights.
	n := &node{op: opFractional, buckets: []bucket{
		{variant: &node{op: opLiteral, lit: "first"}, weight: &node{op: opLiteral, lit: 1.0}},
		{variant: &node{op: opLiteral, lit: "last"}, weight: &node{op: opLiteral, lit: 1.0}},
	}}
	// murmur3("email") = 3737300892 >= 2^31: the upper half.
	n.bucketBy = &node{op: opLiteral, lit: "email"}
	st := evalState{}
	if got := st.fractional(n); got != "last" {
		t.Errorf("upper-half hash went to %v", got)
	}
	// murmur3("headerColorjoey@faas.com") = 309582631 < 2^31: the lower half.
	n.bucketBy = &node{op: opLiteral, lit: "headerColorjoey@faas.com"}
	if got := st.fractional(n); got != "first" {
		t.Errorf("lower-half hash went to %v", got)
	}
	// A weight of zero is never chosen.
	n.buckets[0].weight = &node{op: opLiteral, lit: 0.0}
	n.bucketBy = &node{op: opLiteral, lit: "headerColorjoey@faas.com"}
	if got := st.fractional(n); got != "last" {
		t.Errorf("a zero-weight bucket was chosen: %v", got)
	}
}

package approval

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestConditionEval(t *testing.T) {
	attrs := map[string]any{
		"amount":      750.0,
		"currency":    "EUR",
		"entity_type": "vendor",
		"in_policy":   false,
		"confidence":  0.72,
		"count":       3, // an int, as Go callers pass it
		"big":         json.Number("1e3"),
		"tags":        []any{"urgent", "new-vendor"},
		"vendor":      map[string]any{"country": "DE", "trusted": true},
		"label":       "x",
	}
	cases := []struct {
		name string
		expr string
		want bool
	}{
		{"a number above the bound holds", "amount > 500", true},
		{"a number below the bound does not hold", "amount < 500", false},
		{"greater or equal holds on the bound", "amount >= 750", true},
		{"less or equal holds on the bound", "amount <= 750", true},
		{"and holds when both sides hold", `amount >= 500 && currency == "EUR"`, true},
		{"and fails when one side fails", `amount >= 500 && currency == "USD"`, false},
		{"or holds when one side holds", `currency == "USD" || amount > 700`, true},
		{"in finds a string in a list", `entity_type in ["vendor", "payee"]`, true},
		{"in does not find a missing string", `entity_type in ["payee"]`, false},
		{"in finds a number in a list", `count in [1, 2, 3]`, true},
		{"in looks into a list field", `"urgent" in tags`, true},
		{"not of a false boolean field holds", "!in_policy", true},
		{"a bare false field does not hold", "in_policy", false},
		{"a bare field that is not a boolean does not hold", "label", false},
		{"confidence below holds", "confidence < 0.8", true},
		{"parentheses group", `(amount > 1000 || confidence < 0.8) && !in_policy`, true},
		{"without parentheses && binds tighter", `amount > 1000 || confidence < 0.8 && in_policy`, false},
		{"an int field compares as a number", "count == 3", true},
		{"a json.Number field compares as a number", "big == 1000", true},
		{"a nested field is reached with dots", `vendor.country == "DE" && vendor.trusted`, true},
		{"a missing field makes == false", `missing == "x"`, false},
		{"a missing field makes != false too", `missing != "x"`, false},
		{"a missing field makes > false", "missing > 1", false},
		{"not of a missing field holds", "!missing", true},
		{"a missing nested field is false", `vendor.city == "Berlin"`, false},
		{"a path through a non-object is false", `currency.code == "EUR"`, false},
		{"different types make == false", `amount == "750"`, false},
		{"different types make != false", `amount != "750"`, false},
		{"different types make < false", `currency < 5`, false},
		{"booleans compare with ==", "in_policy == false", true},
		{"booleans do not order", "in_policy < true", false},
		{"strings order lexically", `currency < "USD"`, true},
		{"negative numbers parse", "amount > -1", true},
		{"underscores in numbers", "amount < 10_000", true},
		{"exponents", "amount < 1e4", true},
		{"the literal true holds", "true", true},
		{"an empty list holds nothing", "amount in []", false},
		{"escaped quotes in strings", `label != "a\"b"`, true},
		{"double negation", "!!in_policy", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseCondition(tc.expr)
			if err != nil {
				t.Fatalf("ParseCondition(%q): %v", tc.expr, err)
			}
			if got := c.Eval(attrs); got != tc.want {
				t.Errorf("%q = %v, want %v", tc.expr, got, tc.want)
			}
			if c.String() != tc.expr {
				t.Errorf("String() = %q, want the source %q", c.String(), tc.expr)
			}
		})
	}
}

func TestConditionEvalWithoutAttrs(t *testing.T) {
	c, err := ParseCondition(`amount > 500 || entity_type in ["vendor"]`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Eval(nil) {
		t.Error("a condition over missing fields held on nil attributes")
	}
	var none *Condition
	if !none.Eval(nil) {
		t.Error("a nil condition (no when) must hold for every request")
	}
}

func TestConditionSyntaxErrors(t *testing.T) {
	cases := []struct {
		name    string
		expr    string
		column  int
		message string // a part of the message
	}{
		{"empty", "  ", 1, "empty"},
		{"a single equals sign", "amount = 500", 8, "=="},
		{"a dangling operator", "amount >", 9, "ends too early"},
		{"a missing operand on the left", "> 500", 1, "expected a field"},
		{"an unclosed string", `currency == "EUR`, 13, "not closed"},
		{"single quotes", `currency == 'EUR'`, 13, "double quotes"},
		{"an unclosed parenthesis", "(amount > 5", 1, "not closed"},
		{"an extra closing parenthesis", "amount > 5)", 11, "unexpected"},
		{"chained comparisons", "1 < amount < 5", 12, "do not chain"},
		{"a value where a condition belongs", "amount > 5 && 7", 15, "not a condition"},
		{"a bare number", "500", 1, "not a condition"},
		{"a bare string", `"x"`, 1, "not a condition"},
		{"in without a list", "entity_type in 5", 16, "expected a list"},
		{"an unclosed list", `entity_type in ["a", "b"`, 16, "not closed"},
		{"a field inside a list", `entity_type in [vendor]`, 17, "a list holds"},
		{"a list outside in", `amount == [1]`, 11, "only follow in"},
		{"words instead of operators", "amount > 5 and x", 12, "&&"},
		{"a single ampersand", "a & b", 3, "&&"},
		{"a single bar", "a | b", 3, "||"},
		{"a bad number", "amount > 1.2.3", 10, "not a number"},
		{"a number glued to a word", "amount > 5x", 11, "followed by"},
		{"an unknown character", "amount # 5", 8, "unexpected character"},
		{"a trailing dot in a field", "vendor. == 1", 1, "not a field name"},
		{"a comparison as an operand", "(a > 1) == true", 1, "must be a field or a value"},
		{"the column counts characters, not bytes", `note == "ü" && = 1`, 16, "=="},
		{"deep nesting", strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100), 0, "levels deep"},
		{"too long", "a == \"" + strings.Repeat("x", MaxConditionLength) + "\"", 1, "under"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCondition(tc.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseCondition(%q) = %v, want a *SyntaxError", tc.expr, err)
			}
			if tc.column > 0 && se.Column != tc.column {
				t.Errorf("column %d, want %d (%v)", se.Column, tc.column, se)
			}
			if !strings.Contains(se.Error(), tc.message) {
				t.Errorf("message %q does not contain %q", se.Error(), tc.message)
			}
			if !strings.HasPrefix(se.Error(), "column ") {
				t.Errorf("message %q does not start with the column", se.Error())
			}
		})
	}
}

package approval

import (
	"errors"
	"testing"
)

// FuzzParseCondition checks that any input either parses or fails with a
// SyntaxError pointing inside the input, and that a parsed condition evaluates
// without panicking, against no attributes and against attributes of every type.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		"amount > 500",
		`amount >= 500 && currency == "EUR"`,
		`entity_type in ["vendor", "payee"]`,
		"!in_policy || confidence < 0.8",
		`(vendor.country != "DE" || amount > 1e4) && !trusted`,
		`"urgent" in tags`,
		"amount > -1.5 && count in [1, 2, 3]",
		`x == "a\"b\\c"`,
		"((((a))))",
		"a = 1",
		"",
	} {
		f.Add(s)
	}
	attrs := map[string]any{
		"amount": 750.0, "currency": "EUR", "in_policy": true, "confidence": 0.5, "count": 3,
		"tags": []any{"urgent", 1.0, true}, "vendor": map[string]any{"country": "DE"}, "trusted": "yes", "nil": nil,
	}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := ParseCondition(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParseCondition(%q) returned %T, not a *SyntaxError", src, err)
			}
			if se.Column < 1 || se.Column > len(src)+1 {
				t.Fatalf("ParseCondition(%q): column %d outside the input", src, se.Column)
			}
			return
		}
		c.Eval(nil)
		c.Eval(attrs)
		if c.String() != src {
			t.Fatalf("String() = %q, want %q", c.String(), src)
		}
	})
}

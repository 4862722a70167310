package approval

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/day2ops/day2"
)

// Condition is a parsed `when` expression of a policy rule: a small, side-effect
// free boolean language over the attributes of an approval request (its context
// fields plus amount, entity_type, service, environment, action, task_id and
// requester). Examples:
//
//	amount > 500
//	amount >= 500 && currency == "EUR"
//	entity_type in ["vendor", "payee"]
//	!in_policy || confidence < 0.8
//	(amount > 10000 || vendor.country != "DE") && !trusted
//
// Operands are field names (letters, digits and _; dots walk into nested
// objects), numbers (-1.5, 10_000, 1e6), "strings" (double-quoted, Go escapes), true, false and
// [lists] of literals. Operators, loosest first: ||, &&, !, then the comparisons
// == != < <= > >= and in, which do not chain. A comparison whose field is missing,
// or whose two sides are of different types, is false, whichever the operator (so
// both `currency == "EUR"` and `currency != "EUR"` are false when currency is
// missing); it is never an error. A bare field is true only when it holds the
// boolean true. Evaluation never fails and never panics.
type Condition struct {
	src  string
	root node
}

// MaxConditionLength caps the length of a `when` expression.
const MaxConditionLength = 2000

// maxDepth caps the nesting of parentheses and operators, so that a hostile
// expression cannot exhaust the stack.
const maxDepth = 64

// SyntaxError is a problem in a `when` expression; Column is the 1-based column
// (in characters) where it was found.
type SyntaxError struct {
	Column  int
	Message string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("column %d: %s", e.Column, e.Message)
}

// ParseCondition parses a `when` expression. Errors are *SyntaxError values naming
// the column.
func ParseCondition(src string) (*Condition, error) {
	if len(src) > MaxConditionLength {
		return nil, &SyntaxError{Column: 1, Message: fmt.Sprintf("the condition is %d bytes long; keep it under %d", len(src), MaxConditionLength)}
	}
	if !utf8.ValidString(src) {
		return nil, &SyntaxError{Column: 1, Message: "the condition is not valid UTF-8"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, src: src}
	if p.peek().kind == tEOF {
		return nil, &SyntaxError{Column: 1, Message: `the condition is empty; write e.g. amount > 500, or leave "when" out to match every request of the action`}
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errAt(t, "unexpected %s; join conditions with && or ||", t.describe())
	}
	if n.kind() != kindBool && n.kind() != kindField {
		return nil, &SyntaxError{Column: 1, Message: fmt.Sprintf("%s is a value, not a condition; compare it, e.g. amount > 500", n.text())}
	}
	return &Condition{src: src, root: n}, nil
}

// String returns the expression as written.
func (c *Condition) String() string {
	if c == nil {
		return ""
	}
	return c.src
}

// Eval reports whether the condition holds for attrs. A nil condition holds
// always.
func (c *Condition) Eval(attrs map[string]any) bool {
	if c == nil {
		return true
	}
	return truthy(c.root.eval(attrs))
}

// ---- lexer ----

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tTrue
	tFalse
	tIn
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tNot
	tAnd
	tOr
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
)

type token struct {
	kind tokKind
	text string // identifier, the decoded string, or the operator
	num  float64
	col  int // 1-based column in characters
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of the condition"
	case tIdent:
		return fmt.Sprintf("field %s", t.text)
	case tNumber:
		return fmt.Sprintf("number %s", t.text)
	case tString:
		return fmt.Sprintf("string %q", t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

func lex(src string) ([]token, error) {
	var toks []token
	col := 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		start := col
		switch {
		case unicode.IsSpace(r):
			i += size
			col++
			continue
		case r == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return nil, &SyntaxError{Column: start, Message: `the string is not closed; end it with "`}
			}
			s, err := strconv.Unquote(src[i : j+1])
			if err != nil {
				return nil, &SyntaxError{Column: start, Message: "the string has an invalid escape; use \\\" for a quote and \\\\ for a backslash"}
			}
			toks = append(toks, token{kind: tString, text: s, col: start})
			col += utf8.RuneCountInString(src[i : j+1])
			i = j + 1
			continue
		case r >= '0' && r <= '9' || (r == '.' || r == '-') && i+1 < len(src) && (src[i+1] >= '0' && src[i+1] <= '9' || src[i+1] == '.'):
			j := i
			if r == '-' {
				j++
			}
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == '_' ||
				src[j] == 'e' || src[j] == 'E' || (src[j] == '+' || src[j] == '-') && j > i && (src[j-1] == 'e' || src[j-1] == 'E')) {
				j++
			}
			text := src[i:j]
			v, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, &SyntaxError{Column: start, Message: fmt.Sprintf("%q is not a number; write e.g. 500 or 0.8", text)}
			}
			if j < len(src) && isIdentByte(src[j]) {
				return nil, &SyntaxError{Column: start + (j - i), Message: fmt.Sprintf("a number is followed by %q; put a space or an operator between them", string(src[j]))}
			}
			toks = append(toks, token{kind: tNumber, text: text, num: v, col: start})
			col += j - i
			i = j
			continue
		case isIdentStart(r):
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if !isIdentStart(r2) && !(r2 >= '0' && r2 <= '9') && r2 != '.' {
					break
				}
				j += s2
			}
			text := src[i:j]
			if strings.HasSuffix(text, ".") || strings.Contains(text, "..") {
				return nil, &SyntaxError{Column: start, Message: fmt.Sprintf("%q is not a field name; dots separate the names of nested fields, e.g. vendor.country", text)}
			}
			kind := tIdent
			switch text {
			case "true":
				kind = tTrue
			case "false":
				kind = tFalse
			case "in":
				kind = tIn
			case "and", "or", "not", "AND", "OR", "NOT":
				return nil, &SyntaxError{Column: start, Message: fmt.Sprintf("write %s instead of %q", map[string]string{"and": "&&", "or": "||", "not": "!"}[strings.ToLower(text)], text)}
			}
			toks = append(toks, token{kind: kind, text: text, col: start})
			col += utf8.RuneCountInString(text)
			i = j
			continue
		}
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		var kind tokKind
		n := 2
		switch two {
		case "&&":
			kind = tAnd
		case "||":
			kind = tOr
		case "==":
			kind = tEq
		case "!=":
			kind = tNe
		case "<=":
			kind = tLe
		case ">=":
			kind = tGe
		default:
			n = 1
			switch r {
			case '(':
				kind = tLParen
			case ')':
				kind = tRParen
			case '[':
				kind = tLBrack
			case ']':
				kind = tRBrack
			case ',':
				kind = tComma
			case '!':
				kind = tNot
			case '<':
				kind = tLt
			case '>':
				kind = tGt
			case '=':
				return nil, &SyntaxError{Column: start, Message: "a single = is not an operator; compare with =="}
			case '&':
				return nil, &SyntaxError{Column: start, Message: "a single & is not an operator; write && for and"}
			case '|':
				return nil, &SyntaxError{Column: start, Message: "a single | is not an operator; write || for or"}
			case '\'':
				return nil, &SyntaxError{Column: start, Message: `strings are written in double quotes, e.g. currency == "EUR"`}
			default:
				return nil, &SyntaxError{Column: start, Message: fmt.Sprintf("unexpected character %q", r)}
			}
		}
		toks = append(toks, token{kind: kind, text: src[i : i+n], col: start})
		i += n
		col += n
	}
	toks = append(toks, token{kind: tEOF, col: col})
	return toks, nil
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isIdentByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// ---- parser ----

type parser struct {
	toks []token
	pos  int
	src  string
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &SyntaxError{Column: t.col, Message: fmt.Sprintf(format, args...)}
}

func (p *parser) deep(depth int) error {
	if depth > maxDepth {
		return p.errAt(p.peek(), "the condition nests more than %d levels deep; simplify it", maxDepth)
	}
	return nil
}

// operand checks that n can be an operand of && || !.
func (p *parser) condOperand(n node, at token, op string) error {
	if k := n.kind(); k != kindBool && k != kindField {
		return p.errAt(at, "%s is a value, not a condition, so it cannot be an operand of %s; compare it, e.g. amount > 500", n.text(), op)
	}
	return nil
}

func (p *parser) or(depth int) (node, error) {
	if err := p.deep(depth); err != nil {
		return nil, err
	}
	first := p.peek()
	left, err := p.and(depth + 1)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		op := p.next()
		if err := p.condOperand(left, first, "||"); err != nil {
			return nil, err
		}
		at := p.peek()
		right, err := p.and(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.condOperand(right, at, op.text); err != nil {
			return nil, err
		}
		left = &logicNode{or: true, l: left, r: right}
	}
	return left, nil
}

func (p *parser) and(depth int) (node, error) {
	if err := p.deep(depth); err != nil {
		return nil, err
	}
	first := p.peek()
	left, err := p.unary(depth + 1)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tAnd {
		op := p.next()
		if err := p.condOperand(left, first, "&&"); err != nil {
			return nil, err
		}
		at := p.peek()
		right, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.condOperand(right, at, op.text); err != nil {
			return nil, err
		}
		left = &logicNode{l: left, r: right}
	}
	return left, nil
}

func (p *parser) unary(depth int) (node, error) {
	if err := p.deep(depth); err != nil {
		return nil, err
	}
	if p.peek().kind == tNot {
		p.next()
		at := p.peek()
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.condOperand(n, at, "!"); err != nil {
			return nil, err
		}
		return &notNode{n: n}, nil
	}
	return p.comparison(depth + 1)
}

var cmpOps = map[tokKind]string{tEq: "==", tNe: "!=", tLt: "<", tLe: "<=", tGt: ">", tGe: ">="}

func (p *parser) comparison(depth int) (node, error) {
	leftTok := p.peek()
	left, err := p.primary(depth + 1)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	op, isCmp := cmpOps[t.kind]
	if !isCmp && t.kind != tIn {
		return left, nil
	}
	p.next()
	if err := p.valueOperand(left, leftTok, t.text); err != nil {
		return nil, err
	}
	rightTok := p.peek()
	var right node
	if t.kind == tIn {
		switch rightTok.kind {
		case tLBrack:
			right, err = p.list()
		case tIdent:
			p.next()
			right = &fieldNode{path: strings.Split(rightTok.text, "."), name: rightTok.text}
		default:
			return nil, p.errAt(rightTok, `expected a list after in, e.g. entity_type in ["vendor", "payee"], but found %s`, rightTok.describe())
		}
		if err != nil {
			return nil, err
		}
		op = "in"
	} else {
		if rightTok.kind == tLBrack {
			return nil, p.errAt(rightTok, "a list can only follow in, e.g. entity_type in [\"vendor\"]")
		}
		right, err = p.primary(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := p.valueOperand(right, rightTok, op); err != nil {
			return nil, err
		}
	}
	if n := p.peek(); cmpOps[n.kind] != "" || n.kind == tIn {
		return nil, p.errAt(n, "comparisons do not chain; join them with &&, e.g. amount > 100 && amount <= 500")
	}
	return &cmpNode{op: op, l: left, r: right}, nil
}

func (p *parser) valueOperand(n node, at token, op string) error {
	switch n.(type) {
	case *fieldNode, *litNode:
		return nil
	}
	return p.errAt(at, "the operand of %s must be a field or a value; put parentheses only around conditions", op)
}

func (p *parser) list() (node, error) {
	open := p.next()
	var vals []any
	if p.peek().kind == tRBrack {
		p.next()
		return &litNode{v: vals, list: true}, nil
	}
	for {
		t := p.next()
		switch t.kind {
		case tNumber:
			vals = append(vals, t.num)
		case tString:
			vals = append(vals, t.text)
		case tTrue:
			vals = append(vals, true)
		case tFalse:
			vals = append(vals, false)
		case tEOF:
			return nil, p.errAt(open, "the list is not closed; end it with ]")
		default:
			return nil, p.errAt(t, "a list holds numbers, strings or booleans separated by commas, not %s", t.describe())
		}
		if len(vals) > 1000 {
			return nil, p.errAt(t, "the list has more than 1000 values")
		}
		switch sep := p.next(); sep.kind {
		case tComma:
			continue
		case tRBrack:
			return &litNode{v: vals, list: true}, nil
		case tEOF:
			return nil, p.errAt(open, "the list is not closed; end it with ]")
		default:
			return nil, p.errAt(sep, "expected , or ] in the list, but found %s", sep.describe())
		}
	}
}

func (p *parser) primary(depth int) (node, error) {
	if err := p.deep(depth); err != nil {
		return nil, err
	}
	t := p.next()
	switch t.kind {
	case tIdent:
		return &fieldNode{path: strings.Split(t.text, "."), name: t.text}, nil
	case tNumber:
		return &litNode{v: t.num, src: t.text}, nil
	case tString:
		return &litNode{v: t.text, src: strconv.Quote(t.text)}, nil
	case tTrue:
		return &litNode{v: true, src: "true"}, nil
	case tFalse:
		return &litNode{v: false, src: "false"}, nil
	case tLParen:
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			if c.kind == tEOF {
				return nil, p.errAt(t, "the parenthesis is not closed; add )")
			}
			return nil, p.errAt(c, "expected ) but found %s", c.describe())
		}
		return &parenNode{n: n}, nil
	case tLBrack:
		return nil, p.errAt(t, "a list can only follow in, e.g. entity_type in [\"vendor\"]")
	case tEOF:
		return nil, p.errAt(t, "the condition ends too early; a field, a value or ( is missing")
	default:
		return nil, p.errAt(t, "expected a field, a value or ( but found %s", t.describe())
	}
}

// ---- evaluation ----

type nodeKind int

const (
	kindBool  nodeKind = iota // comparisons, logic, true, false
	kindField                 // a bare field: a condition or a value
	kindValue                 // a number, string or list literal
)

type node interface {
	eval(attrs map[string]any) any
	kind() nodeKind
	text() string
}

// missing is the value of a field that is not there.
type missingT struct{}

var missing = missingT{}

type fieldNode struct {
	path []string
	name string
}

func (n *fieldNode) kind() nodeKind { return kindField }
func (n *fieldNode) text() string   { return n.name }
func (n *fieldNode) eval(attrs map[string]any) any {
	if v, ok := attrs[n.name]; ok {
		return normalize(v)
	}
	if len(n.path) == 1 {
		return missing
	}
	var cur any = attrs
	for _, part := range n.path {
		m, ok := cur.(map[string]any)
		if !ok {
			return missing
		}
		if cur, ok = m[part]; !ok {
			return missing
		}
	}
	return normalize(cur)
}

type litNode struct {
	v    any
	src  string
	list bool
}

func (n *litNode) kind() nodeKind {
	if _, ok := n.v.(bool); ok {
		return kindBool
	}
	return kindValue
}

func (n *litNode) text() string {
	if n.list {
		return "a list"
	}
	return n.src
}

func (n *litNode) eval(map[string]any) any { return n.v }

type parenNode struct{ n node }

func (n *parenNode) kind() nodeKind                { return n.n.kind() }
func (n *parenNode) text() string                  { return "(" + n.n.text() + ")" }
func (n *parenNode) eval(attrs map[string]any) any { return n.n.eval(attrs) }

type notNode struct{ n node }

func (n *notNode) kind() nodeKind                { return kindBool }
func (n *notNode) text() string                  { return "!" + n.n.text() }
func (n *notNode) eval(attrs map[string]any) any { return !truthy(n.n.eval(attrs)) }

type logicNode struct {
	or   bool
	l, r node
}

func (n *logicNode) kind() nodeKind { return kindBool }
func (n *logicNode) text() string   { return "a condition" }
func (n *logicNode) eval(attrs map[string]any) any {
	if n.or {
		return truthy(n.l.eval(attrs)) || truthy(n.r.eval(attrs))
	}
	return truthy(n.l.eval(attrs)) && truthy(n.r.eval(attrs))
}

type cmpNode struct {
	op   string
	l, r node
}

func (n *cmpNode) kind() nodeKind { return kindBool }
func (n *cmpNode) text() string   { return n.l.text() + " " + n.op + " " + n.r.text() }
func (n *cmpNode) eval(attrs map[string]any) any {
	return compare(n.op, n.l.eval(attrs), n.r.eval(attrs))
}

func truthy(v any) bool {
	b, ok := v.(bool)
	return ok && b
}

// normalize turns the numeric types a request's attributes may hold into float64,
// so that comparisons see one number type.
func normalize(v any) any {
	if f, ok := day2.Number(v); ok {
		return f
	}
	switch x := v.(type) {
	case string, bool:
		return x
	case nil, json.Number: // a json.Number that is no number
		return missing
	case *float64:
		if x == nil {
			return missing
		}
		return *x
	case []string:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalize(x[i])
		}
		return out
	}
	return v
}

func compare(op string, l, r any) bool {
	if l == missing || r == missing {
		return false
	}
	if op == "in" {
		list, ok := r.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			if equal(l, e) {
				return true
			}
		}
		return false
	}
	switch a := l.(type) {
	case float64:
		b, ok := r.(float64)
		return ok && compareOrdered(a, b, op)
	case string:
		b, ok := r.(string)
		return ok && compareOrdered(a, b, op)
	case bool:
		b, ok := r.(bool)
		if !ok {
			return false
		}
		switch op {
		case "==":
			return a == b
		case "!=":
			return a != b
		}
	}
	return false
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// compareOrdered applies the comparison operator op to a and b.
func compareOrdered[T cmp.Ordered](a, b T, op string) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case "<":
		return a < b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case ">=":
		return a >= b
	}
	return false
}

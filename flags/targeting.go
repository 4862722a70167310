package flags

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/semver"
)

// The targeting engine evaluates the part of JSONLogic (jsonlogic.com) that
// flag rules use, with JavaScript's comparison and truthiness rules as
// json-logic-js has them, plus flagd's operations starts_with, ends_with,
// sem_ver and fractional. A rule is compiled once into a tree of nodes
// (checking operators, arities and literal arguments, with the path of every
// problem) and then evaluated many times without allocating much.

// maxDepth bounds the nesting of a targeting rule, so that a hostile or broken
// rule cannot exhaust the stack.
const maxDepth = 64

// maxProblems caps the problems one rule reports.
const maxProblems = 10

type opcode uint8

const (
	opLiteral opcode = iota
	opArray
	opVar
	opIf
	opEq
	opNe
	opStrictEq
	opStrictNe
	opLt
	opLe
	opGt
	opGe
	opNot
	opNotNot
	opAnd
	opOr
	opIn
	opCat
	opSubstr
	opStartsWith
	opEndsWith
	opSemVer
	opFractional
)

// operators maps each supported operator to its opcode and its number of
// arguments (max -1: any number).
var operators = map[string]struct {
	op       opcode
	min, max int
}{
	"if":          {opIf, 0, -1},
	"?:":          {opIf, 0, -1},
	"==":          {opEq, 2, 2},
	"!=":          {opNe, 2, 2},
	"===":         {opStrictEq, 2, 2},
	"!==":         {opStrictNe, 2, 2},
	"<":           {opLt, 2, 3},
	"<=":          {opLe, 2, 3},
	">":           {opGt, 2, 3},
	">=":          {opGe, 2, 3},
	"!":           {opNot, 1, 1},
	"!!":          {opNotNot, 1, 1},
	"and":         {opAnd, 1, -1},
	"or":          {opOr, 1, -1},
	"in":          {opIn, 2, 2},
	"var":         {opVar, 0, 2},
	"cat":         {opCat, 0, -1},
	"substr":      {opSubstr, 2, 3},
	"starts_with": {opStartsWith, 2, 2},
	"ends_with":   {opEndsWith, 2, 2},
	"sem_ver":     {opSemVer, 3, 3},
	"fractional":  {opFractional, 1, -1},
}

const operatorList = "if, ==, !=, ===, !==, <, <=, >, >=, !, !!, and, or, in, var, cat, substr, starts_with, ends_with, sem_ver, fractional"

// node is one compiled expression.
type node struct {
	op   opcode
	lit  any     // opLiteral: the value
	args []*node // operator arguments; opArray: the elements
	// opVar with a literal path: the path split at dots (empty: the whole
	// context); dynamic marks a path computed by args[0].
	path    []string
	dynamic bool
	// opFractional: the bucketing expression (nil: flag key + targeting key)
	// and the buckets.
	bucketBy *node
	buckets  []bucket
}

// bucket is one [variant, weight] of a fractional split; weight nil means 1.
type bucket struct {
	variant *node
	weight  *node
}

// compiler turns a decoded JSONLogic rule into nodes, collecting problems.
type compiler struct {
	variants map[string]any // nil: do not check returned variant names
	problems []string
}

func (c *compiler) addf(path, format string, args ...any) {
	if len(c.problems) < maxProblems {
		c.problems = append(c.problems, path+": "+fmt.Sprintf(format, args...))
	}
}

// compileTargeting compiles a flag's targeting rule. With variants, literal
// variant names the rule can return (if branches, fractional buckets) must be
// among them.
func compileTargeting(raw json.RawMessage, variants map[string]any) (*node, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("targeting is not valid JSON: %s", jsonErrorAt(raw, err))
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf(`targeting must be a JSONLogic rule object such as {"if": [{"in": ["@example.com", {"var": "email"}]}, "on", null]}, not %s`, kindOf(v))
	}
	c := &compiler{variants: variants}
	n := c.compile(v, "targeting", 0, true)
	if len(c.problems) > 0 {
		return nil, fmt.Errorf("bad targeting rule: %s", strings.Join(c.problems, "; "))
	}
	return n, nil
}

// compile compiles v found at path. resultPos marks positions whose value the
// rule returns as the variant name.
func (c *compiler) compile(v any, path string, depth int, resultPos bool) *node {
	if depth > maxDepth {
		c.addf(path, "the rule nests deeper than %d levels", maxDepth)
		return &node{op: opLiteral}
	}
	switch x := v.(type) {
	case nil, bool, float64, string:
		if resultPos {
			c.checkVariant(x, path)
		}
		return &node{op: opLiteral, lit: x}
	case []any:
		if resultPos {
			c.addf(path, "returns an array; a rule must return a variant name or null")
		}
		n := &node{op: opArray, args: make([]*node, len(x))}
		literal := true
		for i, e := range x {
			n.args[i] = c.compile(e, fmt.Sprintf("%s[%d]", path, i), depth+1, false)
			literal = literal && n.args[i].op == opLiteral
		}
		if literal {
			vals := make([]any, len(x))
			for i, a := range n.args {
				vals[i] = a.lit
			}
			return &node{op: opLiteral, lit: vals}
		}
		return n
	case map[string]any:
		if len(x) != 1 {
			keys := sortedKeys(x)
			if len(keys) == 0 {
				c.addf(path, "an empty object is not a rule; write an operation like {\"var\": \"email\"}")
			} else {
				c.addf(path, "an operation is an object with exactly one key, the operator; this one has %d (%s)", len(keys), strings.Join(keys, ", "))
			}
			return &node{op: opLiteral}
		}
		for name, raw := range x {
			return c.operation(name, raw, path+"."+name, depth, resultPos)
		}
	}
	c.addf(path, "unexpected value %v", v)
	return &node{op: opLiteral}
}

// operation compiles {name: raw}.
func (c *compiler) operation(name string, raw any, path string, depth int, resultPos bool) *node {
	spec, ok := operators[name]
	if !ok {
		c.addf(path, "unknown operator %q; the supported operators are %s", name, operatorList)
		return &node{op: opLiteral}
	}
	rawArgs, isArray := raw.([]any)
	if !isArray {
		if spec.op == opFractional {
			c.addf(path, `fractional takes an array: [optional bucketing expression, ["variant", weight], ...]`)
			return &node{op: opLiteral}
		}
		rawArgs = []any{raw} // JSONLogic's unary sugar: {"var": "x"} is {"var": ["x"]}
	}
	if len(rawArgs) < spec.min || spec.max >= 0 && len(rawArgs) > spec.max {
		want := strconv.Itoa(spec.min)
		switch {
		case spec.max < 0:
			want = "at least " + want
		case spec.max != spec.min:
			want += " or " + strconv.Itoa(spec.max)
		}
		c.addf(path, "%q takes %s arguments, got %d", name, want, len(rawArgs))
		return &node{op: opLiteral}
	}
	n := &node{op: spec.op}
	switch spec.op {
	case opFractional:
		c.fractional(n, rawArgs, path, depth)
		return n
	case opVar:
		c.variable(n, rawArgs, path, depth)
		return n
	}
	n.args = make([]*node, len(rawArgs))
	for i, a := range rawArgs {
		argResult := false
		if spec.op == opIf && resultPos {
			// then-branches (odd indices) and the trailing else are returned.
			argResult = i%2 == 1 || i == len(rawArgs)-1
		}
		n.args[i] = c.compile(a, fmt.Sprintf("%s[%d]", path, i), depth+1, argResult)
	}
	if spec.op == opSemVer {
		if op := n.args[1]; op.op == opLiteral {
			if s, _ := op.lit.(string); !validSemVerOp(s) {
				c.addf(path+"[1]", "unknown sem_ver operator %v; use one of =, !=, <, <=, >, >=, ^ (same major), ~ (same major and minor)", jsonText(op.lit))
			}
		}
		for _, i := range []int{0, 2} {
			if a := n.args[i]; a.op == opLiteral {
				s, _ := a.lit.(string)
				if _, ok := semver.ParseLoose(s); !ok {
					c.addf(fmt.Sprintf("%s[%d]", path, i), "%s is not a semantic version like \"1.2.3\"", jsonText(a.lit))
				}
			}
		}
	}
	return n
}

// variable compiles {"var": path} and {"var": [path, default]}.
func (c *compiler) variable(n *node, rawArgs []any, path string, depth int) {
	n.args = make([]*node, len(rawArgs))
	for i, a := range rawArgs {
		n.args[i] = c.compile(a, fmt.Sprintf("%s[%d]", path, i), depth+1, false)
	}
	if len(n.args) == 0 {
		n.path = []string{}
		return
	}
	p := n.args[0]
	if p.op != opLiteral {
		n.dynamic = true
		return
	}
	switch x := p.lit.(type) {
	case nil:
		n.path = []string{}
	case string:
		n.path = splitPath(x)
	case float64:
		n.path = []string{jsNumber(x)}
	default:
		c.addf(path+"[0]", "a var path is a string like \"user.email\", not %s", kindOf(x))
	}
}

func splitPath(p string) []string {
	if p == "" {
		return []string{}
	}
	return strings.Split(p, ".")
}

// fractional compiles {"fractional": [bucketBy?, [variant, weight], ...]}.
func (c *compiler) fractional(n *node, rawArgs []any, path string, depth int) {
	buckets := rawArgs
	if len(rawArgs) > 0 {
		if _, isBucket := rawArgs[0].([]any); !isBucket {
			n.bucketBy = c.compile(rawArgs[0], path+"[0]", depth+1, false)
			buckets = rawArgs[1:]
		}
	}
	if len(buckets) == 0 {
		c.addf(path, `fractional needs at least one bucket: {"fractional": [["on", 10], ["off", 90]]}`)
		return
	}
	first := len(rawArgs) - len(buckets)
	var total float64
	for i, raw := range buckets {
		bp := fmt.Sprintf("%s[%d]", path, first+i)
		arr, ok := raw.([]any)
		if !ok || len(arr) == 0 || len(arr) > 2 {
			c.addf(bp, `a fractional bucket is ["variant", weight], not %s`, jsonText(raw))
			continue
		}
		b := bucket{variant: c.compile(arr[0], bp+"[0]", depth+2, true)}
		if v := b.variant; v.op == opLiteral {
			switch v.lit.(type) {
			case string, bool, float64, nil:
			default:
				c.addf(bp+"[0]", "a bucket's variant is a variant name, not %s", kindOf(v.lit))
			}
		}
		if len(arr) == 2 && arr[1] != nil {
			b.weight = c.compile(arr[1], bp+"[1]", depth+2, false)
			if w := b.weight; w.op == opLiteral {
				f, ok := w.lit.(float64)
				if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
					c.addf(bp+"[1]", "a bucket's weight is a whole number from 0 to %d, not %s", math.MaxInt32, jsonText(w.lit))
				} else {
					total += f
				}
			}
		} else {
			total++
		}
		n.buckets = append(n.buckets, b)
	}
	if total > math.MaxInt32 {
		c.addf(path, "the weights add up to %.0f; the limit is %d", total, math.MaxInt32)
	}
}

// checkVariant reports a literal that a rule returns as a variant name but that
// names no variant.
func (c *compiler) checkVariant(v any, path string) {
	if c.variants == nil || v == nil {
		return
	}
	name := jsString(v)
	if _, ok := c.variants[name]; !ok {
		c.addf(path, "returns variant %s, which is not one of the flag's variants (%s)", jsonText(v), variantList(c.variants))
	}
}

// jsonText writes v as JSON for messages.
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// evalState is the state of one evaluation.
type evalState struct {
	ec      map[string]any
	flagKey string
	now     int64 // $flagd.timestamp, Unix seconds
	// errCode and errDetails record the first failure that aborts the
	// evaluation (a fractional split without a targeting key).
	errCode, errDetails string
}

func (st *evalState) fail(code, details string) {
	if st.errCode == "" {
		st.errCode, st.errDetails = code, details
	}
}

// evalResult evaluates a rule for its variant, and reports whether a
// fractional split chose it.
func (st *evalState) evalResult(n *node) (any, bool) {
	for {
		switch n.op {
		case opIf:
			next := st.ifBranch(n)
			if next == nil {
				return nil, false
			}
			n = next
			continue
		case opFractional:
			v := st.fractional(n)
			return v, v != nil
		}
		return st.eval(n), false
	}
}

// ifBranch returns the branch of an if that applies, or nil.
func (st *evalState) ifBranch(n *node) *node {
	i := 0
	for ; i+1 < len(n.args); i += 2 {
		if truthy(st.eval(n.args[i])) {
			return n.args[i+1]
		}
	}
	if i == len(n.args)-1 {
		return n.args[i]
	}
	return nil
}

// eval evaluates n.
func (st *evalState) eval(n *node) any {
	switch n.op {
	case opLiteral:
		return n.lit
	case opArray:
		out := make([]any, len(n.args))
		for i, a := range n.args {
			out[i] = st.eval(a)
		}
		return out
	case opVar:
		return st.variable(n)
	case opIf:
		if b := st.ifBranch(n); b != nil {
			return st.eval(b)
		}
		return nil
	case opEq:
		return looseEqual(st.eval(n.args[0]), st.eval(n.args[1]))
	case opNe:
		return !looseEqual(st.eval(n.args[0]), st.eval(n.args[1]))
	case opStrictEq:
		return strictEqual(st.eval(n.args[0]), st.eval(n.args[1]))
	case opStrictNe:
		return !strictEqual(st.eval(n.args[0]), st.eval(n.args[1]))
	case opLt, opLe, opGt, opGe:
		return st.compareChain(n)
	case opNot:
		return !truthy(st.eval(n.args[0]))
	case opNotNot:
		return truthy(st.eval(n.args[0]))
	case opAnd:
		var v any
		for _, a := range n.args {
			if v = st.eval(a); !truthy(v) {
				return v
			}
		}
		return v
	case opOr:
		var v any
		for _, a := range n.args {
			if v = st.eval(a); truthy(v) {
				return v
			}
		}
		return v
	case opIn:
		return in(st.eval(n.args[0]), st.eval(n.args[1]))
	case opCat:
		var b strings.Builder
		for _, a := range n.args {
			b.WriteString(joinString(st.eval(a)))
		}
		return b.String()
	case opSubstr:
		return st.substr(n)
	case opStartsWith, opEndsWith:
		s, ok1 := st.eval(n.args[0]).(string)
		affix, ok2 := st.eval(n.args[1]).(string)
		if !ok1 || !ok2 {
			return false
		}
		if n.op == opStartsWith {
			return strings.HasPrefix(s, affix)
		}
		return strings.HasSuffix(s, affix)
	case opSemVer:
		a, _ := st.eval(n.args[0]).(string)
		op, _ := st.eval(n.args[1]).(string)
		b, _ := st.eval(n.args[2]).(string)
		return semVerMatch(a, op, b)
	case opFractional:
		return st.fractional(n)
	}
	return nil
}

// variable evaluates {"var": [path, default]}.
func (st *evalState) variable(n *node) any {
	path := n.path
	if n.dynamic {
		switch p := st.eval(n.args[0]).(type) {
		case nil:
			path = []string{}
		case string:
			path = splitPath(p)
		case float64:
			path = []string{jsNumber(p)}
		default:
			return nil
		}
	}
	v, ok := st.lookup(path)
	if !ok {
		if len(n.args) > 1 {
			return st.eval(n.args[1])
		}
		return nil
	}
	return v
}

// lookup finds path in the context; $flagd.flagKey and $flagd.timestamp are
// the flag's key and the evaluation time, whatever the context says.
func (st *evalState) lookup(path []string) (any, bool) {
	if len(path) == 0 {
		whole := make(map[string]any, len(st.ec)+1)
		for k, v := range st.ec {
			whole[k] = v
		}
		whole["$flagd"] = st.flagdProperties()
		return whole, true
	}
	var cur any
	switch {
	case path[0] != "$flagd":
		v, ok := st.ec[path[0]]
		if !ok {
			return nil, false
		}
		cur = v
	case len(path) == 1:
		return st.flagdProperties(), true
	default:
		switch path[1] {
		case "flagKey":
			cur = st.flagKey
		case "timestamp":
			cur = float64(st.now)
		default:
			return nil, false
		}
		path = path[1:]
	}
	for _, seg := range path[1:] {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case EvalContext:
			v, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return normalize(cur), true
}

// flagdProperties is the $flagd object flagd adds to every context.
func (st *evalState) flagdProperties() map[string]any {
	return map[string]any{"flagKey": st.flagKey, "timestamp": float64(st.now)}
}

// normalize turns Go numbers from callers' contexts into float64, the only
// number type the engine knows.
func normalize(v any) any {
	if f, ok := day2.Number(v); ok {
		return f
	}
	switch x := v.(type) {
	case json.Number: // not a number after all: keep its text
		return x.String()
	case EvalContext:
		return map[string]any(x)
	}
	return v
}

// compareChain evaluates <, <=, > and >= with two arguments, or three for
// "between": {"<": [1, x, 10]}.
func (st *evalState) compareChain(n *node) bool {
	a := st.eval(n.args[0])
	for _, arg := range n.args[1:] {
		b := st.eval(arg)
		c, ok := compare(a, b)
		if !ok {
			return false
		}
		var hold bool
		switch n.op {
		case opLt:
			hold = c < 0
		case opLe:
			hold = c <= 0
		case opGt:
			hold = c > 0
		case opGe:
			hold = c >= 0
		}
		if !hold {
			return false
		}
		a = b
	}
	return true
}

// substr is json-logic-js's substr: start and length may be negative, counting
// from the end.
func (st *evalState) substr(n *node) any {
	s := []rune(jsString(st.eval(n.args[0])))
	start := toInt(toNumber(st.eval(n.args[1])))
	if start < 0 {
		start = max(len(s)+start, 0)
	}
	start = min(start, len(s))
	s = s[start:]
	if len(n.args) < 3 {
		return string(s)
	}
	l := toInt(toNumber(st.eval(n.args[2])))
	if l < 0 {
		return string(s[:max(len(s)+l, 0)])
	}
	return string(s[:min(l, len(s))])
}

func toInt(f float64) int {
	switch {
	case math.IsNaN(f):
		return 0
	case f > 1<<31:
		return 1 << 31
	case f < -(1 << 31):
		return -(1 << 31)
	}
	return int(f)
}

// fractional evaluates a fractional split like flagd: it hashes the bucketing
// value (by default the flag key followed by the targeting key) with 32-bit
// murmur3, maps the hash onto [0, total weight) as hash*total>>32, and returns
// the variant whose range holds it. Invalid weights give null.
func (st *evalState) fractional(n *node) any {
	var by string
	byDefault := true
	if n.bucketBy != nil {
		switch v := st.eval(n.bucketBy).(type) {
		case nil:
		case string:
			by, byDefault = v, false
		case float64, bool:
			by, byDefault = jsString(v), false
		default:
			return nil
		}
	}
	if byDefault {
		tk, _ := st.ec[TargetingKey].(string)
		if tk == "" {
			st.fail(CodeTargetingKeyMissing, fmt.Sprintf("flag %q splits traffic by targeting key, but the evaluation context has no targetingKey; send one (a user, session or agent id)", st.flagKey))
			return nil
		}
		by = st.flagKey + tk
	}
	var small [8]uint64
	weights := small[:0]
	var total uint64
	for _, b := range n.buckets {
		w := uint64(1)
		if b.weight != nil {
			f, ok := st.eval(b.weight).(float64)
			if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				return nil
			}
			w = uint64(f)
		}
		weights = append(weights, w)
		total += w
	}
	if total == 0 || total > math.MaxInt32 {
		return nil
	}
	point := uint64(murmur3String(by, 0)) * total >> 32
	var end uint64
	for i, w := range weights {
		end += w
		if point < end {
			switch v := st.eval(n.buckets[i].variant).(type) {
			case string, bool, float64, nil:
				return v
			}
			return nil
		}
	}
	return nil
}

// truthy is JSONLogic's truthiness: false, null, 0, "" and [] are false.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	}
	return true
}

// strictEqual is JavaScript's ===: same type and value; arrays and objects are
// never equal (they compare by reference there).
func strictEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	}
	return false
}

// looseEqual is JavaScript's ==.
func looseEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	switch x := a.(type) {
	case bool:
		return looseEqual(boolNumber(x), b)
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case string:
			return x == toNumber(y)
		case bool:
			return x == boolNumber(y)
		case []any, map[string]any:
			return looseEqual(x, jsString(y))
		}
	case string:
		switch y := b.(type) {
		case string:
			return x == y
		case float64:
			return toNumber(x) == y
		case bool:
			return toNumber(x) == boolNumber(y)
		case []any, map[string]any:
			return x == jsString(y)
		}
	case []any, map[string]any:
		switch b.(type) {
		case float64, string, bool:
			return looseEqual(b, a)
		}
	}
	return false
}

func boolNumber(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// compare orders a and b as JavaScript's relational operators do: two strings
// by their text, anything else as numbers. ok is false when either is NaN.
func compare(a, b any) (int, bool) {
	sa, aStr := primitive(a).(string)
	sb, bStr := primitive(b).(string)
	if aStr && bStr {
		return strings.Compare(sa, sb), true
	}
	x, y := toNumber(a), toNumber(b)
	if math.IsNaN(x) || math.IsNaN(y) {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

// primitive is JavaScript's ToPrimitive: arrays and objects become strings.
func primitive(v any) any {
	switch v.(type) {
	case []any, map[string]any:
		return jsString(v)
	}
	return v
}

// toNumber is JavaScript's Number().
func toNumber(v any) float64 {
	switch x := v.(type) {
	case nil:
		return 0
	case bool:
		return boolNumber(x)
	case float64:
		return x
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strings.ContainsAny(s, "_xXpP") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
			return math.NaN()
		}
		return f
	case []any:
		return toNumber(jsString(x))
	}
	return math.NaN()
}

// in is JSONLogic's in: substring of a string, or member (===) of an array.
func in(a, b any) bool {
	switch y := b.(type) {
	case string:
		return strings.Contains(y, jsString(a))
	case []any:
		for _, e := range y {
			if strictEqual(a, e) {
				return true
			}
		}
	}
	return false
}

// jsString is JavaScript's String().
func jsString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return jsNumber(x)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = joinString(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		return "[object Object]"
	}
	return fmt.Sprint(v)
}

// joinString is how Array.prototype.join writes an element: null as "".
func joinString(v any) string {
	if v == nil {
		return ""
	}
	return jsString(v)
}

// jsNumber formats f as JavaScript does for the usual range: integers without
// a decimal point, other numbers in their shortest form.
func jsNumber(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	if a := math.Abs(f); a >= 1e-6 && a < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-07, 1e+21
	mant, exp, _ := strings.Cut(s, "e")
	sign := exp[0]
	exp = strings.TrimLeft(exp[1:], "0")
	return mant + "e" + string(sign) + exp
}

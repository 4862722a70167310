package flags

import (
	"fmt"
	"time"
)

// compiled is a flag with its targeting rule compiled, ready to evaluate many
// times.
type compiled struct {
	flag Flag
	rule *node // nil: no targeting
}

// compile validates f and compiles its targeting.
func compile(f Flag) (*compiled, error) {
	rule, ps := f.check()
	if err := f.invalid(ps); err != nil {
		return nil, err
	}
	return &compiled{flag: f, rule: rule}, nil
}

// Evaluate evaluates the flag for ec, with $flagd.timestamp the current time.
// It compiles the targeting rule on every call; a Service compiles it once. An
// invalid flag gives Reason ERROR with ErrorCode PARSE_ERROR.
func (f Flag) Evaluate(ec EvalContext) Result {
	c, err := compile(f)
	if err != nil {
		return Result{Key: f.Key, Reason: ReasonError, ErrorCode: CodeParseError, ErrorDetails: err.Error()}
	}
	return c.evaluate(ec, time.Now())
}

// evaluate evaluates the compiled flag for ec at now.
func (c *compiled) evaluate(ec EvalContext, now time.Time) Result {
	f := &c.flag
	r := Result{Key: f.Key, Metadata: f.Metadata}
	if f.State == StateDisabled {
		r.Reason = ReasonDisabled
		return r
	}
	if tk, ok := ec[TargetingKey]; ok && tk != nil {
		if _, isString := tk.(string); !isString {
			return failed(r, CodeInvalidContext, fmt.Sprintf("targetingKey is %s; it must be a string", kindOf(normalize(tk))))
		}
	}
	if c.rule == nil {
		return c.serve(r, f.DefaultVariant, ReasonStatic)
	}
	st := evalState{ec: ec, flagKey: f.Key, now: now.Unix()}
	v, split := st.evalResult(c.rule)
	if st.errCode != "" {
		return failed(r, st.errCode, st.errDetails)
	}
	var name string
	switch x := v.(type) {
	case nil:
		return c.serve(r, f.DefaultVariant, ReasonDefault)
	case string:
		name = x
	case bool, float64:
		name = jsString(x)
	default:
		return failed(r, CodeGeneral, fmt.Sprintf("the targeting rule of flag %q returned %s; it must return a variant name or null", f.Key, kindOf(v)))
	}
	if _, ok := f.Variants[name]; !ok {
		return failed(r, CodeGeneral, fmt.Sprintf("the targeting rule of flag %q returned %q, which is not one of its variants (%s); fix the rule", f.Key, name, variantList(f.Variants)))
	}
	reason := ReasonTargetingMatch
	if split {
		reason = ReasonSplit
	}
	return c.serve(r, name, reason)
}

func (c *compiled) serve(r Result, variant, reason string) Result {
	r.Variant = variant
	r.Value = c.flag.Variants[variant]
	r.Reason = reason
	return r
}

func failed(r Result, code, details string) Result {
	r.Reason = ReasonError
	r.ErrorCode = code
	r.ErrorDetails = details
	r.Value = nil
	r.Variant = ""
	return r
}

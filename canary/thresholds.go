package canary

import (
	"math"
	"slices"

	"github.com/day2ops/day2"
)

// Metric names, in the order a Report lists them.
const (
	MetricTaskSuccess = "task_success"
	MetricEscalation  = "escalation_rate"
	MetricToolFailure = "tool_failure"
	MetricCycleTime   = "cycle_time"
)

// metricNames lists every metric the judge evaluates, in report order.
var metricNames = [...]string{MetricTaskSuccess, MetricEscalation, MetricToolFailure, MetricCycleTime}

// Verdicts of a metric and of a whole report.
const (
	VerdictPass         = "pass"
	VerdictFail         = "fail"
	VerdictInconclusive = "inconclusive"
)

// Names of the tests in MetricVerdict.Test.
const (
	TestZ           = "z"            // Farrington-Manning score test of a difference with a tolerance
	TestExact       = "exact"        // its exact small-sample version (the E-test)
	TestBinomial    = "binomial"     // exact binomial test against an absolute limit
	TestMannWhitney = "mann-whitney" // Mann-Whitney U test against a tolerated slowdown
)

// Defaults applied by WithDefaults.
const (
	DefaultMinSamples = 100
	DefaultAlpha      = 0.05
	DefaultMaxLooks   = 10
	// MaxMaxLooks bounds MaxLooks: computing the sequential boundaries grows
	// with the square of the looks.
	MaxMaxLooks                 = 100
	DefaultSuccessTolerance     = 0.01
	DefaultEscalationTolerance  = 0.01
	DefaultToolFailureTolerance = 0.005
	DefaultCycleTimeTolerance   = 0.25
)

// Thresholds configure the judge per rollout (JSON in the rollout body under
// "judge"). Zero values and nil pointers mean the defaults, see WithDefaults.
type Thresholds struct {
	// MinSamples is the number of tasks with an outcome each arm needs before any
	// metric gets a verdict; default 100.
	MinSamples int64 `json:"min_samples,omitempty" yaml:"min_samples,omitempty"`
	// Alpha is the false-alarm probability of each test over a whole step, all
	// looks together (alpha spending splits it over the looks); default 0.05. It
	// is one-sided: only a worse candidate fails. It holds exactly when the
	// candidate is worse by exactly the tolerance; with identical arms false
	// alarms are far rarer.
	Alpha float64 `json:"alpha,omitempty" yaml:"alpha,omitempty"`
	// MaxLooks is the number of looks planned per step for alpha spending; the
	// look numbered MaxLooks is the final one, where a metric that has not failed
	// passes. Default 10.
	MaxLooks int `json:"max_looks,omitempty" yaml:"max_looks,omitempty"`

	// Absolute limits on the candidate (nil = none).

	// MinSuccess is the lowest acceptable task success rate, e.g. 0.97.
	MinSuccess *float64 `json:"min_success,omitempty" yaml:"min_success,omitempty"`
	// MaxEscalation is the highest acceptable share of tasks escalated to a human.
	MaxEscalation *float64 `json:"max_escalation,omitempty" yaml:"max_escalation,omitempty"`
	// MaxToolFailure is the highest acceptable share of failed tool calls.
	MaxToolFailure *float64 `json:"max_tool_failure,omitempty" yaml:"max_tool_failure,omitempty"`
	// MaxCycleTimeP95MS is the highest acceptable 95th percentile of cycle time in
	// milliseconds.
	MaxCycleTimeP95MS *float64 `json:"max_cycle_time_p95_ms,omitempty" yaml:"max_cycle_time_p95_ms,omitempty"`

	// Tolerances relative to the baseline: how much worse the candidate may be
	// before it fails, in absolute proportion points (0.01 = 1 point) for rates.

	// SuccessTolerance is the tolerated drop in task success; default 0.01.
	SuccessTolerance *float64 `json:"success_tolerance,omitempty" yaml:"success_tolerance,omitempty"`
	// EscalationTolerance is the tolerated rise in escalation rate; default 0.01.
	EscalationTolerance *float64 `json:"escalation_tolerance,omitempty" yaml:"escalation_tolerance,omitempty"`
	// ToolFailureTolerance is the tolerated rise in tool failure rate; default 0.005.
	ToolFailureTolerance *float64 `json:"tool_failure_tolerance,omitempty" yaml:"tool_failure_tolerance,omitempty"`
	// CycleTimeTolerance is the tolerated slowdown, relative: 0.25 lets the
	// candidate's cycle times be typically up to 25% longer. Default 0.25.
	CycleTimeTolerance *float64 `json:"cycle_time_tolerance,omitempty" yaml:"cycle_time_tolerance,omitempty"`

	// Critical lists the metrics whose fail makes the whole report fail; default
	// all four. A failing metric that is not critical makes the report
	// inconclusive instead.
	Critical []string `json:"critical,omitempty" yaml:"critical,omitempty"`
}

// WithDefaults returns t with every unset field set to its default.
func (t Thresholds) WithDefaults() Thresholds {
	if t.MinSamples == 0 {
		t.MinSamples = DefaultMinSamples
	}
	if t.Alpha == 0 {
		t.Alpha = DefaultAlpha
	}
	if t.MaxLooks == 0 {
		t.MaxLooks = DefaultMaxLooks
	}
	orDefault := func(p *float64, v float64) *float64 {
		if p != nil {
			return p
		}
		return &v
	}
	t.SuccessTolerance = orDefault(t.SuccessTolerance, DefaultSuccessTolerance)
	t.EscalationTolerance = orDefault(t.EscalationTolerance, DefaultEscalationTolerance)
	t.ToolFailureTolerance = orDefault(t.ToolFailureTolerance, DefaultToolFailureTolerance)
	t.CycleTimeTolerance = orDefault(t.CycleTimeTolerance, DefaultCycleTimeTolerance)
	if len(t.Critical) == 0 {
		t.Critical = slices.Clone(metricNames[:])
	}
	return t
}

// Validate reports the first field of t that cannot be used, as an EInvalid
// error naming the field as it is spelled in the rollout's "judge" object. Zero
// values and nil pointers are valid: they mean the defaults.
func (t Thresholds) Validate() error {
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if t.MinSamples < 0 {
		return day2.Errorf(day2.EInvalid, "judge.min_samples must be a count of tasks per arm, 1 or more (0 for the default %d); got %d", DefaultMinSamples, t.MinSamples)
	}
	if bad(t.Alpha) || t.Alpha < 0 || t.Alpha > 0.5 {
		return day2.Errorf(day2.EInvalid, "judge.alpha must be a false-alarm probability above 0 and at most 0.5, such as 0.05 (0 for the default %g); got %v", DefaultAlpha, t.Alpha)
	}
	if t.MaxLooks < 0 || t.MaxLooks > MaxMaxLooks {
		return day2.Errorf(day2.EInvalid, "judge.max_looks must be the number of looks planned per step, 1 to %d (0 for the default %d); got %d", MaxMaxLooks, DefaultMaxLooks, t.MaxLooks)
	}
	proportions := []struct {
		name string
		v    *float64
	}{
		{"min_success", t.MinSuccess},
		{"max_escalation", t.MaxEscalation},
		{"max_tool_failure", t.MaxToolFailure},
	}
	for _, p := range proportions {
		if p.v != nil && (bad(*p.v) || *p.v < 0 || *p.v > 1) {
			return day2.Errorf(day2.EInvalid, "judge.%s must be a proportion from 0 to 1 (0.97 means 97%%); got %v", p.name, *p.v)
		}
	}
	if p := t.MaxCycleTimeP95MS; p != nil && (bad(*p) || *p <= 0) {
		return day2.Errorf(day2.EInvalid, "judge.max_cycle_time_p95_ms must be a positive number of milliseconds; got %v", *p)
	}
	tolerances := []struct {
		name string
		v    *float64
	}{
		{"success_tolerance", t.SuccessTolerance},
		{"escalation_tolerance", t.EscalationTolerance},
		{"tool_failure_tolerance", t.ToolFailureTolerance},
	}
	for _, p := range tolerances {
		if p.v != nil && (bad(*p.v) || *p.v < 0 || *p.v >= 1) {
			return day2.Errorf(day2.EInvalid, "judge.%s must be in proportion points from 0 up to but not including 1 (0.01 = 1 point); got %v", p.name, *p.v)
		}
	}
	if p := t.CycleTimeTolerance; p != nil && (bad(*p) || *p < 0 || *p > 100) {
		return day2.Errorf(day2.EInvalid, "judge.cycle_time_tolerance must be a relative slowdown from 0 to 100 (0.25 = 25%% slower); got %v", *p)
	}
	for _, c := range t.Critical {
		if !slices.Contains(metricNames[:], c) {
			return day2.Errorf(day2.EInvalid, "judge.critical: unknown metric %q; use %s, %s, %s or %s", c, MetricTaskSuccess, MetricEscalation, MetricToolFailure, MetricCycleTime)
		}
	}
	return nil
}

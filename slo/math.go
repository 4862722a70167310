// Package slo holds day2's SLO mathematics: error budgets, burn rates, the
// multiwindow burn-rate alert thresholds of the SRE Workbook, and detection times.
// It is pure: counts and durations in, numbers and decisions out.
package slo

import (
	"math"
	"time"
)

// Counts are good and total events over a window. Bad events are Total - Good.
type Counts struct {
	Good  float64
	Total float64
}

// Bad returns the number of bad events.
func (c Counts) Bad() float64 { return c.Total - c.Good }

// Add returns the sum of c and d; ratios are always computed from summed counts,
// never by averaging ratios.
func (c Counts) Add(d Counts) Counts { return Counts{Good: c.Good + d.Good, Total: c.Total + d.Total} }

// Ratio returns good/total and false when there were no events: an empty window
// has no SLI, not a perfect one.
func (c Counts) Ratio() (float64, bool) {
	if c.Total <= 0 {
		return 0, false
	}
	return c.Good / c.Total, true
}

// Budget is the error budget of an SLO over its window.
type Budget struct {
	// Total is the number of bad events the objective allows: (1 - objective) * total events.
	Total float64 `json:"total"`
	// Consumed is the number of bad events so far.
	Consumed float64 `json:"consumed"`
	// Remaining is Total - Consumed; negative when overspent.
	Remaining float64 `json:"remaining"`
	// RemainingFraction is Remaining / Total: 1 untouched, 0 exhausted, negative
	// overspent. It is ((1-objective) - bad/total) / (1-objective).
	RemainingFraction float64 `json:"remaining_fraction"`
}

// ComputeBudget returns the error budget for counts c under objective (0..1).
// With no events the budget is untouched (fraction 1) and ok is false.
func ComputeBudget(objective float64, c Counts) (b Budget, ok bool) {
	allowed := 1 - objective
	b.Total = allowed * c.Total
	b.Consumed = c.Bad()
	b.Remaining = b.Total - b.Consumed
	if c.Total <= 0 || allowed <= 0 {
		b.RemainingFraction = 1
		if allowed <= 0 && c.Bad() > 0 {
			b.RemainingFraction = math.Inf(-1)
		}
		return b, c.Total > 0
	}
	b.RemainingFraction = (allowed - c.Bad()/c.Total) / allowed
	return b, true
}

// BurnRate is how fast a window spends the budget: (bad/total) / (1 - objective).
// A burn rate of 1 spends exactly the whole budget over the SLO period. ok is false
// for an empty window.
func BurnRate(objective float64, c Counts) (rate float64, ok bool) {
	if c.Total <= 0 {
		return 0, false
	}
	allowed := 1 - objective
	if allowed <= 0 {
		if c.Bad() > 0 {
			return math.Inf(1), true
		}
		return 0, true
	}
	return (c.Bad() / c.Total) / allowed, true
}

// Threshold is the burn rate at which a window of length long has consumed the
// given share of the budget of an SLO with the given period:
// share * period / long (the SRE Workbook's rule, also used by sloth).
func Threshold(share float64, period, long time.Duration) float64 {
	return share * float64(period) / float64(long)
}

// TimeToExhaustion is how long the remaining budget lasts at burn rate, measured
// in SLO periods: remainingFraction * period / rate. It returns 0 when the budget is
// already gone and false when the burn rate is zero (the budget is not spent).
func TimeToExhaustion(remainingFraction, rate float64, period time.Duration) (time.Duration, bool) {
	if rate <= 0 {
		return 0, false
	}
	if remainingFraction <= 0 {
		return 0, true
	}
	return time.Duration(remainingFraction * float64(period) / rate), true
}

// DetectionTime is how long an alert on window w with burn-rate threshold b takes
// to fire for an SLO with the given objective when the error ratio jumps from zero
// to errRatio: w * b * (1 - objective) / errRatio. It is 0 when errRatio is 0 (the
// alert never fires) together with false.
func DetectionTime(w time.Duration, b, objective, errRatio float64) (time.Duration, bool) {
	if errRatio <= 0 {
		return 0, false
	}
	if errRatio < b*(1-objective) {
		return 0, false // the error ratio never reaches the threshold
	}
	return time.Duration(float64(w) * b * (1 - objective) / errRatio), true
}

// Severity of a burn-rate alert.
type Severity string

// Severities.
const (
	Page   Severity = "page"
	Ticket Severity = "ticket"
)

// WindowPair is one multiwindow burn-rate condition: it fires when the burn rate
// over both the long and the short window is at or above the threshold derived
// from BudgetShare.
type WindowPair struct {
	Severity    Severity
	Long, Short time.Duration
	BudgetShare float64
	// Threshold, when positive, is the burn rate to alert at, overriding the one
	// derived from BudgetShare (an OpenSLO AlertCondition states it directly).
	Threshold float64
}

// ThresholdFor returns the pair's burn-rate threshold for an SLO period.
func (p WindowPair) ThresholdFor(period time.Duration) float64 {
	if p.Threshold > 0 {
		return p.Threshold
	}
	return Threshold(p.BudgetShare, period, p.Long)
}

// DefaultPairs are the SRE Workbook's recommended pairs: page on 2% of the budget
// in 1h (checked with 5m) or 5% in 6h (30m); ticket on 10% in 1d (2h) or 10% in 3d (6h).
var DefaultPairs = []WindowPair{
	{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BudgetShare: 0.02},
	{Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BudgetShare: 0.05},
	{Severity: Ticket, Long: 24 * time.Hour, Short: 2 * time.Hour, BudgetShare: 0.10},
	{Severity: Ticket, Long: 3 * 24 * time.Hour, Short: 6 * time.Hour, BudgetShare: 0.10},
}

// Windows are the burn-rate windows day2 reports, keyed as in the API.
var Windows = []struct {
	Key string
	D   time.Duration
}{
	{"5m", 5 * time.Minute}, {"30m", 30 * time.Minute}, {"1h", time.Hour}, {"2h", 2 * time.Hour},
	{"6h", 6 * time.Hour}, {"1d", 24 * time.Hour}, {"3d", 3 * 24 * time.Hour},
}

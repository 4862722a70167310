package canary

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/stats"
)

// Sample is what one arm (baseline or candidate) did since the rollout's current
// step started. Counts are cumulative over the step: each look passes everything
// seen so far, not just what arrived since the previous look.
type Sample struct {
	Tasks        int64     // tasks with an outcome
	Successes    int64     // of Tasks, those that succeeded
	Escalations  int64     // of Tasks, those escalated to a human
	ToolCalls    int64     // tool calls made by those tasks
	ToolFailures int64     // of ToolCalls, those that failed
	CycleTimesMS []float64 // cycle times of tasks with an outcome, in milliseconds
}

// MetricVerdict is the judge's finding on one metric.
type MetricVerdict struct {
	Metric  string `json:"metric"`
	Verdict string `json:"verdict"` // pass | fail | inconclusive
	// Baseline and Candidate are the arms' rates (success, escalation or tool
	// failure rate), or their median cycle times in milliseconds.
	Baseline   float64 `json:"baseline"`
	Candidate  float64 `json:"candidate"`
	BaselineN  int64   `json:"baseline_n"`
	CandidateN int64   `json:"candidate_n"`
	// Test names the test behind the verdict: "z", "exact", "mann-whitney" or
	// "binomial" (an absolute limit); empty when no test ran.
	Test string `json:"test"`
	// PValue is that test's p-value. For a pass that rests on evidence that the
	// candidate is within the tolerance, it is the p-value of the hypothesis "worse
	// than tolerated"; for any other verdict (including a pass at the final look
	// for want of a fail), that of the hypothesis "no worse than tolerated".
	PValue float64 `json:"p_value"`
	// Threshold is the significance level this look was held to after alpha
	// spending: a p-value at or below it is significant.
	Threshold float64 `json:"threshold"`
	// Reason says in plain words what was compared and why the verdict follows.
	Reason string `json:"reason"`
}

// Report is the judge's finding on a candidate at one look.
type Report struct {
	Verdict string `json:"verdict"` // pass | fail | inconclusive
	// Score is Kayenta's canary score: passes / (passes + fails) * 100 over the
	// metrics with a verdict; 0 when a critical metric fails or when no metric
	// has a verdict yet.
	Score   float64         `json:"score"`
	Look    int             `json:"look"`
	Metrics []MetricVerdict `json:"metrics"`
}

// Judge compares candidate with baseline at the look-th look (1-based) of the
// current step; look numbers below 1 count as 1. It never fails on bad input:
// thresholds that do not validate or impossible counts give inconclusive
// verdicts that say what is wrong. The package documentation explains the
// statistics.
func Judge(t Thresholds, look int, baseline, candidate Sample) Report {
	look = max(look, 1)
	r := Report{Verdict: VerdictInconclusive, Look: look}
	t = t.WithDefaults()
	if err := t.Validate(); err != nil {
		for _, m := range metricNames {
			r.Metrics = append(r.Metrics, MetricVerdict{Metric: m, Verdict: VerdictInconclusive,
				Reason: "the judge thresholds are invalid: " + day2.ErrorMessage(err)})
		}
		return r
	}
	lk := lookAt(t, look)
	r.Metrics = []MetricVerdict{
		judgeRate(rateMetric{
			name: MetricTaskSuccess, label: "task success", unit: "tasks", higherIsBetter: true,
			badB: baseline.Tasks - baseline.Successes, nB: baseline.Tasks,
			badC: candidate.Tasks - candidate.Successes, nC: candidate.Tasks,
			problem: countProblem("successes", "tasks", baseline.Successes, baseline.Tasks, candidate.Successes, candidate.Tasks),
			tol:     *t.SuccessTolerance, limit: t.MinSuccess,
		}, lk, baseline.Tasks, candidate.Tasks),
		judgeRate(rateMetric{
			name: MetricEscalation, label: "escalations", unit: "tasks",
			badB: baseline.Escalations, nB: baseline.Tasks,
			badC: candidate.Escalations, nC: candidate.Tasks,
			problem: countProblem("escalations", "tasks", baseline.Escalations, baseline.Tasks, candidate.Escalations, candidate.Tasks),
			tol:     *t.EscalationTolerance, limit: t.MaxEscalation,
		}, lk, baseline.Tasks, candidate.Tasks),
		judgeRate(rateMetric{
			name: MetricToolFailure, label: "tool failures", unit: "tool calls",
			badB: baseline.ToolFailures, nB: baseline.ToolCalls,
			badC: candidate.ToolFailures, nC: candidate.ToolCalls,
			problem: countProblem("failed tool calls", "tool calls", baseline.ToolFailures, baseline.ToolCalls, candidate.ToolFailures, candidate.ToolCalls),
			tol:     *t.ToolFailureTolerance, limit: t.MaxToolFailure,
		}, lk, baseline.Tasks, candidate.Tasks),
		judgeCycleTime(t, lk, baseline, candidate),
	}

	var passes, fails int
	criticalFail, allPass := false, true
	for _, m := range r.Metrics {
		switch m.Verdict {
		case VerdictPass:
			passes++
		case VerdictFail:
			fails++
			allPass = false
			if slices.Contains(t.Critical, m.Metric) {
				criticalFail = true
			}
		default:
			allPass = false
		}
	}
	if passes+fails > 0 {
		r.Score = 100 * float64(passes) / float64(passes+fails)
	}
	switch {
	case criticalFail:
		r.Verdict, r.Score = VerdictFail, 0
	case allPass:
		r.Verdict = VerdictPass
	}
	return r
}

// lookInfo describes where a look stands in its step.
type lookInfo struct {
	n, planned int
	final      bool
	level      float64 // one-sided significance level after alpha spending
	alpha      float64
	minSamples int64
}

func lookAt(t Thresholds, n int) lookInfo {
	b := boundaries(t.Alpha, t.MaxLooks)
	return lookInfo{
		n: n, planned: t.MaxLooks, final: n >= t.MaxLooks,
		level: stats.NormalSF(b[min(n, t.MaxLooks)-1]),
		alpha: t.Alpha, minSamples: t.MinSamples,
	}
}

// boundaryCache memoizes the O'Brien-Fleming boundaries per (alpha, looks): they
// take milliseconds to compute and a judge runs every minute for every rollout.
var boundaryCache = struct {
	sync.Mutex
	m map[[2]float64][]float64
}{m: map[[2]float64][]float64{}}

func boundaries(alpha float64, looks int) []float64 {
	key := [2]float64{alpha, float64(looks)}
	boundaryCache.Lock()
	b, ok := boundaryCache.m[key]
	boundaryCache.Unlock()
	if ok {
		return b
	}
	b = stats.SequentialBoundaries(alpha, looks, stats.OBrienFlemingSpend)
	boundaryCache.Lock()
	if len(boundaryCache.m) < 1000 { // thresholds come from users: bound the memory
		boundaryCache.m[key] = b
	}
	boundaryCache.Unlock()
	return b
}

// countProblem describes impossible counts (negative, or more of what than
// there were of in) in either arm; "" when both arms' counts can happen.
func countProblem(what, in string, xB, nB, xC, nC int64) string {
	for _, a := range []struct {
		arm  string
		x, n int64
	}{{"baseline", xB, nB}, {"candidate", xC, nC}} {
		if a.n < 0 || a.x < 0 || a.x > a.n {
			return fmt.Sprintf("impossible counts: the %s reports %d %s of %d %s; the sample is wrong", a.arm, a.x, what, a.n, in)
		}
	}
	return ""
}

// rateMetric is a proportion metric in terms of bad events (failed tasks,
// escalations, failed tool calls): a higher bad rate is worse.
type rateMetric struct {
	name, label, unit string
	higherIsBetter    bool // shown as a success rate rather than a bad rate
	badB, nB          int64
	badC, nC          int64
	problem           string // impossible counts, described
	tol               float64
	limit             *float64 // as shown: a minimum success rate or a maximum bad rate
}

func judgeRate(m rateMetric, lk lookInfo, tasksB, tasksC int64) MetricVerdict {
	v := MetricVerdict{Metric: m.name, Verdict: VerdictInconclusive, BaselineN: m.nB, CandidateN: m.nC, Threshold: lk.level}
	if m.problem != "" {
		v.Reason = m.problem
		return v
	}
	if reason, ok := enoughTasks(lk, tasksB, tasksC); !ok {
		v.Reason = reason
		return v
	}
	if m.nB == 0 && m.nC == 0 {
		v.Verdict, v.Reason = VerdictPass, "no data"
		return v
	}
	if m.nB == 0 || m.nC == 0 {
		v.Reason = fmt.Sprintf("no %s in the %s arm, so %s cannot be compared", m.unit, emptyArm(m.nB), m.label)
		return v
	}
	rateB, rateC := float64(m.badB)/float64(m.nB), float64(m.badC)/float64(m.nC)
	shownB, shownC := rateB, rateC
	if m.higherIsBetter {
		shownB, shownC = 1-rateB, 1-rateC
	}
	v.Baseline, v.Candidate = shownB, shownC
	head := fmt.Sprintf("%s %s vs %s (%s points, tolerance %s)", m.label, percent(shownC), percent(shownB),
		signed(100*(shownC-shownB)), trim(100*m.tol))

	// H0: the candidate's bad rate exceeds the baseline's by at most tol.
	pNotWorse, pWorse, exact := stats.RiskDifferenceTest(m.badB, m.nB, m.badC, m.nC, m.tol)
	test := TestZ
	if exact {
		test = TestExact
	}
	v.Test, v.PValue = test, pWorse

	// The absolute limit, as a bad rate: H0 the candidate's bad rate is at most it.
	var lim limitCheck
	if m.limit != nil {
		badLimit, word, side := *m.limit, "maximum", "above"
		if m.higherIsBetter {
			badLimit, word, side = 1-*m.limit, "minimum", "below"
		}
		pBelow, pAbove := stats.BinomialTest(m.badC, m.nC, badLimit)
		lim = newLimitCheck(lk, pBelow, pAbove)
		switch {
		case lim.worse:
			lim.reason = fmt.Sprintf("%s %s is %s the %s %s, p=%s ≤ %s (binomial test)",
				m.label, percent(shownC), side, word, percent(*m.limit), pval(pAbove), pval(lk.level))
		case lim.within:
			lim.reason = fmt.Sprintf("within the %s %s (p=%s)", word, percent(*m.limit), pval(pBelow))
		default:
			lim.reason = fmt.Sprintf("not yet shown within the %s %s (p=%s)", word, percent(*m.limit), pval(pBelow))
		}
	}
	decide(&v, lk, head, pNotWorse, pWorse, lim, "worse", "regression", func() string {
		_, upper := stats.RiskDifferenceInterval(m.badB, m.nB, m.badC, m.nC, 1-2*lk.alpha)
		return fmt.Sprintf("; regressions above %.1f points are ruled out at %s%% confidence",
			100*math.Max(0, upper), trim(100*(1-lk.alpha)))
	})
	return v
}

// limitCheck is the exact binomial test of a metric against its absolute
// limit: worse when the candidate is shown beyond it, within when shown
// inside it, with the reason to report (empty when no limit is set).
type limitCheck struct {
	set, worse, within bool
	pWorse             float64
	reason             string
}

func newLimitCheck(lk lookInfo, pWithin, pWorse float64) limitCheck {
	return limitCheck{set: true, worse: pWorse <= lk.level, within: pWithin <= lk.level, pWorse: pWorse}
}

// with appends the limit's reason, if any, to s.
func (l limitCheck) with(s string) string {
	if l.reason == "" {
		return s
	}
	return s + "; " + l.reason
}

// decide gives v its verdict by one rule for every metric, from the test
// against the baseline within the tolerance (pNotWorse, pWorse) and the limit
// check: fail when the candidate is shown worse than either, pass when it is
// shown not worse (and within the limit, or at the final look), and otherwise
// wait, or pass at the final look. worse and change name the metric's bad
// direction ("worse" and "regression" for rates); finalNote adds to the reason
// of a pass at the final look without evidence.
func decide(v *MetricVerdict, lk lookInfo, head string, pNotWorse, pWorse float64, lim limitCheck, worse, change string, finalNote func() string) {
	switch {
	case pWorse <= lk.level:
		v.Verdict = VerdictFail
		v.Reason = lim.with(fmt.Sprintf("%s: %s than the baseline beyond the tolerance, p=%s ≤ %s", head, worse, pval(pWorse), pval(lk.level)))
	case lim.worse:
		v.Verdict, v.Test, v.PValue = VerdictFail, TestBinomial, lim.pWorse
		v.Reason = lim.reason + "; vs the baseline: " + head
	case pNotWorse <= lk.level && (!lim.set || lim.within || lk.final):
		v.Verdict, v.PValue = VerdictPass, pNotWorse
		v.Reason = lim.with(fmt.Sprintf("%s: a %s beyond the tolerance is ruled out, p=%s ≤ %s", head, change, pval(pNotWorse), pval(lk.level)))
	case lk.final:
		note := ""
		if finalNote != nil {
			note = finalNote()
		}
		v.Verdict = VerdictPass
		v.Reason = lim.with(fmt.Sprintf("%s: no significant %s by the final look (p=%s > %s)%s", head, change, pval(pWorse), pval(lk.level), note))
	default:
		v.Reason = lim.with(fmt.Sprintf("%s: no significant %s yet (p=%s > %s at look %d of %d)",
			head, change, pval(pWorse), pval(lk.level), lk.n, lk.planned))
	}
}

// enoughTasks applies MinSamples, which counts tasks with an outcome per arm.
func enoughTasks(lk lookInfo, tasksB, tasksC int64) (string, bool) {
	if tasksB >= lk.minSamples && tasksC >= lk.minSamples {
		return "", true
	}
	return fmt.Sprintf("only %d baseline and %d candidate tasks so far; %d per arm are needed", tasksB, tasksC, lk.minSamples), false
}

func emptyArm(nB int64) string {
	if nB == 0 {
		return "baseline"
	}
	return "candidate"
}

// judgeCycleTime compares cycle times with the Mann-Whitney U test against the
// tolerated slowdown and the exact binomial test of the 95th percentile limit.
func judgeCycleTime(t Thresholds, lk lookInfo, b, c Sample) MetricVerdict {
	x, y := cycleTimes(b.CycleTimesMS), cycleTimes(c.CycleTimesMS)
	v := MetricVerdict{Metric: MetricCycleTime, Verdict: VerdictInconclusive,
		BaselineN: int64(len(x)), CandidateN: int64(len(y)), Threshold: lk.level}
	if reason, ok := enoughTasks(lk, b.Tasks, c.Tasks); !ok {
		v.Reason = reason
		return v
	}
	if len(x) == 0 && len(y) == 0 {
		v.Verdict, v.Reason = VerdictPass, "no data"
		return v
	}
	if int64(len(x)) < lk.minSamples || int64(len(y)) < lk.minSamples {
		v.Reason = fmt.Sprintf("only %d baseline and %d candidate cycle times so far; %d per arm are needed", len(x), len(y), lk.minSamples)
		return v
	}
	tol := *t.CycleTimeTolerance
	slices.Sort(x)
	slices.Sort(y)
	v.Baseline, v.Candidate = quantile(x, 0.5), quantile(y, 0.5)

	// H0: the candidate's cycle times are at most (1+tol) times the baseline's.
	scaled := make([]float64, len(x))
	for i, ms := range x {
		scaled[i] = ms * (1 + tol)
	}
	_, _, pNotWorse, pWorse, _, _ := stats.MannWhitneyU(scaled, y)
	v.Test, v.PValue = TestMannWhitney, pWorse
	head := fmt.Sprintf("cycle time median %s vs %s (typically %s, tolerance +%s%%)",
		millis(v.Candidate), millis(v.Baseline), slowdown(x, y), trim(100*tol))

	var lim limitCheck
	if t.MaxCycleTimeP95MS != nil {
		limit := *t.MaxCycleTimeP95MS
		above := int64(len(y) - sortSearchAbove(y, limit))
		// p95 <= limit means at most 5% of cycle times exceed the limit.
		pBelow, pAbove := stats.BinomialTest(above, int64(len(y)), 0.05)
		lim = newLimitCheck(lk, pBelow, pAbove)
		share := percent(float64(above) / float64(len(y)))
		switch {
		case lim.worse:
			lim.reason = fmt.Sprintf("p95 cycle time %s is above the limit %s (%s of tasks exceed it), p=%s ≤ %s (binomial test)",
				millis(quantile(y, 0.95)), millis(limit), share, pval(pAbove), pval(lk.level))
		case lim.within:
			lim.reason = fmt.Sprintf("p95 cycle time within the limit %s (p=%s)", millis(limit), pval(pBelow))
		default:
			lim.reason = fmt.Sprintf("p95 cycle time %s not yet shown within the limit %s (p=%s)", millis(quantile(y, 0.95)), millis(limit), pval(pBelow))
		}
	}
	decide(&v, lk, head, pNotWorse, pWorse, lim, "slower", "slowdown", nil)
	return v
}

// cycleTimes returns a copy of ms without the values that cannot be cycle times
// (NaN, infinite or negative).
func cycleTimes(ms []float64) []float64 {
	out := make([]float64, 0, len(ms))
	for _, v := range ms {
		if v >= 0 && !math.IsInf(v, 1) {
			out = append(out, v)
		}
	}
	return out
}

// quantile returns the q-quantile of sorted values by linear interpolation
// between order statistics (R's default, type 7).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	h := q * float64(len(sorted)-1)
	i := int(math.Floor(h))
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}

// sortSearchAbove returns the index of the first value above limit.
func sortSearchAbove(sorted []float64, limit float64) int {
	i, _ := slices.BinarySearchFunc(sorted, limit, func(v, l float64) int {
		if v <= l {
			return -1
		}
		return 1
	})
	return i
}

// slowdown describes the Hodges-Lehmann estimate of the candidate/baseline
// ratio of cycle times, the median of all pairwise ratios: the estimate that
// goes with the Mann-Whitney test on a multiplicative scale.
func slowdown(x, y []float64) string {
	logs := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i, ms := range v {
			out[i] = math.Log(math.Max(ms, 1e-3)) // a 0 ms cycle time counts as 1 µs
		}
		return out
	}
	ratio := math.Exp(stats.HodgesLehmann(logs(x), logs(y)))
	switch {
	case math.IsNaN(ratio):
		return "no estimate"
	case ratio >= 1:
		return fmt.Sprintf("%s%% slower", trim(math.Round(1000*(ratio-1))/10))
	default:
		return fmt.Sprintf("%s%% faster", trim(math.Round(1000*(1-ratio))/10))
	}
}

// percent formats a proportion: 0.041 as "4.1%", 0.0045 as "0.45%".
func percent(p float64) string {
	if p != 0 && math.Abs(p) < 0.01 {
		return strconv.FormatFloat(100*p, 'f', 2, 64) + "%"
	}
	return strconv.FormatFloat(100*p, 'f', 1, 64) + "%"
}

// signed formats a difference in points with its sign: "+3.1", "-0.4".
func signed(points float64) string {
	if math.Abs(points) < 0.05 {
		return "±0.0"
	}
	return fmt.Sprintf("%+.1f", points)
}

// trim formats a number without trailing zeros or float noise: 0.5, 1, 25.
func trim(v float64) string { return strconv.FormatFloat(math.Round(v*1e6)/1e6, 'f', -1, 64) }

// pval formats a p-value or level with two significant digits: 0.0003, 0.0049,
// 1.2e-07.
func pval(p float64) string { return strconv.FormatFloat(p, 'g', 2, 64) }

// millis formats milliseconds.
func millis(ms float64) string { return strconv.FormatFloat(ms, 'f', 0, 64) + " ms" }

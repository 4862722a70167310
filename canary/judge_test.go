package canary_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/canary"
)

func ptr(v float64) *float64 { return &v }

// cycles returns n lognormal-ish cycle times around median ms, deterministic.
func cycles(seed uint64, n int, median float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]float64, n)
	for i := range out {
		out[i] = median * math.Exp(0.4*rng.NormFloat64())
	}
	return out
}

// healthy is a baseline-like arm of n tasks: 95% success, 5% escalations,
// 1% of 3 tool calls per task failing, cycle times around 20 s.
func healthy(seed uint64, n int64) canary.Sample {
	return canary.Sample{
		Tasks: n, Successes: n * 95 / 100, Escalations: n * 5 / 100,
		ToolCalls: 3 * n, ToolFailures: 3 * n / 100,
		CycleTimesMS: cycles(seed, int(n), 20_000),
	}
}

func verdicts(r canary.Report) map[string]string {
	m := map[string]string{}
	for _, v := range r.Metrics {
		m[v.Metric] = v.Verdict
	}
	return m
}

func metric(r canary.Report, name string) canary.MetricVerdict {
	for _, v := range r.Metrics {
		if v.Metric == name {
			return v
		}
	}
	return canary.MetricVerdict{}
}

func TestJudgeVerdicts(t *testing.T) {
	const (
		pass = canary.VerdictPass
		fail = canary.VerdictFail
		inc  = canary.VerdictInconclusive
	)
	withSuccess := func(s canary.Sample, successes int64) canary.Sample { s.Successes = successes; return s }
	withTools := func(s canary.Sample, calls, failures int64) canary.Sample {
		s.ToolCalls, s.ToolFailures = calls, failures
		return s
	}
	slower := func(s canary.Sample, factor float64) canary.Sample {
		s.CycleTimesMS = slices.Clone(s.CycleTimesMS)
		for i := range s.CycleTimesMS {
			s.CycleTimesMS[i] *= factor
		}
		return s
	}
	tests := []struct {
		name       string
		th         canary.Thresholds
		look       int
		base, cand canary.Sample
		want       string            // overall verdict
		metrics    map[string]string // expected metric verdicts (subset)
		reason     map[string]string // substrings expected in reasons
		score      float64
	}{
		{
			name: "identical arms at the first look wait for more data, they do not fail",
			look: 1, base: healthy(1, 150), cand: healthy(1, 150),
			want:    inc,
			metrics: map[string]string{canary.MetricTaskSuccess: inc, canary.MetricEscalation: inc, canary.MetricToolFailure: inc, canary.MetricCycleTime: inc},
			reason:  map[string]string{canary.MetricTaskSuccess: "no significant regression yet (p=0.65 > 5.7e-10 at look 1 of 10)"},
		},
		{
			name: "identical arms pass at the final look and say how large a regression is ruled out",
			look: 10, base: healthy(2, 1500), cand: healthy(2, 1500),
			want: pass, score: 100,
			metrics: map[string]string{canary.MetricTaskSuccess: pass, canary.MetricEscalation: pass, canary.MetricToolFailure: pass, canary.MetricCycleTime: pass},
			reason: map[string]string{
				canary.MetricTaskSuccess: "task success 95.0% vs 95.0% (±0.0 points, tolerance 1): no significant regression by the final look",
				canary.MetricCycleTime:   "typically 0% slower, tolerance +25%",
			},
		},
		{
			name: "a big success regression fails at the first look",
			look: 1, base: healthy(3, 300), cand: withSuccess(healthy(4, 300), 210),
			want: fail, score: 0,
			metrics: map[string]string{canary.MetricTaskSuccess: fail},
			reason:  map[string]string{canary.MetricTaskSuccess: "task success 70.0% vs 95.0% (-25.0 points, tolerance 1): worse than the baseline beyond the tolerance"},
		},
		{
			name: "too few samples are inconclusive even with an awful candidate",
			look: 10, base: healthy(5, 60), cand: withSuccess(healthy(6, 60), 10),
			want:    inc,
			metrics: map[string]string{canary.MetricTaskSuccess: inc, canary.MetricCycleTime: inc, canary.MetricToolFailure: inc},
			reason:  map[string]string{canary.MetricTaskSuccess: "only 60 baseline and 60 candidate tasks so far; 100 per arm are needed"},
		},
		{
			name: "tool failures of 4.1% against 1.0% fail with a reason in plain words",
			look: 4, base: withTools(healthy(7, 1000), 3000, 30), cand: withTools(healthy(8, 1000), 3000, 123),
			want:    fail,
			metrics: map[string]string{canary.MetricToolFailure: fail},
			reason:  map[string]string{canary.MetricToolFailure: "tool failures 4.1% vs 1.0% (+3.1 points, tolerance 0.5): worse than the baseline beyond the tolerance, p="},
		},
		{
			name: "no tool calls in either arm count as a pass with no data",
			look: 10, base: withTools(healthy(9, 1500), 0, 0), cand: withTools(healthy(9, 1500), 0, 0),
			want:    pass,
			metrics: map[string]string{canary.MetricToolFailure: pass},
			reason:  map[string]string{canary.MetricToolFailure: "no data"},
		},
		{
			name: "tool calls in one arm only cannot be compared",
			look: 10, base: withTools(healthy(10, 1500), 0, 0), cand: healthy(10, 1500),
			want:    inc,
			metrics: map[string]string{canary.MetricToolFailure: inc},
			reason:  map[string]string{canary.MetricToolFailure: "no tool calls in the baseline arm"},
		},
		{
			name: "an absolute minimum fails a candidate that is as good as the baseline but below it",
			th:   canary.Thresholds{MinSuccess: ptr(0.97)},
			look: 5, base: withSuccess(healthy(11, 1000), 900), cand: withSuccess(healthy(11, 1000), 900),
			want:    fail,
			metrics: map[string]string{canary.MetricTaskSuccess: fail},
			reason:  map[string]string{canary.MetricTaskSuccess: "task success 90.0% is below the minimum 97.0%"},
		},
		{
			name: "a candidate twice as slow fails on cycle time",
			look: 3, base: healthy(12, 500), cand: slower(healthy(13, 500), 2),
			want:    fail,
			metrics: map[string]string{canary.MetricCycleTime: fail, canary.MetricTaskSuccess: inc},
			reason:  map[string]string{canary.MetricCycleTime: "slower than the baseline beyond the tolerance"},
		},
		{
			name: "a 10% slowdown is within the 25% tolerance and passes at the final look",
			look: 10, base: healthy(14, 1500), cand: slower(healthy(15, 1500), 1.1),
			want:    pass,
			metrics: map[string]string{canary.MetricCycleTime: pass},
		},
		{
			name: "a p95 limit fails a candidate whose slow tail is over it",
			th:   canary.Thresholds{MaxCycleTimeP95MS: ptr(30_000)},
			look: 5, base: healthy(16, 1000), cand: slower(healthy(17, 1000), 1.2),
			want:    fail,
			metrics: map[string]string{canary.MetricCycleTime: fail},
			reason:  map[string]string{canary.MetricCycleTime: "is above the limit 30000 ms"},
		},
		{
			name: "a failing metric that is not critical makes the report inconclusive, not failed",
			th:   canary.Thresholds{Critical: []string{canary.MetricTaskSuccess, canary.MetricCycleTime}},
			look: 10, base: withTools(healthy(18, 1500), 4500, 45), cand: withTools(healthy(18, 1500), 4500, 200),
			want: inc, score: 75,
			metrics: map[string]string{canary.MetricToolFailure: fail, canary.MetricTaskSuccess: pass},
		},
		{
			name: "impossible counts are reported, not judged",
			look: 10, base: healthy(19, 1500), cand: withSuccess(healthy(19, 1500), 1600),
			want:    inc,
			metrics: map[string]string{canary.MetricTaskSuccess: inc},
			reason:  map[string]string{canary.MetricTaskSuccess: "impossible counts: the candidate reports 1600 successes of 1500 tasks"},
		},
		{
			name: "invalid thresholds are reported on every metric",
			th:   canary.Thresholds{Alpha: 2},
			look: 10, base: healthy(20, 1500), cand: healthy(20, 1500),
			want:    inc,
			metrics: map[string]string{canary.MetricTaskSuccess: inc, canary.MetricCycleTime: inc},
			reason:  map[string]string{canary.MetricEscalation: "the judge thresholds are invalid: judge.alpha must be"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := canary.Judge(tt.th, tt.look, tt.base, tt.cand)
			if r.Verdict != tt.want {
				t.Errorf("verdict %s, want %s; metrics:\n%s", r.Verdict, tt.want, describe(r))
			}
			got := verdicts(r)
			for m, v := range tt.metrics {
				if got[m] != v {
					t.Errorf("%s: %s, want %s (%s)", m, got[m], v, metric(r, m).Reason)
				}
			}
			for m, sub := range tt.reason {
				if reason := metric(r, m).Reason; !strings.Contains(reason, sub) {
					t.Errorf("%s reason %q does not say %q", m, reason, sub)
				}
			}
			if tt.score != 0 || tt.want == canary.VerdictFail {
				if r.Score != tt.score {
					t.Errorf("score %v, want %v", r.Score, tt.score)
				}
			}
			if r.Look != tt.look || len(r.Metrics) != 4 {
				t.Errorf("look %d with %d metrics, want look %d with 4", r.Look, len(r.Metrics), tt.look)
			}
		})
	}
}

func describe(r canary.Report) string {
	var b strings.Builder
	for _, m := range r.Metrics {
		b.WriteString("  " + m.Metric + " " + m.Verdict + ": " + m.Reason + "\n")
	}
	return b.String()
}

// TestJudgeHoldsEachLookToTheSpentAlpha checks that the same data that are not
// significant at an early look fail once the look's level has grown.
func TestJudgeHoldsEachLookToTheSpentAlpha(t *testing.T) {
	base := canary.Sample{Tasks: 1000, Successes: 950}
	cand := canary.Sample{Tasks: 1000, Successes: 915} // -3.5 points, z about 2.1 beyond the tolerance
	var levels []float64
	var firstFail int
	for look := 1; look <= 12; look++ {
		m := metric(canary.Judge(canary.Thresholds{}, look, base, cand), canary.MetricTaskSuccess)
		levels = append(levels, m.Threshold)
		if m.Verdict == canary.VerdictFail && firstFail == 0 {
			firstFail = look
		}
	}
	if !slices.IsSorted(levels) || levels[0] > 1e-9 || math.Abs(levels[9]-0.0363) > 0.0005 || levels[11] != levels[9] {
		t.Errorf("levels by look %v: want rising from 5.7e-10 to 0.036 at look 10 and no higher after", levels)
	}
	if firstFail < 6 || firstFail > 10 {
		t.Errorf("a 3.5-point drop at 1,000 tasks per arm first fails at look %d; want a late look (6-10), not an early one", firstFail)
	}
}

func TestJudgeScoreCountsDecidedMetrics(t *testing.T) {
	base := healthy(30, 1500)
	cand := healthy(30, 1500)
	cand.ToolFailures = 200
	r := canary.Judge(canary.Thresholds{}, 10, base, cand)
	if r.Verdict != canary.VerdictFail || r.Score != 0 {
		t.Errorf("a failing critical metric: verdict %s score %v, want fail 0", r.Verdict, r.Score)
	}
	r = canary.Judge(canary.Thresholds{}, 1, healthy(31, 150), healthy(31, 150))
	if r.Score != 0 {
		t.Errorf("nothing decided yet: score %v, want 0", r.Score)
	}
}

func TestThresholdsValidate(t *testing.T) {
	tests := []struct {
		name string
		th   canary.Thresholds
		want string // substring of the message; "" = valid
	}{
		{"zero value means defaults", canary.Thresholds{}, ""},
		{"a full valid configuration", canary.Thresholds{MinSamples: 200, Alpha: 0.01, MaxLooks: 20, MinSuccess: ptr(0.97),
			MaxEscalation: ptr(0.1), MaxToolFailure: ptr(0.02), MaxCycleTimeP95MS: ptr(60_000), SuccessTolerance: ptr(0),
			CycleTimeTolerance: ptr(0.5), Critical: []string{"task_success"}}, ""},
		{"negative minimum samples", canary.Thresholds{MinSamples: -1}, "judge.min_samples"},
		{"alpha above one half", canary.Thresholds{Alpha: 0.6}, "judge.alpha"},
		{"alpha NaN", canary.Thresholds{Alpha: math.NaN()}, "judge.alpha"},
		{"too many looks", canary.Thresholds{MaxLooks: 101}, "judge.max_looks"},
		{"success floor as a percentage", canary.Thresholds{MinSuccess: ptr(97)}, "judge.min_success must be a proportion"},
		{"negative escalation limit", canary.Thresholds{MaxEscalation: ptr(-0.1)}, "judge.max_escalation"},
		{"zero p95 limit", canary.Thresholds{MaxCycleTimeP95MS: ptr(0)}, "judge.max_cycle_time_p95_ms"},
		{"tolerance of a whole proportion", canary.Thresholds{ToolFailureTolerance: ptr(1)}, "judge.tool_failure_tolerance"},
		{"negative cycle time tolerance", canary.Thresholds{CycleTimeTolerance: ptr(-0.1)}, "judge.cycle_time_tolerance"},
		{"unknown critical metric", canary.Thresholds{Critical: []string{"latency"}}, `judge.critical: unknown metric "latency"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.th.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want an invalid error naming %q", err, tt.want)
			}
		})
	}
}

func TestThresholdsWithDefaults(t *testing.T) {
	d := canary.Thresholds{SuccessTolerance: ptr(0.02)}.WithDefaults()
	if d.MinSamples != 100 || d.Alpha != 0.05 || d.MaxLooks != 10 || *d.SuccessTolerance != 0.02 ||
		*d.EscalationTolerance != 0.01 || *d.ToolFailureTolerance != 0.005 || *d.CycleTimeTolerance != 0.25 ||
		len(d.Critical) != 4 || d.MinSuccess != nil {
		t.Fatalf("WithDefaults = %+v", d)
	}
	d.Critical[0] = "changed"
	if again := (canary.Thresholds{}).WithDefaults(); again.Critical[0] != canary.MetricTaskSuccess {
		t.Fatal("WithDefaults must return a fresh Critical list")
	}
}

// TestJSONShape pins the field names the API and the release engineer rely on.
func TestJSONShape(t *testing.T) {
	var th canary.Thresholds
	body := `{"min_samples":50,"alpha":0.01,"max_looks":5,"min_success":0.97,"max_escalation":0.1,"max_tool_failure":0.02,
		"max_cycle_time_p95_ms":60000,"success_tolerance":0.02,"escalation_tolerance":0.03,"tool_failure_tolerance":0.001,
		"cycle_time_tolerance":0.5,"critical":["task_success"]}`
	if err := json.Unmarshal([]byte(body), &th); err != nil {
		t.Fatal(err)
	}
	if th.MinSamples != 50 || th.Alpha != 0.01 || th.MaxLooks != 5 || *th.MinSuccess != 0.97 || *th.MaxEscalation != 0.1 ||
		*th.MaxToolFailure != 0.02 || *th.MaxCycleTimeP95MS != 60000 || *th.SuccessTolerance != 0.02 ||
		*th.EscalationTolerance != 0.03 || *th.ToolFailureTolerance != 0.001 || *th.CycleTimeTolerance != 0.5 ||
		len(th.Critical) != 1 {
		t.Fatalf("decoded %+v", th)
	}
	out, err := json.Marshal(canary.Judge(th, 1, healthy(40, 10), healthy(40, 10)))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"verdict":`, `"score":`, `"look":1`, `"metrics":[`, `"metric":"task_success"`, `"baseline":`,
		`"candidate":`, `"baseline_n":10`, `"candidate_n":10`, `"test":`, `"p_value":`, `"threshold":`, `"reason":`} {
		if !strings.Contains(string(out), key) {
			t.Errorf("report JSON lacks %s: %s", key, out)
		}
	}
}

// FuzzJudge feeds arbitrary counts and thresholds: the judge must not panic and
// must return well-formed verdicts with p-values and levels in [0, 1].
func FuzzJudge(f *testing.F) {
	f.Add(int64(150), int64(140), int64(5), int64(300), int64(3), int64(150), int64(120), int64(9), int64(300), int64(30), 3, 0.05, 0.01, 10)
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(-1), int64(5), int64(0), int64(0), int64(0), 0, -1.0, 2.0, 0)
	f.Add(int64(100), int64(200), int64(0), int64(1), int64(2), int64(100), int64(100), int64(100), int64(0), int64(0), 12, 0.5, 0.0, 1)
	f.Fuzz(func(t *testing.T, bt, bs, be, bc, bf, ct, cs, ce, cc, cf int64, look int, alpha, tol float64, looks int) {
		clamp := func(v int64) int64 { return v % 5000 } // keep the exact sums quick
		base := canary.Sample{Tasks: clamp(bt), Successes: clamp(bs), Escalations: clamp(be), ToolCalls: clamp(bc), ToolFailures: clamp(bf),
			CycleTimesMS: cycles(uint64(bt), int(max(0, clamp(bt)%300)), 1000)}
		cand := canary.Sample{Tasks: clamp(ct), Successes: clamp(cs), Escalations: clamp(ce), ToolCalls: clamp(cc), ToolFailures: clamp(cf),
			CycleTimesMS: cycles(uint64(ct), int(max(0, clamp(ct)%300)), 1100)}
		th := canary.Thresholds{MinSamples: 10, Alpha: alpha, SuccessTolerance: &tol, MaxLooks: looks % 30}
		r := canary.Judge(th, look, base, cand)
		okVerdict := func(v string) bool {
			return v == canary.VerdictPass || v == canary.VerdictFail || v == canary.VerdictInconclusive
		}
		if !okVerdict(r.Verdict) || len(r.Metrics) != 4 || r.Score < 0 || r.Score > 100 {
			t.Fatalf("bad report %+v", r)
		}
		for _, m := range r.Metrics {
			if !okVerdict(m.Verdict) || m.Reason == "" || !(m.PValue >= 0 && m.PValue <= 1) || !(m.Threshold >= 0 && m.Threshold <= 1) {
				t.Fatalf("bad metric %+v", m)
			}
		}
	})
}

package canary_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/day2ops/day2/canary"
)

// arm is the true behaviour of one arm in a simulation.
type arm struct {
	success, escalation, toolFailure float64
	toolCallsPerTask                 int
	cycleMedianMS, cycleSigma        float64 // lognormal cycle times; 0 = none
}

// grow adds n simulated tasks of a to s.
func (a arm) grow(rng *rand.Rand, s *canary.Sample, n int) {
	for range n {
		s.Tasks++
		if rng.Float64() < a.success {
			s.Successes++
		}
		if rng.Float64() < a.escalation {
			s.Escalations++
		}
		for range a.toolCallsPerTask {
			s.ToolCalls++
			if rng.Float64() < a.toolFailure {
				s.ToolFailures++
			}
		}
		if a.cycleMedianMS > 0 {
			s.CycleTimesMS = append(s.CycleTimesMS, a.cycleMedianMS*math.Exp(a.cycleSigma*rng.NormFloat64()))
		}
	}
}

// outcome of simulated steps: the share that failed, that passed, and the mean
// look of the fails.
type outcome struct {
	failRate, passRate, meanFailLook float64
	steps                            int
}

// simulate runs steps rollout steps of th.MaxLooks looks each, with finalN tasks
// per arm by the final look in equal increments. A step ends at its first fail
// (the rollout would roll back) or pass (it would move on).
func simulate(seed uint64, steps int, th canary.Thresholds, finalN int, baseline, candidate arm) outcome {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	looks := th.WithDefaults().MaxLooks
	var fails, passes, failLooks int
	for range steps {
		var b, c canary.Sample
		done := 0
		for k := 1; k <= looks; k++ {
			target := k * finalN / looks
			baseline.grow(rng, &b, target-done)
			candidate.grow(rng, &c, target-done)
			done = target
			r := canary.Judge(th, k, b, c)
			if r.Verdict == canary.VerdictFail {
				fails++
				failLooks += k
				break
			}
			if r.Verdict == canary.VerdictPass {
				passes++
				break
			}
		}
	}
	o := outcome{failRate: float64(fails) / float64(steps), passRate: float64(passes) / float64(steps), steps: steps}
	if fails > 0 {
		o.meanFailLook = float64(failLooks) / float64(fails)
	}
	return o
}

// standardError is the Monte Carlo standard error of a rate p over n steps.
func standardError(p float64, n int) float64 { return math.Sqrt(p * (1 - p) / float64(n)) }

var agentArm = arm{success: 0.95, escalation: 0.05, toolFailure: 0.01, toolCallsPerTask: 3}

// TestFalseAlarmsStayBelowAlpha runs whole steps of ten looks with identical
// arms, and with a candidate exactly at the tolerance, where the false-alarm
// rate should come out at about Alpha and no higher.
func TestFalseAlarmsStayBelowAlpha(t *testing.T) {
	steps := 2000
	if testing.Short() {
		steps = 400
	}
	th := canary.Thresholds{} // defaults: alpha 0.05, 10 looks, 100 tasks minimum

	same := simulate(1, steps, th, 1500, agentArm, agentArm)
	t.Logf("identical arms (95%% success, 5%% escalations, 1%% of 3 tool calls failing), 1,500 tasks per arm by look 10: "+
		"false alarms in %.2f%% of %d steps (alpha %.0f%%), passes %.1f%%", 100*same.failRate, steps, 100*canary.DefaultAlpha, 100*same.passRate)
	if same.failRate >= canary.DefaultAlpha {
		t.Errorf("identical arms: false-alarm rate %.4f, want below alpha %.2f", same.failRate, canary.DefaultAlpha)
	}
	if same.passRate < 0.95 {
		t.Errorf("identical arms: only %.3f of steps passed by the final look", same.passRate)
	}

	// At the tolerance boundary the test is held to alpha exactly: the success
	// rate is 1 point (the tolerance) worse and nothing else differs, so every
	// fail is a false alarm of the success test alone.
	boundary := agentArm
	boundary.success = 0.94
	edge := simulate(2, steps, th, 1500, agentArm, boundary)
	se := standardError(canary.DefaultAlpha, steps)
	t.Logf("candidate exactly at the 1-point tolerance: fails in %.2f%% of %d steps (alpha %.0f%% ± %.2f%% Monte Carlo error)",
		100*edge.failRate, steps, 100*canary.DefaultAlpha, 100*se)
	if edge.failRate > canary.DefaultAlpha+3*se {
		t.Errorf("at the tolerance boundary: false-alarm rate %.4f, want at most alpha %.2f (+3 SE %.4f)", edge.failRate, canary.DefaultAlpha, 3*se)
	}
}

// TestThreePointDropIsCaught measures the power to catch a drop in task success
// from 95% to 92% with the default 1-point tolerance.
func TestThreePointDropIsCaught(t *testing.T) {
	steps := 2000
	if testing.Short() {
		steps = 400
	}
	worse := agentArm
	worse.success = 0.92
	for _, tc := range []struct {
		finalN   int
		minPower float64
	}{
		// With the 1-point tolerance the test must see more than 1 point of drop:
		// at 1,500 tasks per arm even a single test at 5% has only about 72%
		// power, so the sequential judge's ~66% is close to what is possible.
		{1500, 0.55},
		{2500, 0.80},
	} {
		o := simulate(3, steps, canary.Thresholds{}, tc.finalN, agentArm, worse)
		t.Logf("95%% -> 92%% success, %d tasks per arm by look 10: caught in %.1f%% of %d steps (mean look of the fail %.1f), passed %.1f%%",
			tc.finalN, 100*o.failRate, steps, o.meanFailLook, 100*o.passRate)
		if o.failRate < tc.minPower {
			t.Errorf("%d tasks per arm: power %.3f, want at least %.2f", tc.finalN, o.failRate, tc.minPower)
		}
	}

	// A broken candidate is caught at the first look with enough tasks.
	broken := agentArm
	broken.success, broken.toolFailure = 0.60, 0.20
	o := simulate(4, steps/10, canary.Thresholds{}, 1500, agentArm, broken)
	if o.failRate != 1 || o.meanFailLook != 1 {
		t.Errorf("a broken candidate: fail rate %.3f at mean look %.1f, want every step failed at look 1", o.failRate, o.meanFailLook)
	}
}

// TestCycleTimeSimulation checks the cycle-time comparison alone: identical
// lognormal cycle times do not fail, a 40% slowdown (tolerance 25%) does.
func TestCycleTimeSimulation(t *testing.T) {
	steps := 300
	if testing.Short() {
		steps = 60
	}
	fast := arm{success: 1, cycleMedianMS: 30_000, cycleSigma: 0.5}
	slow := fast
	slow.cycleMedianMS *= 1.4
	same := simulate(5, steps, canary.Thresholds{}, 600, fast, fast)
	caught := simulate(6, steps, canary.Thresholds{}, 600, fast, slow)
	t.Logf("cycle times, 600 tasks per arm by look 10: identical arms fail in %.1f%% of %d steps; 40%% slower fails in %.1f%% (mean look %.1f)",
		100*same.failRate, steps, 100*caught.failRate, caught.meanFailLook)
	if same.failRate >= canary.DefaultAlpha {
		t.Errorf("identical cycle times: false-alarm rate %.3f, want below %.2f", same.failRate, canary.DefaultAlpha)
	}
	if caught.failRate < 0.9 {
		t.Errorf("40%% slower: caught in %.3f of steps, want at least 0.9", caught.failRate)
	}
}

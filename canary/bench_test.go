package canary_test

import (
	"math/rand/v2"
	"testing"

	"github.com/day2ops/day2/canary"
)

// BenchmarkJudge times one look with realistic arms: 1,500 tasks each with
// cycle times, 4,500 tool calls, default thresholds.
func BenchmarkJudge(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var base, cand canary.Sample
	agentArm.grow(rng, &base, 1500)
	agentArm.grow(rng, &cand, 1500)
	for i := range 1500 {
		base.CycleTimesMS = append(base.CycleTimesMS, 20000+rng.ExpFloat64()*10000+float64(i%7))
		cand.CycleTimesMS = append(cand.CycleTimesMS, 20000+rng.ExpFloat64()*10500)
	}
	canary.Judge(canary.Thresholds{}, 5, base, cand) // fill the boundary cache
	b.ReportAllocs()
	for b.Loop() {
		canary.Judge(canary.Thresholds{}, 5, base, cand)
	}
}

// BenchmarkJudgeRareToolFailures times a look where tool failures are rare
// enough for the exact small-sample test.
func BenchmarkJudgeRareToolFailures(b *testing.B) {
	base := canary.Sample{Tasks: 150, Successes: 142, Escalations: 7, ToolCalls: 450, ToolFailures: 4}
	cand := canary.Sample{Tasks: 150, Successes: 141, Escalations: 8, ToolCalls: 450, ToolFailures: 6}
	canary.Judge(canary.Thresholds{}, 1, base, cand)
	b.ReportAllocs()
	for b.Loop() {
		canary.Judge(canary.Thresholds{}, 1, base, cand)
	}
}

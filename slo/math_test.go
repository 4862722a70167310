package slo_test

import (
	"math"
	"testing"
	"time"

	"github.com/day2ops/day2/slo"
)

const day = 24 * time.Hour

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestThresholdFollowsBudgetShareAndPeriod(t *testing.T) {
	tests := []struct {
		name        string
		share       float64
		period, win time.Duration
		want        float64
	}{
		{"30 days, 2% in 1h pages at 14.4", 0.02, 30 * day, time.Hour, 14.4},
		{"30 days, 5% in 6h pages at 6", 0.05, 30 * day, 6 * time.Hour, 6},
		{"30 days, 10% in 3d tickets at 1", 0.10, 30 * day, 3 * day, 1},
		{"30 days, 10% in 1d tickets at 3", 0.10, 30 * day, day, 3},
		{"28 days, 2% in 1h pages at 13.44", 0.02, 28 * day, time.Hour, 13.44},
		{"28 days, 5% in 6h pages at 5.6", 0.05, 28 * day, 6 * time.Hour, 5.6},
		{"28 days, 10% in 3d tickets at 0.9333", 0.10, 28 * day, 3 * day, 0.9333333333333333},
		{"28 days, 10% in 1d tickets at 2.8", 0.10, 28 * day, day, 2.8},
		{"7 days, 2% in 1h pages at 3.36", 0.02, 7 * day, time.Hour, 3.36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slo.Threshold(tt.share, tt.period, tt.win); !near(got, tt.want) {
				t.Fatalf("Threshold = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBudgetAndBurnRate(t *testing.T) {
	tests := []struct {
		name      string
		objective float64
		counts    slo.Counts
		budget    slo.Budget
		burn      float64
		ok        bool
	}{
		{
			name:      "97% target, 10,000 tasks, 150 failures: half the budget left, burning at 0.5",
			objective: 0.97, counts: slo.Counts{Good: 9850, Total: 10000},
			budget: slo.Budget{Total: 300, Consumed: 150, Remaining: 150, RemainingFraction: 0.5},
			burn:   0.5, ok: true,
		},
		{
			name:      "99.9% target, 1,000,000 events, 3,000 bad: overspent threefold shows -2",
			objective: 0.999, counts: slo.Counts{Good: 997000, Total: 1000000},
			budget: slo.Budget{Total: 1000, Consumed: 3000, Remaining: -2000, RemainingFraction: -2},
			burn:   3, ok: true,
		},
		{
			name:      "99.9% target with 10% errors burns at 100",
			objective: 0.999, counts: slo.Counts{Good: 900, Total: 1000},
			budget: slo.Budget{Total: 1, Consumed: 100, Remaining: -99, RemainingFraction: -99},
			burn:   100, ok: true,
		},
		{
			name:      "no events: no SLI, budget untouched, not ok",
			objective: 0.97, counts: slo.Counts{},
			budget: slo.Budget{RemainingFraction: 1},
			burn:   0, ok: false,
		},
		{
			name:      "all good: whole budget, zero burn",
			objective: 0.95, counts: slo.Counts{Good: 20, Total: 20},
			budget: slo.Budget{Total: 1, Consumed: 0, Remaining: 1, RemainingFraction: 1},
			burn:   0, ok: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ok := slo.ComputeBudget(tt.objective, tt.counts)
			if ok != tt.ok || !near(b.Total, tt.budget.Total) || !near(b.Consumed, tt.budget.Consumed) ||
				!near(b.Remaining, tt.budget.Remaining) || !near(b.RemainingFraction, tt.budget.RemainingFraction) {
				t.Errorf("ComputeBudget = %+v ok=%v, want %+v ok=%v", b, ok, tt.budget, tt.ok)
			}
			r, ok := slo.BurnRate(tt.objective, tt.counts)
			if ok != tt.ok || !near(r, tt.burn) {
				t.Errorf("BurnRate = %v ok=%v, want %v ok=%v", r, ok, tt.burn, tt.ok)
			}
		})
	}
}

func TestDetectionTimeMatchesTheWorkbook(t *testing.T) {
	tests := []struct {
		name      string
		window    time.Duration
		threshold float64
		objective float64
		errRatio  float64
		want      time.Duration
		fires     bool
	}{
		{"99.9%, 10% errors, 1h at 14.4 fires after 8.64 minutes", time.Hour, 14.4, 0.999, 0.1, 8*time.Minute + 38400*time.Millisecond, true},
		{"99.9%, 100% errors, 1h at 14.4 fires after 52 seconds", time.Hour, 14.4, 0.999, 1, 51840 * time.Millisecond, true},
		{"99.9%, 10% errors, 6h at 6 fires after 21.6 minutes", 6 * time.Hour, 6, 0.999, 0.1, 21*time.Minute + 36*time.Second, true},
		{"99.9%, 1% errors never reach 14.4 on 1h", time.Hour, 14.4, 0.999, 0.01, 0, false},
		{"no errors never fire", time.Hour, 14.4, 0.999, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fires := slo.DetectionTime(tt.window, tt.threshold, tt.objective, tt.errRatio)
			if fires != tt.fires || (got-tt.want).Abs() > time.Millisecond {
				t.Fatalf("DetectionTime = %v fires=%v, want %v fires=%v", got, fires, tt.want, tt.fires)
			}
		})
	}
}

func TestTimeToExhaustion(t *testing.T) {
	tests := []struct {
		name      string
		remaining float64
		rate      float64
		want      time.Duration
		ok        bool
	}{
		{"full budget at burn 1 lasts the period", 1, 1, 28 * day, true},
		{"half the budget at burn 14 lasts one day", 0.5, 14, day, true},
		{"spent budget is already exhausted", -0.2, 3, 0, true},
		{"zero burn never exhausts", 0.7, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := slo.TimeToExhaustion(tt.remaining, tt.rate, 28*day)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("TimeToExhaustion = %v %v, want %v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

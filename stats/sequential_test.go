package stats_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/day2ops/day2/stats"
)

func TestSpendingFunctions(t *testing.T) {
	// By hand with z_{0.975} = 1.959964: at t = 0.5, 2 - 2Φ(1.959964/√0.5) =
	// 2 - 2Φ(2.771808) = 0.0055746; Pocock: 0.05 ln(1 + (e-1)/2) = 0.05 ln(1.859141)
	// = 0.0310057. (mpmath agrees to all digits shown.)
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"O'Brien-Fleming spends all alpha at t = 1", stats.OBrienFlemingSpend(0.05, 1), 0.05},
		{"O'Brien-Fleming spends nothing at t = 0", stats.OBrienFlemingSpend(0.05, 0), 0},
		{"O'Brien-Fleming at half the information", stats.OBrienFlemingSpend(0.05, 0.5), 0.005574596680784411},
		{"Pocock spends all alpha at t = 1", stats.PocockSpend(0.05, 1), 0.05},
		{"Pocock at half the information", stats.PocockSpend(0.05, 0.5), 0.031005725347913876},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want, 1e-12) {
			t.Errorf("%s: got %.17g, want %.17g", tt.name, tt.got, tt.want)
		}
	}
	if !math.IsNaN(stats.OBrienFlemingSpend(0, 0.5)) || !math.IsNaN(stats.PocockSpend(1, 0.5)) {
		t.Error("alpha outside (0, 1) must give NaN")
	}
}

func TestSequentialBoundariesMatchPublishedTables(t *testing.T) {
	// Five equally spaced looks, one-sided alpha = 0.025 (the classic two-sided
	// 0.05 design): Lan-DeMets O'Brien-Fleming-type boundaries 4.877, 3.357,
	// 2.680, 2.290, 2.031 and Pocock-type 2.438, 2.427, 2.410, 2.397, 2.386
	// (Jennison and Turnbull, Group Sequential Methods, 2000, ch. 7; the same
	// values come out of R's gsDesign with sfLDOF and sfLDPocock).
	tests := []struct {
		name  string
		spend stats.SpendingFunction
		want  []float64
	}{
		{"O'Brien-Fleming type", stats.OBrienFlemingSpend, []float64{4.877, 3.357, 2.680, 2.290, 2.031}},
		{"Pocock type", stats.PocockSpend, []float64{2.438, 2.427, 2.410, 2.397, 2.386}},
	}
	for _, tt := range tests {
		got := stats.SequentialBoundaries(0.025, 5, tt.spend)
		for i := range tt.want {
			if math.Abs(got[i]-tt.want[i]) > 0.0006 {
				t.Errorf("%s: boundaries %.4f, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
	if b := stats.SequentialBoundaries(0.05, 1, stats.OBrienFlemingSpend); len(b) != 1 || !near(b[0], 1.6448536269514727, 1e-9) {
		t.Errorf("a single look must be the fixed-sample test z_0.95 = 1.6449, got %v", b)
	}
	if stats.SequentialBoundaries(0, 5, stats.PocockSpend) != nil || stats.SequentialBoundaries(0.05, 0, stats.PocockSpend) != nil ||
		stats.SequentialBoundaries(0.05, 201, stats.PocockSpend) != nil {
		t.Error("invalid alpha or looks must give nil")
	}
}

// TestSequentialBoundariesSpendAsPlanned simulates the statistic as a random
// walk and checks that the share of paths that crossed by look k is the
// spending function at k/looks, within four Monte Carlo standard errors.
func TestSequentialBoundariesSpendAsPlanned(t *testing.T) {
	const alpha, looks = 0.05, 10
	paths := 200_000
	if testing.Short() {
		paths = 40_000
	}
	for _, spend := range []stats.SpendingFunction{stats.OBrienFlemingSpend, stats.PocockSpend} {
		bounds := stats.SequentialBoundaries(alpha, looks, spend)
		rng := rand.New(rand.NewPCG(7, 11))
		crossedBy := make([]int, looks)
		for range paths {
			var s float64
			for k := 1; k <= looks; k++ {
				s += rng.NormFloat64()
				if s/math.Sqrt(float64(k)) >= bounds[k-1] {
					for j := k - 1; j < looks; j++ {
						crossedBy[j]++
					}
					break
				}
			}
		}
		for k := 1; k <= looks; k++ {
			want := spend(alpha, float64(k)/looks)
			got := float64(crossedBy[k-1]) / float64(paths)
			se := math.Sqrt(want * (1 - want) / float64(paths))
			if math.Abs(got-want) > 4*se+1e-5 {
				t.Errorf("look %d: %.5f of the paths crossed, spending function says %.5f (±%.5f)", k, got, want, se)
			}
		}
	}
}

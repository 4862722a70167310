package stats_test

import (
	"math"
	"testing"

	"github.com/day2ops/day2/stats"
)

func TestTwoProportionZ(t *testing.T) {
	// By hand: 45/100 vs 60/100. Pooled p = 105/200 = 0.525,
	// SE = sqrt(0.525 * 0.475 * (1/100 + 1/100)) = 0.0706222345,
	// z = 0.15 / 0.0706222345 = 2.1239769762, 1 - Φ(z) = 0.0168360344.
	z, less, greater, two := stats.TwoProportionZ(45, 100, 60, 100)
	if !near(z, 2.123976976214366, 1e-12) || !near(greater, 0.016836034428172917, 1e-12) ||
		!near(less, 0.98316396557182708, 1e-12) || !near(two, 2*0.016836034428172917, 1e-12) {
		t.Fatalf("TwoProportionZ(45/100, 60/100) = %v %v %v %v", z, less, greater, two)
	}
	edge := []struct {
		name           string
		x1, n1, x2, n2 int64
	}{
		{"an arm without trials", 0, 0, 5, 10},
		{"every trial a success", 100, 100, 50, 50},
		{"every trial a failure", 0, 100, 0, 50},
	}
	for _, e := range edge {
		z, less, greater, two := stats.TwoProportionZ(e.x1, e.n1, e.x2, e.n2)
		if z != 0 || less != 1 || greater != 1 || two != 1 {
			t.Errorf("%s: got %v %v %v %v, want 0 1 1 1", e.name, z, less, greater, two)
		}
	}
	if z, _, _, _ := stats.TwoProportionZ(11, 10, 1, 10); !math.IsNaN(z) {
		t.Error("more successes than trials must give NaN")
	}
}

func TestRiskDifferenceZ(t *testing.T) {
	// With delta = 0 the Farrington-Manning test is the pooled z test.
	for _, c := range [][4]int64{{45, 100, 60, 100}, {950, 1000, 920, 1000}, {0, 30, 4, 50}, {7, 7, 3, 9}} {
		z0, _, _, _ := stats.TwoProportionZ(c[0], c[1], c[2], c[3])
		z, _, _ := stats.RiskDifferenceZ(c[0], c[1], c[2], c[3], 0)
		if !near(z, z0, 1e-9) {
			t.Errorf("RiskDifferenceZ%v at delta 0 = %v, pooled z %v", c, z, z0)
		}
	}
	// Against the closed-form cubic of Farrington and Manning (1990) as printed
	// in the SAS PROC FREQ documentation: for 10/100 vs 20/100 and delta 0.05,
	// a=2, b=-2.45, c=0.4225, d=-0.0105 give restricted proportions 0.12145 and
	// 0.17145, so z = 0.05 / sqrt(0.12145*0.87855/100 + 0.17145*0.82855/100).
	tests := []struct {
		name           string
		x1, n1, x2, n2 int64
		delta, z       float64
	}{
		{"10/100 vs 20/100, margin 5 points", 10, 100, 20, 100, 0.05, 1.0025091492091394},
		{"95% vs 92% success, margin -1 point", 950, 1000, 920, 1000, -0.01, -1.8239351790010832},
		{"0/50 vs 4/50, margin 2 points", 0, 50, 4, 50, 0.02, 1.750003915328805},
		// Every trial of the second arm a success: the restricted maximum sits
		// inside, not at the boundary p2 = 1 (a rounding trap: 1 - 0.9 - 0.1 < 0).
		{"0/30 vs 29/30, margin 10 points", 0, 30, 29, 30, 0.1, 6.752565606867191},
		{"0/30 vs 30/30, margin 10 points", 0, 30, 30, 30, 0.1, 7.006490497453706},
	}
	for _, tt := range tests {
		z, less, greater := stats.RiskDifferenceZ(tt.x1, tt.n1, tt.x2, tt.n2, tt.delta)
		if !near(z, tt.z, 1e-6) || !near(greater, stats.NormalSF(tt.z), 1e-6) || !near(less+greater, 1, 1e-12) {
			t.Errorf("%s: z = %.12f (p %v, %v), want %.12f", tt.name, z, less, greater, tt.z)
		}
	}
	if z, _, _ := stats.RiskDifferenceZ(1, 10, 1, 10, 1); !math.IsNaN(z) {
		t.Error("delta = 1 must give NaN")
	}
}

func TestRiskDifferenceExact(t *testing.T) {
	// Expected values: a brute-force sum over every table (i, j) in
	// [0,n1]x[0,n2] of the binomial probabilities under the restricted
	// proportions, for the tables whose Farrington-Manning z is at least (at
	// most) the observed one, written in Python independently of this code
	// (with the closed-form cubic for the restricted proportions).
	tests := []struct {
		name           string
		x1, n1, x2, n2 int64
		delta          float64
		less, greater  float64
	}{
		{"1 vs 6 failures in 200 calls, tolerance 0.5 points", 1, 200, 6, 200, 0.005, 0.942571340259156, 0.07336598798261255},
		{"0/50 vs 3/60 without tolerance", 0, 50, 3, 60, 0, 0.9775111885655183, 0.0585062326008129},
		{"5/30 vs 12/30, tolerance 10 points", 5, 30, 12, 30, 0.1, 0.8824902829124751, 0.1317780972370448},
		{"negative margin", 10, 40, 2, 40, -0.05, 0.02912485252973711, 0.9765148651618274},
		{"no baseline failures", 0, 120, 4, 100, 0.01, 0.9853500536125356, 0.042118036729903253},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			less, greater := stats.RiskDifferenceExact(tt.x1, tt.n1, tt.x2, tt.n2, tt.delta)
			if !near(less, tt.less, 1e-9) || !near(greater, tt.greater, 1e-9) {
				t.Fatalf("RiskDifferenceExact = %.15g %.15g, want %.15g %.15g", less, greater, tt.less, tt.greater)
			}
		})
	}
	if l, g := stats.RiskDifferenceExact(0, 0, 3, 10, 0.01); l != 1 || g != 1 {
		t.Errorf("an arm without trials: got %v %v, want 1 1", l, g)
	}
}

// TestRiskDifferenceScoreRisesWithSecondArm checks the property the exact test
// relies on: for a fixed first arm, the z statistic never falls as the second
// arm's count rises.
func TestRiskDifferenceScoreRisesWithSecondArm(t *testing.T) {
	for _, n := range [][2]int64{{20, 30}, {30, 30}, {120, 90}, {17, 600}} {
		for _, delta := range []float64{-0.2, -0.01, 0, 0.005, 0.05, 0.3} {
			for i := int64(0); i <= n[0]; i++ {
				prev := math.Inf(-1)
				for j := int64(0); j <= n[1]; j++ {
					z, _, _ := stats.RiskDifferenceZ(i, n[0], j, n[1], delta)
					if z < prev-1e-9 {
						t.Fatalf("n=%v delta=%v i=%d: z falls from %v to %v at j=%d", n, delta, i, prev, z, j)
					}
					prev = z
				}
			}
		}
	}
}

func TestRiskDifferenceTestChoosesByExpectedCounts(t *testing.T) {
	// 950/1000 vs 920/1000: every expected cell is far above 5, so the z test.
	l, g, exact := stats.RiskDifferenceTest(950, 1000, 920, 1000, -0.01)
	_, zl, zg := stats.RiskDifferenceZ(950, 1000, 920, 1000, -0.01)
	if exact || l != zl || g != zg {
		t.Errorf("large counts: got %v %v exact=%v, want the z test's %v %v", l, g, exact, zl, zg)
	}
	// 1 vs 6 failures in 200 calls: about 3 failures expected per arm, so exact.
	l, g, exact = stats.RiskDifferenceTest(1, 200, 6, 200, 0.005)
	el, eg := stats.RiskDifferenceExact(1, 200, 6, 200, 0.005)
	if !exact || l != el || g != eg {
		t.Errorf("rare events: got %v %v exact=%v, want the exact test's %v %v", l, g, exact, el, eg)
	}
}

func TestRiskDifferenceInterval(t *testing.T) {
	// The ends are where the test's p-value equals (1-confidence)/2.
	for _, c := range [][4]int64{{950, 1000, 920, 1000}, {10, 100, 20, 100}, {0, 50, 4, 50}, {30, 30, 29, 30}} {
		lo, hi := stats.RiskDifferenceInterval(c[0], c[1], c[2], c[3], 0.9)
		_, _, gLo := stats.RiskDifferenceZ(c[0], c[1], c[2], c[3], lo)
		_, lHi, _ := stats.RiskDifferenceZ(c[0], c[1], c[2], c[3], hi)
		diff := float64(c[2])/float64(c[3]) - float64(c[0])/float64(c[1])
		if !(lo <= diff && diff <= hi) || !near(gLo, 0.05, 1e-6) || !near(lHi, 0.05, 1e-6) {
			t.Errorf("interval%v = [%v, %v] around %v: p at the ends %v and %v, want 0.05", c, lo, hi, diff, gLo, lHi)
		}
	}
	// Newcombe (Statistics in Medicine 17:873, 1998), Table II, example (a),
	// 56/70 - 48/80: Mee's score interval, which is the inversion of the
	// Farrington-Manning test, is 0.0533 to 0.3377 (Miettinen-Nurminen's, with an
	// extra factor N/(N-1) in the variance, 0.0528 to 0.3382). Both were also
	// recomputed independently in Python with the closed-form cubic.
	lo, hi := stats.RiskDifferenceInterval(48, 80, 56, 70, 0.95)
	if math.Abs(lo-0.0533) > 0.00005 || math.Abs(hi-0.3377) > 0.00005 {
		t.Errorf("56/70 vs 48/80: 95%% interval [%.4f, %.4f], want [0.0533, 0.3377]", lo, hi)
	}
}

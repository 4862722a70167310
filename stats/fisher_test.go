package stats_test

import (
	"math"
	"testing"

	"github.com/day2ops/day2/stats"
)

func TestFisherExact(t *testing.T) {
	tests := []struct {
		name                 string
		a, b, c, d           int64
		less, greater, twoSd float64
	}{
		// R, ?fisher.test: Fisher's tea-tasting experiment, TeaTasting =
		// [[3 1][1 3]]; alternative = "greater" gives p = 0.2429, two-sided 0.4857
		// (Agresti, Categorical Data Analysis, 2002, section 3.5.2).
		{"Fisher's tea tasting", 3, 1, 1, 3, 0.9857142857142857, 0.24285714285714285, 0.4857142857142857},
		// R, ?fisher.test: Fisher's (1962) convictions of like-sex twins of
		// criminals, [[2 15][10 3]]; alternative = "less" gives p = 0.0004652.
		{"Fisher's twin convictions", 2, 15, 10, 3, 0.00046518094336290503, 0.9999845190186861, 0.0005367241191434358},
		// Agresti, Categorical Data Analysis (2002), section 3.5: larynx cancer
		// controlled by surgery (21 of 23) or radiation (15 of 18); one-sided
		// P = 0.3808, two-sided 0.6384.
		{"Agresti's larynx cancer table", 21, 2, 15, 3, 0.8946514402226854, 0.38083368250248867, 0.6384257764232091},
		// The remaining expected values are exact rational sums of the
		// hypergeometric probabilities (Python's fractions), not this code.
		{"a zero cell", 0, 10, 5, 5, 0.016253869969040248, 1, 0.032507739938080496},
		{"a canary-sized table of 1,000 per arm", 100, 900, 130, 870, 0.020952274191867556, 0.985190313653277, 0.04190454838373511},
		{"an empty table", 0, 0, 0, 0, 1, 1, 1},
		{"a table with one row empty", 4, 6, 0, 0, 1, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			less, greater, two := stats.FisherExact(tt.a, tt.b, tt.c, tt.d)
			if !near(less, tt.less, 1e-12) || !near(greater, tt.greater, 1e-12) || !near(two, tt.twoSd, 1e-12) {
				t.Fatalf("FisherExact(%d %d %d %d) = %.17g %.17g %.17g, want %.17g %.17g %.17g",
					tt.a, tt.b, tt.c, tt.d, less, greater, two, tt.less, tt.greater, tt.twoSd)
			}
		})
	}
	if l, _, _ := stats.FisherExact(-1, 2, 3, 4); !math.IsNaN(l) {
		t.Error("a negative count must give NaN")
	}
}

// TestFisherExactMatchesDirectSum checks the tail walks against a plain sum of
// every table's probability on tables up to a few thousand.
func TestFisherExactMatchesDirectSum(t *testing.T) {
	lchoose := func(n, k int64) float64 {
		a, _ := math.Lgamma(float64(n + 1))
		b, _ := math.Lgamma(float64(k + 1))
		c, _ := math.Lgamma(float64(n - k + 1))
		return a - b - c
	}
	for _, tb := range [][4]int64{{12, 5, 7, 9}, {40, 960, 20, 980}, {0, 2000, 9, 1991}, {500, 500, 480, 520}, {1, 1, 1, 1}, {30, 3, 2, 40}} {
		a, b, c, d := tb[0], tb[1], tb[2], tb[3]
		r1, r2, c1 := a+b, c+d, a+c
		pa := math.Exp(lchoose(r1, a) + lchoose(r2, c1-a) - lchoose(r1+r2, c1))
		var less, greater, two float64
		for k := max(0, c1-r2); k <= min(r1, c1); k++ {
			p := math.Exp(lchoose(r1, k) + lchoose(r2, c1-k) - lchoose(r1+r2, c1))
			if k <= a {
				less += p
			}
			if k >= a {
				greater += p
			}
			if p <= pa*(1+1e-7) {
				two += p
			}
		}
		gl, gg, g2 := stats.FisherExact(a, b, c, d)
		if !near(gl, math.Min(1, less), 1e-9) || !near(gg, math.Min(1, greater), 1e-9) || !near(g2, math.Min(1, two), 1e-9) {
			t.Errorf("FisherExact%v = %g %g %g, direct sum %g %g %g", tb, gl, gg, g2, less, greater, two)
		}
	}
}

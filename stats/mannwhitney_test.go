package stats_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/day2ops/day2/stats"
)

func TestMannWhitneyU(t *testing.T) {
	// R, ?wilcox.test (Hollander & Wolfe 1973, p. 69): permeability constants of
	// the human chorioamnion at term (x) and at 12-26 weeks (y).
	// wilcox.test(x, y, alternative = "greater") gives W = 35, p-value = 0.1272
	// from the exact distribution. Our y is R's x: u counts pairs with y > x.
	term := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	early := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	u, _, less, greater, two, exact := stats.MannWhitneyU(early, term)
	if u != 35 || !exact || !near(greater, 382.0/3003, 1e-12) || !near(two, 2*382.0/3003, 1e-12) || !(less > 0.5) {
		t.Fatalf("R's example: u=%v exact=%v p=%v/%v/%v, want u=35, exact, pGreater=0.1272", u, exact, less, greater, two)
	}

	// Mann-Whitney critical-value tables (e.g. Siegel and Castellan,
	// Nonparametric Statistics, 1988, Table J): for n1 = n2 = 5 the one-sided 5%
	// critical value is U = 4, P(U <= 4) = 12/252 = 0.0476, and P(U <= 2) = 4/252.
	x := []float64{10, 11, 12, 13, 14}
	y := []float64{1, 2, 3, 4, 15} // one y above all x: U counts 5 pairs
	u, _, less, _, _, exact = stats.MannWhitneyU(x, y)
	if u != 5 || !exact || !near(less, 19.0/252, 1e-12) {
		// P(U <= 5) = (1+1+2+3+5+7)/252 = 19/252
		t.Errorf("n1=n2=5, U=5: got u=%v exact=%v pLess=%v, want 19/252", u, exact, less)
	}
	_, _, less, _, _, _ = stats.MannWhitneyU(x, []float64{1, 2, 3, 4, 12.5}) // U = 3
	if !near(less, 7.0/252, 1e-12) {
		t.Errorf("n1=n2=5, U=3: pLess=%v, want 7/252", less)
	}
	_, _, less, _, _, _ = stats.MannWhitneyU(x, []float64{1, 2, 3, 4, 13.5}) // U = 4
	if !near(less, 12.0/252, 1e-12) {
		t.Errorf("n1=n2=5, U=4: pLess=%v, want 12/252 = 0.0476", less)
	}

	// Ties: normal approximation as in R, worked by hand. Pooled midranks of
	// x={1,2,2,3,3,3,4} and y={3,4,4,5,5,6,7,8}: y's rank sum is
	// 5.5+9+9+11.5+11.5+13+14+15 = 88.5, so U = 88.5 - 36 = 52.5 against a mean
	// of 28. Tie groups of 2, 4, 3 and 2 give Σ(t³-t) = 96, so
	// σ² = 7*8/12 * (16 - 96/210) = 72.5333, σ = 8.5166504. With the continuity
	// correction pGreater = 1-Φ(24/σ) = 0.0024161204, pLess = Φ(25/σ) =
	// 0.9983345517, and z = 24.5/σ = 2.8767178.
	u, z, less, greater, two, exact := stats.MannWhitneyU([]float64{1, 2, 2, 3, 3, 3, 4}, []float64{3, 4, 4, 5, 5, 6, 7, 8})
	if u != 52.5 || exact || !near(z, 2.876717837172405, 1e-12) || !near(greater, 0.00241612043444807, 1e-12) ||
		!near(less, 0.998334551711376, 1e-12) || !near(two, 0.00483224086889615, 1e-12) {
		t.Errorf("ties: got u=%v z=%v p=%v/%v/%v exact=%v", u, z, less, greater, two, exact)
	}

	// Large samples use the normal approximation; a shift is found.
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float64, 300), make([]float64, 300)
	for i := range a {
		a[i], b[i] = rng.NormFloat64(), rng.NormFloat64()+0.5
	}
	if _, _, _, greater, _, exact := stats.MannWhitneyU(a, b); exact || greater > 1e-6 {
		t.Errorf("300 vs 300 shifted by half a standard deviation: pGreater=%v exact=%v", greater, exact)
	}

	if u, z, l, g, p, _ := stats.MannWhitneyU(nil, []float64{1}); u != 0 || z != 0 || l != 1 || g != 1 || p != 1 {
		t.Error("an empty sample must give p-values of 1")
	}
	if _, _, _, _, p, _ := stats.MannWhitneyU([]float64{2, 2, 2}, []float64{2, 2}); p != 1 {
		t.Error("all values tied must give p = 1")
	}
	if u, _, _, _, _, _ := stats.MannWhitneyU([]float64{math.NaN()}, []float64{1}); !math.IsNaN(u) {
		t.Error("NaN must give NaN")
	}
}

// TestMannWhitneyExactMatchesEnumeration compares the exact distribution with a
// count over all C(12, 5) = 792 ways to place the second sample's ranks.
func TestMannWhitneyExactMatchesEnumeration(t *testing.T) {
	const n1, n2 = 7, 5
	counts := make([]int, n1*n2+1)
	var walk func(start, left, placed int)
	// Choosing rank positions r for y among 0..11: y at position r is above the
	// r - (number of y before it) x values below it.
	walk = func(start, left, placed int) {
		if left == 0 {
			counts[placed]++
			return
		}
		for r := start; r <= n1+n2-left; r++ {
			yBefore := n2 - left
			walk(r+1, left-1, placed+(r-yBefore))
		}
	}
	walk(0, n2, 0)
	x := []float64{1, 2, 3, 4, 5, 6, 7}
	for target := range counts {
		// Build y with exactly `target` pairs above x.
		y := make([]float64, 0, n2)
		rest := target
		for i := range n2 {
			k := min(rest, n1)
			y = append(y, float64(k)+0.1*float64(i+1)) // above exactly k of x, no ties
			rest -= k
		}
		if rest > 0 {
			continue
		}
		u, _, less, _, _, exact := stats.MannWhitneyU(x, y)
		var want int
		for i := 0; i <= int(u); i++ {
			want += counts[i]
		}
		if int(u) != target || !exact || !near(less, float64(want)/792, 1e-12) {
			t.Fatalf("U=%d: got u=%v pLess=%v, want %v", target, u, less, float64(want)/792)
		}
	}
}

func TestHodgesLehmann(t *testing.T) {
	// By hand: differences of {2,4,7,9} - {1,2,3} are 1 0 -1 3 2 1 6 5 4 8 7 6;
	// sorted -1 0 1 1 2 3 4 5 6 6 7 8, median (3+4)/2 = 3.5.
	if got := stats.HodgesLehmann([]float64{1, 2, 3}, []float64{2, 4, 7, 9}); got != 3.5 {
		t.Fatalf("HodgesLehmann = %v, want 3.5", got)
	}
	naive := func(x, y []float64) float64 {
		var d []float64
		for _, a := range x {
			for _, b := range y {
				d = append(d, b-a)
			}
		}
		slices.Sort(d)
		n := len(d)
		if n%2 == 1 {
			return d[n/2]
		}
		return d[n/2-1]/2 + d[n/2]/2
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		x := make([]float64, 1+rng.IntN(60))
		y := make([]float64, 1+rng.IntN(60))
		for i := range x {
			x[i] = math.Round(rng.ExpFloat64()*1000) / 4 // many ties
		}
		for i := range y {
			y[i] = math.Round(rng.ExpFloat64()*1300) / 4
		}
		if got, want := stats.HodgesLehmann(x, y), naive(x, y); got != want {
			t.Fatalf("trial %d: HodgesLehmann = %v, all-pairs median %v", trial, got, want)
		}
	}
	if !math.IsNaN(stats.HodgesLehmann(nil, []float64{1})) || !math.IsNaN(stats.HodgesLehmann([]float64{math.Inf(1)}, []float64{1})) {
		t.Error("empty or non-finite samples must give NaN")
	}
}

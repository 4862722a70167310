package stats_test

import (
	"math"
	"testing"

	"github.com/day2ops/day2/stats"
)

// near reports whether got is within tol of want, absolutely for values below 1
// and relatively above.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

func TestNormal(t *testing.T) {
	// Reference values from mpmath (30 digits): ncdf and sqrt(2)*erfinv(2p-1).
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"Φ(1.96) = 0.97500210485177956", stats.NormalCDF(1.96), 0.97500210485177956},
		{"1-Φ(1.96) = 0.02499789514822044", stats.NormalSF(1.96), 0.02499789514822044},
		{"Φ⁻¹(0.975) = 1.9599639845400542", stats.NormalQuantile(0.975), 1.9599639845400542},
		{"Φ⁻¹(0.05) = -1.6448536269514727", stats.NormalQuantile(0.05), -1.6448536269514727},
		{"Φ⁻¹(0.8) = 0.84162123357291421", stats.NormalQuantile(0.8), 0.84162123357291421},
		{"Φ⁻¹(1e-20) = -9.2623400897981532 in the far tail", stats.NormalQuantile(1e-20), -9.2623400897981532},
		{"Φ⁻¹(0.5) = 0", stats.NormalQuantile(0.5), 0},
	}
	for _, tt := range tests {
		if !near(tt.got, tt.want, 1e-12) {
			t.Errorf("%s: got %.17g", tt.name, tt.got)
		}
	}
	for _, p := range []float64{1e-300, 1e-100, 1e-15, 1e-9, 0.001, 0.3, 0.7, 0.999, 1 - 1e-12} {
		x := stats.NormalQuantile(p)
		if back := stats.NormalCDF(x); math.Abs(back-p) > 1e-11*math.Min(p, 1-p) {
			t.Errorf("Φ(Φ⁻¹(%g)) = %.17g", p, back)
		}
	}
	if !math.IsInf(stats.NormalQuantile(0), -1) || !math.IsInf(stats.NormalQuantile(1), 1) ||
		!math.IsNaN(stats.NormalQuantile(-0.1)) || !math.IsNaN(stats.NormalQuantile(math.NaN())) {
		t.Error("NormalQuantile edge cases: want -Inf at 0, +Inf at 1, NaN outside")
	}
}

func TestRegIncBeta(t *testing.T) {
	tests := []struct {
		name    string
		a, b, x float64
		want    float64
	}{
		// I_x(a,b) = P(Binomial(a+b-1, x) >= a): 1 - 0.6^4 - 4(0.4)(0.6^3) by hand.
		{"integer parameters equal a binomial tail", 2, 3, 0.4, 0.5248},
		// I_x(1/2,1/2) = (2/π) asin(√x), the arcsine law.
		{"arcsine law", 0.5, 0.5, 0.1, 2 / math.Pi * math.Asin(math.Sqrt(0.1))},
		{"symmetric at one half", 5, 5, 0.5, 0.5},
		// The rest from mpmath.betainc(a, b, 0, x, regularized=True) at 40 digits,
		// or the exact binomial sum for integer parameters.
		{"moderate parameters", 10, 20, 0.3, 0.36400408107194422775},
		{"small a, skewed", 0.5, 30.5, 0.001, 0.19434353562210501883},
		{"large a in the upper region", 10000, 500, 0.95, 0.12677579432768923334},
		{"counts of 1e5 at a rate of 1%", 1050.5, 98950.5, 0.0105, 0.49798030156118511753},
		{"counts of 1e5 per side", 100000, 100000, 0.499, 0.18554674455755675465},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stats.RegIncBeta(tt.a, tt.b, tt.x); !near(got, tt.want, 1e-10) {
				t.Fatalf("I_%g(%g, %g) = %.17g, want %.17g", tt.x, tt.a, tt.b, got, tt.want)
			}
			// The reflection I_x(a,b) = 1 - I_{1-x}(b,a) holds as well.
			if got := 1 - stats.RegIncBeta(tt.b, tt.a, 1-tt.x); !near(got, tt.want, 1e-10) {
				t.Fatalf("1 - I_%g(%g, %g) = %.17g, want %.17g", 1-tt.x, tt.b, tt.a, got, tt.want)
			}
		})
	}
	if !math.IsNaN(stats.RegIncBeta(0, 1, 0.5)) || stats.RegIncBeta(2, 2, -1) != 0 || stats.RegIncBeta(2, 2, 2) != 1 {
		t.Error("RegIncBeta edge cases: want NaN for a=0, 0 below 0, 1 above 1")
	}
}

func TestBinomialTest(t *testing.T) {
	tests := []struct {
		name            string
		x, n            int64
		p0              float64
		less, greater   float64
		lessTol, grtTol float64
	}{
		// R: binom.test(682, 925, p = 3/4) (its example, Mendel's peas); the
		// one-sided tails by exact summation in mpmath.
		{"Mendel's peas, R's binom.test example", 682, 925, 0.75, 0.19600926705388335, 0.82408912235242258, 1e-12, 1e-12},
		{"3 tool failures in 100 calls against 1%", 3, 100, 0.01, 0.98162596355535034, 0.07937320225218034, 1e-12, 1e-12},
		{"90 successes in 100 against a 97% floor", 90, 100, 0.97, 0.0008740584737357044, 0.99978507514475487, 1e-12, 1e-12},
		// By hand: P(X = 0) = 0.9^10.
		{"no successes", 0, 10, 0.1, 0.3486784401, 1, 1e-14, 0},
		{"all successes against 0.9", 10, 10, 0.9, 1, 0.3486784401, 0, 1e-14},
		{"p0 = 0 with a success is impossible", 1, 10, 0, 1, 0, 0, 0},
		{"p0 = 1 with a failure is impossible", 9, 10, 1, 0, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			less, greater := stats.BinomialTest(tt.x, tt.n, tt.p0)
			if !near(less, tt.less, tt.lessTol) || !near(greater, tt.greater, tt.grtTol) {
				t.Fatalf("BinomialTest(%d, %d, %g) = %.17g, %.17g, want %.17g, %.17g", tt.x, tt.n, tt.p0, less, greater, tt.less, tt.greater)
			}
		})
	}
	if l, g := stats.BinomialTest(11, 10, 0.5); !math.IsNaN(l) || !math.IsNaN(g) {
		t.Error("more successes than trials must give NaN")
	}
}

// probGreaterClosedForm is the exact finite sum for P(p2 > p1) when the second
// posterior's first parameter a2 is an integer (Cook, "Exact calculation of beta
// inequalities", 2005; Miller, "Formulas for Bayesian A/B testing", 2015):
//
//	Σ_{i=0}^{a2-1} B(a1+i, b1+b2) / ((b2+i) B(1+i, b2) B(a1, b1))
func probGreaterClosedForm(a1, b1, a2, b2 float64) float64 {
	lb := func(a, b float64) float64 {
		x, _ := math.Lgamma(a)
		y, _ := math.Lgamma(b)
		z, _ := math.Lgamma(a + b)
		return x + y - z
	}
	var sum float64
	for i := 0.0; i < a2; i++ {
		sum += math.Exp(lb(a1+i, b1+b2) - math.Log(b2+i) - lb(1+i, b2) - lb(a1, b1))
	}
	return sum
}

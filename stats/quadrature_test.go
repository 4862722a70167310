package stats

import (
	"math"
	"testing"
)

// TestGaussKronrodRuleIsExact checks the quadrature coefficients typed in from
// QUADPACK: the 15-point Kronrod rule integrates polynomials up to degree 22
// exactly and the embedded 7-point Gauss rule up to degree 13.
func TestGaussKronrodRuleIsExact(t *testing.T) {
	for deg := 0; deg <= 22; deg++ {
		f := func(x float64) float64 { return math.Pow(x, float64(deg)) }
		want := 0.0
		if deg%2 == 0 {
			want = 2 / float64(deg+1)
		}
		k, g := gk15(f, -1, 1)
		if math.Abs(k-want) > 1e-14 {
			t.Errorf("Kronrod rule on x^%d: %v, want %v", deg, k, want)
		}
		if deg <= 13 && math.Abs(g-want) > 1e-14 {
			t.Errorf("Gauss rule on x^%d: %v, want %v", deg, g, want)
		}
	}
}

package stats

import "math"

// NormalCDF returns Φ(x), the probability that a standard normal value is at most x.
func NormalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// NormalSF returns 1 - Φ(x), the upper tail of the standard normal distribution.
// It is computed directly rather than as 1 - NormalCDF(x), so it stays accurate
// for the tiny p-values of large x.
func NormalSF(x float64) float64 { return 0.5 * math.Erfc(x/math.Sqrt2) }

// NormalQuantile returns Φ⁻¹(p), the x with NormalCDF(x) = p: -Inf for 0, +Inf for
// 1 and NaN outside [0, 1]. Its relative error is below 1e-12 over the whole
// range, including the far tails that sequential boundaries need (it is limited
// by math.Erfc there).
func NormalQuantile(p float64) float64 {
	switch {
	case math.IsNaN(p) || p < 0 || p > 1:
		return math.NaN()
	case p == 0:
		return math.Inf(-1)
	case p == 1:
		return math.Inf(1)
	case p == 0.5:
		return 0
	case p > 0.5:
		// 1-p is exact for p in [0.5, 1] (Sterbenz), so no precision is lost.
		return -lowerNormalQuantile(1 - p)
	}
	return lowerNormalQuantile(p)
}

// lowerNormalQuantile returns Φ⁻¹(q) for q in (0, 0.5].
func lowerNormalQuantile(q float64) float64 {
	var x float64
	if q > 1e-10 {
		x = -math.Sqrt2 * math.Erfinv(1-2*q)
	} else {
		// math.Erfinv(1-2q) loses q in the subtraction; start from the asymptotic
		// expansion of the tail instead and let the refinement below finish.
		l := -2 * math.Log(q)
		x = -math.Sqrt(l - math.Log(l) - math.Log(2*math.Pi))
	}
	// Halley steps on Φ(x) - q with an accurate lower tail converge cubically.
	for range 4 {
		pdf := math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
		if pdf == 0 || math.IsInf(x, 0) {
			break
		}
		u := (NormalCDF(x) - q) / pdf
		step := u / (1 + x*u/2)
		x -= step
		if math.Abs(step) <= 1e-16*math.Abs(x) {
			break
		}
	}
	return x
}

package stats

import (
	"math"
)

// lgamma returns log|Γ(x)|.
func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// lbeta returns log B(a, b).
func lbeta(a, b float64) float64 { return lgamma(a) + lgamma(b) - lgamma(a+b) }

// lchoose returns log C(n, k).
func lchoose(n, k int64) float64 {
	return lgamma(float64(n)+1) - lgamma(float64(k)+1) - lgamma(float64(n-k)+1)
}

// clamp01 keeps a probability in [0, 1] against rounding; NaN stays NaN.
func clamp01(p float64) float64 {
	if p < 0 {
		return 0
	}
	if p > 1 {
		return 1
	}
	return p
}

// RegIncBeta returns the regularized incomplete beta function I_x(a, b): the
// probability that a Beta(a, b) value is at most x. It is NaN unless a > 0 and
// b > 0. It uses the continued fraction of Numerical Recipes (§6.4) on whichever
// side of the mean converges fast, so the smaller of I_x(a, b) and 1 - I_x(a, b)
// is computed directly and keeps its relative accuracy; for the other tail call
// RegIncBeta(b, a, 1-x).
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case math.IsNaN(a) || math.IsNaN(b) || math.IsNaN(x) || a <= 0 || b <= 0:
		return math.NaN()
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	logFront := a*math.Log(x) + b*math.Log1p(-x) - lbeta(a, b)
	if x < (a+1)/(a+b+2) {
		return math.Exp(logFront) * betaContinuedFraction(a, b, x) / a
	}
	return 1 - math.Exp(logFront)*betaContinuedFraction(b, a, 1-x)/b
}

// betaContinuedFraction evaluates the continued fraction for I_x(a, b) by the
// modified Lentz method. It converges in O(sqrt(max(a, b))) terms for x below
// (a+1)/(a+b+2).
func betaContinuedFraction(a, b, x float64) float64 {
	const tiny = 1e-300
	qab, qap, qam := a+b, a+1, a-1
	c := 1.0
	d := 1 - qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	maxIter := 200 + int(20*math.Sqrt(math.Max(a, b)))
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		m2 := 2 * fm
		aa := fm * (b - fm) * x / ((qam + m2) * (a + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		h *= d * c
		aa = -(a + fm) * (qab + fm) * x / ((a + m2) * (qap + m2))
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-15 {
			break
		}
	}
	return h
}

// BinomialTest returns the exact one-sided p-values for x successes in n trials
// against a fixed success probability p0: pLess = P(X <= x), small when the true
// proportion is below p0, and pGreater = P(X >= x), small when it is above. Both
// come from the incomplete beta function, so they are exact sums of binomial
// probabilities without summing term by term.
func BinomialTest(x, n int64, p0 float64) (pLess, pGreater float64) {
	if n < 0 || x < 0 || x > n || math.IsNaN(p0) || p0 < 0 || p0 > 1 {
		return math.NaN(), math.NaN()
	}
	xf, nf := float64(x), float64(n)
	switch {
	case x == n:
		pLess = 1
	case p0 == 0:
		pLess = 1
	case p0 == 1:
		pLess = 0
	default:
		pLess = RegIncBeta(nf-xf, xf+1, 1-p0)
	}
	switch {
	case x == 0:
		pGreater = 1
	case p0 == 0:
		pGreater = 0
	case p0 == 1:
		pGreater = 1
	default:
		pGreater = RegIncBeta(xf, nf-xf+1, p0)
	}
	return pLess, pGreater
}

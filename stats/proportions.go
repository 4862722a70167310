package stats

import "math"

// validCounts reports whether x successes in n trials can happen.
func validCounts(x, n int64) bool { return n >= 0 && x >= 0 && x <= n }

// TwoProportionZ returns the pooled two-proportion z test of x1/n1 against x2/n2:
// z = (p2 - p1) / sqrt(p(1-p)(1/n1 + 1/n2)) with p = (x1+x2)/(n1+n2) the pooled
// proportion, and its normal p-values: pGreater for p2 > p1, pLess for p2 < p1 and
// pTwo for p2 != p1. It is the score test of p1 = p2 and equals Pearson's
// chi-squared test without continuity correction (z² = X²).
//
// With no trials in an arm, or every trial in both arms a success (or every one
// a failure), the data say nothing about a difference: z is 0 and the p-values
// are 1. Impossible counts give NaN.
func TwoProportionZ(x1, n1, x2, n2 int64) (z, pLess, pGreater, pTwo float64) {
	if !validCounts(x1, n1) || !validCounts(x2, n2) {
		nan := math.NaN()
		return nan, nan, nan, nan
	}
	if n1 == 0 || n2 == 0 {
		return 0, 1, 1, 1
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pooled := float64(x1+x2) / float64(n1+n2)
	v := pooled * (1 - pooled) * (1/float64(n1) + 1/float64(n2))
	if v <= 0 {
		return 0, 1, 1, 1
	}
	z = (p2 - p1) / math.Sqrt(v)
	return z, NormalCDF(z), NormalSF(z), math.Min(1, 2*NormalSF(math.Abs(z)))
}

// RiskDifferenceZ returns the Farrington-Manning score test of the hypothesis
// p2 - p1 = delta (Farrington and Manning, Statistics in Medicine 9:1447, 1990):
//
//	z = (x2/n2 - x1/n1 - delta) / sqrt(q1(1-q1)/n1 + q2(1-q2)/n2)
//
// where q1 and q2 = q1 + delta are the maximum-likelihood proportions under the
// hypothesis. pGreater is small when p2 - p1 > delta, pLess when p2 - p1 < delta.
// It is the standard test of non-inferiority and superiority margins for a risk
// difference; with delta = 0 it is exactly TwoProportionZ. delta must lie in
// (-1, 1). An arm without trials gives z = 0 and p-values of 1; impossible counts
// or delta give NaN.
func RiskDifferenceZ(x1, n1, x2, n2 int64, delta float64) (z, pLess, pGreater float64) {
	if !validCounts(x1, n1) || !validCounts(x2, n2) || !(delta > -1 && delta < 1) {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if n1 == 0 || n2 == 0 {
		return 0, 1, 1
	}
	z = riskDifferenceScore(x1, n1, x2, n2, delta)
	return z, NormalCDF(z), NormalSF(z)
}

// riskDifferenceScore is the Farrington-Manning z for valid counts with n1, n2 > 0.
func riskDifferenceScore(x1, n1, x2, n2 int64, delta float64) float64 {
	q1 := restrictedMLE(x1, n1, x2, n2, delta)
	q2 := q1 + delta
	v := q1*(1-q1)/float64(n1) + q2*(1-q2)/float64(n2)
	num := float64(x2)/float64(n2) - float64(x1)/float64(n1) - delta
	if v <= 0 || num == 0 {
		return 0
	}
	return num / math.Sqrt(v)
}

// restrictedMLE returns the maximum-likelihood p1 under p2 = p1 + delta. The
// log-likelihood is concave in p1, so its derivative falls monotonically: Newton
// steps on the derivative, kept inside a shrinking bracket by bisection when
// they stray, find the root to machine precision in a handful of steps. At a
// boundary maximum the boundary is returned.
func restrictedMLE(x1, n1, x2, n2 int64, delta float64) float64 {
	lo, hi := math.Max(0, -delta), math.Min(1, 1-delta)
	s1, f1 := float64(x1), float64(n1-x1)
	s2, f2 := float64(x2), float64(n2-x2)
	// slope is the derivative of the log-likelihood. At a boundary a denominator
	// is zero up to rounding (1 - 0.9 - 0.1 is -2.8e-17), so each is clamped at
	// 0, where count/0 = +Inf is the limit; a zero count drops its term.
	slope := func(p float64) float64 {
		var g float64
		if s1 > 0 {
			g += s1 / math.Max(p, 0)
		}
		if f1 > 0 {
			g -= f1 / math.Max(1-p, 0)
		}
		if s2 > 0 {
			g += s2 / math.Max(p+delta, 0)
		}
		if f2 > 0 {
			g -= f2 / math.Max(1-p-delta, 0)
		}
		return g
	}
	curvature := func(p float64) float64 {
		a, b, c, d := p, 1-p, p+delta, 1-p-delta
		return -s1/(a*a) - f1/(b*b) - s2/(c*c) - f2/(d*d)
	}
	if slope(lo) <= 0 {
		return lo
	}
	if slope(hi) >= 0 {
		return hi
	}
	// Start from the pooled estimate shifted onto the hypothesis.
	p := (s1 + s2 - float64(n2)*delta) / float64(n1+n2)
	if !(p > lo && p < hi) {
		p = (lo + hi) / 2
	}
	for range 200 {
		g := slope(p)
		switch {
		case g > 0:
			lo = p
		case g < 0:
			hi = p
		default:
			return p
		}
		next := p - g/curvature(p)
		if !(next > lo && next < hi) {
			next = lo + (hi-lo)/2
		}
		if next == p || hi-lo <= 1e-16 {
			return next
		}
		if math.Abs(next-p) <= 1e-15*p {
			return next
		}
		p = next
	}
	return p
}

// RiskDifferenceExact returns small-sample p-values for the same hypothesis as
// RiskDifferenceZ, p2 - p1 = delta, without the normal approximation: the
// probability, under two independent binomials with the proportions the
// hypothesis makes most likely (q1, q1 + delta), of a Farrington-Manning z at
// least as large (pGreater) or at most as large (pLess) as the observed one.
// This is the "E-test" of Krishnamoorthy and Thomson (J. Stat. Plan. Inference
// 119:23, 2004), whose size stays close to the nominal level even with a handful
// of events, where the normal approximation is too optimistic in the tail that
// matters for rare failures. Fisher's exact test cannot serve here: it conditions
// on the total number of events and so tests the odds ratio, not a difference of
// delta.
//
// The sums are exact binomial probabilities (incomplete beta for the second arm)
// over the outcomes within 15 standard deviations of each arm's mean, which
// leaves out less than 1e-16, so the cost is O(sd1 · log sd2) evaluations of
// the statistic. An arm without trials gives p-values of 1.
func RiskDifferenceExact(x1, n1, x2, n2 int64, delta float64) (pLess, pGreater float64) {
	if !validCounts(x1, n1) || !validCounts(x2, n2) || !(delta > -1 && delta < 1) {
		return math.NaN(), math.NaN()
	}
	if n1 == 0 || n2 == 0 {
		return 1, 1
	}
	q1 := restrictedMLE(x1, n1, x2, n2, delta)
	q2 := math.Min(1, math.Max(0, q1+delta))
	obs := riskDifferenceScore(x1, n1, x2, n2, delta)
	eps := 1e-9 * math.Max(1, math.Abs(obs)) // tables that tie the observed one count as extreme
	// Outcomes more than 15 standard deviations (+10) from an arm's mean carry
	// less than 1e-16 of the probability: the first arm's are skipped, and the
	// search over the second arm's is confined to its window.
	window := func(n int64, q float64) (int64, int64) {
		mean, sd := float64(n)*q, math.Sqrt(float64(n)*q*(1-q))
		return max(0, int64(math.Floor(mean-15*sd-10))), min(n, int64(math.Ceil(mean+15*sd+10)))
	}
	iLo, iHi := window(n1, q1)
	jLo, jHi := window(n2, q2)
	for i := iLo; i <= iHi; i++ {
		w := binomialPMF(i, n1, q1)
		if w == 0 {
			continue
		}
		// z rises with the second arm's count, so the extreme tables for this i
		// are j >= jGe and j <= jLe.
		jGe := searchFirst(jLo, jHi, func(j int64) bool { return riskDifferenceScore(i, n1, j, n2, delta) >= obs-eps })
		jLe := searchFirst(jLo, jHi, func(j int64) bool { return riskDifferenceScore(i, n1, j, n2, delta) > obs+eps }) - 1
		if jGe <= n2 {
			_, tail := BinomialTest(jGe, n2, q2)
			pGreater += w * tail
		}
		if jLe >= 0 {
			tail, _ := BinomialTest(jLe, n2, q2)
			pLess += w * tail
		}
	}
	return clamp01(pLess), clamp01(pGreater)
}

// searchFirst returns the smallest j in [lo, hi] with ok(j), or hi+1 if there is
// none; ok must be false then true as j grows.
func searchFirst(lo, hi int64, ok func(int64) bool) int64 {
	hi++
	for lo < hi {
		mid := lo + (hi-lo)/2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// binomialPMF returns P(X = k) for X ~ Binomial(n, p).
func binomialPMF(k, n int64, p float64) float64 {
	switch {
	case p <= 0:
		if k == 0 {
			return 1
		}
		return 0
	case p >= 1:
		if k == n {
			return 1
		}
		return 0
	}
	return math.Exp(lchoose(n, k) + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}

// RiskDifferenceTest returns the one-sided p-values for the hypothesis
// p2 - p1 = delta the way the canary judge tests it: with the exact E-test
// (RiskDifferenceExact) when any of the four cell counts expected under the
// hypothesis (n1·q1, n1·(1-q1), n2·q2, n2·(1-q2), with the restricted
// proportions q) is below 5, the classic rule for when the normal approximation
// stops being trustworthy, and with the Farrington-Manning z test
// (RiskDifferenceZ) otherwise. exact says which one answered.
func RiskDifferenceTest(x1, n1, x2, n2 int64, delta float64) (pLess, pGreater float64, exact bool) {
	if !validCounts(x1, n1) || !validCounts(x2, n2) || !(delta > -1 && delta < 1) {
		return math.NaN(), math.NaN(), false
	}
	if n1 == 0 || n2 == 0 {
		return 1, 1, false
	}
	q1 := restrictedMLE(x1, n1, x2, n2, delta)
	q2 := q1 + delta
	f1, f2 := float64(n1), float64(n2)
	if min(f1*q1, f1*(1-q1), f2*q2, f2*(1-q2)) < 5 {
		pLess, pGreater = RiskDifferenceExact(x1, n1, x2, n2, delta)
		return pLess, pGreater, true
	}
	_, pLess, pGreater = RiskDifferenceZ(x1, n1, x2, n2, delta)
	return pLess, pGreater, false
}

// RiskDifferenceInterval returns the two-sided score confidence interval for
// p2 - p1 at the given confidence (0.9 for 90%): all the differences delta that
// the Farrington-Manning test does not reject at 1 - confidence. Either end is
// also a one-sided bound at confidence (1+confidence)/2, so the upper end of the
// 90% interval is the 95% upper bound. Without trials in an arm the interval is
// (-1, 1); impossible counts or a confidence outside (0, 1) give NaN.
func RiskDifferenceInterval(x1, n1, x2, n2 int64, confidence float64) (lower, upper float64) {
	if !validCounts(x1, n1) || !validCounts(x2, n2) || !(confidence > 0 && confidence < 1) {
		return math.NaN(), math.NaN()
	}
	if n1 == 0 || n2 == 0 {
		return -1, 1
	}
	crit := -NormalQuantile((1 - confidence) / 2)
	// z falls as delta rises: find where it crosses +crit (lower end) and -crit
	// (upper end), by bisection over the open interval (-1, 1).
	cross := func(target float64) float64 {
		lo, hi := -1.0, 1.0
		for range 60 {
			mid := (lo + hi) / 2
			if mid <= -1 || mid >= 1 {
				break
			}
			if riskDifferenceScore(x1, n1, x2, n2, mid) > target {
				lo = mid
			} else {
				hi = mid
			}
		}
		return (lo + hi) / 2
	}
	return cross(crit), cross(-crit)
}

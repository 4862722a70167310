package stats

import "math"

// FisherExact returns Fisher's exact test p-values for the 2x2 table
//
//	[[a b]
//	 [c d]]
//
// conditional on its margins, under which a follows a hypergeometric
// distribution. pLess = P(X <= a) is small when the odds ratio ad/bc is below 1,
// pGreater = P(X >= a) when it is above 1 (R's fisher.test alternatives "less"
// and "greater"), and pTwoSided sums the probabilities of all tables no more
// likely than the observed one, with R's relative tolerance of 1e-7 so that
// tables of equal probability are not lost to rounding.
//
// Sums start at the observed table and walk away from the mode, where the terms
// only shrink, so even p-values of 1e-300 keep their relative accuracy and large
// tables cost O(standard deviation), not O(n). Negative counts give NaN.
func FisherExact(a, b, c, d int64) (pLess, pGreater, pTwoSided float64) {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	h := newHypergeometric(a+b, c+d, a+c)
	if h.lo == h.hi {
		return 1, 1, 1
	}
	if a <= h.mode {
		pLess = h.lowerTail(a)
	} else {
		pLess = 1 - h.upperTail(a+1)
	}
	if a >= h.mode {
		pGreater = h.upperTail(a)
	} else {
		pGreater = 1 - h.lowerTail(a-1)
	}
	// The probabilities rise up to the mode and fall after it, so the tables no
	// more likely than the observed one are a prefix [lo, kl] and a suffix [kr, hi].
	limit := h.logPMF(a) + math.Log1p(1e-7)
	kl := h.lastAtMost(h.lo, h.mode, limit)
	kr := h.firstAtMost(h.mode+1, h.hi, limit)
	if kl >= h.lo {
		pTwoSided += h.lowerTail(kl)
	}
	if kr <= h.hi {
		pTwoSided += h.upperTail(kr)
	}
	return clamp01(pLess), clamp01(pGreater), clamp01(pTwoSided)
}

// hypergeometric is the distribution of the top-left cell of a 2x2 table with
// row sums r1 and r2 and first column sum c1.
type hypergeometric struct {
	r1, r2, c1       int64
	lo, hi, mode     int64
	logNormalization float64
}

func newHypergeometric(r1, r2, c1 int64) hypergeometric {
	h := hypergeometric{r1: r1, r2: r2, c1: c1}
	h.lo = max(0, c1-r2)
	h.hi = min(r1, c1)
	n := r1 + r2
	// floor((c1+1)(r1+1)/(n+2)), computed in floating point to avoid overflow.
	h.mode = int64(math.Floor((float64(c1) + 1) * (float64(r1) + 1) / (float64(n) + 2)))
	h.mode = min(max(h.mode, h.lo), h.hi)
	h.logNormalization = lchoose(n, c1)
	return h
}

// lchoose returns log C(n, k).
func lchoose(n, k int64) float64 {
	return lgamma(float64(n)+1) - lgamma(float64(k)+1) - lgamma(float64(n-k)+1)
}

// logPMF returns log P(X = k).
func (h hypergeometric) logPMF(k int64) float64 {
	return lchoose(h.r1, k) + lchoose(h.r2, h.c1-k) - h.logNormalization
}

// ratioUp returns P(X = k+1) / P(X = k).
func (h hypergeometric) ratioUp(k int64) float64 {
	return float64(h.r1-k) * float64(h.c1-k) / (float64(k+1) * float64(h.r2-h.c1+k+1))
}

// lowerTail returns P(X <= k) for k <= mode, summing down from k.
func (h hypergeometric) lowerTail(k int64) float64 {
	if k < h.lo {
		return 0
	}
	term := math.Exp(h.logPMF(k))
	sum := term
	for j := k - 1; j >= h.lo; j-- {
		term /= h.ratioUp(j)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// upperTail returns P(X >= k) for k >= mode, summing up from k.
func (h hypergeometric) upperTail(k int64) float64 {
	if k > h.hi {
		return 0
	}
	term := math.Exp(h.logPMF(k))
	sum := term
	for j := k; j < h.hi; j++ {
		term *= h.ratioUp(j)
		sum += term
		if term < sum*1e-17 {
			break
		}
	}
	return sum
}

// lastAtMost returns the largest k in [from, to] with logPMF(k) <= limit, where
// logPMF rises over the range; from-1 when there is none.
func (h hypergeometric) lastAtMost(from, to int64, limit float64) int64 {
	if from > to || h.logPMF(from) > limit {
		return from - 1
	}
	for from < to { // invariant: logPMF(from) <= limit
		mid := from + (to-from+1)/2
		if h.logPMF(mid) <= limit {
			from = mid
		} else {
			to = mid - 1
		}
	}
	return from
}

// firstAtMost returns the smallest k in [from, to] with logPMF(k) <= limit, where
// logPMF falls over the range; to+1 when there is none.
func (h hypergeometric) firstAtMost(from, to int64, limit float64) int64 {
	if from > to || h.logPMF(to) > limit {
		return to + 1
	}
	for from < to { // invariant: logPMF(to) <= limit
		mid := from + (to-from)/2
		if h.logPMF(mid) <= limit {
			to = mid
		} else {
			from = mid + 1
		}
	}
	return to
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

package stats_test

import (
	"math"
	"testing"

	"github.com/day2ops/day2/stats"
)

func inUnit(p float64) bool { return p >= 0 && p <= 1 }

// FuzzTwoArms checks properties every two-arm test must have for any counts:
// p-values in [0, 1], and swapping the arms swaps pLess and pGreater.
func FuzzTwoArms(f *testing.F) {
	f.Add(uint16(3), uint16(4), uint16(1), uint16(4), uint16(50))
	f.Add(uint16(0), uint16(0), uint16(0), uint16(7), uint16(0))
	f.Add(uint16(950), uint16(1000), uint16(920), uint16(1000), uint16(10))
	f.Add(uint16(0), uint16(300), uint16(5), uint16(200), uint16(5))
	f.Fuzz(func(t *testing.T, x1, n1, x2, n2, tolPermille uint16) {
		// Keep counts valid and the sums small enough to run fast.
		a, n, b, m := int64(x1%2000), int64(n1%2000), int64(x2%2000), int64(n2%2000)
		a, b = min(a, n), min(b, m)
		delta := float64(tolPermille%200) / 1000

		z, l, g, two := stats.TwoProportionZ(a, n, b, m)
		zs, ls, gs, twos := stats.TwoProportionZ(b, m, a, n)
		if !inUnit(l) || !inUnit(g) || !inUnit(two) || math.Abs(z+zs) > 1e-12 || l != gs || g != ls || two != twos {
			t.Fatalf("TwoProportionZ(%d/%d, %d/%d) = %v %v %v %v, swapped %v %v %v %v", a, n, b, m, z, l, g, two, zs, ls, gs, twos)
		}

		_, rl, rg := stats.RiskDifferenceZ(a, n, b, m, delta)
		_, rls, rgs := stats.RiskDifferenceZ(b, m, a, n, -delta)
		if !inUnit(rl) || !inUnit(rg) || math.Abs(rl-rgs) > 1e-9 || math.Abs(rg-rls) > 1e-9 {
			t.Fatalf("RiskDifferenceZ(%d/%d, %d/%d, %v) = %v %v, swapped %v %v", a, n, b, m, delta, rl, rg, rls, rgs)
		}
		el, eg := stats.RiskDifferenceExact(a, n, b, m, delta)
		els, egs := stats.RiskDifferenceExact(b, m, a, n, -delta)
		if !inUnit(el) || !inUnit(eg) || math.Abs(el-egs) > 1e-6 || math.Abs(eg-els) > 1e-6 {
			t.Fatalf("RiskDifferenceExact(%d/%d, %d/%d, %v) = %v %v, swapped %v %v", a, n, b, m, delta, el, eg, els, egs)
		}

		bl, bg := stats.BinomialTest(b, m, 0.5+delta)
		if !inUnit(bl) || !inUnit(bg) || bl+bg < 1-1e-9 {
			t.Fatalf("BinomialTest(%d, %d, %v) = %v %v; the two tails share P(X = x) and must cover 1", b, m, 0.5+delta, bl, bg)
		}

	})
}

// FuzzMannWhitney checks the rank test on arbitrary small samples: p-values in
// [0, 1], u in [0, n1*n2], and swapping the samples mirrors u and the tails.
func FuzzMannWhitney(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4}, []byte{5, 6, 7})
	f.Add([]byte{1, 1, 1}, []byte{1, 2})
	f.Add(make([]byte, 60), []byte{9})
	f.Fuzz(func(t *testing.T, xb, yb []byte) {
		x, y := make([]float64, len(xb)), make([]float64, len(yb))
		for i, v := range xb {
			x[i] = float64(v % 40)
		}
		for i, v := range yb {
			y[i] = float64(v % 40)
		}
		u, _, l, g, two, _ := stats.MannWhitneyU(x, y)
		us, _, ls, gs, twos, _ := stats.MannWhitneyU(y, x)
		if !inUnit(l) || !inUnit(g) || !inUnit(two) || u < 0 || u > float64(len(x)*len(y)) {
			t.Fatalf("MannWhitneyU = u %v p %v %v %v", u, l, g, two)
		}
		if len(x) > 0 && len(y) > 0 && (u+us != float64(len(x)*len(y)) || math.Abs(l-gs) > 1e-9 || math.Abs(g-ls) > 1e-9 || math.Abs(two-twos) > 1e-9) {
			t.Fatalf("swapping samples: u %v+%v, p %v/%v vs %v/%v", u, us, l, g, ls, gs)
		}
		if len(x) > 0 && len(y) > 0 {
			if hl, hls := stats.HodgesLehmann(x, y), stats.HodgesLehmann(y, x); hl != -hls {
				t.Fatalf("HodgesLehmann not antisymmetric: %v vs %v", hl, hls)
			}
		}
	})
}

package sketch_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/day2ops/day2/sketch"
)

func TestQuantilesStayWithinOnePercent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		draw func() float64
	}{
		{"log-normal cycle times around 40 s", func() float64 { return 1000 * math.Exp(3.7+0.5*rng.NormFloat64()) }},
		{"uniform 1 ms to 10 min", func() float64 { return 1 + rng.Float64()*600000 }},
		{"heavy tail", func() float64 { return 100 / math.Pow(rng.Float64()+1e-9, 0.8) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sketch.Sketch
			vals := make([]float64, 20000)
			for i := range vals {
				vals[i] = tt.draw()
				s.Add(vals[i], 1)
			}
			sort.Float64s(vals)
			for _, q := range []float64{0.5, 0.9, 0.95, 0.99} {
				want := vals[int(math.Floor(q*float64(len(vals)-1)))]
				got, ok := s.Quantile(q)
				if !ok || math.Abs(got-want) > sketch.RelativeAccuracy*want {
					t.Errorf("p%v = %v, want %v within 1%%", q*100, got, want)
				}
			}
		})
	}
}

func TestRemoveAndMergeAreExact(t *testing.T) {
	var a, b, all sketch.Sketch
	for i := 1; i <= 1000; i++ {
		v := float64(i * 37 % 997)
		all.Add(v, 1)
		if i%2 == 0 {
			a.Add(v, 1)
		} else {
			b.Add(v, 1)
		}
	}
	a.Add(5000, 1)
	a.Add(5000, -1) // a task's cycle time corrected
	a.Merge(&b)
	ea, _ := a.MarshalBinary()
	eall, _ := all.MarshalBinary()
	if string(ea) != string(eall) {
		t.Fatal("merging two halves (with an add and remove) differs from sketching the whole")
	}
	if a.Count() != 1000 {
		t.Fatalf("Count = %d, want 1000", a.Count())
	}
}

func TestEmptySketchHasNoQuantile(t *testing.T) {
	var s sketch.Sketch
	if _, ok := s.Quantile(0.95); ok {
		t.Fatal("an empty sketch must not report a quantile")
	}
}

func TestCountAtMost(t *testing.T) {
	var s sketch.Sketch
	for _, v := range []float64{0, 500, 60000, 119000, 121500, 300000} {
		s.Add(v, 1)
	}
	if got := s.CountAtMost(120000); got != 4 {
		t.Fatalf("CountAtMost(120000) = %d, want 4", got)
	}
}

func TestRoundTrip(t *testing.T) {
	var s sketch.Sketch
	for _, v := range []float64{0, 0, 1, 2.5, 1e6, 1e-3} {
		s.Add(v, 3)
	}
	b, _ := s.MarshalBinary()
	var d sketch.Sketch
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := d.MarshalBinary()
	if string(b) != string(b2) || d.Count() != s.Count() {
		t.Fatal("round trip changed the sketch")
	}
}

func FuzzUnmarshal(f *testing.F) {
	var s sketch.Sketch
	s.Add(42, 2)
	s.Add(0, 1)
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var d sketch.Sketch
		if err := d.UnmarshalBinary(data); err != nil {
			return
		}
		d.Quantile(0.5)
		d.CountAtMost(100)
		if _, err := d.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}

// Package sketch is a mergeable quantile sketch with bounded relative error, in the
// manner of DDSketch: values fall into logarithmic buckets whose width is 2% of
// their value, so any quantile it reports is within 1% of the true value. Unlike
// sample-based sketches its buckets are plain counts, so a value can be removed
// again (a task whose cycle time changes) and sketches of minutes merge exactly
// into hours and days.
package sketch

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"
)

// RelativeAccuracy is the bound on the relative error of every quantile.
const RelativeAccuracy = 0.01

var (
	gamma    = (1 + RelativeAccuracy) / (1 - RelativeAccuracy)
	logGamma = math.Log(gamma)
)

// Sketch counts values in logarithmic buckets. The zero value is empty and ready.
// Values at or below zero are counted in a zero bucket.
type Sketch struct {
	buckets map[int32]int64
	zero    int64
	count   int64
}

// New returns an empty sketch.
func New() *Sketch { return &Sketch{} }

func index(v float64) int32 { return int32(math.Ceil(math.Log(v) / logGamma)) }

// value returns the representative of bucket i: the point whose relative distance
// to both bucket bounds is RelativeAccuracy.
func value(i int32) float64 { return 2 * math.Pow(gamma, float64(i)) / (gamma + 1) }

// Add counts v n times; a negative n removes earlier additions.
func (s *Sketch) Add(v float64, n int64) {
	if n == 0 || math.IsNaN(v) {
		return
	}
	s.count += n
	if v <= 0 {
		s.zero += n
		return
	}
	if s.buckets == nil {
		s.buckets = make(map[int32]int64)
	}
	i := index(v)
	s.buckets[i] += n
	if s.buckets[i] == 0 {
		delete(s.buckets, i)
	}
}

// Merge adds every count of o to s.
func (s *Sketch) Merge(o *Sketch) {
	if o == nil {
		return
	}
	s.count += o.count
	s.zero += o.zero
	for i, n := range o.buckets {
		if s.buckets == nil {
			s.buckets = make(map[int32]int64, len(o.buckets))
		}
		s.buckets[i] += n
		if s.buckets[i] == 0 {
			delete(s.buckets, i)
		}
	}
}

// Count returns the number of values counted.
func (s *Sketch) Count() int64 { return s.count }

// Quantile returns the q-quantile (0 <= q <= 1) within RelativeAccuracy of the
// true value, and false for an empty sketch.
func (s *Sketch) Quantile(q float64) (float64, bool) {
	if s.count <= 0 {
		return 0, false
	}
	q = math.Min(1, math.Max(0, q))
	rank := int64(math.Floor(q * float64(s.count-1)))
	if rank < s.zero {
		return 0, true
	}
	seen := s.zero
	keys := s.sortedKeys()
	for _, i := range keys {
		seen += s.buckets[i]
		if seen > rank {
			return value(i), true
		}
	}
	if len(keys) == 0 {
		return 0, true
	}
	return value(keys[len(keys)-1]), true
}

// CountAtMost returns how many values are at most x. Values within
// RelativeAccuracy above x may be counted too, since they share x's bucket.
func (s *Sketch) CountAtMost(x float64) int64 {
	if x < 0 {
		return 0
	}
	n := s.zero
	if x == 0 {
		return n
	}
	lim := index(x)
	for i, c := range s.buckets {
		if i <= lim {
			n += c
		}
	}
	return n
}

func (s *Sketch) sortedKeys() []int32 {
	keys := make([]int32, 0, len(s.buckets))
	for i := range s.buckets {
		keys = append(keys, i)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	return keys
}

// MarshalBinary encodes the sketch compactly: the zero count, then the buckets in
// index order as (index delta, count) varint pairs.
func (s *Sketch) MarshalBinary() ([]byte, error) {
	keys := s.sortedKeys()
	buf := make([]byte, 0, 4+len(keys)*4)
	buf = binary.AppendVarint(buf, s.zero)
	buf = binary.AppendUvarint(buf, uint64(len(keys)))
	prev := int32(0)
	for _, i := range keys {
		buf = binary.AppendVarint(buf, int64(i-prev))
		buf = binary.AppendVarint(buf, s.buckets[i])
		prev = i
	}
	return buf, nil
}

// UnmarshalBinary replaces s with the decoded sketch.
func (s *Sketch) UnmarshalBinary(b []byte) error {
	*s = Sketch{}
	if len(b) == 0 {
		return nil
	}
	zero, n := binary.Varint(b)
	if n <= 0 {
		return errCorrupt
	}
	b = b[n:]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt > uint64(len(b)) {
		return errCorrupt
	}
	b = b[n:]
	s.zero, s.count = zero, zero
	prev := int64(0)
	for k := uint64(0); k < cnt; k++ {
		d, n := binary.Varint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		c, n := binary.Varint(b)
		if n <= 0 {
			return errCorrupt
		}
		b = b[n:]
		prev += d
		if prev < math.MinInt32 || prev > math.MaxInt32 {
			return errCorrupt
		}
		if c != 0 {
			if s.buckets == nil {
				s.buckets = make(map[int32]int64, cnt)
			}
			s.buckets[int32(prev)] += c
			s.count += c
		}
	}
	if len(b) != 0 {
		return errCorrupt
	}
	return nil
}

var errCorrupt = errors.New("sketch: corrupt encoding")

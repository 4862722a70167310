package day2_test

import (
	"encoding/json"
	"testing"

	"github.com/day2ops/day2"
)

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want float64
		ok   bool
	}{
		{2.5, 2.5, true}, {float32(0.5), 0.5, true}, {7, 7, true}, {int64(-3), -3, true}, {int32(4), 4, true},
		{uint(5), 5, true}, {uint64(6), 6, true}, {uint32(8), 8, true}, {json.Number("1e3"), 1000, true},
		{int16(-9), -9, true}, {int8(10), 10, true}, {uint16(11), 11, true}, {uint8(12), 12, true},
		{json.Number("x"), 0, false}, {"12", 0, false}, {true, 0, false}, {nil, 0, false},
	} {
		got, ok := day2.Number(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Number(%#v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

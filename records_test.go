package day2_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

func TestNewRecordIDsSortByTimeAndDoNotRepeat(t *testing.T) {
	var ids []string
	seen := map[string]bool{}
	for i := range 2000 {
		id := day2.NewRecordID("ap_", t0.Add(time.Duration(i/10)*time.Millisecond))
		if !strings.HasPrefix(id, "ap_") || len(id) != 23 || strings.ToLower(id) != id {
			t.Fatalf("id %q: want ap_ and 20 lowercase base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	// Ids of later milliseconds sort later.
	for i := 10; i < len(ids); i += 10 {
		if ids[i-10] >= ids[i] {
			t.Fatalf("id %q of a later millisecond sorts before %q", ids[i], ids[i-10])
		}
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if sorted[0] > ids[9] || sorted[len(sorted)-1] < ids[len(ids)-10] {
		t.Fatalf("the first and last ids are not the oldest and newest")
	}
}

package taskstore_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
	"github.com/day2ops/day2/sketch"
)

// delta is a RollupDelta in a form the tests can compare: the cycle sketch's
// count instead of the sketch.
type delta struct {
	tier     day2.RollupTier
	start    time.Time
	key      day2.RollupKey
	counters day2.Counters
	cycles   int64
}

func deltas(r *taskstore.Rollups) []delta {
	var out []delta
	for _, d := range r.Deltas() {
		x := delta{tier: d.Tier, start: time.Unix(0, d.Start).UTC(), key: d.Key, counters: d.Counters}
		if d.Cycle != nil {
			x.cycles = d.Cycle.Count()
		}
		out = append(out, x)
	}
	return out
}

func TestRollupsMove(t *testing.T) {
	key := day2.RollupKey{Service: "a", Environment: "prod", Version: "1.0", RiskTier: "2", BusinessProcess: "invoice"}
	task := func(outcome time.Time, version string, success *bool) *day2.Task {
		x := &day2.Task{Service: "a", Environment: "prod", Version: version, RiskTier: "2", BusinessProcess: "invoice",
			StartTime: t0, EndTime: t0.Add(3 * time.Minute), OutcomeTime: outcome, Success: success,
			CycleTimeMS: ptr(int64(90_000)), ToolCalls: 2, ToolFailures: 1}
		if success != nil {
			x.Escalated = ptr(false)
		}
		return x
	}
	running := day2.Counters{Seen: 1, ToolCalls: 2, ToolFailures: 1}
	done := running
	done.Tasks, done.Successes = 1, 1
	neg := func(c day2.Counters) day2.Counters {
		var z day2.Counters
		z.Sub(c)
		return z
	}
	minusRunning, minusDone := neg(running), neg(done)
	other := key
	other.Version = "2.0"
	day := t0.Truncate(24 * time.Hour)

	tests := []struct {
		name       string
		prev, next *day2.Task
		want       []delta
	}{
		{"a new task counts in its minute, hour and day", nil, task(time.Time{}, "1.0", nil), []delta{
			{day2.TierMinute, t0.Add(3 * time.Minute), key, running, 0},
			{day2.TierHour, t0, key, running, 0},
			{day2.TierDay, day, key, running, 0},
		}},
		{"an unchanged task changes nothing", task(time.Time{}, "1.0", nil), task(time.Time{}, "1.0", nil), nil},
		{"a late outcome moves the task to the outcome's minute, within its hour and day",
			task(time.Time{}, "1.0", nil), task(t0.Add(90*time.Second), "1.0", ptr(true)), []delta{
				{day2.TierMinute, t0.Add(time.Minute), key, done, 1},
				{day2.TierMinute, t0.Add(3 * time.Minute), key, minusRunning, 0},
				{day2.TierHour, t0, key, day2.Counters{Tasks: 1, Successes: 1}, 1},
				{day2.TierDay, day, key, day2.Counters{Tasks: 1, Successes: 1}, 1},
			}},
		{"an outcome in the hour before moves the task across hours",
			task(time.Time{}, "1.0", nil), task(t0.Add(-time.Minute), "1.0", ptr(true)), []delta{
				{day2.TierMinute, t0.Add(-time.Minute), key, done, 1},
				{day2.TierMinute, t0.Add(3 * time.Minute), key, minusRunning, 0},
				{day2.TierHour, t0.Add(-time.Hour), key, done, 1},
				{day2.TierHour, t0, key, minusRunning, 0},
				{day2.TierDay, day, key, day2.Counters{Tasks: 1, Successes: 1}, 1},
			}},
		{"a new version moves the task to its key", task(t0, "1.0", ptr(true)), task(t0, "2.0", ptr(true)), []delta{
			{day2.TierMinute, t0, key, minusDone, -1},
			{day2.TierMinute, t0, other, done, 1},
			{day2.TierHour, t0, key, minusDone, -1},
			{day2.TierHour, t0, other, done, 1},
			{day2.TierDay, day, key, minusDone, -1},
			{day2.TierDay, day, other, done, 1},
		}},
		{"a task without any time counts nowhere", nil, &day2.Task{Service: "a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r taskstore.Rollups
			r.Move(tt.prev, tt.next)
			if got := deltas(&r); !slices.Equal(got, tt.want) {
				t.Errorf("deltas\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestRollupsAggregatePerRow(t *testing.T) {
	var r taskstore.Rollups
	for i := range 100 {
		// 100 tasks of two keys within one minute: two rows per tier.
		x := &day2.Task{Service: "a", Version: []string{"1", "2"}[i%2], StartTime: t0, EndTime: t0.Add(time.Duration(i) * 100 * time.Millisecond)}
		r.Move(nil, x)
	}
	got := deltas(&r)
	if len(got) != 6 {
		t.Fatalf("%d deltas, want 6: %+v", len(got), got)
	}
	for _, d := range got {
		if d.counters.Seen != 50 {
			t.Errorf("delta %+v counts %d tasks, want 50", d, d.counters.Seen)
		}
	}
}

func TestRollupDeltasAreInKeyOrder(t *testing.T) {
	var r taskstore.Rollups
	for _, x := range []day2.Task{
		{Service: "b", Version: "1", EndTime: t0},
		{Service: "a", Version: "2", EndTime: t0.Add(time.Hour)},
		{Service: "a", Version: "1", EndTime: t0.Add(time.Hour)},
		{Service: "a", Version: "1", EndTime: t0},
	} {
		r.Move(nil, &x)
	}
	ds := r.Deltas()
	if !slices.IsSortedFunc(ds, func(a, b taskstore.RollupDelta) int {
		return taskstore.CompareBuckets(&a.RollupBucket, &b.RollupBucket)
	}) {
		t.Errorf("deltas are not sorted")
	}
	if ds[0].Key.Service != "a" || ds[0].Tier != day2.TierMinute || ds[0].Start != t0.UnixNano() || ds[0].Key.Version != "1" {
		t.Errorf("first delta %+v, want service a's first minute, version 1", ds[0].RollupBucket)
	}
	if last := ds[len(ds)-1]; last.Key.Service != "b" || last.Tier != day2.TierDay {
		t.Errorf("last delta %+v, want service b's day", last.RollupBucket)
	}
}

func TestApplyCycle(t *testing.T) {
	stored := sketch.New()
	for _, v := range []float64{1200, 90_000, 90_000} {
		stored.Add(v, 1)
	}
	blob := taskstore.EncodeCycle(stored)

	move := taskstore.RollupDelta{Cycle: sketch.New()}
	move.Cycle.Add(90_000, -1)
	move.Cycle.Add(5000, 1)
	got, err := move.ApplyCycle(blob)
	if err != nil {
		t.Fatalf("ApplyCycle: %v", err)
	}
	want := sketch.New()
	for _, v := range []float64{1200, 90_000, 5000} {
		want.Add(v, 1)
	}
	if wb, _ := want.MarshalBinary(); string(got) != string(wb) {
		t.Errorf("after a move: %x, want %x", got, wb)
	}

	clear := taskstore.RollupDelta{Cycle: sketch.New()}
	for _, v := range []float64{1200, 90_000, 5000} {
		clear.Cycle.Add(v, -1)
	}
	if got, err := clear.ApplyCycle(got); err != nil || got != nil {
		t.Errorf("removing every value: %x, %v; want nil", got, err)
	}
	if got, err := (&taskstore.RollupDelta{}).ApplyCycle(blob); err != nil || string(got) != string(blob) {
		t.Errorf("without cycle changes: %x, %v; want the stored blob", got, err)
	}
	if _, err := move.ApplyCycle([]byte{0x80}); err == nil {
		t.Errorf("ApplyCycle of a corrupt blob: no error")
	}
	if taskstore.EncodeCycle(sketch.New()) != nil {
		t.Errorf("EncodeCycle of an empty sketch is not nil")
	}
}

func TestRollupEmpty(t *testing.T) {
	if !taskstore.RollupEmpty(day2.Counters{}, nil) {
		t.Errorf("a row of zero counters and no sketch is not empty")
	}
	if taskstore.RollupEmpty(day2.Counters{Seen: 1}, nil) || taskstore.RollupEmpty(day2.Counters{}, []byte{2, 0}) {
		t.Errorf("a row that counts something is empty")
	}
}

func TestClampNanos(t *testing.T) {
	tests := []struct {
		in   time.Time
		want int64
	}{
		{t0, t0.UnixNano()},
		{time.Unix(0, 0), 0},
		{time.Time{}, math.MinInt64},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64},
	}
	for _, tt := range tests {
		if got := taskstore.ClampNanos(tt.in); got != tt.want {
			t.Errorf("ClampNanos(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestCheckTier(t *testing.T) {
	for _, tier := range []day2.RollupTier{day2.TierMinute, day2.TierHour, day2.TierDay} {
		if err := taskstore.CheckTier(tier); err != nil {
			t.Errorf("CheckTier(%s): %v", tier, err)
		}
	}
	for _, tier := range []day2.RollupTier{-1, 3} {
		if err := taskstore.CheckTier(tier); day2.ErrorCode(err) != day2.EInvalid {
			t.Errorf("CheckTier(%d): %v, want an EInvalid error", tier, err)
		}
	}
}

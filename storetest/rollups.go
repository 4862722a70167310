package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sketch"
)

// rollupTests are the suite's cases for day2.RollupStore; Run runs them with
// the others.
var rollupTests = []struct {
	name string
	run  func(t *testing.T, open func(t *testing.T) day2.TaskStore)
}{
	{"rollups add up to the stored tasks in every tier", testRollupsMatchTasks},
	{"a late outcome moves its task to the outcome's minute, once", testRollupLateOutcome},
	{"a task whose version arrives with its root moves between rollup keys", testRollupKeyChange},
	{"rebuilding the rollups reproduces the maintained ones exactly", testRebuildRollups},
	{"a day's cycle time sketch is the merge of its hours and minutes", testRollupSketchesMerge},
	{"rollup rows are selected by service, tier and bucket start", testRollupRowsRange},
	{"two stores committing concurrently keep the rollups exact", testConcurrentRollups},
	{"commits during rebuilds keep the rollups exact", testRebuildDuringCommits},
}

var allTiers = []day2.RollupTier{day2.TierMinute, day2.TierHour, day2.TierDay}

// farFuture ends the range of rollup queries that want every row.
var farFuture = time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)

func rollupStore(t *testing.T, s day2.TaskStore) day2.RollupStore {
	t.Helper()
	rs, ok := s.(day2.RollupStore)
	if !ok {
		t.Fatalf("%T does not implement day2.RollupStore", s)
	}
	return rs
}

// rowID identifies a rollup row.
type rowID struct {
	tier  day2.RollupTier
	start int64
	key   day2.RollupKey
}

func (r rowID) String() string {
	return fmt.Sprintf("%s %s %+v", r.tier, time.Unix(0, r.start).UTC().Format(time.RFC3339), r.key)
}

type rowValue struct {
	counters day2.Counters
	cycle    []byte
}

// readRollups returns every row of tier of the services.
func readRollups(t *testing.T, rs day2.RollupStore, tier day2.RollupTier, services ...string) map[rowID]rowValue {
	t.Helper()
	m := map[rowID]rowValue{}
	for _, svc := range services {
		rows, err := rs.RollupRows(bg, svc, tier, time.Time{}, farFuture)
		if err != nil {
			t.Fatalf("RollupRows(%q, %s): %v", svc, tier, err)
		}
		for _, r := range rows {
			if r.Key.Service != svc {
				t.Errorf("RollupRows(%q, %s) returned a row of service %q", svc, tier, r.Key.Service)
			}
			id := rowID{tier, r.Start.UnixNano(), r.Key}
			if _, dup := m[id]; dup {
				t.Errorf("RollupRows(%q, %s) returned row %s twice", svc, tier, id)
			}
			m[id] = rowValue{r.Counters, r.Cycle}
		}
	}
	return m
}

// wantRollups computes the rows of tier from task summaries, as the store must
// hold them: what day2.TaskContribution adds up per bucket and key, with the
// cycle times in a sketch encoded by MarshalBinary (none when empty).
func wantRollups(tasks []day2.Task, tier day2.RollupTier) map[rowID]rowValue {
	counters := map[rowID]day2.Counters{}
	cycles := map[rowID]*sketch.Sketch{}
	for _, x := range tasks {
		c, ok := day2.TaskContribution(x)
		if !ok {
			continue
		}
		id := rowID{tier, c.Minute.Truncate(tier.Duration()).UnixNano(), c.Key}
		sum := counters[id]
		sum.Add(c.Counters)
		counters[id] = sum
		if c.HasCycle {
			if cycles[id] == nil {
				cycles[id] = sketch.New()
			}
			cycles[id].Add(float64(c.CycleTimeMS), 1)
		}
	}
	m := map[rowID]rowValue{}
	for id, c := range counters {
		v := rowValue{counters: c}
		if s := cycles[id]; s != nil {
			v.cycle, _ = s.MarshalBinary()
		}
		m[id] = v
	}
	return m
}

func checkRollups(t *testing.T, what string, got, want map[rowID]rowValue) {
	t.Helper()
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s: row %s missing, want %+v", what, id, w.counters)
		case g.counters != w.counters:
			t.Errorf("%s: row %s counters\n got %+v\nwant %+v", what, id, g.counters, w.counters)
		case !bytes.Equal(g.cycle, w.cycle):
			t.Errorf("%s: row %s cycle sketch %x, want %x", what, id, g.cycle, w.cycle)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("%s: unexpected row %s %+v", what, id, g.counters)
		}
	}
}

func storedTasks(t *testing.T, s day2.TaskStore) []day2.Task {
	t.Helper()
	return listAll(t, s, day2.TaskFilter{Limit: 1000})
}

func servicesOf(tasks []day2.Task) []string {
	var out []string
	for _, x := range tasks {
		if !slices.Contains(out, x.Service) {
			out = append(out, x.Service)
		}
	}
	slices.Sort(out)
	return out
}

// checkRollupsMatchTasks checks the rows of every tier against the summaries
// of the stored tasks.
func checkRollupsMatchTasks(t *testing.T, s day2.TaskStore, what string) {
	t.Helper()
	tasks := storedTasks(t, s)
	rs := rollupStore(t, s)
	for _, tier := range allTiers {
		got := readRollups(t, rs, tier, servicesOf(tasks)...)
		checkRollups(t, fmt.Sprintf("%s, %s tier", what, tier), got, wantRollups(tasks, tier))
	}
}

// CheckRollups checks that the rollups of s, a day2.RollupStore, hold in every
// tier exactly what the summaries of its stored tasks add up to, for the tests
// of a store outside the suite.
func CheckRollups(t *testing.T, s day2.TaskStore) {
	t.Helper()
	checkRollupsMatchTasks(t, s, "rollups")
}

// snapshot returns every rollup row of the services, as sorted lines that
// hold the cycle sketch's bytes in hex, for comparing stores byte for byte.
func snapshot(t *testing.T, rs day2.RollupStore, services []string) []string {
	t.Helper()
	var out []string
	for _, tier := range allTiers {
		for _, svc := range services {
			rows, err := rs.RollupRows(bg, svc, tier, time.Time{}, farFuture)
			if err != nil {
				t.Fatalf("RollupRows(%q, %s): %v", svc, tier, err)
			}
			for _, r := range rows {
				out = append(out, fmt.Sprintf("%s %s %+v %+v %x", tier, r.Start.Format(time.RFC3339Nano), r.Key, r.Counters, r.Cycle))
			}
		}
	}
	slices.Sort(out)
	return out
}

func checkSnapshot(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
	for _, g := range got {
		if _, found := slices.BinarySearch(want, g); !found {
			t.Errorf("%s: unexpected row %s", what, g)
		}
	}
	for _, w := range want {
		if _, found := slices.BinarySearch(got, w); !found {
			t.Errorf("%s: missing row %s", what, w)
		}
	}
}

// mixedTasks returns count varied tasks, numbered from first and started
// spacing apart from T0: two services, two environments, three versions and
// three risk tiers; successes, failures, escalations and tasks without an
// outcome yet; failing tool calls; outcomes before and after the root span
// ends; cycle times from the root span or from the outcome.
func mixedTasks(first, count int, spacing time.Duration) []*Task {
	out := make([]*Task, 0, count)
	for i := range count {
		n := first + i
		start := T0.Add(time.Duration(n)*spacing + time.Duration(n%7)*time.Second)
		x := NewTask(n, start).Service([]string{"invoice-agent", "hr-agent"}[n/2%2], []string{"prod", "prod", "prod", "staging"}[n%4], "0.9").
			Root(time.Duration(30+n%90)*time.Second,
				Str("gen_ai.agent.version", []string{"1.0", "1.1", "2.0"}[n%3]), Str("risk_tier", []string{"1", "2", "3"}[n/3%3])).
			LLM(time.Second, 2*time.Second, int64(500+n), int64(100+n%50)).
			Tool(4*time.Second, time.Second, n%5 == 0)
		if n%3 == 0 {
			x.Tool(6*time.Second, time.Second, n%6 == 0)
		}
		switch n % 6 {
		case 0, 1, 2:
			x.Outcome(time.Duration(20+n%40)*time.Second, true)
		case 3:
			x.Outcome(time.Minute, false, Int("cycle_time_ms", int64(1000+n*137)))
		case 4:
			x.Outcome(2*time.Minute, false, Bool("escalation", true), Int("cycle_time_ms", int64(90_000+n)))
		}
		out = append(out, x)
	}
	return out
}

// commitInParts commits the tasks in two commits, each task in one of three
// ways: complete in the first; children first and the root with the outcome
// in the second; the outcome first and the spans in the second.
func commitInParts(t *testing.T, s day2.TaskStore, tasks []*Task) {
	t.Helper()
	var first, second []day2.TaskData
	for i, x := range tasks {
		switch i % 3 {
		case 0:
			first = append(first, x.All())
		case 1:
			rest := x.RootOnly()
			rest.Logs = x.Logs().Logs
			first, second = append(first, x.Children()), append(second, rest)
		case 2:
			first, second = append(first, x.Logs()), append(second, x.RootOnly(), x.Children())
		}
	}
	commit(t, s, first...)
	commit(t, s, second...)
}

// lastSpan returns the task's last child span alone, as telemetry.
func lastSpan(x *Task) day2.TaskData {
	d := x.Children()
	d.Spans = d.Spans[len(d.Spans)-1:]
	return d
}

func testRollupsMatchTasks(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	rs := rollupStore(t, s)
	tasks := mixedTasks(0, 60, 23*time.Minute) // 23 hours, across midnight
	commitInParts(t, s, tasks)
	// Telemetry arriving after a purge adds to the stored summary.
	if _, err := s.PurgeRawBefore(bg, T0.Add(3*time.Hour)); err != nil {
		t.Fatalf("PurgeRawBefore: %v", err)
	}
	commit(t, s, lastSpan(tasks[1].Tool(50*time.Second, time.Second, true)))
	checkRollupsMatchTasks(t, s, "after the commits")

	// The totals of every tier are the counts of the summaries' fields.
	stored := storedTasks(t, s)
	if len(stored) != len(tasks) {
		t.Fatalf("%d tasks stored, want %d", len(stored), len(tasks))
	}
	for _, svc := range servicesOf(stored) {
		var want day2.Counters
		var cycles int64
		for _, x := range stored {
			if x.Service != svc {
				continue
			}
			want.Seen++
			want.LLMCalls += int64(x.LLMCalls)
			want.SafetyBlocks += int64(x.SafetyBlocks)
			want.ToolCalls += int64(x.ToolCalls)
			want.ToolFailures += int64(x.ToolFailures)
			want.ToolRetries += int64(x.ToolRetries)
			want.RateLimitHits += int64(x.RateLimitHits)
			want.InputTokens += x.InputTokens
			want.OutputTokens += x.OutputTokens
			if x.Success == nil {
				continue
			}
			want.Tasks++
			if *x.Success {
				want.Successes++
				want.SuccessTokens += x.InputTokens + x.OutputTokens
			}
			if x.Escalated != nil && *x.Escalated {
				want.Escalated++
			}
			if x.CycleTimeMS != nil {
				cycles++
			}
		}
		// The data must exercise every kind of task.
		if want.Tasks == want.Seen || want.Successes == want.Tasks || want.Escalated == 0 || want.ToolFailures == 0 || cycles == 0 {
			t.Fatalf("service %s: test data lacks variety: %+v, %d cycle times", svc, want, cycles)
		}
		for _, tier := range allTiers {
			var got day2.Counters
			var sk sketch.Sketch
			days := map[int64]bool{}
			for id, v := range readRollups(t, rs, tier, svc) {
				got.Add(v.counters)
				var c sketch.Sketch
				if err := c.UnmarshalBinary(v.cycle); err != nil {
					t.Fatalf("row %s: cycle sketch: %v", id, err)
				}
				sk.Merge(&c)
				days[time.Unix(0, id.start).UTC().Truncate(24*time.Hour).UnixNano()] = true
			}
			if got != want {
				t.Errorf("service %s, %s tier: totals\n got %+v\nwant %+v", svc, tier, got, want)
			}
			if sk.Count() != cycles {
				t.Errorf("service %s, %s tier: %d cycle times, want %d", svc, tier, sk.Count(), cycles)
			}
			if len(days) != 2 {
				t.Errorf("service %s, %s tier: rows on %d days, want 2", svc, tier, len(days))
			}
		}
	}
}

func testRollupLateOutcome(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	rs := rollupStore(t, s)
	minute := func(d time.Duration) int64 { return T0.Add(d).UnixNano() }
	checkOnly := func(when string, tier day2.RollupTier, start int64, want day2.Counters) {
		t.Helper()
		rows := readRollups(t, rs, tier, "invoice-agent")
		if len(rows) != 1 {
			t.Errorf("%s: %d %s rows, want 1: %v", when, len(rows), tier, rows)
		}
		for id, v := range rows {
			if id.start != start || v.counters != want {
				t.Errorf("%s: %s row %s %+v, want the bucket of %s with %+v",
					when, tier, id, v.counters, time.Unix(0, start).UTC().Format(time.RFC3339), want)
			}
		}
	}

	// A task of three minutes whose outcome happened after 90 seconds, and
	// arrives after the spans.
	x := NewTask(1, T0.Add(10*time.Second)).Root(3*time.Minute).
		LLM(time.Second, 2*time.Second, 800, 120).Tool(4*time.Second, time.Second, true).
		Outcome(90*time.Second, true, Int("cycle_time_ms", 85_000))
	commit(t, s, x.RootOnly(), x.Children())
	running := day2.Counters{Seen: 1, LLMCalls: 1, ToolCalls: 1, ToolFailures: 1, InputTokens: 800, OutputTokens: 120}
	checkOnly("before the outcome", day2.TierMinute, minute(3*time.Minute), running)

	commit(t, s, x.Logs())
	done := running
	done.Tasks, done.Successes, done.SuccessTokens = 1, 1, 920
	checkOnly("after the outcome", day2.TierMinute, minute(time.Minute), done)
	checkOnly("after the outcome", day2.TierHour, minute(0), done)
	checkOnly("after the outcome", day2.TierDay, T0.Truncate(24*time.Hour).UnixNano(), done)
	checkRollupsMatchTasks(t, s, "after the outcome")

	before := snapshot(t, rs, []string{"invoice-agent"})
	checkResult(t, "outcome again", commit(t, s, x.Logs()), day2.CommitResult{DuplicateLogs: 1})
	checkResult(t, "everything again", commit(t, s, x.All()), day2.CommitResult{DuplicateSpans: 3, DuplicateLogs: 1})
	checkSnapshot(t, "after redelivery", snapshot(t, rs, []string{"invoice-agent"}), before)

	// An outcome before midnight of a task whose spans end after it moves the
	// task to the day before.
	midnight := T0.Truncate(24 * time.Hour).Add(24 * time.Hour)
	y := NewTask(2, midnight.Add(-30*time.Second)).Service("night-agent", "prod", "1.0").Root(2*time.Minute).
		Outcome(20*time.Second, false)
	checkDays := func(when string, day time.Time, want day2.Counters) {
		t.Helper()
		days := readRollups(t, rs, day2.TierDay, "night-agent")
		if len(days) != 1 {
			t.Errorf("%s: %d day rows, want 1: %v", when, len(days), days)
		}
		for id, v := range days {
			if id.start != day.UnixNano() || v.counters.Tasks != want.Tasks || v.counters.Seen != want.Seen {
				t.Errorf("%s: day row %s %+v, want %s with %+v", when, id, v.counters, day.Format(time.DateOnly), want)
			}
		}
	}
	commit(t, s, y.RootOnly())
	checkDays("before the outcome", midnight, day2.Counters{Seen: 1})
	commit(t, s, y.Logs())
	checkDays("after the outcome", midnight.Add(-24*time.Hour), day2.Counters{Tasks: 1, Seen: 1})
	checkRollupsMatchTasks(t, s, "after the night task")
}

func testRollupKeyChange(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	rs := rollupStore(t, s)
	// Two tasks whose children carry the resource's version 1.0; the root span
	// of the first, arriving later, names agent version 2.0, its business
	// process and its risk tier.
	b := NewTask(1, T0).Service("a", "prod", "1.0").LLM(time.Second, time.Second, 10, 10).
		Root(time.Minute, Str("gen_ai.agent.version", "2.0"), Str("risk_tier", "1")).Outcome(time.Minute, true)
	other := NewTask(2, T0).Service("a", "prod", "1.0").LLM(time.Second, time.Second, 10, 10)
	commit(t, s, b.Children(), other.Children())
	before := day2.RollupKey{Service: "a", Environment: "prod", Version: "1.0", BusinessProcess: "chat gpt-4o"}
	for _, tier := range allTiers {
		rows := readRollups(t, rs, tier, "a")
		if len(rows) != 1 {
			t.Errorf("before the root: %d %s rows, want 1: %v", len(rows), tier, rows)
		}
		for id, v := range rows {
			if id.key != before || v.counters.Seen != 2 {
				t.Errorf("before the root: %s row %s %+v, want key %+v with 2 tasks", tier, id, v.counters, before)
			}
		}
	}

	commit(t, s, b.RootOnly(), b.Logs())
	after := day2.RollupKey{Service: "a", Environment: "prod", Version: "2.0", RiskTier: "1", BusinessProcess: "invoice_approval"}
	for _, tier := range allTiers {
		rows := readRollups(t, rs, tier, "a")
		seen := map[day2.RollupKey]int64{}
		for id, v := range rows {
			seen[id.key] += v.counters.Seen
		}
		if want := map[day2.RollupKey]int64{before: 1, after: 1}; len(rows) != 2 || seen[before] != 1 || seen[after] != 1 {
			t.Errorf("after the root: %s rows count tasks per key %v, want %v", tier, seen, want)
		}
	}
	checkRollupsMatchTasks(t, s, "after the root")
}

func testRebuildRollups(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	rs := rollupStore(t, s)
	if n, err := rs.RebuildRollups(bg); err != nil || n != 0 {
		t.Errorf("RebuildRollups of an empty store: %d tasks, %v; want 0, nil", n, err)
	}

	tasks := mixedTasks(0, 90, 17*time.Minute)
	commitInParts(t, s, tasks)
	if _, err := s.PurgeRawBefore(bg, T0.Add(2*time.Hour)); err != nil {
		t.Fatalf("PurgeRawBefore: %v", err)
	}
	commit(t, s, lastSpan(tasks[2].Tool(40*time.Second, time.Second, false)))
	moved := NewTask(1000, T0).Service("invoice-agent", "prod", "1.0").LLM(time.Second, time.Second, 10, 10).
		Root(time.Minute, Str("gen_ai.agent.version", "3.0")).Outcome(30*time.Second, true)
	commit(t, s, moved.Children())
	commit(t, s, moved.RootOnly(), moved.Logs())
	checkRollupsMatchTasks(t, s, "maintained")

	services := servicesOf(storedTasks(t, s))
	maintained := snapshot(t, rs, services)
	for i := range 2 {
		n, err := rs.RebuildRollups(bg)
		if err != nil {
			t.Fatalf("RebuildRollups: %v", err)
		}
		if n != int64(len(tasks)+1) {
			t.Errorf("RebuildRollups read %d tasks, want %d", n, len(tasks)+1)
		}
		checkSnapshot(t, fmt.Sprintf("rebuild %d", i+1), snapshot(t, rs, services), maintained)
	}

	// Commits go on from the rebuilt rows.
	more := mixedTasks(200, 30, 41*time.Minute)
	commitInParts(t, s, more)
	checkRollupsMatchTasks(t, s, "commits after the rebuild")
	maintained = snapshot(t, rs, services)
	if _, err := rs.RebuildRollups(bg); err != nil {
		t.Fatalf("RebuildRollups: %v", err)
	}
	checkSnapshot(t, "rebuild after more commits", snapshot(t, rs, services), maintained)
}

func testRollupSketchesMerge(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	rs := rollupStore(t, s)
	commitInParts(t, s, mixedTasks(0, 240, 9*time.Minute)) // 36 hours
	checkRollupsMatchTasks(t, s, "after the commits")

	for _, svc := range servicesOf(storedTasks(t, s)) {
		tiers := make([]map[rowID]rowValue, len(allTiers))
		for i, tier := range allTiers {
			tiers[i] = readRollups(t, rs, tier, svc)
		}
		merged := 0
		// Each finer tier, merged into the buckets of each coarser one, gives
		// the coarser tier's rows exactly.
		for fine := range allTiers {
			for coarse := fine + 1; coarse < len(allTiers); coarse++ {
				tier := allTiers[coarse]
				counters := map[rowID]day2.Counters{}
				cycles := map[rowID]*sketch.Sketch{}
				for id, v := range tiers[fine] {
					up := rowID{tier, time.Unix(0, id.start).UTC().Truncate(tier.Duration()).UnixNano(), id.key}
					c := counters[up]
					c.Add(v.counters)
					counters[up] = c
					var sk sketch.Sketch
					if err := sk.UnmarshalBinary(v.cycle); err != nil {
						t.Fatalf("row %s: cycle sketch: %v", id, err)
					}
					if cycles[up] == nil {
						cycles[up] = sketch.New()
					} else if sk.Count() > 0 {
						merged++
					}
					cycles[up].Merge(&sk)
				}
				want := map[rowID]rowValue{}
				for id, c := range counters {
					v := rowValue{counters: c}
					if sk := cycles[id]; sk.Count() > 0 {
						v.cycle, _ = sk.MarshalBinary()
					}
					want[id] = v
				}
				checkRollups(t, fmt.Sprintf("service %s: %s rows merged into %s", svc, allTiers[fine], tier), tiers[coarse], want)
			}
		}
		if merged == 0 {
			t.Errorf("service %s: no bucket merged two sketches; the test data is too sparse", svc)
		}
	}
}

func testRollupRowsRange(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	rs := rollupStore(t, s)
	var batch []day2.TaskData
	for n := range 5 {
		// Outcomes at T0+1m ... T0+5m.
		batch = append(batch, NewTypical(n, T0.Add(time.Duration(n)*time.Minute), "a", "prod", "1").All())
	}
	batch = append(batch, NewTypical(9, T0, "b", "prod", "1").All())
	commit(t, s, batch...)

	starts := func(rows []day2.RollupRow) []time.Time {
		var out []time.Time
		for _, r := range rows {
			if r.Start.Location() != time.UTC {
				t.Errorf("row start %v is not in UTC", r.Start)
			}
			out = append(out, r.Start)
		}
		slices.SortFunc(out, time.Time.Compare)
		return out
	}
	tests := []struct {
		name     string
		service  string
		tier     day2.RollupTier
		from, to time.Time
		want     []time.Time
	}{
		{"from is inclusive, to exclusive", "a", day2.TierMinute, T0.Add(2 * time.Minute), T0.Add(4 * time.Minute),
			[]time.Time{T0.Add(2 * time.Minute), T0.Add(3 * time.Minute)}},
		{"every minute", "a", day2.TierMinute, T0, T0.Add(time.Hour),
			[]time.Time{T0.Add(time.Minute), T0.Add(2 * time.Minute), T0.Add(3 * time.Minute), T0.Add(4 * time.Minute), T0.Add(5 * time.Minute)}},
		{"the hour", "a", day2.TierHour, T0, T0.Add(time.Hour), []time.Time{T0}},
		{"an hour starting before from is left out", "a", day2.TierHour, T0.Add(time.Minute), T0.Add(2 * time.Hour), nil},
		{"the day", "a", day2.TierDay, T0.Add(-24 * time.Hour), T0, []time.Time{T0.Truncate(24 * time.Hour)}},
		{"another service", "b", day2.TierMinute, T0, T0.Add(time.Hour), []time.Time{T0.Add(time.Minute)}},
		{"an unknown service", "nobody", day2.TierMinute, T0, T0.Add(time.Hour), nil},
		{"an empty range", "a", day2.TierMinute, T0.Add(2 * time.Minute), T0.Add(2 * time.Minute), nil},
		{"a zero from leaves the range open", "a", day2.TierHour, time.Time{}, farFuture, []time.Time{T0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := rs.RollupRows(bg, tt.service, tt.tier, tt.from, tt.to)
			if err != nil {
				t.Fatalf("RollupRows: %v", err)
			}
			if got := starts(rows); !slices.EqualFunc(got, tt.want, time.Time.Equal) {
				t.Errorf("RollupRows(%q, %s, %v, %v) starts %v, want %v", tt.service, tt.tier, tt.from, tt.to, got, tt.want)
			}
		})
	}
	_, err := rs.RollupRows(bg, "a", day2.RollupTier(7), T0, T0.Add(time.Hour))
	checkCode(t, "RollupRows of an unknown tier", err, day2.EInvalid)

	// RollupRanges answers several ranges at once with exactly the rows the
	// single-range reads give, each row tagged with its tier.
	ranges := []day2.RollupRange{
		{Tier: day2.TierMinute, From: T0.Add(2 * time.Minute), To: T0.Add(4 * time.Minute)},
		{Tier: day2.TierHour, From: T0, To: T0.Add(time.Hour)},
		{Tier: day2.TierDay, From: T0.Add(-24 * time.Hour), To: T0},
		{Tier: day2.TierMinute, From: T0.Add(5 * time.Minute), To: T0.Add(6 * time.Minute)},
	}
	got, err := rs.RollupRanges(bg, "a", ranges)
	if err != nil {
		t.Fatalf("RollupRanges: %v", err)
	}
	var want []day2.RollupRow
	for _, rg := range ranges {
		rows, err := rs.RollupRows(bg, "a", rg.Tier, rg.From, rg.To)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, rows...)
	}
	key := func(r day2.RollupRow) string {
		return fmt.Sprintf("%d/%d/%v/%d", r.Tier, r.Start.UnixNano(), r.Key, r.Counters.Seen)
	}
	gotKeys, wantKeys := make([]string, 0, len(got)), make([]string, 0, len(want))
	for _, r := range got {
		gotKeys = append(gotKeys, key(r))
	}
	for _, r := range want {
		wantKeys = append(wantKeys, key(r))
	}
	slices.Sort(gotKeys)
	slices.Sort(wantKeys)
	if len(wantKeys) != 5 || !slices.Equal(gotKeys, wantKeys) {
		t.Errorf("RollupRanges = %v, want %v (5 rows)", gotKeys, wantKeys)
	}
	_, err = rs.RollupRanges(bg, "a", []day2.RollupRange{{Tier: 9, From: T0, To: T0.Add(time.Hour)}})
	checkCode(t, "RollupRanges of an unknown tier", err, day2.EInvalid)
}

func testConcurrentRollups(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	stores := []day2.TaskStore{openStore(t, open), openStore(t, open)}
	const tasks, batchSize = 48, 4
	// Every task ends in the same few minutes, so both stores update the same
	// rows, cycle sketches included, all the time.
	var all []*Task
	for n := range tasks {
		all = append(all, NewTask(n, T0.Add(time.Duration(n)*time.Second)).Root(time.Minute).
			Tool(10*time.Second, time.Second, n%5 == 0).
			Outcome(time.Minute, n%4 != 0, Int("cycle_time_ms", int64(1000+250*n))))
	}
	// The first store gets the even tasks whole and the children of the odd
	// ones; the second the roots and outcomes of the odd tasks and the even
	// tasks again, in the opposite order.
	parts := [2][]day2.TaskData{}
	for n, x := range all {
		if n%2 == 0 {
			parts[0] = append(parts[0], x.All())
			parts[1] = append([]day2.TaskData{x.All()}, parts[1]...)
			continue
		}
		rest := x.RootOnly()
		rest.Logs = x.Logs().Logs
		parts[0] = append(parts[0], x.Children())
		parts[1] = append([]day2.TaskData{rest}, parts[1]...)
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			for from := 0; from < tasks; from += batchSize {
				if _, err := stores[i].CommitTasks(bg, parts[i][from:from+batchSize]); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: CommitTasks: %v", i, err)
		}
	}
	checkRollupsMatchTasks(t, stores[0], "after concurrent commits")
	checkRollupsMatchTasks(t, stores[1], "after concurrent commits, read by the other store")
}

func testRebuildDuringCommits(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s, writer := openStore(t, open), openStore(t, open)
	rs := rollupStore(t, s)
	commitInParts(t, s, mixedTasks(0, 30, 5*time.Minute))

	more := mixedTasks(100, 60, 3*time.Minute)
	var commitErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for from := 0; from < len(more); from += 6 {
			var first, second []day2.TaskData
			for _, x := range more[from : from+6] {
				first = append(first, x.Children())
				rest := x.RootOnly()
				rest.Logs = x.Logs().Logs
				second = append(second, rest)
			}
			for _, b := range [][]day2.TaskData{first, second} {
				if _, err := writer.CommitTasks(bg, b); err != nil {
					commitErr = err
					return
				}
			}
		}
	})
	for range 4 {
		if _, err := rs.RebuildRollups(bg); err != nil {
			t.Errorf("RebuildRollups: %v", err)
		}
	}
	wg.Wait()
	if commitErr != nil {
		t.Fatalf("CommitTasks: %v", commitErr)
	}
	checkRollupsMatchTasks(t, s, "after commits and rebuilds")
}

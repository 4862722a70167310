package taskstore_test

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
	"github.com/day2ops/day2/spancodec"
	"github.com/day2ops/day2/storetest"
)

var t0 = storetest.T0

func ptr[T any](v T) *T { return &v }

func TestLimit(t *testing.T) {
	tests := []struct {
		name string
		in   int
		want int
		code string
	}{
		{"zero means the default", 0, 50, ""},
		{"one", 1, 1, ""},
		{"the maximum", 1000, 1000, ""},
		{"above the maximum", 1001, 0, day2.EInvalid},
		{"negative", -5, 0, day2.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := taskstore.Limit(tt.in)
			if got != tt.want || day2.ErrorCode(err) != tt.code {
				t.Errorf("Limit(%d) = %d, %v; want %d, code %q", tt.in, got, err, tt.want, tt.code)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	for _, c := range []taskstore.Cursor{
		{Start: t0.UnixNano(), TaskID: storetest.TraceID(1)},
		{Start: 0, TaskID: day2.TraceID{}},
		{Start: -1, TaskID: storetest.TraceID(2)},
	} {
		got, err := taskstore.ParseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
	valid := taskstore.Cursor{Start: 5, TaskID: storetest.TraceID(1)}.String()
	for _, s := range []string{"", "x", "not base64!", valid[:len(valid)-2], valid + "AA", "B" + valid[1:]} {
		_, err := taskstore.ParseCursor(s)
		if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(day2.ErrorMessage(err), "cursor") {
			t.Errorf("ParseCursor(%q): error %v, want an EInvalid error about the cursor", s, err)
		}
	}
}

func TestGroup(t *testing.T) {
	a := storetest.NewTypical(1, t0, "a", "prod", "1")
	b := storetest.NewTypical(2, t0, "a", "prod", "1")
	repeated := a.Children()
	repeated.Spans = append(repeated.Spans, repeated.Spans[0])
	noID := b.All()
	noID.TraceID = day2.TraceID{}

	tests := []struct {
		name   string
		batch  []day2.TaskData
		want   []day2.TaskData
		result day2.CommitResult
		code   string
	}{
		{name: "empty batch", batch: nil, want: []day2.TaskData{}},
		{name: "distinct tasks keep their order", batch: []day2.TaskData{b.All(), a.All()}, want: []day2.TaskData{b.All(), a.All()}},
		{
			name:  "entries of one task merge at its first position",
			batch: []day2.TaskData{a.RootOnly(), b.All(), a.Children(), a.Logs()},
			want: []day2.TaskData{
				{TraceID: a.ID(), Spans: append(a.RootOnly().Spans, a.Children().Spans...), Logs: a.Logs().Logs},
				b.All(),
			},
		},
		{
			name:   "repeats across entries are duplicates",
			batch:  []day2.TaskData{a.All(), a.All()},
			want:   []day2.TaskData{a.All()},
			result: day2.CommitResult{DuplicateSpans: 3, DuplicateLogs: 1},
		},
		{
			name:   "repeats within an entry are duplicates",
			batch:  []day2.TaskData{repeated},
			want:   []day2.TaskData{a.Children()},
			result: day2.CommitResult{DuplicateSpans: 1},
		},
		{name: "an entry without trace id is invalid", batch: []day2.TaskData{a.All(), noID}, code: day2.EInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := deepCopy(tt.batch)
			got, r, err := taskstore.Group(tt.batch)
			if day2.ErrorCode(err) != tt.code {
				t.Fatalf("error %v, want code %q", err, tt.code)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("groups\n got %+v\nwant %+v", got, tt.want)
			}
			if r != tt.result {
				t.Errorf("result %+v, want %+v", r, tt.result)
			}
			if !reflect.DeepEqual(tt.batch, before) {
				t.Errorf("Group modified the batch")
			}
		})
	}
}

func deepCopy(b []day2.TaskData) []day2.TaskData {
	var out []day2.TaskData
	for _, d := range b {
		d.Spans = append([]day2.Span(nil), d.Spans...)
		d.Logs = append([]day2.LogRecord(nil), d.Logs...)
		out = append(out, d)
	}
	return out
}

func TestMerge(t *testing.T) {
	b := storetest.NewTypical(1, t0, "a", "prod", "1")
	all := b.All()
	stored := func(d day2.TaskData) *taskstore.Stored {
		return &taskstore.Stored{ID: 7, Task: day2.Summarize(&d), Raw: spancodec.Encode(&d)}
	}
	full := stored(all)
	purged := &taskstore.Stored{ID: 7, Task: full.Task, Purged: true}
	corrupt := &taskstore.Stored{ID: 7, Task: full.Task, Raw: []byte("garbage")}
	late := storetest.NewTypical(1, t0, "a", "prod", "1").Tool(10*time.Second, time.Second, true).Children()
	late.Spans = late.Spans[len(late.Spans)-1:]
	folded := full.Task
	folded.Spans++
	folded.ToolCalls++
	folded.ToolFailures++

	tests := []struct {
		name     string
		prev     *taskstore.Stored
		in       day2.TaskData
		changed  bool
		result   day2.CommitResult
		task     day2.Task
		data     day2.TaskData
		purged   bool
		corrupts bool
	}{
		{name: "new task", in: all, changed: true, result: day2.CommitResult{Spans: 3, Logs: 1, TasksCreated: 1},
			task: full.Task, data: all},
		{name: "new task without telemetry", in: day2.TaskData{TraceID: b.ID()}},
		{name: "nothing new", prev: full, in: b.Children(), result: day2.CommitResult{DuplicateSpans: 2}},
		{name: "parts merge", prev: stored(b.Children()), in: b.RootOnly(), changed: true,
			result: day2.CommitResult{Spans: 1, TasksUpdated: 1},
			task:   day2.Summarize(ptr(day2.TaskData{TraceID: b.ID(), Spans: append(b.Children().Spans, b.RootOnly().Spans...)})),
			data:   day2.TaskData{TraceID: b.ID(), Spans: append(b.Children().Spans, b.RootOnly().Spans...)}},
		{name: "purged task folds the late telemetry into its summary", prev: purged, in: late, changed: true,
			result: day2.CommitResult{Spans: 1, TasksUpdated: 1}, task: folded, data: late, purged: true},
		{name: "corrupt raw is handled like a purge", prev: corrupt, in: late, changed: true,
			result: day2.CommitResult{Spans: 1, TasksUpdated: 1}, task: folded, data: late, purged: true, corrupts: true},
		{name: "corrupt raw is rewritten even without news", prev: corrupt, in: day2.TaskData{TraceID: b.ID()}, changed: true,
			result: day2.CommitResult{TasksUpdated: 1}, task: full.Task, data: day2.TaskData{TraceID: b.ID()}, purged: true, corrupts: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, changed := taskstore.Merge(tt.prev, &tt.in)
			if changed != tt.changed || c.Result != tt.result {
				t.Fatalf("changed %v, result %+v; want %v, %+v", changed, c.Result, tt.changed, tt.result)
			}
			if !changed {
				return
			}
			if !reflect.DeepEqual(c.Task, tt.task) {
				t.Errorf("summary\n got %+v\nwant %+v", c.Task, tt.task)
			}
			data, err := spancodec.Decode(c.Raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(data, tt.data) {
				t.Errorf("raw\n got %+v\nwant %+v", data, tt.data)
			}
			if c.Purged != tt.purged || (c.Corrupt != nil) != tt.corrupts {
				t.Errorf("purged %v, corrupt %v; want %v, %v", c.Purged, c.Corrupt, tt.purged, tt.corrupts)
			}
			if (tt.prev == nil) != (c.Prev == nil) || (tt.prev != nil && c.ID != tt.prev.ID) {
				t.Errorf("Prev %v, ID %d do not match the stored task", c.Prev, c.ID)
			}
		})
	}
}

func TestFold(t *testing.T) {
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	base := day2.Task{
		TaskID: "x", Service: "a", Environment: "prod", Version: "1", BusinessProcess: "invoice", RootSeen: true,
		StartTime: at(0), EndTime: at(time.Minute), Success: ptr(true), Escalated: ptr(false), ReasonCode: "ok",
		OutcomeTime: at(time.Minute), CycleTimeMS: ptr(int64(60000)),
		LLMCalls: 2, ToolCalls: 3, ToolFailures: 1, ToolRetries: 1, InputTokens: 100, OutputTokens: 10,
		SafetyBlocks: 1, RateLimitHits: 1, Spans: 6,
	}
	tests := []struct {
		name string
		base day2.Task
		late day2.Task
		want func(*day2.Task)
	}{
		{
			name: "counters add up and times widen",
			base: base,
			late: day2.Task{Service: "other", LLMCalls: 1, ToolCalls: 1, ToolFailures: 1, ToolRetries: 2, InputTokens: 5,
				OutputTokens: 6, SafetyBlocks: 1, RateLimitHits: 1, Spans: 2, StartTime: at(-time.Second), EndTime: at(2 * time.Minute)},
			want: func(t *day2.Task) {
				t.LLMCalls, t.ToolCalls, t.ToolFailures, t.ToolRetries = 3, 4, 2, 3
				t.InputTokens, t.OutputTokens, t.SafetyBlocks, t.RateLimitHits, t.Spans = 105, 16, 2, 2, 8
				t.StartTime, t.EndTime = at(-time.Second), at(2*time.Minute)
			},
		},
		{
			name: "a later outcome wins",
			base: base,
			late: day2.Task{Spans: 0, Success: ptr(false), Escalated: ptr(true), ReasonCode: "timeout", OutcomeTime: at(2 * time.Minute),
				CycleTimeMS: ptr(int64(1))},
			want: func(t *day2.Task) {
				t.Success, t.Escalated, t.ReasonCode, t.OutcomeTime, t.CycleTimeMS = ptr(false), ptr(true), "timeout", at(2*time.Minute), ptr(int64(1))
			},
		},
		{
			name: "an earlier outcome loses",
			base: base,
			late: day2.Task{Success: ptr(false), Escalated: ptr(true), ReasonCode: "timeout", OutcomeTime: at(time.Second)},
			want: func(t *day2.Task) {},
		},
		{
			name: "a late root brings identity and times",
			base: day2.Task{Service: "a", Version: "1", Spans: 2, StartTime: at(time.Second), EndTime: at(2 * time.Second)},
			late: day2.Task{Service: "a", Environment: "prod", Version: "2", BusinessProcess: "invoice", RootSeen: true, Spans: 1,
				StartTime: at(0), EndTime: at(time.Minute), CycleTimeMS: ptr(int64(60000))},
			want: func(t *day2.Task) {
				t.Environment, t.Version, t.BusinessProcess, t.RootSeen, t.Spans = "prod", "2", "invoice", true, 3
				t.StartTime, t.EndTime, t.CycleTimeMS = at(0), at(time.Minute), ptr(int64(60000))
			},
		},
		{
			name: "without a root the late telemetry only fills gaps",
			base: day2.Task{Service: "a", Version: "1", Spans: 2, StartTime: at(time.Second), EndTime: at(2 * time.Second)},
			late: day2.Task{Service: "b", Environment: "prod", Version: "2", Tenant: "contoso", Spans: 1},
			want: func(t *day2.Task) { t.Environment, t.Tenant, t.Spans = "prod", "contoso", 3 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.base
			tt.want(&want)
			if got := taskstore.Fold(tt.base, tt.late); !reflect.DeepEqual(got, want) {
				t.Errorf("Fold\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestVersions(t *testing.T) {
	task := func(svc, env, ver string, start time.Duration) *day2.Task {
		return &day2.Task{Service: svc, Environment: env, Version: ver, StartTime: t0.Add(start)}
	}
	ns := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	var v taskstore.Versions
	v.Move(nil, task("b", "prod", "1", time.Hour))
	v.Move(nil, task("a", "prod", "1", 0))
	v.Move(task("a", "prod", "1", 0), task("a", "prod", "1", -time.Minute))  // an earlier span arrived
	v.Move(task("a", "prod", "0", 0), task("a", "prod", "2", 2*time.Hour))   // the root changed the version
	v.Move(nil, &day2.Task{Service: "a", Environment: "prod", Version: "1"}) // no start time known
	want := []taskstore.VersionDelta{
		{VersionKey: taskstore.VersionKey{Service: "a", Environment: "prod", Version: "0"}, Tasks: -1},
		{VersionKey: taskstore.VersionKey{Service: "a", Environment: "prod", Version: "1"}, Tasks: 2, FirstSeen: ns(-time.Minute), LastSeen: ns(0)},
		{VersionKey: taskstore.VersionKey{Service: "a", Environment: "prod", Version: "2"}, Tasks: 1, FirstSeen: ns(2 * time.Hour), LastSeen: ns(2 * time.Hour)},
		{VersionKey: taskstore.VersionKey{Service: "b", Environment: "prod", Version: "1"}, Tasks: 1, FirstSeen: ns(time.Hour), LastSeen: ns(time.Hour)},
	}
	if got := v.Deltas(); !reflect.DeepEqual(got, want) {
		t.Errorf("Deltas\n got %+v\nwant %+v", got, want)
	}
}

func TestServices(t *testing.T) {
	row := func(svc, env, ver string, n int64, first, last time.Duration) taskstore.VersionDelta {
		return taskstore.VersionDelta{VersionKey: taskstore.VersionKey{Service: svc, Environment: env, Version: ver},
			Tasks: n, FirstSeen: t0.Add(first).UnixNano(), LastSeen: t0.Add(last).UnixNano()}
	}
	at := func(d time.Duration) time.Time { return day2.UnixNano(t0.Add(d).UnixNano()) }
	got := taskstore.Services([]taskstore.VersionDelta{
		row("", "prod", "1", 5, 0, 0),
		row("a", "staging", "1", 1, time.Hour, 2*time.Hour),
		row("a", "prod", "2", 2, 0, 3*time.Hour),
		row("a", "prod", "3", 0, 0, 5*time.Hour),
		row("b", "prod", "1", 1, time.Minute, time.Minute),
	})
	want := []day2.ServiceSummary{
		{Service: "a", Environments: []string{"prod", "staging"}, TaskCount: 3, FirstSeen: at(0), LastSeen: at(3 * time.Hour),
			Versions: []day2.VersionSummary{
				{Environment: "prod", Version: "2", TaskCount: 2, LastSeen: at(3 * time.Hour)},
				{Environment: "staging", Version: "1", TaskCount: 1, LastSeen: at(2 * time.Hour)},
			}},
		{Service: "b", Environments: []string{"prod"}, TaskCount: 1, FirstSeen: at(time.Minute), LastSeen: at(time.Minute),
			Versions: []day2.VersionSummary{{Environment: "prod", Version: "1", TaskCount: 1, LastSeen: at(time.Minute)}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Services\n got %+v\nwant %+v", got, want)
	}
}

func TestValuesAndScannerAgree(t *testing.T) {
	task := day2.Task{
		TaskID: storetest.TraceID(3).String(), Service: "a", Environment: "prod", Version: "1", BusinessProcess: "bp",
		RiskTier: "2", FlowRunID: "run", Tenant: "contoso", StartTime: day2.UnixNano(t0.UnixNano()),
		EndTime: day2.UnixNano(t0.Add(time.Minute).UnixNano()), CycleTimeMS: ptr(int64(5)), Success: ptr(true),
		Escalated: ptr(false), ReasonCode: "ok", OutcomeTime: day2.UnixNano(t0.Add(time.Minute).UnixNano()),
		LLMCalls: 1, ToolCalls: 2, ToolFailures: 3, ToolRetries: 4, InputTokens: 5, OutputTokens: 6,
		SafetyBlocks: 7, RateLimitHits: 8, Spans: 9, RootSeen: true,
	}
	for _, tt := range []day2.Task{task, {TaskID: task.TaskID}} {
		vals := taskstore.Values(&tt)
		var sc taskstore.TaskScanner
		dest := sc.Dest()
		if len(vals) != taskstore.NumColumns || len(dest) != taskstore.NumColumns ||
			len(strings.Split(taskstore.Columns, ", ")) != taskstore.NumColumns {
			t.Fatalf("%d values, %d destinations, want %d", len(vals), len(dest), taskstore.NumColumns)
		}
		// Assign each value as a database driver would return it.
		for i, v := range vals {
			if err := assign(dest[i], v); err != nil {
				t.Fatalf("column %d: %v", i, err)
			}
		}
		if got := sc.Task(storetest.TraceID(3)); !reflect.DeepEqual(got, tt) {
			t.Errorf("round trip through the columns\n got %+v\nwant %+v", got, tt)
		}
	}
}

func assign(dst, v any) error {
	if s, ok := dst.(interface{ Scan(any) error }); ok {
		return s.Scan(v)
	}
	rv := reflect.ValueOf(dst).Elem()
	rv.Set(reflect.ValueOf(v))
	return nil
}

func TestMigrations(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_more.sql":  {Data: []byte("two")},
		"m/0001_first.sql": {Data: []byte("one")},
		"m/README":         {Data: []byte("not a migration")},
	}
	got, err := taskstore.Migrations(good, "m")
	if err != nil {
		t.Fatalf("Migrations: %v", err)
	}
	want := []taskstore.Migration{{Version: 1, Name: "0001_first.sql", SQL: "one"}, {Version: 2, Name: "0002_more.sql", SQL: "two"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Migrations\n got %+v\nwant %+v", got, want)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no number":         {"m/first.sql": {}},
		"version zero":      {"m/0000_zero.sql": {}},
		"duplicate version": {"m/0001_a.sql": {}, "m/1_b.sql": {}},
		"empty":             {"m/README": {}},
	} {
		if _, err := taskstore.Migrations(fsys, "m"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestPrepareLargeBatch checks that a batch large enough to be merged on several
// goroutines gives the same plan as merging task by task, with the new tasks
// merged inside Prepare or beforehand by Fresh.
func TestPrepareLargeBatch(t *testing.T) {
	stored := map[day2.TraceID]*taskstore.Stored{}
	var groups []day2.TaskData
	for n := range 300 {
		b := storetest.NewTypical(n, t0.Add(time.Duration(n)*time.Second), "a", "prod", "1")
		if n%2 == 0 {
			children := b.Children()
			stored[b.ID()] = &taskstore.Stored{ID: int64(n + 1), Task: day2.Summarize(&children), Raw: spancodec.Encode(&children)}
		}
		groups = append(groups, b.All())
	}
	p := taskstore.Prepare(groups, stored, nil)
	withFresh := taskstore.Prepare(groups, stored, taskstore.Fresh(groups))

	var want taskstore.Plan
	var versions taskstore.Versions
	var rollups taskstore.Rollups
	for i := range groups {
		c, changed := taskstore.Merge(stored[groups[i].TraceID], &groups[i])
		want.Result.Add(c.Result)
		if !changed {
			continue
		}
		versions.Move(c.Prev, &c.Task)
		rollups.Move(c.Prev, &c.Task)
		if c.Prev == nil {
			want.Inserts = append(want.Inserts, c)
		} else {
			want.Updates = append(want.Updates, c)
		}
	}
	want.Versions = versions.Deltas()
	want.Rollups = rollups.Deltas()
	if len(want.Rollups) == 0 {
		t.Fatalf("no rollup deltas")
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Prepare differs from merging task by task: result %+v, want %+v", p.Result, want.Result)
	}
	if !reflect.DeepEqual(withFresh, want) {
		t.Errorf("Prepare with Fresh differs from merging task by task: result %+v, want %+v", withFresh.Result, want.Result)
	}
	if p.Result != (day2.CommitResult{Spans: 150*1 + 150*3, DuplicateSpans: 150 * 2, Logs: 300, TasksCreated: 150, TasksUpdated: 150}) {
		t.Errorf("result %+v", p.Result)
	}
}

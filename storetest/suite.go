package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

// Run runs the conformance suite against the stores open returns. The subtests
// run in parallel; open must be safe for that.
//
// The first call of open in a test must return a store on a new, empty database.
// A later call in the same test (same t) must return another store on that same
// database: after the first store was closed the suite uses this to check that
// data survives a reopen, and while it is open to run two stores side by side as
// two replicas would. The suite closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) day2.TaskStore)
	}{
		{"a committed task is readable with its spans and logs", testCommitAndGet},
		{"an unknown task is not found", testGetMissing},
		{"a batch committed twice counts once", testIdempotent},
		{"telemetry already stored is a duplicate, the rest is added", testPartialRedelivery},
		{"parts arriving in separate commits merge into one task", testMergeAcrossCommits},
		{"entries sharing a trace id within one batch merge", testMergeWithinBatch},
		{"an entry without a trace id is rejected", testRejectsZeroTraceID},
		{"an empty batch or entry commits nothing", testEmptyBatch},
		{"filters select by service, environment, version and start time", testFilters},
		{"tasks are listed newest first with ties broken by task id", testOrder},
		{"pages with cursors cover every task exactly once", testPagination},
		{"tasks arriving out of start-time order are listed and paged by start time", testOutOfOrderArrival},
		{"a bad cursor or limit is an invalid request", testInvalidListRequests},
		{"services are counted per environment and version", testServices},
		{"a later span that changes a task's version moves its count", testVersionChange},
		{"purging keeps the summary and drops the raw telemetry", testPurge},
		{"telemetry arriving after a purge adds to the summary", testLateAfterPurge},
		{"data survives closing and reopening the store", testReopen},
		{"two stores committing overlapping tasks concurrently lose nothing", testConcurrentStores},
		{"ping succeeds on an open store", testPing},
	}
	tests = append(tests, rollupTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

var bg = context.Background()

// openStore opens a store and closes it when the test ends.
func openStore(t *testing.T, open func(t *testing.T) day2.TaskStore) day2.TaskStore {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func commit(t *testing.T, s day2.TaskStore, batch ...day2.TaskData) day2.CommitResult {
	t.Helper()
	r, err := s.CommitTasks(bg, batch)
	if err != nil {
		t.Fatalf("CommitTasks: %v", err)
	}
	return r
}

func checkResult(t *testing.T, what string, got, want day2.CommitResult) {
	t.Helper()
	if got != want {
		t.Errorf("%s: CommitResult %+v, want %+v", what, got, want)
	}
}

func get(t *testing.T, s day2.TaskStore, id day2.TraceID) day2.TaskDetail {
	t.Helper()
	d, err := s.GetTask(bg, id)
	if err != nil {
		t.Fatalf("GetTask(%s): %v", id, err)
	}
	return d
}

// checkStored checks that the store holds exactly want for the task, not purged,
// summarized as day2.Summarize summarizes it.
func checkStored(t *testing.T, s day2.TaskStore, want day2.TaskData) {
	t.Helper()
	d := get(t, s, want.TraceID)
	if d.RawPurged {
		t.Errorf("task %s: RawPurged is true, want false", want.TraceID)
	}
	checkData(t, d.Data, want)
	if summary := day2.Summarize(&want); !reflect.DeepEqual(d.Task, summary) {
		t.Errorf("task %s: summary\n got %+v\nwant %+v", want.TraceID, d.Task, summary)
	}
}

// checkData compares telemetry regardless of the order of spans and records.
func checkData(t *testing.T, got, want day2.TaskData) {
	t.Helper()
	if got.TraceID != want.TraceID {
		t.Errorf("trace id %s, want %s", got.TraceID, want.TraceID)
	}
	got, want = sorted(got), sorted(want)
	if !reflect.DeepEqual(got.Spans, want.Spans) {
		t.Errorf("task %s: spans\n got %+v\nwant %+v", want.TraceID, got.Spans, want.Spans)
	}
	if !reflect.DeepEqual(got.Logs, want.Logs) {
		t.Errorf("task %s: logs\n got %+v\nwant %+v", want.TraceID, got.Logs, want.Logs)
	}
}

func sorted(d day2.TaskData) day2.TaskData {
	d.Spans = slices.Clone(d.Spans)
	slices.SortFunc(d.Spans, func(a, b day2.Span) int { return bytes.Compare(a.SpanID[:], b.SpanID[:]) })
	d.Logs = slices.Clone(d.Logs)
	slices.SortFunc(d.Logs, func(a, b day2.LogRecord) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return d
}

// listAll follows the cursors of f's pages and returns all tasks.
func listAll(t *testing.T, s day2.TaskStore, f day2.TaskFilter) []day2.Task {
	t.Helper()
	var all []day2.Task
	for page := 0; ; page++ {
		if page > 10_000 {
			t.Fatalf("ListTasks(%+v): cursors do not end", f)
		}
		p, err := s.ListTasks(bg, f)
		if err != nil {
			t.Fatalf("ListTasks(%+v): %v", f, err)
		}
		limit := f.Limit
		if limit == 0 {
			limit = 50
		}
		if len(p.Tasks) > limit {
			t.Fatalf("ListTasks(%+v): %d tasks, more than the limit", f, len(p.Tasks))
		}
		all = append(all, p.Tasks...)
		if p.NextCursor == "" {
			return all
		}
		if len(p.Tasks) == 0 {
			t.Fatalf("ListTasks(%+v): an empty page with a next cursor", f)
		}
		f.Cursor = p.NextCursor
	}
}

func taskIDs(ts []day2.Task) []string {
	ids := make([]string, len(ts))
	for i, x := range ts {
		ids[i] = x.TaskID
	}
	return ids
}

// newestFirst returns the ids of tasks in the order ListTasks must return them.
func newestFirst(tasks ...*Task) []string {
	ts := slices.Clone(tasks)
	slices.SortFunc(ts, func(a, b *Task) int {
		if c := b.Start().Compare(a.Start()); c != 0 {
			return c
		}
		ai, bi := a.ID(), b.ID()
		return bytes.Compare(bi[:], ai[:])
	})
	ids := make([]string, len(ts))
	for i, x := range ts {
		ids[i] = x.ID().String()
	}
	return ids
}

func checkCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := day2.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func testCommitAndGet(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	b := NewTypical(1, T0, "invoice-agent", "prod", "1.0")
	checkResult(t, "commit", commit(t, s, b.All()), day2.CommitResult{Spans: 3, Logs: 1, TasksCreated: 1})
	checkStored(t, s, b.All())

	d := get(t, s, b.ID())
	want := day2.Task{TaskID: b.ID().String(), Service: "invoice-agent", Environment: "prod", Version: "1.0",
		LLMCalls: 1, ToolCalls: 1, Spans: 3, RootSeen: true, InputTokens: 800, OutputTokens: 120}
	got := d.Task
	if got.TaskID != want.TaskID || got.Service != want.Service || got.Environment != want.Environment ||
		got.Version != want.Version || got.LLMCalls != want.LLMCalls || got.ToolCalls != want.ToolCalls ||
		got.Spans != want.Spans || got.RootSeen != want.RootSeen || got.InputTokens != want.InputTokens ||
		got.OutputTokens != want.OutputTokens {
		t.Errorf("summary %+v, want the fields of %+v", got, want)
	}
	if got.Success == nil || !*got.Success || !got.StartTime.Equal(T0) || !got.EndTime.Equal(T0.Add(time.Minute)) {
		t.Errorf("summary outcome and times: success %v, start %v, end %v", got.Success, got.StartTime, got.EndTime)
	}
	// Spans that shared a resource still share one.
	if len(d.Data.Spans) == 3 && d.Data.Spans[0].Resource != d.Data.Spans[1].Resource {
		t.Errorf("spans of one resource read back with distinct resources")
	}
}

func testGetMissing(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	commit(t, s, NewTypical(1, T0, "a", "prod", "1").All())
	_, err := s.GetTask(bg, TraceID(2))
	checkCode(t, "GetTask of an unknown task", err, day2.ENotFound)
}

func testIdempotent(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	var batch []day2.TaskData
	for n := range 3 {
		batch = append(batch, NewTypical(n, T0.Add(time.Duration(n)*time.Minute), "a", "prod", "1").All())
	}
	checkResult(t, "first commit", commit(t, s, batch...), day2.CommitResult{Spans: 9, Logs: 3, TasksCreated: 3})
	checkResult(t, "second commit", commit(t, s, batch...), day2.CommitResult{DuplicateSpans: 9, DuplicateLogs: 3})
	for _, d := range batch {
		checkStored(t, s, d)
	}
	if got := listAll(t, s, day2.TaskFilter{}); len(got) != 3 {
		t.Errorf("%d tasks listed, want 3", len(got))
	}
	services, err := s.ListServices(bg)
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	if len(services) != 1 || services[0].TaskCount != 3 {
		t.Errorf("ListServices %+v, want service a with 3 tasks", services)
	}
}

func testPartialRedelivery(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	b := NewTypical(1, T0, "a", "prod", "1")
	commit(t, s, b.All())
	b.Tool(10*time.Second, time.Second, true)
	checkResult(t, "children with one new span", commit(t, s, b.Children()),
		day2.CommitResult{Spans: 1, DuplicateSpans: 2, TasksUpdated: 1})
	checkStored(t, s, b.All())
	if d := get(t, s, b.ID()); d.Task.Spans != 4 || d.Task.ToolFailures != 1 {
		t.Errorf("span count %d, tool failures %d; want 4 and 1", d.Task.Spans, d.Task.ToolFailures)
	}
}

func testMergeAcrossCommits(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	b := NewTypical(1, T0, "invoice-agent", "prod", "1.0")

	// The outcome log arrives first, then the children, and the root span last,
	// the usual order since a parent span ends after its children.
	checkResult(t, "outcome log", commit(t, s, b.Logs()), day2.CommitResult{Logs: 1, TasksCreated: 1})
	d := get(t, s, b.ID())
	if d.Task.Success == nil || !*d.Task.Success || d.Task.RootSeen || d.Task.Spans != 0 {
		t.Errorf("after the outcome log: success %v, root seen %v, %d spans; want true, false, 0",
			d.Task.Success, d.Task.RootSeen, d.Task.Spans)
	}
	checkResult(t, "children", commit(t, s, b.Children()), day2.CommitResult{Spans: 2, TasksUpdated: 1})
	checkResult(t, "root", commit(t, s, b.RootOnly()), day2.CommitResult{Spans: 1, TasksUpdated: 1})

	checkStored(t, s, b.All())
	if d := get(t, s, b.ID()); !d.Task.RootSeen || d.Task.Spans != 3 {
		t.Errorf("after the root: root seen %v, %d spans; want true, 3", d.Task.RootSeen, d.Task.Spans)
	}
	if got := listAll(t, s, day2.TaskFilter{}); len(got) != 1 {
		t.Errorf("%d tasks listed, want 1", len(got))
	}
}

func testMergeWithinBatch(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	a := NewTypical(1, T0, "a", "prod", "1")
	b := NewTypical(2, T0, "a", "prod", "1")
	repeated := b.Children()
	repeated.Spans = append(repeated.Spans, repeated.Spans[0])

	r := commit(t, s, a.RootOnly(), b.Logs(), a.Children(), repeated, a.Logs(), a.RootOnly(), b.RootOnly())
	checkResult(t, "batch", r, day2.CommitResult{Spans: 6, Logs: 2, DuplicateSpans: 2, TasksCreated: 2})
	checkStored(t, s, a.All())
	checkStored(t, s, b.All())
}

func testRejectsZeroTraceID(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	good := NewTypical(1, T0, "a", "prod", "1").All()
	bad := NewTypical(2, T0, "a", "prod", "1").All()
	bad.TraceID = day2.TraceID{}
	_, err := s.CommitTasks(bg, []day2.TaskData{good, bad})
	checkCode(t, "commit with a zero trace id", err, day2.EInvalid)
	if got := listAll(t, s, day2.TaskFilter{}); len(got) != 0 {
		t.Errorf("%d tasks stored by a rejected batch, want 0", len(got))
	}
}

func testEmptyBatch(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	checkResult(t, "nil batch", commit(t, s), day2.CommitResult{})
	checkResult(t, "entry without telemetry", commit(t, s, day2.TaskData{TraceID: TraceID(1)}), day2.CommitResult{})
	_, err := s.GetTask(bg, TraceID(1))
	checkCode(t, "GetTask of a task committed without telemetry", err, day2.ENotFound)
}

func testFilters(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	tasks := []*Task{
		NewTypical(1, T0, "a", "prod", "1.0"),
		NewTypical(2, T0.Add(time.Hour), "a", "prod", "2.0"),
		NewTypical(3, T0.Add(2*time.Hour), "a", "staging", "1.0"),
		NewTypical(4, T0.Add(3*time.Hour), "b", "prod", "1.0"),
		NewTypical(5, T0.Add(4*time.Hour), "b", "prod", "1.0"),
	}
	var batch []day2.TaskData
	for _, x := range tasks {
		batch = append(batch, x.All())
	}
	commit(t, s, batch...)
	pick := func(ns ...int) []string {
		var ts []*Task
		for _, n := range ns {
			ts = append(ts, tasks[n-1])
		}
		return newestFirst(ts...)
	}

	tests := []struct {
		name   string
		filter day2.TaskFilter
		want   []string
	}{
		{"no filter lists all", day2.TaskFilter{}, pick(1, 2, 3, 4, 5)},
		{"service", day2.TaskFilter{Service: "a"}, pick(1, 2, 3)},
		{"environment", day2.TaskFilter{Environment: "prod"}, pick(1, 2, 4, 5)},
		{"version", day2.TaskFilter{Version: "1.0"}, pick(1, 3, 4, 5)},
		{"service and version", day2.TaskFilter{Service: "a", Version: "1.0"}, pick(1, 3)},
		{"service, environment and version", day2.TaskFilter{Service: "a", Environment: "prod", Version: "2.0"}, pick(2)},
		{"since is inclusive", day2.TaskFilter{Since: T0.Add(time.Hour)}, pick(2, 3, 4, 5)},
		{"until is exclusive", day2.TaskFilter{Until: T0.Add(3 * time.Hour)}, pick(1, 2, 3)},
		{"since and until", day2.TaskFilter{Since: T0.Add(time.Hour), Until: T0.Add(3 * time.Hour)}, pick(2, 3)},
		{"service and time", day2.TaskFilter{Service: "b", Since: T0.Add(4 * time.Hour)}, pick(5)},
		{"unknown service", day2.TaskFilter{Service: "nobody"}, nil},
		{"empty window", day2.TaskFilter{Since: T0.Add(time.Hour), Until: T0.Add(time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := taskIDs(listAll(t, s, tt.filter))
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ListTasks(%+v)\n got %v\nwant %v", tt.filter, got, tt.want)
			}
		})
	}
}

func testOrder(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	var tasks []*Task
	var batch []day2.TaskData
	for n := range 12 {
		// Three tasks share each start time, so the task id decides among them.
		x := NewTypical(n, T0.Add(time.Duration(n%4)*time.Minute), "a", "prod", "1")
		tasks = append(tasks, x)
		batch = append(batch, x.All())
	}
	commit(t, s, batch...)
	p, err := s.ListTasks(bg, day2.TaskFilter{})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if got, want := taskIDs(p.Tasks), newestFirst(tasks...); !slices.Equal(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
	if p.NextCursor != "" {
		t.Errorf("NextCursor %q on the only page, want none", p.NextCursor)
	}
	// Listed summaries are the ones GetTask returns.
	for _, x := range p.Tasks {
		id, _ := day2.ParseTraceID(x.TaskID)
		if d := get(t, s, id); !reflect.DeepEqual(d.Task, x) {
			t.Errorf("listed summary %+v differs from GetTask's %+v", x, d.Task)
		}
	}
}

func testPagination(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	var all, onlyB []*Task
	var batch []day2.TaskData
	for n := range 55 {
		service := "a"
		if n%3 == 0 {
			service = "b"
		}
		x := NewTypical(n, T0.Add(time.Duration(n%7)*time.Minute), service, "prod", "1")
		all = append(all, x)
		if service == "b" {
			onlyB = append(onlyB, x)
		}
		batch = append(batch, x.All())
	}
	commit(t, s, batch...)

	p, err := s.ListTasks(bg, day2.TaskFilter{})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(p.Tasks) != 50 || p.NextCursor == "" {
		t.Errorf("default page: %d tasks, next cursor %q; want 50 and a cursor", len(p.Tasks), p.NextCursor)
	}

	tests := []struct {
		name   string
		filter day2.TaskFilter
		want   []*Task
	}{
		{"default limit", day2.TaskFilter{}, all},
		{"limit 7", day2.TaskFilter{Limit: 7}, all},
		{"limit 1", day2.TaskFilter{Limit: 1}, all},
		{"limit dividing the count", day2.TaskFilter{Limit: 11}, all},
		{"limit 1000", day2.TaskFilter{Limit: 1000}, all},
		{"filtered", day2.TaskFilter{Service: "b", Limit: 4}, onlyB},
		{"filtered by time", day2.TaskFilter{Until: T0.Add(3 * time.Minute), Limit: 5}, startingBefore(all, T0.Add(3*time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := taskIDs(listAll(t, s, tt.filter))
			if want := newestFirst(tt.want...); !slices.Equal(got, want) {
				t.Errorf("pages of ListTasks(%+v)\n got %v\nwant %v", tt.filter, got, want)
			}
		})
	}

	t.Run("a page that ends exactly at the last task has no cursor", func(t *testing.T) {
		p, err := s.ListTasks(bg, day2.TaskFilter{Limit: 55})
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		if len(p.Tasks) != 55 || p.NextCursor != "" {
			t.Errorf("%d tasks, next cursor %q; want 55 and none", len(p.Tasks), p.NextCursor)
		}
	})
}

// testOutOfOrderArrival commits tasks whose start times, spread over a minute at
// millisecond steps, do not follow the order they arrive in, as a live fleet's
// do (a store may key its time indexes by arrival within coarse time buckets),
// and checks listing, paging and time bounds that fall inside such buckets.
func testOutOfOrderArrival(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	var all []*Task
	byService := map[string][]*Task{}
	for round := range 4 {
		var batch []day2.TaskData
		for k := range 25 {
			n := round*25 + k
			// A permutation of 0..99 times 613 ms: 0 to 60.7 s, out of order.
			offset := time.Duration((n*37)%100) * 613 * time.Millisecond
			service := []string{"a", "b"}[n%2]
			x := NewTypical(n, T0.Add(offset), service, "prod", "1")
			all = append(all, x)
			byService[service] = append(byService[service], x)
			batch = append(batch, x.All())
		}
		commit(t, s, batch...)
	}
	between := func(ts []*Task, since, until time.Time) []*Task {
		var out []*Task
		for _, x := range ts {
			if !x.Start().Before(since) && x.Start().Before(until) {
				out = append(out, x)
			}
		}
		return out
	}
	since, until := T0.Add(13*time.Second+400*time.Millisecond), T0.Add(47*time.Second+100*time.Millisecond)
	for _, tt := range []struct {
		name   string
		filter day2.TaskFilter
		want   []*Task
	}{
		{"all, 7 a page", day2.TaskFilter{Limit: 7}, all},
		{"one service, 3 a page", day2.TaskFilter{Service: "b", Limit: 3}, byService["b"]},
		{"within a window bounded inside buckets", day2.TaskFilter{Since: since, Until: until, Limit: 4}, between(all, since, until)},
		{"one service within the window", day2.TaskFilter{Service: "a", Since: since, Until: until, Limit: 5}, between(byService["a"], since, until)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := taskIDs(listAll(t, s, tt.filter))
			if want := newestFirst(tt.want...); !slices.Equal(got, want) {
				t.Errorf("pages of ListTasks(%+v)\n got %v\nwant %v", tt.filter, got, want)
			}
		})
	}
}

func startingBefore(ts []*Task, until time.Time) []*Task {
	var out []*Task
	for _, x := range ts {
		if x.Start().Before(until) {
			out = append(out, x)
		}
	}
	return out
}

func testInvalidListRequests(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	commit(t, s, NewTypical(1, T0, "a", "prod", "1").All())
	tests := []struct {
		name     string
		filter   day2.TaskFilter
		mentions string
	}{
		{"cursor that is not base64", day2.TaskFilter{Cursor: "not a cursor!"}, "cursor"},
		{"cursor of the wrong length", day2.TaskFilter{Cursor: "AAAA"}, "cursor"},
		{"limit above the maximum", day2.TaskFilter{Limit: 1001}, "1000"},
		{"negative limit", day2.TaskFilter{Limit: -1}, "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.ListTasks(bg, tt.filter)
			checkCode(t, fmt.Sprintf("ListTasks(%+v)", tt.filter), err, day2.EInvalid)
			if err != nil && !strings.Contains(day2.ErrorMessage(err), tt.mentions) {
				t.Errorf("message %q does not mention %q", day2.ErrorMessage(err), tt.mentions)
			}
		})
	}
}

func testServices(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	commit(t, s,
		NewTypical(1, T0, "invoice-agent", "prod", "1.0").All(),
		NewTypical(2, T0.Add(time.Hour), "invoice-agent", "prod", "1.0").All(),
		NewTypical(3, T0.Add(2*time.Hour), "invoice-agent", "staging", "1.0").All(),
		NewTypical(4, T0.Add(3*time.Hour), "invoice-agent", "prod", "2.0").All(),
	)
	commit(t, s, NewTypical(5, T0.Add(30*time.Minute), "hr-agent", "prod", "0.9").All())

	got, err := s.ListServices(bg)
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	at := func(d time.Duration) time.Time { return day2.UnixNano(T0.Add(d).UnixNano()) }
	want := []day2.ServiceSummary{
		{
			Service: "hr-agent", Environments: []string{"prod"},
			Versions:  []day2.VersionSummary{{Environment: "prod", Version: "0.9", TaskCount: 1, LastSeen: at(30 * time.Minute)}},
			TaskCount: 1, FirstSeen: at(30 * time.Minute), LastSeen: at(30 * time.Minute),
		},
		{
			Service: "invoice-agent", Environments: []string{"prod", "staging"},
			Versions: []day2.VersionSummary{
				{Environment: "prod", Version: "1.0", TaskCount: 2, LastSeen: at(time.Hour)},
				{Environment: "prod", Version: "2.0", TaskCount: 1, LastSeen: at(3 * time.Hour)},
				{Environment: "staging", Version: "1.0", TaskCount: 1, LastSeen: at(2 * time.Hour)},
			},
			TaskCount: 4, FirstSeen: at(0), LastSeen: at(3 * time.Hour),
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListServices\n got %+v\nwant %+v", got, want)
	}
}

func testVersionChange(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	other := NewTypical(2, T0, "a", "prod", "1.0")
	commit(t, s, other.All())

	// The children carry the resource's version; the root span, arriving later,
	// names the agent version, which takes precedence.
	b := NewTask(1, T0.Add(time.Minute)).Service("a", "prod", "1.0").
		LLM(time.Second, time.Second, 10, 10).
		Root(time.Minute, Str("gen_ai.agent.version", "2.0"))
	commit(t, s, b.Children())
	checkVersions(t, s, "before the root", map[string]int64{"prod/1.0": 2})
	commit(t, s, b.RootOnly())
	checkVersions(t, s, "after the root", map[string]int64{"prod/1.0": 1, "prod/2.0": 1})
	if d := get(t, s, b.ID()); d.Task.Version != "2.0" {
		t.Errorf("task version %q, want 2.0", d.Task.Version)
	}

	// Within one batch the task is counted once, under its final version.
	c := NewTask(3, T0.Add(2*time.Minute)).Service("a", "prod", "1.0").
		LLM(time.Second, time.Second, 10, 10).
		Root(time.Minute, Str("gen_ai.agent.version", "3.0"))
	commit(t, s, c.Children(), c.RootOnly())
	checkVersions(t, s, "after a batch", map[string]int64{"prod/1.0": 1, "prod/2.0": 1, "prod/3.0": 1})
}

func checkVersions(t *testing.T, s day2.TaskStore, when string, want map[string]int64) {
	t.Helper()
	services, err := s.ListServices(bg)
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	got := map[string]int64{}
	var total int64
	for _, svc := range services {
		for _, v := range svc.Versions {
			got[v.Environment+"/"+v.Version] = v.TaskCount
		}
		total += svc.TaskCount
	}
	var wantTotal int64
	for _, n := range want {
		wantTotal += n
	}
	if !reflect.DeepEqual(got, want) || total != wantTotal {
		t.Errorf("%s: task counts %v (total %d), want %v (total %d)", when, got, total, want, wantTotal)
	}
}

func testPurge(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	old := NewTypical(1, T0, "a", "prod", "1")                   // ends T0+1m
	recent := NewTypical(2, T0.Add(time.Hour), "a", "prod", "1") // ends T0+1h1m
	commit(t, s, old.All(), recent.All())
	before := get(t, s, old.ID())

	n, err := s.PurgeRawBefore(bg, T0.Add(time.Hour))
	if err != nil {
		t.Fatalf("PurgeRawBefore: %v", err)
	}
	if n != 1 {
		t.Errorf("PurgeRawBefore purged %d tasks, want 1", n)
	}
	d := get(t, s, old.ID())
	if !d.RawPurged || len(d.Data.Spans) != 0 || len(d.Data.Logs) != 0 {
		t.Errorf("purged task: RawPurged %v, %d spans, %d logs; want true, 0, 0", d.RawPurged, len(d.Data.Spans), len(d.Data.Logs))
	}
	if d.Data.TraceID != old.ID() {
		t.Errorf("purged task data has trace id %s, want %s", d.Data.TraceID, old.ID())
	}
	if !reflect.DeepEqual(d.Task, before.Task) {
		t.Errorf("purging changed the summary\n got %+v\nwant %+v", d.Task, before.Task)
	}
	checkStored(t, s, recent.All())

	if n, err := s.PurgeRawBefore(bg, T0.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("second purge: %d tasks, error %v; want 0, nil", n, err)
	}
	if got := listAll(t, s, day2.TaskFilter{}); len(got) != 2 {
		t.Errorf("%d tasks listed after the purge, want 2", len(got))
	}
	checkVersions(t, s, "after the purge", map[string]int64{"prod/1": 2})
	if n, err := s.PurgeRawBefore(bg, T0.Add(24*time.Hour)); err != nil || n != 1 {
		t.Errorf("purge of everything: %d tasks, error %v; want 1, nil", n, err)
	}
}

func testLateAfterPurge(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	b := NewTypical(1, T0, "a", "prod", "1")
	commit(t, s, b.All())
	before := get(t, s, b.ID()).Task
	if _, err := s.PurgeRawBefore(bg, T0.Add(time.Hour)); err != nil {
		t.Fatalf("PurgeRawBefore: %v", err)
	}

	b.Tool(30*time.Second, time.Second, true)
	late := b.Children()
	late.Spans = late.Spans[len(late.Spans)-1:]
	checkResult(t, "late span", commit(t, s, late), day2.CommitResult{Spans: 1, TasksUpdated: 1})
	checkResult(t, "late span again", commit(t, s, late), day2.CommitResult{DuplicateSpans: 1})

	d := get(t, s, b.ID())
	if !d.RawPurged {
		t.Errorf("RawPurged false after late telemetry, want true: the raw telemetry is partial")
	}
	checkData(t, d.Data, late)
	want := before
	want.Spans++
	want.ToolCalls++
	want.ToolFailures++
	if !reflect.DeepEqual(d.Task, want) {
		t.Errorf("summary after late telemetry\n got %+v\nwant %+v", d.Task, want)
	}
}

func testReopen(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := open(t)
	var batch []day2.TaskData
	for n := range 5 {
		batch = append(batch, NewTypical(n, T0.Add(time.Duration(n)*time.Minute), "a", "prod", "1").All())
	}
	commit(t, s, batch...)
	if _, err := s.PurgeRawBefore(bg, T0.Add(90*time.Second)); err != nil {
		t.Fatalf("PurgeRawBefore: %v", err)
	}
	listed := listAll(t, s, day2.TaskFilter{})
	services, err := s.ListServices(bg)
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openStore(t, open)
	if got := listAll(t, s, day2.TaskFilter{}); !reflect.DeepEqual(got, listed) {
		t.Errorf("tasks after reopening\n got %+v\nwant %+v", got, listed)
	}
	if got, err := s.ListServices(bg); err != nil || !reflect.DeepEqual(got, services) {
		t.Errorf("services after reopening: %+v, %v; want %+v", got, err, services)
	}
	for _, d := range batch[1:] {
		checkStored(t, s, d)
	}
	if d := get(t, s, batch[0].TraceID); !d.RawPurged {
		t.Errorf("purged task is not purged after reopening")
	}
	checkResult(t, "redelivery after reopening", commit(t, s, batch[1:]...), day2.CommitResult{DuplicateSpans: 12, DuplicateLogs: 4})
}

func testConcurrentStores(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	stores := []day2.TaskStore{openStore(t, open), openStore(t, open)}
	const tasks, batchSize = 40, 5
	var all []*Task
	for n := range tasks {
		all = append(all, NewTypical(n, T0.Add(time.Duration(n)*time.Second), "a", "prod", "1").
			Tool(10*time.Second, time.Second, false))
	}
	// Both stores get the root of every task; the first also gets the logs and
	// the first child, the second the other children. They commit in opposite
	// orders, so their transactions overlap on the same tasks.
	parts := [2][]day2.TaskData{}
	for _, x := range all {
		root, children := x.RootOnly(), x.Children()
		first := root
		first.Spans = append(first.Spans, children.Spans[0])
		first.Logs = x.Logs().Logs
		second := root
		second.Spans = append(slices.Clone(second.Spans), children.Spans[1:]...)
		parts[0] = append(parts[0], first)
		parts[1] = append([]day2.TaskData{second}, parts[1]...)
	}
	results := make([]day2.CommitResult, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			for from := 0; from < tasks; from += batchSize {
				r, err := stores[i].CommitTasks(bg, parts[i][from:from+batchSize])
				if err != nil {
					errs[i] = err
					return
				}
				results[i].Add(r)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: CommitTasks: %v", i, err)
		}
	}
	var total day2.CommitResult
	total.Add(results[0])
	total.Add(results[1])
	checkResult(t, "both stores together", total, day2.CommitResult{
		Spans: 4 * tasks, DuplicateSpans: tasks, Logs: tasks, TasksCreated: tasks, TasksUpdated: tasks})
	for _, x := range all {
		checkStored(t, stores[0], x.All())
	}
	checkVersions(t, stores[1], "after concurrent commits", map[string]int64{"prod/1": tasks})
}

func testPing(t *testing.T, open func(t *testing.T) day2.TaskStore) {
	s := openStore(t, open)
	if err := s.Ping(bg); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

package sqlite_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

// TestDeferredTaskIDIndex follows tasks through the task-id index's two places:
// the in-memory map of tasks created since the last flush, and the task_ids
// table after it, across a reopen, checking that redelivery still counts once
// and that every task is found.
func TestDeferredTaskIDIndex(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() *sqlite.Store {
		s, err := sqlite.Open(ctx, dir, sqlite.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	var tasks []*storetest.Task
	batch := func(from, to int) []day2.TaskData {
		var b []day2.TaskData
		for n := from; n < to; n++ {
			b = append(b, tasks[n].All())
		}
		return b
	}
	for n := 0; n < 6; n++ {
		tasks = append(tasks, storetest.NewTypical(n, storetest.T0, "a", "prod", "1"))
	}
	commit := func(s *sqlite.Store, b []day2.TaskData, created, duplicates int) {
		t.Helper()
		r, err := s.CommitTasks(ctx, b)
		if err != nil {
			t.Fatalf("CommitTasks: %v", err)
		}
		if r.TasksCreated != created || (duplicates >= 0 && r.DuplicateSpans != duplicates) {
			t.Fatalf("commit: %+v, want %d created and %d duplicate spans", r, created, duplicates)
		}
	}
	found := func(s *sqlite.Store, from, to int) {
		t.Helper()
		for n := from; n < to; n++ {
			if _, err := s.GetTask(ctx, tasks[n].ID()); err != nil {
				t.Fatalf("GetTask of task %d: %v", n, err)
			}
		}
	}
	spans := func(from, to int) int {
		n := 0
		for _, d := range batch(from, to) {
			n += len(d.Spans)
		}
		return n
	}

	s := open()
	commit(s, batch(0, 3), 3, 0)
	if s.RecentIDs() != 3 {
		t.Fatalf("%d recent ids after the first commit, want 3", s.RecentIDs())
	}
	found(s, 0, 3)
	if err := s.FlushIDs(ctx); err != nil {
		t.Fatal(err)
	}
	if s.RecentIDs() != 0 {
		t.Fatalf("%d recent ids after a flush, want 0", s.RecentIDs())
	}
	found(s, 0, 3)                         // now through task_ids
	commit(s, batch(0, 3), 0, spans(0, 3)) // redelivery of indexed tasks
	commit(s, batch(3, 5), 2, 0)           // new tasks, not flushed
	if err := s.Close(); err != nil {      // as after a crash: nothing flushes at close
		t.Fatal(err)
	}

	s = open()
	defer s.Close()
	if s.RecentIDs() != 2 {
		t.Fatalf("%d recent ids after reopening, want the 2 unflushed tasks", s.RecentIDs())
	}
	found(s, 0, 5)
	commit(s, batch(0, 6), 1, spans(0, 5)) // everything again plus one new task
	page, err := s.ListTasks(ctx, day2.TaskFilter{Limit: 100})
	if err != nil || len(page.Tasks) != 6 {
		t.Fatalf("ListTasks: %d tasks, %v; want 6", len(page.Tasks), err)
	}
}

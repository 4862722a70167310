package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
	"github.com/day2ops/day2/spancodec"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

func TestStore(t *testing.T) {
	base := t.TempDir()
	var mu sync.Mutex
	dirs := map[string]string{}
	storetest.Run(t, func(t *testing.T) day2.TaskStore {
		// Every call in one test opens the same directory.
		mu.Lock()
		dir, ok := dirs[t.Name()]
		if !ok {
			dir = filepath.Join(base, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
			dirs[t.Name()] = dir
		}
		mu.Unlock()
		s, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

func BenchmarkCommit(b *testing.B) {
	storetest.BenchCommit(b, func(b *testing.B) day2.TaskStore { return benchStore(b) })
}

func BenchmarkRollupRows(b *testing.B) {
	storetest.BenchRollupRows(b, func(b *testing.B) day2.TaskStore { return benchStore(b) })
}

func TestOpenCreatesTheDatabaseInWALMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Errorf("database file: %v", err)
	}
	var mode string
	if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q, %v; want wal", mode, err)
	}
	var versions int
	if err := s.DB().QueryRow("SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil || versions == 0 {
		t.Errorf("schema_migrations has %d rows, %v; want the applied migrations", versions, err)
	}
	if _, err := s.DB().Exec("DELETE FROM tasks"); err == nil {
		t.Errorf("DB() accepted a write; it must be read-only")
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "newer") {
		if s != nil {
			s.Close()
		}
		t.Errorf("Open of a database from a newer day2: error %v, want one saying the schema is newer", err)
	}
}

func TestCorruptRawIsKeptAsPurged(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir, sqlite.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	b := storetest.NewTypical(1, storetest.T0, "a", "prod", "1")
	if _, err := s.CommitTasks(ctx, []day2.TaskData{b.All()}); err != nil {
		t.Fatalf("CommitTasks: %v", err)
	}
	before, err := s.GetTask(ctx, b.ID())
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE tasks SET raw = x'0102030405'"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetTask(ctx, b.ID()); err == nil {
		t.Errorf("GetTask of a corrupt task: no error")
	}

	b.Tool(10*time.Second, time.Second, false)
	late := b.Children()
	late.Spans = late.Spans[len(late.Spans)-1:]
	r, err := s.CommitTasks(ctx, []day2.TaskData{late})
	if err != nil {
		t.Fatalf("CommitTasks into a corrupt task: %v", err)
	}
	if r.Spans != 1 || r.TasksUpdated != 1 {
		t.Errorf("result %+v, want one span added to one task", r)
	}
	d, err := s.GetTask(ctx, b.ID())
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	if !d.RawPurged || len(d.Data.Spans) != 1 || d.Task.Spans != before.Task.Spans+1 {
		t.Errorf("RawPurged %v, %d spans kept, span count %d; want true, 1, %d",
			d.RawPurged, len(d.Data.Spans), d.Task.Spans, before.Task.Spans+1)
	}
}

// TestAcknowledgedCommitSurvivesKill commits in a child process, kills it with
// SIGKILL right after CommitTasks returned, and reads the task back.
func TestAcknowledgedCommitSurvivesKill(t *testing.T) {
	if dir := os.Getenv("DAY2_SQLITE_KILL_DIR"); dir != "" {
		s, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		var batch []day2.TaskData
		for n := range 100 {
			batch = append(batch, storetest.NewTypical(n, storetest.T0, "a", "prod", "1").All())
		}
		if _, err := s.CommitTasks(context.Background(), batch); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("committed")
		time.Sleep(time.Minute) // wait for the kill, without closing the store
	}

	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedCommitSurvivesKill$")
	cmd.Env = append(os.Environ(), "DAY2_SQLITE_KILL_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if strings.TrimSpace(line) != "committed" {
		t.Fatalf("child process: %q", line)
	}

	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open after the kill: %v", err)
	}
	defer s.Close()
	p, err := s.ListTasks(context.Background(), day2.TaskFilter{Limit: 1000})
	if err != nil {
		t.Fatalf("ListTasks: %v", err)
	}
	if len(p.Tasks) != 100 {
		t.Errorf("%d tasks after the kill, want the 100 committed", len(p.Tasks))
	}
}

func TestUseAfterCloseFails(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	b := storetest.NewTypical(1, storetest.T0, "a", "prod", "1")
	if _, err := s.CommitTasks(ctx, []day2.TaskData{b.All()}); day2.ErrorCode(err) != day2.EUnavailable {
		t.Errorf("CommitTasks after Close: %v, want an EUnavailable error", err)
	}
	if _, err := s.ListTasks(ctx, day2.TaskFilter{}); err == nil {
		t.Errorf("ListTasks after Close: no error")
	}
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping after Close: no error")
	}
}

// TestOpenFillsTheRollupsOfAnOlderDatabase opens a database written before the
// rollups existed (schema version 1) and expects the migration to add up its
// tasks.
func TestOpenFillsTheRollupsOfAnOlderDatabase(t *testing.T) {
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema, err := os.ReadFile(filepath.Join("migrations", "0001_tasks.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(schema),
		"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
		"INSERT INTO schema_migrations VALUES (1, '0001_tasks.sql', 0)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The columns of the first schema: arm came later.
	insert := "INSERT INTO tasks (task_id, " + strings.TrimSuffix(taskstore.Columns, ", arm") + ", raw) VALUES (" +
		strings.TrimSuffix(strings.Repeat("?,", taskstore.NumColumns+1), ",") + ")"
	for n := range 20 {
		x := storetest.NewTypical(n, storetest.T0.Add(time.Duration(n)*7*time.Minute), "a", "prod", "1")
		if n%3 == 0 {
			x.Tool(10*time.Second, time.Second, true)
		}
		d := x.All()
		sum := day2.Summarize(&d)
		args := append([]any{d.TraceID[:]}, taskstore.Values(&sum)[:taskstore.NumColumns-1]...)
		if _, err := db.Exec(insert, append(args, spancodec.Encode(&d))...); err != nil {
			t.Fatalf("insert task: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.CheckRollups(t, s)
	rows, err := s.RollupRows(context.Background(), "a", day2.TierDay, storetest.T0.Add(-24*time.Hour), storetest.T0.Add(24*time.Hour))
	if err != nil || len(rows) != 1 || rows[0].Counters.Seen != 20 {
		t.Errorf("day rows %+v, %v; want one row of 20 tasks", rows, err)
	}
}

func BenchmarkPutRecords(b *testing.B) {
	storetest.BenchPutRecords(b, func(b *testing.B) storetest.StateStore { return benchStore(b) })
}

// benchStore opens a store on a fresh database for a benchmark.
func benchStore(b *testing.B) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	return s
}

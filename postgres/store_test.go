package postgres_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/pgtest"
	"github.com/day2ops/day2/internal/taskstore"
	"github.com/day2ops/day2/postgres"
	"github.com/day2ops/day2/spancodec"
	"github.com/day2ops/day2/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestStore(t *testing.T) {
	var mu sync.Mutex
	dsns := map[string]string{}
	storetest.Run(t, func(t *testing.T) day2.TaskStore {
		// Every call in one test opens the same database.
		mu.Lock()
		dsn, ok := dsns[t.Name()]
		mu.Unlock()
		if !ok {
			dsn = pgtest.DSN(t)
			mu.Lock()
			dsns[t.Name()] = dsn
			mu.Unlock()
		}
		s, err := postgres.Open(context.Background(), dsn)
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

// TestConcurrentReplicasLoseNothing has four replicas commit overlapping parts of
// the same tasks at once, each in its own order and batch size: every span must be
// stored exactly once, counted as added exactly once, and no commit may fail (a
// deadlock would surface as an error).
func TestConcurrentReplicasLoseNothing(t *testing.T) {
	dsn := pgtest.DSN(t)
	const replicas, tasks = 4, 200
	var all []*storetest.Task
	for n := range tasks {
		all = append(all, storetest.NewSized(n, storetest.T0.Add(time.Duration(n)*time.Second), 7))
	}
	var wantSpans, wantLogs, sent int
	for _, x := range all {
		d := x.All()
		wantSpans += len(d.Spans)
		wantLogs += len(d.Logs)
	}

	// Replica r leaves out the spans whose index i has (i+r)%replicas == 0, so
	// each span reaches three replicas.
	parts := make([][]day2.TaskData, replicas)
	for r := range replicas {
		for _, x := range all {
			d := x.All()
			var spans []day2.Span
			for i, s := range d.Spans {
				if (i+r)%replicas != 0 {
					spans = append(spans, s)
				}
			}
			d.Spans = spans
			sent += len(spans)
			parts[r] = append(parts[r], d)
		}
	}
	slices.Reverse(parts[1])
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(parts[2]), func(i, j int) { parts[2][i], parts[2][j] = parts[2][j], parts[2][i] })
	slices.SortFunc(parts[3], func(a, b day2.TaskData) int { return bytes.Compare(a.TraceID[:], b.TraceID[:]) })

	results := make([]day2.CommitResult, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for r := range replicas {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open replica %d: %v", r, err)
		}
		defer s.Close()
		batch := 20 + 7*r
		wg.Go(func() {
			for from := 0; from < tasks; from += batch {
				res, err := s.CommitTasks(context.Background(), parts[r][from:min(from+batch, tasks)])
				if err != nil {
					errs[r] = err
					return
				}
				results[r].Add(res)
			}
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", r, err)
		}
	}

	var total day2.CommitResult
	for _, r := range results {
		total.Add(r)
	}
	want := day2.CommitResult{Spans: wantSpans, DuplicateSpans: sent - wantSpans, Logs: wantLogs,
		DuplicateLogs: (replicas - 1) * wantLogs, TasksCreated: tasks, TasksUpdated: total.TasksUpdated}
	if total != want {
		t.Errorf("results of all replicas %+v, want %+v", total, want)
	}

	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	for _, x := range all {
		want := x.All()
		d, err := s.GetTask(context.Background(), x.ID())
		if err != nil {
			t.Fatalf("GetTask: %v", err)
		}
		if len(d.Data.Spans) != len(want.Spans) || len(d.Data.Logs) != len(want.Logs) {
			t.Errorf("task %s: %d spans and %d logs stored, want %d and %d",
				x.ID(), len(d.Data.Spans), len(d.Data.Logs), len(want.Spans), len(want.Logs))
		}
		if sum := day2.Summarize(&want); !reflect.DeepEqual(d.Task, sum) {
			t.Errorf("task %s: summary\n got %+v\nwant %+v", x.ID(), d.Task, sum)
		}
	}
	services, err := s.ListServices(context.Background())
	if err != nil {
		t.Fatalf("ListServices: %v", err)
	}
	if len(services) != 1 || services[0].TaskCount != tasks {
		t.Errorf("ListServices %+v, want one service with %d tasks", services, tasks)
	}
	storetest.CheckRollups(t, s)
}

// TestReplicasMigrateTogether opens several stores on a new database at once;
// the migrations must run once and every Open succeed.
func TestReplicasMigrateTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	const replicas = 4
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for r := range replicas {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs[r] = err
		})
	}
	wg.Wait()
	for r, err := range errs {
		if err != nil {
			t.Errorf("Open replica %d: %v", r, err)
		}
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	var n, versions int
	if err := conn.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT version) FROM schema_migrations").Scan(&n, &versions); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if n == 0 || n != versions {
		t.Errorf("schema_migrations has %d rows for %d versions, want one row per version", n, versions)
	}
}

// TestOpenFillsTheRollupsOfAnOlderDatabase opens a database written before the
// rollups existed (schema version 1) and expects the migration to add up its
// tasks.
func TestOpenFillsTheRollupsOfAnOlderDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	schema, err := os.ReadFile(filepath.Join("migrations", "0001_tasks.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		string(schema),
		"CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
		"INSERT INTO schema_migrations (version, name) VALUES (1, '0001_tasks.sql')",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var params []string
	for i := range taskstore.NumColumns + 1 {
		params = append(params, "$"+strconv.Itoa(i+1))
	}
	// The columns of the first schema: arm came later.
	insert := "INSERT INTO tasks (task_id, " + strings.TrimSuffix(taskstore.Columns, ", arm") + ", raw) VALUES (" + strings.Join(params, ", ") + ")"
	for n := range 20 {
		x := storetest.NewTypical(n, storetest.T0.Add(time.Duration(n)*7*time.Minute), "a", "prod", "1")
		if n%3 == 0 {
			x.Tool(10*time.Second, time.Second, true)
		}
		d := x.All()
		sum := day2.Summarize(&d)
		args := append([]any{d.TraceID[:]}, taskstore.Values(&sum)[:taskstore.NumColumns-1]...)
		if _, err := conn.Exec(ctx, insert, append(args, spancodec.Encode(&d))...); err != nil {
			t.Fatalf("insert task: %v", err)
		}
	}

	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.CheckRollups(t, s)
	rows, err := s.RollupRows(ctx, "a", day2.TierDay, storetest.T0.Add(-24*time.Hour), storetest.T0.Add(24*time.Hour))
	if err != nil || len(rows) != 1 || rows[0].Counters.Seen != 20 {
		t.Errorf("day rows %+v, %v; want one row of 20 tasks", rows, err)
	}
}

func BenchmarkPutRecords(b *testing.B) {
	storetest.BenchPutRecords(b, func(b *testing.B) storetest.StateStore { return benchStore(b) })
}

// benchStore opens a store on a fresh database for a benchmark.
func benchStore(b *testing.B) *postgres.Store {
	s, err := postgres.Open(context.Background(), pgtest.DSN(b))
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	return s
}

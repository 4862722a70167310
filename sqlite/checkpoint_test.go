package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

// TestCheckpointLetsTheWALStartOver checks that a checkpoint taken while
// records are being written copies the whole WAL and lets it start over: after
// it, the next commit writes at the start of the WAL, instead of after
// everything written before (a WAL that only grows under constant load).
func TestCheckpointLetsTheWALStartOver(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	write := func() {
		i := n.Add(1)
		r := day2.Record{Kind: "test", ID: fmt.Sprintf("r%06d", i), Body: []byte(`{"n":` + fmt.Sprint(i) + `}`)}
		e := day2.AuditEntry{Actor: "test", Action: "test.write", Target: "test/" + r.ID}
		if _, _, err := s.PutRecords(context.Background(), []day2.Record{r}, []day2.AuditEntry{e}); err != nil {
			t.Error(err)
		}
	}
	// A reader of the WAL's length, as the checkpointer sees it.
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	walFrames := func() int {
		t.Helper()
		var busy, frames, done int
		if err := db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &done); err != nil {
			t.Fatal(err)
		}
		return frames
	}

	stop := writeConcurrently(write)
	waitFor := func(k int64) {
		for n.Load() < k {
			time.Sleep(time.Millisecond)
		}
	}
	// The WAL's length is read with the writers going, as a checkpoint under
	// load sees it.
	waitFor(500)
	before := walFrames()
	waitFor(1000)
	if err := s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	atCheckpoint := n.Load()
	waitFor(atCheckpoint + 50)
	after := walFrames()
	stop()
	if after*2 > before {
		t.Errorf("the WAL was %d frames long after 500 writes, and %d frames 50 writes after a checkpoint at write %d; want it to have started over", before, after, atCheckpoint)
	}
}

// BenchmarkCheckpointHold measures how long a checkpoint holds commits while
// four goroutines write Tier 0 approval requests (storetest.ApprovalWrite) as fast as they can: each op
// is 500 ms of writes and a checkpoint. go test -run x -bench CheckpointHold ./sqlite
func BenchmarkCheckpointHold(b *testing.B) {
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	stop := writeConcurrently(func() {
		r, e := storetest.ApprovalWrite(n.Add(1), time.Now())
		if _, _, err := s.PutRecords(context.Background(), []day2.Record{r}, []day2.AuditEntry{e}); err != nil {
			b.Error(err)
		}
	})
	var held time.Duration
	for b.Loop() {
		time.Sleep(500 * time.Millisecond)
		if err := s.Checkpoint(); err != nil {
			b.Fatal(err)
		}
		held += s.LastCheckpointHold()
	}
	stop()
	b.ReportMetric(float64(held.Microseconds())/1000/float64(b.N), "held-ms/op")
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "writes/s")
}

// writeConcurrently calls write in a loop in four goroutines until the
// returned stop is called; stop waits for them.
func writeConcurrently(write func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
					write()
				}
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

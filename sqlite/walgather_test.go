//go:build linux && (amd64 || arm64)

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/libc"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/storetest"
)

// openGathered opens path for writing through the gathering VFS, with the
// given synchronous level, and creates table t.
func openGathered(t *testing.T, path, synchronous string) *sql.DB {
	t.Helper()
	if !gatherVFSReady() {
		t.Fatal("the gathering VFS did not register")
	}
	db, err := sql.Open("sqlite", path+"?vfs="+gatherVFSName+"&_journal_mode=WAL&_pragma=synchronous("+synchronous+")")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	return db
}

// insertRows inserts n rows of 500 bytes in one transaction, the first with id
// from.
func insertRows(t *testing.T, db *sql.DB, from, n int) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if _, err := tx.Exec("INSERT INTO t (id, v) VALUES (?, ?)", i, strings.Repeat(fmt.Sprint(i%10), 500)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestGatherOneWritePerCommit: a commit of many WAL frames reaches the file in
// one write; a transaction larger than what is gathered, in several.
func TestGatherOneWritePerCommit(t *testing.T) {
	db := openGathered(t, filepath.Join(t.TempDir(), "g.db"), "FULL")
	writes, flushes := gatherWrites.Load(), gatherFlushes.Load()
	insertRows(t, db, 0, 40) // 20 KB of rows: about 6 pages, 12 frame writes
	w, f := gatherWrites.Load()-writes, gatherFlushes.Load()-flushes
	if w < 8 || f != 1 {
		t.Errorf("a commit of 40 rows: %d WAL writes reached the file in %d writes; want 8 or more in 1", w, f)
	}

	writes, flushes = gatherWrites.Load(), gatherFlushes.Load()
	insertRows(t, db, 1000, 2000) // about 1 MB
	w, f = gatherWrites.Load()-writes, gatherFlushes.Load()-flushes
	if min := int64(1<<20) / gatherSize; f < min || f > 3*min || w < 10*f {
		t.Errorf("a commit of 1 MB: %d WAL writes reached the file in %d writes; want %d to %d, each of several",
			w, f, min, 3*min)
	}
}

// TestGatherCommitIsInTheFile copies the database and its WAL after every
// commit, as a crash of the process would leave them, and opens the copy: each
// commit is in it. Meanwhile the unix VFS's sync of the WAL checks that
// nothing is left gathered when it runs: what is written after the sync is not
// durable.
func TestGatherCommitIsInTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.db")
	db := openGathered(t, path, "FULL")
	var syncs, early atomic.Int64
	sync := unixWALM.FxSync
	checkSync := func(tls *libc.TLS, pFile uintptr, flags int32) int32 {
		syncs.Add(1)
		gatherMu.Lock()
		w := walFiles[pFile]
		gatherMu.Unlock()
		if w.n != 0 { // w.mu is held by walSync, on this goroutine
			early.Add(1)
		}
		return method[func(*libc.TLS, uintptr, int32) int32](sync)(tls, pFile, flags)
	}
	setMethod(&unixWALM.FxSync, checkSync)
	defer func() { unixWALM.FxSync = sync }()

	for round := 1; round <= 5; round++ {
		insertRows(t, db, round*100, 30)
		crash := filepath.Join(t.TempDir(), "copy.db")
		for _, suffix := range []string{"", "-wal"} {
			copyFile(t, path+suffix, crash+suffix)
		}
		c, err := sql.Open("sqlite", crash)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := c.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != round*30 {
			t.Errorf("after commit %d the copy holds %d rows (%v); want %d", round, n, err, round*30)
		}
		c.Close()
	}
	if syncs.Load() < 5 || early.Load() != 0 {
		t.Errorf("%d of %d syncs of the WAL ran with frames still gathered; want none of 5 or more", early.Load(), syncs.Load())
	}
}

// TestGatherReadersNeverSeeUnwrittenFrames runs the writer without syncs at
// commit (synchronous=OFF), so that only the barrier before SQLite publishes
// new frames writes them out, and reads from another connection through the
// unix VFS after every commit.
func TestGatherReadersNeverSeeUnwrittenFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db := openGathered(t, path, "OFF")
	r, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for round := 1; round <= 50; round++ {
		insertRows(t, db, round*100, 10)
		var n int
		var sum int64
		if err := r.QueryRow("SELECT count(*), sum(length(v)) FROM t").Scan(&n, &sum); err != nil || n != round*10 || sum != int64(n)*500 {
			t.Fatalf("after commit %d a reader sees %d rows of %d bytes (%v); want %d of %d", round, n, sum, err, round*10, round*10*500)
		}
	}
}

// TestGatherTransactionLargerThanTheCache runs one transaction of about 250
// pages through a page cache of 10: SQLite spills pages to the WAL before the
// commit and reads them back from it while the transaction goes on, often
// while they are still gathered.
func TestGatherTransactionLargerThanTheCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db := openGathered(t, path, "FULL")
	if _, err := db.Exec("PRAGMA cache_size = 10"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		if _, err := tx.Exec("INSERT INTO t (id, v) VALUES (?, ?)", i, strings.Repeat(fmt.Sprint(i%10), 500)); err != nil {
			t.Fatal(err)
		}
		if i%7 == 6 { // touch an earlier row again: its page was spilled long ago
			if _, err := tx.Exec("UPDATE t SET v = v || 'x' WHERE id = ?", i/2); err != nil {
				t.Fatal(err)
			}
		}
	}
	var n, sum int64
	if err := tx.QueryRow("SELECT count(*), sum(length(v)) FROM t").Scan(&n, &sum); err != nil || n != 2000 || sum != 2000*500+2000/7 {
		t.Fatalf("inside the transaction: %d rows of %d bytes (%v); want 2000 of %d", n, sum, err, 2000*500+2000/7)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}

// TestGatherCheckpointAndRestart: the WAL is checkpointed and started over
// while the writer goes on; every row survives a close and a reopen.
func TestGatherCheckpointAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db := openGathered(t, path, "FULL")
	for round := 1; round <= 20; round++ {
		insertRows(t, db, round*100, 20)
		if round%5 == 0 {
			if _, err := db.Exec("PRAGMA wal_checkpoint(RESTART)"); err != nil {
				t.Fatal(err)
			}
		}
	}
	db.Close()
	again, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var n int
	var check string
	if err := again.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil || n != 400 {
		t.Errorf("reopened: %d rows (%v); want 400", n, err)
	}
	if err := again.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCommitPages writes Tier 0 approval requests (storetest.ApprovalWrite)
// through the store from 1 and from 16 goroutines, and reports how many
// requests a commit carried and how many pages its WAL write held: with one
// request per commit, each B-tree the request touches rewrites a page
// (docs/benchmarks.md, seventh session). go test -run x -bench CommitPages ./sqlite
func BenchmarkCommitPages(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, err := Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Int64
			flushes, bytes := gatherFlushes.Load(), gatherBytes.Load()
			b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r, e := storetest.ApprovalWrite(next.Add(1), time.Now())
					if _, _, err := s.PutRecords(context.Background(), []day2.Record{r}, []day2.AuditEntry{e}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			commits := float64(gatherFlushes.Load() - flushes)
			b.ReportMetric(float64(b.N)/commits, "requests/commit")
			b.ReportMetric(float64(gatherBytes.Load()-bytes)/(4096+24)/commits, "pages/commit")
		})
	}
}

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/day2ops/day2"
)

// Durability. The write connection runs with synchronous=NORMAL: a commit
// writes its frames to the WAL and returns without syncing them, and the store
// syncs the WAL itself, outside the write lock, before it tells the caller that
// the write is done. The next transaction's SQL then runs while the last one's
// frames go to disk, instead of after, and one sync covers every commit written
// before it started (a group commit across transactions).
//
// A commit is acknowledged only once a sync that started after it has
// finished, so a write that returned survives a crash or a power loss as it
// did with synchronous=FULL. After a crash SQLite recovers the WAL up to its
// last whole commit: the frames are checksummed in a chain, so what was written
// but not synced can be lost, never half kept. Checkpoints run on their own
// connection with synchronous=FULL, which syncs the WAL before copying it and
// the database after; SQLite syncs the WAL header itself when the WAL starts
// over.
//
// Readers could see a commit in the moment between its write and its sync.
// The store's read methods therefore wait, before returning, until every
// commit made before they finished is synced (usually at once): what a caller
// was shown is on disk. Readers of DB() (reports) do not wait.

// walSync tracks the commits written to the WAL and the syncs that made them
// durable.
type walSync struct {
	path string // of the WAL file

	mu      sync.Mutex
	cond    sync.Cond
	written uint64 // commits written to the WAL, numbered 1, 2, ...
	synced  uint64 // commits known to be on disk
	syncing bool   // a sync is in progress (outside mu)
	err     error  // set when a sync failed, or at close; final
	f       *os.File

	// sync makes the WAL durable; syncFile but for tests.
	sync func() error
	// syncs counts the syncs run, for tests and benchmarks.
	syncs uint64
}

func newWALSync(dbPath string) *walSync {
	d := &walSync{path: dbPath + "-wal"}
	d.cond.L = &d.mu
	d.sync = d.syncFile
	return d
}

// wrote records one more commit written to the WAL and returns its number, to
// wait for. It is called right after the commit, under the store's write lock,
// so commits are numbered in the order of their frames.
func (d *walSync) wrote() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.written++
	return d.written
}

// last returns the number of the last commit written.
func (d *walSync) last() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.written
}

// wait returns once commit seq is on disk. If no sync is running, the caller
// runs one, for every commit written so far; otherwise it waits for the one
// running and, if that one started before seq was written, runs the next.
func (d *walSync) wait(seq uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.synced < seq && d.err == nil {
		if d.syncing {
			d.cond.Wait()
			continue
		}
		d.syncing = true
		target := d.written
		d.mu.Unlock()
		err := d.sync()
		d.mu.Lock()
		d.syncing = false
		d.syncs++
		if err != nil {
			d.err = day2.Errorf(day2.EUnavailable,
				"the database's write-ahead log %s could not be synced to disk, so writes since the last sync may be lost: %v; "+
					"day2 accepts no more writes until it is restarted (check the disk and the file system first)", d.path, err)
		} else {
			d.synced = max(d.synced, target)
		}
		d.cond.Broadcast()
	}
	if d.synced >= seq {
		return nil
	}
	return d.err
}

// settled waits until every commit written so far is on disk.
func (d *walSync) settled() error { return d.wait(d.last()) }

// failed returns the error of a failed sync, if any.
func (d *walSync) failed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil && !errors.Is(d.err, errWALClosed) {
		return d.err
	}
	return nil
}

var errWALClosed = day2.Errorf(day2.EUnavailable, "the store is closed")

// close syncs what is not synced yet and releases the file; waits after it
// return at once, with errWALClosed for commits written after it.
func (d *walSync) close() error {
	err := d.settled()
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.syncing {
		d.cond.Wait()
	}
	if d.err == nil {
		d.err = errWALClosed
	}
	d.cond.Broadcast()
	if d.f != nil {
		err = errors.Join(err, d.f.Close())
		d.f = nil
	}
	return err
}

// syncFile syncs the WAL file. It opens the file on first use and again if the
// file at the path is no longer the one open (the WAL is deleted only when the
// last connection of every process closes, and then after a full checkpoint).
// A sync of any descriptor of a file writes all of the file's data.
func (d *walSync) syncFile() error {
	if d.f != nil {
		cur, err1 := os.Stat(d.path)
		open, err2 := d.f.Stat()
		if err1 != nil || err2 != nil || !os.SameFile(cur, open) {
			_ = d.f.Close()
			d.f = nil
		}
	}
	if d.f == nil {
		f, err := os.Open(d.path)
		if err != nil {
			return fmt.Errorf("open: %w", err)
		}
		d.f = f
	}
	return datasync(d.f)
}

// shown is deferred by the read methods: when the read succeeded, it waits
// until every commit the read could have seen is on disk.
func (s *Store) shown(err *error) {
	if *err != nil {
		return
	}
	if e := s.dur.settled(); e != nil {
		*err = fmt.Errorf("sqlite: %w", e)
	}
}

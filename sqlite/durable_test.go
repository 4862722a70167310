package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sqlite"
)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testRecord(id string) (day2.Record, day2.AuditEntry) {
	return day2.Record{Kind: "test", ID: id, Key: "key-" + id, Service: "svc", State: "open", Body: []byte(`{"id":"` + id + `"}`)},
		day2.AuditEntry{Actor: "test", Action: "test.write", Target: "test/" + id}
}

func put(s *sqlite.Store, id string) error {
	r, e := testRecord(id)
	_, _, err := s.PutRecords(context.Background(), []day2.Record{r}, []day2.AuditEntry{e})
	return err
}

// gate is a WAL sync that waits to be let through, telling when it is entered.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// newGate holds the store's WAL syncs until open is called, or the test ends.
func newGate(t *testing.T, s *sqlite.Store) *gate {
	g := &gate{entered: make(chan struct{}, 100), release: make(chan struct{})}
	s.WrapWALSync(func(sync func() error) error {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.release
		return sync()
	})
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) waitEntered(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no WAL sync started: the write returned, or waits, without syncing the WAL")
	}
}

// returned reports whether ch was closed within a short while.
func returned(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(100 * time.Millisecond):
		return false
	}
}

// TestWriteReturnsOnlyOnceTheWALIsSynced checks that a write is acknowledged
// after a sync of the WAL that started once it was committed, and that a
// reader that could see the committed write waits for that sync too: nothing
// is shown or acknowledged that a power loss could take back.
func TestWriteReturnsOnlyOnceTheWALIsSynced(t *testing.T) {
	s := openStore(t)
	g := newGate(t, s)

	written := make(chan struct{})
	var putErr error
	go func() {
		defer close(written)
		putErr = put(s, "r1")
	}()
	g.waitEntered(t) // the record is committed, its sync held
	if returned(written) {
		t.Fatal("PutRecords returned while the WAL sync was held")
	}

	read := make(chan struct{})
	var got day2.Record
	var getErr error
	go func() {
		defer close(read)
		got, getErr = s.GetRecord(context.Background(), "test", "r1")
	}()
	if returned(read) {
		t.Fatalf("GetRecord returned a record whose commit is not synced yet (%v, %v)", got.ID, getErr)
	}

	g.open()
	<-written
	<-read
	if putErr != nil {
		t.Fatalf("PutRecords: %v", putErr)
	}
	if getErr != nil || got.ID != "r1" {
		t.Fatalf("GetRecord = %q, %v; want r1", got.ID, getErr)
	}
}

// TestConcurrentWritesShareSyncs checks the group commit: writes made while a
// sync is held are made durable by one or two syncs, not one each.
func TestConcurrentWritesShareSyncs(t *testing.T) {
	s := openStore(t)
	if err := put(s, "first"); err != nil {
		t.Fatal(err)
	}
	g := newGate(t, s)
	before := s.WALSyncs()

	var wg sync.WaitGroup
	errs := make(chan error, 20)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs <- put(s, "held")
	}()
	g.waitEntered(t)
	for i := range 19 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- put(s, fmt.Sprintf("w%02d", i))
		}()
	}
	// The 19 writes commit while the first sync is held; give them time to
	// queue behind it, then let every sync through.
	time.Sleep(200 * time.Millisecond)
	g.open()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := s.WALSyncs() - before; n > 3 {
		t.Errorf("20 concurrent writes took %d WAL syncs; want at most 3 (one held, then one or two for the rest)", n)
	}
	recs, err := s.ListRecords(context.Background(), day2.RecordFilter{Kind: "test", Limit: 100})
	if err != nil || len(recs) != 21 {
		t.Fatalf("ListRecords: %d records, %v; want 21", len(recs), err)
	}
}

// TestFailedSyncStopsWrites checks that when the WAL cannot be synced the write
// fails with a reason, and so do later writes and the health check, since the
// store can no longer promise what it wrote is on disk.
func TestFailedSyncStopsWrites(t *testing.T) {
	s := openStore(t)
	if err := put(s, "before"); err != nil {
		t.Fatal(err)
	}
	s.WrapWALSync(func(func() error) error { return errors.New("input/output error") })
	err := put(s, "lost")
	if err == nil || day2.ErrorCode(err) != day2.EUnavailable || !strings.Contains(err.Error(), "could not be synced") ||
		!strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("PutRecords with a failing sync: %v; want unavailable, naming the sync and its error", err)
	}
	if err := put(s, "after"); err == nil || !strings.Contains(err.Error(), "could not be synced") {
		t.Fatalf("PutRecords after a failed sync: %v; want it refused", err)
	}
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping after a failed sync succeeded; want the store reported unhealthy")
	}
	if _, err := s.AppendAudit(context.Background(), day2.AuditEntry{Actor: "test", Action: "test.after"}); err == nil {
		t.Fatal("AppendAudit after a failed sync succeeded")
	}
}

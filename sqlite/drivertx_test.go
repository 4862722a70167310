package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sqlite"
)

// TestRecordWritesOutliveTheWriteConnection checks that record writes, whose
// statements are prepared on the write connection itself, go on when
// database/sql replaces that connection: the statements are prepared again on
// the new one, the audit chain goes on where it was, and the store still
// closes cleanly.
func TestRecordWritesOutliveTheWriteConnection(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir, sqlite.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	put := func(i int) {
		t.Helper()
		r := day2.Record{Kind: "test", ID: fmt.Sprintf("r%d", i), Key: fmt.Sprintf("k%d", i), Body: []byte(`{}`)}
		e := day2.AuditEntry{Actor: "test", Action: "test.write", Target: "test/" + r.ID}
		if _, _, err := s.PutRecords(ctx, []day2.Record{r}, []day2.AuditEntry{e}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	put(1)
	put(2)
	if err := s.DiscardWriteConn(); err != nil {
		t.Fatal(err)
	}
	put(3)
	// A key taken before the replacement is still found by the new statements.
	r := day2.Record{Kind: "test", ID: "r4", Key: "k1", Body: []byte(`{}`)}
	if _, _, err := s.PutRecords(ctx, []day2.Record{r}, nil); day2.ErrorCode(err) != day2.EConflict {
		t.Fatalf("a record with a taken key: %v, want a conflict", err)
	}
	if !strings.Contains(logs.String(), "write connection was replaced") {
		t.Errorf("no warning about the replaced connection in the log:\n%s", logs.String())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 1; i <= 3; i++ {
		if _, err := s.GetRecord(ctx, "test", fmt.Sprintf("r%d", i)); err != nil {
			t.Errorf("record r%d: %v", i, err)
		}
	}
	es, err := s.ListAudit(ctx, day2.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("%d audit entries, want 3", len(es))
	}
	for i, e := range es {
		if e.ID != int64(i+1) {
			t.Errorf("audit entry %d has id %d", i+1, e.ID)
		}
		if i > 0 && e.PrevHash != es[i-1].Hash {
			t.Errorf("audit entry %d does not chain to the one before", e.ID)
		}
	}
}

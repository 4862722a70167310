package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/statestore"
)

// Writes of records are group-committed: PutRecords queues its write and waits
// while one goroutine, the committer, commits everything queued as one batch:
// one transaction (and one fsync) for all; a write that fails does not undo
// the others (see commitRecords). Many small concurrent writes
// (approval requests, flag changes) then cost one disk flush per batch rather
// than one each. The committer starts the next batch as soon as one is
// committed, so under constant load no caller waits for more than the batch in
// progress and its own, and the writer does not wait for a woken caller.

var _ day2.RecordStore = (*Store)(nil)

// recordWrite is one PutRecords call waiting to be committed.
type recordWrite struct {
	ctx context.Context
	// in and inAudit are the write as given; recs and audit the write as
	// stored, filled in by put from them at every attempt.
	in      []day2.Record
	inAudit []day2.AuditEntry
	recs    []day2.Record
	audit   []day2.AuditEntry
	err     error
	done    chan struct{} // closed when the write is committed or failed
}

// PutRecords stores recs and appends audit atomically; see day2.RecordStore.
func (s *Store) PutRecords(ctx context.Context, recs []day2.Record, audit []day2.AuditEntry) ([]day2.Record, []day2.AuditEntry, error) {
	audit, err := statestore.Records(recs, audit, time.Now())
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 && len(audit) == 0 {
		return nil, nil, nil
	}
	w := &recordWrite{ctx: ctx, in: append([]day2.Record(nil), recs...), inAudit: audit, done: make(chan struct{})}
	s.recMu.Lock()
	if s.recClosed {
		s.recMu.Unlock()
		return nil, nil, day2.Errorf(day2.EUnavailable, "the store is closed")
	}
	s.recQueue = append(s.recQueue, w)
	s.recMu.Unlock()
	select {
	case s.recKick <- struct{}{}:
	default: // the committer is already due to look at the queue
	}
	<-w.done
	if w.err != nil {
		return nil, nil, w.err
	}
	return w.recs, w.audit, nil
}

// recordCommitter commits the queued writes batch after batch until the queue
// is empty, then waits for the next write. Once stopped (Close) it commits what
// is queued and returns.
func (s *Store) recordCommitter() {
	defer close(s.recDone)
	for {
		stopping := false
		select {
		case <-s.recKick:
		case <-s.recStop:
			stopping = true
		}
		for {
			s.recMu.Lock()
			batch := s.recQueue
			s.recQueue = nil
			s.recMu.Unlock()
			if len(batch) == 0 {
				break
			}
			s.commitRecords(batch)
			for _, w := range batch {
				close(w.done)
			}
		}
		if stopping {
			return
		}
	}
}

// recordQueries are the statements of record writes, prepared once on the
// write connection (see inDriverTx): a batch runs a few statements per record,
// and parsing them anew for each would cost more than running them.
var recordQueries = []string{
	recRev:    "SELECT rev, created_at FROM records WHERE kind = ? AND id = ?",
	recHolder: "SELECT id FROM records WHERE kind = ? AND key = ? AND key <> ''",
	recInsert: `INSERT INTO records (kind, id, key, service, state, due, body, rev, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING`,
	recUpdate: `UPDATE records SET key = ?, service = ?, state = ?, due = ?, body = ?, rev = rev + 1, updated_at = ?
		WHERE kind = ? AND id = ?`,
	recLastAudit:   "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
	recInsertAudit: "INSERT INTO audit_log (id, at, actor, action, target, reason, before, after, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
}

// Indexes of recordQueries.
const (
	recRev = iota
	recHolder
	recInsert
	recUpdate
	recLastAudit
	recInsertAudit
)

// recordTx is one batch's transaction: its statements and the tail of the
// audit chain, kept in memory while the batch appends to it.
type recordTx struct {
	stmts     []driver.Stmt // prepared recordQueries
	auditID   int64
	auditHash string
}

// commitRecords writes a batch in one transaction. A write rarely fails (a
// revision or key conflict), so the batch runs without a savepoint per write,
// which would cost a statement journal copy of every page it touches; when a
// write fails, the transaction is rolled back and run again without it. The
// outcome is that of the writes applied one by one, the failing ones skipped.
func (s *Store) commitRecords(batch []*recordWrite) {
	now := time.Now()
	todo := make([]*recordWrite, 0, len(batch))
	for _, w := range batch {
		if w.err = w.ctx.Err(); w.err == nil {
			todo = append(todo, w)
		}
	}
	for len(todo) > 0 {
		var failed *recordWrite
		err := s.inDriverTx("put records", &s.recStmts, recordQueries, func(stmts []driver.Stmt) error {
			rt := &recordTx{stmts: stmts}
			err := stmtQueryRow(stmts[recLastAudit], nil, &rt.auditID, &rt.auditHash)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read the last audit entry: %w", err)
			}
			for _, w := range todo {
				if err := rt.put(w, now); err != nil {
					if !ownFailure(err) {
						return err
					}
					failed, w.err = w, err
					return err
				}
			}
			return nil
		})
		if failed == nil {
			if err != nil {
				// Nothing of the batch was committed.
				for _, w := range todo {
					w.err = err
				}
			}
			return
		}
		rest := todo[:0]
		for _, w := range todo {
			if w != failed {
				rest = append(rest, w)
			}
		}
		todo = rest
	}
}

// ownFailure tells a write's own failure (its revision or key conflicts, its
// record is missing) from one of the transaction (the disk, the database).
func ownFailure(err error) bool {
	switch day2.ErrorCode(err) {
	case day2.EConflict, day2.ENotFound, day2.EInvalid:
		return true
	}
	return false
}

// put applies one write inside the batch's transaction, filling in the stored
// revisions, times and audit chain.
func (rt *recordTx) put(w *recordWrite, now time.Time) error {
	ts := now.UnixNano()
	w.recs = append(w.recs[:0], w.in...)
	w.audit = append(w.audit[:0], w.inAudit...)
	for i := range w.recs {
		r := &w.recs[i]
		var created int64
		if r.Rev != 0 {
			var stored int64
			err := stmtQueryRow(rt.stmts[recRev], []any{r.Kind, r.ID}, &stored, &created)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return statestore.RecordMissing(r.Kind, r.ID)
			case err != nil:
				return fmt.Errorf("read %s %s: %w", r.Kind, r.ID, err)
			case stored != r.Rev:
				return statestore.RecordChanged(r.Kind, r.ID, r.Rev, stored)
			}
		}
		// A new record's key is checked by its insert (a conflict inserts
		// nothing, and then the reason is looked up): one statement less for
		// the common write, a new approval request with its idempotency key.
		if r.Key != "" && r.Rev != 0 {
			if err := rt.keyFree(r); err != nil {
				return err
			}
		}
		due := dueNanos(r.Due)
		if r.Rev == 0 {
			n, err := stmtExec(rt.stmts[recInsert], r.Kind, r.ID, r.Key, r.Service, r.State, due, string(r.Body), ts, ts)
			if err != nil {
				return fmt.Errorf("insert %s %s: %w", r.Kind, r.ID, err)
			}
			if n == 0 {
				if r.Key != "" {
					if err := rt.keyFree(r); err != nil {
						return err
					}
				}
				return statestore.RecordExists(r.Kind, r.ID)
			}
			r.Rev, r.CreatedAt = 1, statestore.Time(ts)
		} else {
			if _, err := stmtExec(rt.stmts[recUpdate], r.Key, r.Service, r.State, due, string(r.Body), ts, r.Kind, r.ID); err != nil {
				return fmt.Errorf("update %s %s: %w", r.Kind, r.ID, err)
			}
			r.Rev, r.CreatedAt = r.Rev+1, statestore.Time(created)
		}
		r.UpdatedAt = statestore.Time(ts)
		if !r.Due.IsZero() {
			r.Due = statestore.Time(due)
		}
	}
	for i := range w.audit {
		e := &w.audit[i]
		statestore.Chain(e, rt.auditID, rt.auditHash)
		if _, err := stmtExec(rt.stmts[recInsertAudit], e.ID, e.At.UnixNano(), e.Actor, e.Action, e.Target, e.Reason,
			jsonText(e.Before), jsonText(e.After), e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("insert audit entry %d: %w", e.ID, err)
		}
		rt.auditID, rt.auditHash = e.ID, e.Hash
	}
	return nil
}

// keyFree returns a conflict if another record of r's kind holds r's key.
func (rt *recordTx) keyFree(r *day2.Record) error {
	var holder string
	err := stmtQueryRow(rt.stmts[recHolder], []any{r.Kind, r.Key}, &holder)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("look up %s key: %w", r.Kind, err)
	case holder != r.ID:
		return statestore.RecordKeyTaken(r.Kind, r.Key, holder)
	}
	return nil
}

func dueNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// The lookups by key repeat "key <> ''": records_key is a partial index over
// the records that hold a key, and the planner uses it only when the query
// itself rules the other records out; without it, a lookup scans the kind.

const recordColumns = "kind, id, key, service, state, due, body, rev, created_at, updated_at"

func scanRecord(row interface{ Scan(...any) error }) (day2.Record, error) {
	var r day2.Record
	var due, created, updated int64
	var body string
	if err := row.Scan(&r.Kind, &r.ID, &r.Key, &r.Service, &r.State, &due, &body, &r.Rev, &created, &updated); err != nil {
		return r, err
	}
	r.Due = day2.UnixNano(due)
	r.Body = []byte(body)
	r.CreatedAt, r.UpdatedAt = statestore.Time(created), statestore.Time(updated)
	return r, nil
}

// GetRecord returns one record; see day2.RecordStore.
func (s *Store) GetRecord(ctx context.Context, kind, id string) (day2.Record, error) {
	r, err := scanRecord(s.reads.getRecord.QueryRowContext(ctx, kind, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, statestore.RecordMissing(kind, id)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: get %s %s: %w", kind, id, err)
	}
	return r, nil
}

// FindRecord returns the record of kind holding key; see day2.RecordStore.
func (s *Store) FindRecord(ctx context.Context, kind, key string) (day2.Record, error) {
	if key == "" {
		return day2.Record{}, day2.Errorf(day2.EInvalid, "finding a %s needs a key", kind)
	}
	r, err := scanRecord(s.reads.findRecord.QueryRowContext(ctx, kind, key))
	if errors.Is(err, sql.ErrNoRows) {
		return r, day2.Errorf(day2.ENotFound, "no %s holds key %q", kind, key)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: find %s %q: %w", kind, key, err)
	}
	return r, nil
}

// ListRecords returns the records matching f; see day2.RecordStore.
func (s *Store) ListRecords(ctx context.Context, f day2.RecordFilter) ([]day2.Record, error) {
	f, err := statestore.RecordFilter(f)
	if err != nil {
		return nil, err
	}
	where, args := statestore.RecordWhere(f, func(int) string { return "?" })
	args = append(args, f.Limit)
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+recordColumns+" FROM records WHERE "+where+
		" ORDER BY "+statestore.RecordOrderBy(f.Order)+" LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s records: %w", f.Kind, err)
	}
	defer rows.Close()
	var out []day2.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s records: %w", f.Kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s records: %w", f.Kind, err)
	}
	return out, nil
}

// DeleteRecords removes finished records; see day2.RecordStore.
func (s *Store) DeleteRecords(ctx context.Context, kind string, states []string, before time.Time, limit int) (int64, error) {
	if err := statestore.DeleteRecords(kind, states, before, limit); err != nil {
		return 0, err
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(states)), ",")
	args := []any{kind}
	for _, st := range states {
		args = append(args, st)
	}
	args = append(args, before.UnixNano(), limit)
	var n int64
	err := s.inWriteTx(ctx, "delete records", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM records WHERE rid IN (SELECT rid FROM records
			WHERE kind = ? AND state IN (`+in+`) AND updated_at < ? LIMIT ?)`, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

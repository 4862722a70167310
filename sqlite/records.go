package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/statestore"
)

// Writes of records are group-committed: a caller of PutRecords that finds no
// commit in progress becomes the leader and commits its own write together with
// every write queued meanwhile, one transaction (and one fsync) for all, each
// write in its own savepoint so that one failing write does not undo the
// others. Many small concurrent writes (approval requests, flag changes) then
// cost one disk flush per batch rather than one each. After its batch the
// leader hands the lead to the oldest write still queued instead of committing
// on, so that under constant load no caller waits for more than the batch in
// progress and its own.

var _ day2.RecordStore = (*Store)(nil)

// recordWrite is one PutRecords call waiting to be committed.
type recordWrite struct {
	ctx   context.Context
	recs  []day2.Record
	audit []day2.AuditEntry
	err   error
	// done is closed when the write is committed or failed; lead receives
	// when the write is to commit the next batch itself.
	done chan struct{}
	lead chan struct{}
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
	w := &recordWrite{ctx: ctx, recs: append([]day2.Record(nil), recs...), audit: audit,
		done: make(chan struct{}), lead: make(chan struct{}, 1)}
	s.recMu.Lock()
	s.recQueue = append(s.recQueue, w)
	leading := !s.recLeading
	s.recLeading = true
	s.recMu.Unlock()
	if !leading {
		select {
		case <-w.done:
		case <-w.lead:
			leading = true
		}
	}
	if leading {
		s.commitRecordBatch()
		<-w.done
	}
	if w.err != nil {
		return nil, nil, w.err
	}
	return w.recs, w.audit, nil
}

// commitRecordBatch commits every queued write as one batch, then hands the
// lead to the oldest write queued meanwhile, or gives it up.
func (s *Store) commitRecordBatch() {
	s.recMu.Lock()
	batch := s.recQueue
	s.recQueue = nil
	s.recMu.Unlock()
	s.commitRecords(batch)
	for _, w := range batch {
		close(w.done)
	}
	s.recMu.Lock()
	if len(s.recQueue) == 0 {
		s.recLeading = false
	} else {
		s.recQueue[0].lead <- struct{}{}
	}
	s.recMu.Unlock()
}

// recordStmts are the prepared statements of record writes, on the write
// connection: a batch runs a few statements per record, and parsing them anew
// for each would cost more than running them.
type recordStmts struct {
	rev, holder, insert, update, lastAudit, insertAudit *sql.Stmt
	savepoint, rollbackTo, release                      *sql.Stmt
}

func prepareRecordStmts(ctx context.Context, db *sql.DB) (recordStmts, error) {
	var st recordStmts
	for _, q := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.rev, "SELECT rev, created_at FROM records WHERE kind = ? AND id = ?"},
		{&st.holder, "SELECT id FROM records WHERE kind = ? AND key = ? AND key <> ''"},
		{&st.insert, `INSERT INTO records (kind, id, key, service, state, due, body, rev, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING`},
		{&st.update, `UPDATE records SET key = ?, service = ?, state = ?, due = ?, body = ?, rev = rev + 1, updated_at = ?
			WHERE kind = ? AND id = ?`},
		{&st.lastAudit, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"},
		{&st.insertAudit, `INSERT INTO audit_log (id, at, actor, action, target, reason, before, after, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.savepoint, "SAVEPOINT put_records"},
		{&st.rollbackTo, "ROLLBACK TO put_records"},
		{&st.release, "RELEASE put_records"},
	} {
		var err error
		if *q.dst, err = db.PrepareContext(ctx, q.query); err != nil {
			return st, fmt.Errorf("prepare %q: %w", q.query, err)
		}
	}
	return st, nil
}

func (st recordStmts) all() []*sql.Stmt {
	return []*sql.Stmt{st.rev, st.holder, st.insert, st.update, st.lastAudit, st.insertAudit, st.savepoint, st.rollbackTo, st.release}
}

// recordTx is one batch's transaction: its statements and the tail of the
// audit chain, kept in memory while the batch appends to it.
type recordTx struct {
	tx                                                  *sql.Tx
	rev, holder, insert, update, lastAudit, insertAudit *sql.Stmt
	auditID                                             int64
	auditHash                                           string
}

// commitRecords writes a batch in one transaction, each write in a savepoint
// (except when the batch is a single write, whose failure ends the
// transaction anyway).
func (s *Store) commitRecords(batch []*recordWrite) {
	now := time.Now()
	err := s.inWriteTx(context.Background(), "put records", func(tx *sql.Tx) error {
		rt := &recordTx{tx: tx, rev: tx.Stmt(s.recStmts.rev), holder: tx.Stmt(s.recStmts.holder),
			insert: tx.Stmt(s.recStmts.insert), update: tx.Stmt(s.recStmts.update),
			lastAudit: tx.Stmt(s.recStmts.lastAudit), insertAudit: tx.Stmt(s.recStmts.insertAudit)}
		err := rt.lastAudit.QueryRow().Scan(&rt.auditID, &rt.auditHash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read the last audit entry: %w", err)
		}
		if len(batch) == 1 {
			w := batch[0]
			if w.err = w.ctx.Err(); w.err == nil {
				w.err = rt.put(w, now)
			}
			return w.err
		}
		savepoint, rollbackTo, release := tx.Stmt(s.recStmts.savepoint), tx.Stmt(s.recStmts.rollbackTo), tx.Stmt(s.recStmts.release)
		for _, w := range batch {
			if w.err = w.ctx.Err(); w.err != nil {
				continue
			}
			if _, err := savepoint.Exec(); err != nil {
				return err
			}
			id, hash := rt.auditID, rt.auditHash
			if w.err = rt.put(w, now); w.err != nil {
				rt.auditID, rt.auditHash = id, hash
				if _, err := rollbackTo.Exec(); err != nil {
					return err
				}
			}
			if _, err := release.Exec(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Nothing of the batch was committed: writes that did not fail on
		// their own fail with the transaction.
		for _, w := range batch {
			if w.err == nil {
				w.err = err
			}
		}
	}
}

// put applies one write inside the batch's transaction, filling in the stored
// revisions, times and audit chain.
func (rt *recordTx) put(w *recordWrite, now time.Time) error {
	ts := now.UnixNano()
	for i := range w.recs {
		r := &w.recs[i]
		var created int64
		if r.Rev != 0 {
			var stored int64
			err := rt.rev.QueryRow(r.Kind, r.ID).Scan(&stored, &created)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return statestore.RecordMissing(r.Kind, r.ID)
			case err != nil:
				return fmt.Errorf("read %s %s: %w", r.Kind, r.ID, err)
			case stored != r.Rev:
				return statestore.RecordChanged(r.Kind, r.ID, r.Rev, stored)
			}
		}
		if r.Key != "" {
			var holder string
			err := rt.holder.QueryRow(r.Kind, r.Key).Scan(&holder)
			if err == nil && holder != r.ID {
				return statestore.RecordKeyTaken(r.Kind, r.Key, holder)
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("look up %s key: %w", r.Kind, err)
			}
		}
		due := dueNanos(r.Due)
		if r.Rev == 0 {
			res, err := rt.insert.Exec(r.Kind, r.ID, r.Key, r.Service, r.State, due, string(r.Body), ts, ts)
			if err != nil {
				return fmt.Errorf("insert %s %s: %w", r.Kind, r.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return statestore.RecordExists(r.Kind, r.ID)
			}
			r.Rev, r.CreatedAt = 1, statestore.Time(ts)
		} else {
			if _, err := rt.update.Exec(r.Key, r.Service, r.State, due, string(r.Body), ts, r.Kind, r.ID); err != nil {
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
		if _, err := rt.insertAudit.Exec(e.ID, e.At.UnixNano(), e.Actor, e.Action, e.Target, e.Reason,
			jsonText(e.Before), jsonText(e.After), e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("insert audit entry %d: %w", e.ID, err)
		}
		rt.auditID, rt.auditHash = e.ID, e.Hash
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
	r, err := scanRecord(s.rdb.QueryRowContext(ctx, "SELECT "+recordColumns+" FROM records WHERE kind = ? AND id = ?", kind, id))
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
	r, err := scanRecord(s.rdb.QueryRowContext(ctx, "SELECT "+recordColumns+" FROM records WHERE kind = ? AND key = ? AND key <> ''", kind, key))
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

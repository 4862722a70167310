package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/statestore"
)

// Records are written in one transaction per PutRecords call. A replaced
// record is locked (SELECT ... FOR UPDATE) before its revision is compared, so
// two replicas replacing one record serialize and the second sees the first's
// revision; created records rely on the primary key and the unique key index,
// which make a concurrent second insert wait for the first and then fail. Locks
// are taken in the order records, then the audit log, by every writer.

var _ day2.RecordStore = (*Store)(nil)

// PutRecords stores recs and appends audit atomically; see day2.RecordStore.
func (s *Store) PutRecords(ctx context.Context, recs []day2.Record, audit []day2.AuditEntry) ([]day2.Record, []day2.AuditEntry, error) {
	audit, err := statestore.Records(recs, audit, time.Now())
	if err != nil {
		return nil, nil, err
	}
	if len(recs) == 0 && len(audit) == 0 {
		return nil, nil, nil
	}
	recs = append([]day2.Record(nil), recs...)
	ts := time.Now().UnixNano()
	var coded error
	err = s.inTx(ctx, "put records", func(tx pgx.Tx) error {
		for i := range recs {
			if coded = putRecord(ctx, tx, &recs[i], ts); coded != nil {
				return coded
			}
		}
		for i := range audit {
			if err := appendAudit(ctx, tx, &audit[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if coded != nil {
		return nil, nil, coded
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation: a racing writer took the id or key
		return nil, nil, day2.Errorf(day2.EConflict, "another writer stored a record with the same id or key at the same time; read it and retry")
	}
	if err != nil {
		return nil, nil, err
	}
	return recs, audit, nil
}

// putRecord writes one record, filling in its stored revision and times. It
// returns coded errors as they are, for the caller to pass on unwrapped.
func putRecord(ctx context.Context, tx pgx.Tx, r *day2.Record, ts int64) error {
	var stored, created int64
	if r.Rev != 0 {
		err := tx.QueryRow(ctx, "SELECT rev, created_at FROM records WHERE kind = $1 AND id = $2 FOR UPDATE", r.Kind, r.ID).Scan(&stored, &created)
		if errors.Is(err, pgx.ErrNoRows) {
			return statestore.RecordMissing(r.Kind, r.ID)
		}
		if err != nil {
			return fmt.Errorf("read %s %s: %w", r.Kind, r.ID, err)
		}
		if stored != r.Rev {
			return statestore.RecordChanged(r.Kind, r.ID, r.Rev, stored)
		}
	}
	if r.Key != "" {
		var holder string
		err := tx.QueryRow(ctx, "SELECT id FROM records WHERE kind = $1 AND key = $2 AND key <> ''", r.Kind, r.Key).Scan(&holder)
		if err == nil && holder != r.ID {
			return statestore.RecordKeyTaken(r.Kind, r.Key, holder)
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("look up %s key: %w", r.Kind, err)
		}
	}
	due := int64(0)
	if !r.Due.IsZero() {
		due = r.Due.UnixNano()
	}
	if r.Rev == 0 {
		tag, err := tx.Exec(ctx, `INSERT INTO records (kind, id, key, service, state, due, body, rev, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) ON CONFLICT DO NOTHING`,
			r.Kind, r.ID, r.Key, r.Service, r.State, due, string(r.Body), ts)
		if err != nil {
			return fmt.Errorf("insert %s %s: %w", r.Kind, r.ID, err)
		}
		if tag.RowsAffected() == 0 {
			var holder string
			if r.Key != "" && tx.QueryRow(ctx, "SELECT id FROM records WHERE kind = $1 AND key = $2 AND key <> ''", r.Kind, r.Key).Scan(&holder) == nil && holder != r.ID {
				return statestore.RecordKeyTaken(r.Kind, r.Key, holder)
			}
			return statestore.RecordExists(r.Kind, r.ID)
		}
		r.Rev, r.CreatedAt = 1, statestore.Time(ts)
	} else {
		if _, err := tx.Exec(ctx, `UPDATE records SET key = $1, service = $2, state = $3, due = $4, body = $5, rev = rev + 1, updated_at = $6
			WHERE kind = $7 AND id = $8`, r.Key, r.Service, r.State, due, string(r.Body), ts, r.Kind, r.ID); err != nil {
			return fmt.Errorf("update %s %s: %w", r.Kind, r.ID, err)
		}
		r.Rev, r.CreatedAt = r.Rev+1, statestore.Time(created)
	}
	r.UpdatedAt = statestore.Time(ts)
	if due != 0 {
		r.Due = statestore.Time(due)
	}
	return nil
}

const recordColumns = "kind, id, key, service, state, due, body, rev, created_at, updated_at"

func scanRecord(row pgx.Row) (day2.Record, error) {
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
	r, err := scanRecord(s.pool.QueryRow(ctx, "SELECT "+recordColumns+" FROM records WHERE kind = $1 AND id = $2", kind, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, statestore.RecordMissing(kind, id)
	}
	if err != nil {
		return r, fmt.Errorf("postgres: get %s %s: %w", kind, id, err)
	}
	return r, nil
}

// FindRecord returns the record of kind holding key; see day2.RecordStore.
func (s *Store) FindRecord(ctx context.Context, kind, key string) (day2.Record, error) {
	if key == "" {
		return day2.Record{}, day2.Errorf(day2.EInvalid, "finding a %s needs a key", kind)
	}
	r, err := scanRecord(s.pool.QueryRow(ctx, "SELECT "+recordColumns+" FROM records WHERE kind = $1 AND key = $2 AND key <> ''", kind, key))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, day2.Errorf(day2.ENotFound, "no %s holds key %q", kind, key)
	}
	if err != nil {
		return r, fmt.Errorf("postgres: find %s %q: %w", kind, key, err)
	}
	return r, nil
}

// ListRecords returns the records matching f; see day2.RecordStore.
func (s *Store) ListRecords(ctx context.Context, f day2.RecordFilter) ([]day2.Record, error) {
	f, err := statestore.RecordFilter(f)
	if err != nil {
		return nil, err
	}
	where, args := statestore.RecordWhere(f, func(n int) string { return fmt.Sprintf("$%d", n) })
	args = append(args, f.Limit)
	rows, err := s.pool.Query(ctx, "SELECT "+recordColumns+" FROM records WHERE "+where+
		" ORDER BY "+statestore.RecordOrderBy(f.Order)+fmt.Sprintf(" LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s records: %w", f.Kind, err)
	}
	defer rows.Close()
	var out []day2.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list %s records: %w", f.Kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s records: %w", f.Kind, err)
	}
	return out, nil
}

// DeleteRecords removes finished records; see day2.RecordStore.
func (s *Store) DeleteRecords(ctx context.Context, kind string, states []string, before time.Time, limit int) (int64, error) {
	if err := statestore.DeleteRecords(kind, states, before, limit); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM records WHERE (kind, id) IN (SELECT kind, id FROM records
		WHERE kind = $1 AND state = ANY($2) AND updated_at < $3 LIMIT $4)`, kind, states, before.UnixNano(), limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete %s records: %w", kind, err)
	}
	return tag.RowsAffected(), nil
}

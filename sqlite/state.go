package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/statestore"
	"github.com/day2ops/day2/internal/taskstore"
)

// The state is written through the same single connection as the tasks, so
// the audit log needs no lock of its own: reading its last entry and appending
// the next happen in one write transaction, which excludes every other writer,
// this store's by the mutex and other processes' by BEGIN IMMEDIATE.

var _ day2.StateStore = (*Store)(nil)

// inWriteTx runs fn in a transaction on the write connection and commits it;
// what names the operation in errors.
func (s *Store) inWriteTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return day2.Errorf(day2.EUnavailable, "the store is closed")
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: begin: %w", what, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", what, err)
	}
	return nil
}

// SaveAlerts upserts the alert states and appends the transitions in one
// transaction; see day2.StateStore. The IDs of the transitions are assigned by
// the store, in the order given.
func (s *Store) SaveAlerts(ctx context.Context, states []day2.AlertState, transitions []day2.AlertTransition) error {
	states, transitions, err := statestore.Alerts(states, transitions)
	if err != nil {
		return err
	}
	if len(states) == 0 && len(transitions) == 0 {
		return nil
	}
	return s.inWriteTx(ctx, "save alerts", func(tx *sql.Tx) error {
		if len(states) > 0 {
			upsert, err := tx.PrepareContext(ctx, `INSERT INTO alert_states
				(key, source, slo, service, severity, state, since, details, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (key) DO UPDATE SET source = excluded.source, slo = excluded.slo,
					service = excluded.service, severity = excluded.severity, state = excluded.state,
					since = excluded.since, details = excluded.details, updated_at = excluded.updated_at`)
			if err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			defer upsert.Close()
			for _, a := range states {
				if _, err := upsert.ExecContext(ctx, a.Key, a.Source, a.SLO, a.Service, a.Severity, a.State,
					taskstore.Nanos(a.Since), a.Details, taskstore.Nanos(a.UpdatedAt)); err != nil {
					return fmt.Errorf("upsert state of %q: %w", a.Key, err)
				}
			}
		}
		if len(transitions) > 0 {
			insert, err := tx.PrepareContext(ctx, `INSERT INTO alert_transitions
				(key, slo, service, severity, from_state, to_state, at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				return fmt.Errorf("prepare: %w", err)
			}
			defer insert.Close()
			for _, tr := range transitions {
				if _, err := insert.ExecContext(ctx, tr.Key, tr.SLO, tr.Service, tr.Severity, tr.From, tr.To,
					taskstore.Nanos(tr.At), tr.Details); err != nil {
					return fmt.Errorf("append transition of %q: %w", tr.Key, err)
				}
			}
		}
		return nil
	})
}

// AlertStates returns every persisted alert state, sorted by key; see
// day2.StateStore.
func (s *Store) AlertStates(ctx context.Context) ([]day2.AlertState, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT key, source, slo, service, severity, state, since, details, updated_at
		FROM alert_states ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: alert states: %w", err)
	}
	defer rows.Close()
	var out []day2.AlertState
	for rows.Next() {
		var a day2.AlertState
		var since, updated int64
		if err := rows.Scan(&a.Key, &a.Source, &a.SLO, &a.Service, &a.Severity, &a.State, &since, &a.Details, &updated); err != nil {
			return nil, fmt.Errorf("sqlite: alert states: %w", err)
		}
		a.Since, a.UpdatedAt = day2.UnixNano(since), day2.UnixNano(updated)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: alert states: %w", err)
	}
	return out, nil
}

// AlertHistory returns the transitions of the alerts whose key starts with
// keyPrefix ("" for all), newest first; see day2.StateStore. A limit of 0 means
// statestore.DefaultLimit.
func (s *Store) AlertHistory(ctx context.Context, keyPrefix string, limit int) ([]day2.AlertTransition, error) {
	limit, err := statestore.Limit(limit, "alert transitions")
	if err != nil {
		return nil, err
	}
	q := "SELECT id, key, slo, service, severity, from_state, to_state, at, details FROM alert_transitions"
	var args []any
	// A range on the key rather than LIKE, which in SQLite ignores the case of
	// ASCII letters and would need its wildcards escaped.
	if keyPrefix != "" {
		q += " WHERE key >= ?"
		args = append(args, keyPrefix)
		if end, ok := prefixEnd(keyPrefix); ok {
			q += " AND key < ?"
			args = append(args, end)
		}
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: alert history: %w", err)
	}
	defer rows.Close()
	var out []day2.AlertTransition
	for rows.Next() {
		var tr day2.AlertTransition
		var at int64
		if err := rows.Scan(&tr.ID, &tr.Key, &tr.SLO, &tr.Service, &tr.Severity, &tr.From, &tr.To, &at, &tr.Details); err != nil {
			return nil, fmt.Errorf("sqlite: alert history: %w", err)
		}
		tr.At = day2.UnixNano(at)
		out = append(out, tr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: alert history: %w", err)
	}
	return out, nil
}

// prefixEnd returns the least string above every string that starts with p,
// comparing bytes as SQLite's default BINARY collation does; ok is false when
// there is none (p is all 0xff bytes).
func prefixEnd(p string) (end string, ok bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// CreateOverride stores o and appends its audit entry in one transaction, and
// returns o as stored, with its ID; see day2.StateStore and
// statestore.OverrideAudit for the defaults of the audit entry.
func (s *Store) CreateOverride(ctx context.Context, o day2.Override, audit day2.AuditEntry) (day2.Override, error) {
	now := time.Now()
	o, err := statestore.Override(o, now)
	if err != nil {
		return day2.Override{}, err
	}
	err = s.inWriteTx(ctx, "create override", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `INSERT INTO overrides (service, environment, actor, reason, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			o.Service, o.Environment, o.Actor, o.Reason, o.CreatedAt.UnixNano(), o.ExpiresAt.UnixNano()).Scan(&o.ID); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		a, err := statestore.OverrideAudit(o, audit)
		if err != nil {
			return err
		}
		if a, err = statestore.Audit(a, now); err != nil {
			return err
		}
		return appendAudit(ctx, tx, &a)
	})
	if err != nil {
		return day2.Override{}, err
	}
	return o, nil
}

// Overrides returns the overrides of service, for any environment, that expire
// after t, oldest first; see day2.StateStore.
func (s *Store) Overrides(ctx context.Context, service string, t time.Time) ([]day2.Override, error) {
	if service == "" {
		return nil, day2.Errorf(day2.EInvalid, "name the service whose overrides to list")
	}
	at, err := statestore.Nanos(t, "time")
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, service, environment, actor, reason, created_at, expires_at
		FROM overrides WHERE service = ? AND expires_at > ? ORDER BY id`, service, at)
	if err != nil {
		return nil, fmt.Errorf("sqlite: overrides of %s: %w", service, err)
	}
	defer rows.Close()
	var out []day2.Override
	for rows.Next() {
		var o day2.Override
		var created, expires int64
		if err := rows.Scan(&o.ID, &o.Service, &o.Environment, &o.Actor, &o.Reason, &created, &expires); err != nil {
			return nil, fmt.Errorf("sqlite: overrides of %s: %w", service, err)
		}
		o.CreatedAt, o.ExpiresAt = statestore.Time(created), statestore.Time(expires)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: overrides of %s: %w", service, err)
	}
	return out, nil
}

// AppendAudit appends e to the audit log and returns it as stored, with its ID,
// PrevHash and Hash; see day2.StateStore. A zero At means now.
func (s *Store) AppendAudit(ctx context.Context, e day2.AuditEntry) (day2.AuditEntry, error) {
	e, err := statestore.Audit(e, time.Now())
	if err != nil {
		return day2.AuditEntry{}, err
	}
	if err := s.inWriteTx(ctx, "append audit entry", func(tx *sql.Tx) error { return appendAudit(ctx, tx, &e) }); err != nil {
		return day2.AuditEntry{}, err
	}
	return e, nil
}

// appendAudit chains e, prepared by statestore.Audit, to the last entry of the
// log and inserts it. The caller holds the write lock.
func appendAudit(ctx context.Context, tx *sql.Tx, e *day2.AuditEntry) error {
	var lastID int64
	var lastHash string
	err := tx.QueryRowContext(ctx, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").Scan(&lastID, &lastHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the last audit entry: %w", err)
	}
	statestore.Chain(e, lastID, lastHash)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (id, at, actor, action, target, reason, before, after, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.At.UnixNano(), e.Actor, e.Action, e.Target, e.Reason, jsonText(e.Before), jsonText(e.After),
		e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("insert audit entry %d: %w", e.ID, err)
	}
	return nil
}

// jsonText returns raw JSON as a text value, or nil (NULL) when there is none.
func jsonText(j json.RawMessage) any {
	if len(j) == 0 {
		return nil
	}
	return string(j)
}

// auditQuery is the query of ListAudit for a variant: bit 0 set filters by
// action, bit 1 by target.
func auditQuery(variant int) string {
	where := []string{"id > ?"}
	if variant&1 != 0 {
		where = append(where, "action = ?")
	}
	if variant&2 != 0 {
		where = append(where, "target = ?")
	}
	return `SELECT id, at, actor, action, target, reason, before, after, prev_hash, hash
		FROM audit_log WHERE ` + strings.Join(where, " AND ") + " ORDER BY id LIMIT ?"
}

// ListAudit returns the audit entries matching f, oldest first; see
// day2.StateStore. A limit of 0 means statestore.DefaultLimit.
func (s *Store) ListAudit(ctx context.Context, f day2.AuditFilter) ([]day2.AuditEntry, error) {
	f, err := statestore.AuditFilter(f)
	if err != nil {
		return nil, err
	}
	args := []any{f.AfterID}
	variant := 0
	if f.Action != "" {
		variant |= 1
		args = append(args, f.Action)
	}
	if f.Target != "" {
		variant |= 2
		args = append(args, f.Target)
	}
	args = append(args, f.Limit)
	rows, err := s.reads.audit[variant].QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit log: %w", err)
	}
	defer rows.Close()
	var out []day2.AuditEntry
	for rows.Next() {
		var e day2.AuditEntry
		var at int64
		var before, after sql.NullString
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Reason, &before, &after, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("sqlite: list audit log: %w", err)
		}
		e.At = statestore.Time(at)
		if before.Valid {
			e.Before = json.RawMessage(before.String)
		}
		if after.Valid {
			e.After = json.RawMessage(after.String)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit log: %w", err)
	}
	return out, nil
}

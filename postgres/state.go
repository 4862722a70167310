package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/statestore"
	"github.com/day2ops/day2/internal/taskstore"
)

// lockClassAudit is the advisory lock class (see lockClassMigrate) that
// serializes appends to the audit log across replicas: an append reads the last
// entry and writes the next, and two appends reading the same last entry would
// fork the chain. It is held until the transaction ends, so the next append
// reads this one's entry.
const lockClassAudit int32 = 0x64320100 // "d2", 0x100: the state tables

var _ day2.StateStore = (*Store)(nil)

// inTx runs fn in a transaction and commits it; what names the operation in
// errors. The isolation level is read committed whatever the server's default,
// so that a statement after taking a lock sees what the lock's previous holder
// committed.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: %s: begin: %w", what, err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if err := fn(tx); err != nil {
		return fmt.Errorf("postgres: %s: %w", what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: %s: commit: %w", what, err)
	}
	return nil
}

// SaveAlerts upserts the alert states and appends the transitions in one
// transaction; see day2.StateStore. The IDs of the transitions are assigned by
// the store, in the order given. The states are upserted in key order, so that
// replicas saving the same alerts at once lock their rows in the same order.
func (s *Store) SaveAlerts(ctx context.Context, states []day2.AlertState, transitions []day2.AlertTransition) error {
	states, transitions, err := statestore.Alerts(states, transitions)
	if err != nil {
		return err
	}
	if len(states) == 0 && len(transitions) == 0 {
		return nil
	}
	return s.inTx(ctx, "save alerts", func(tx pgx.Tx) error {
		if len(states) > 0 {
			var key, source, slo, service, severity, state, details []string
			var since, updated []int64
			for _, a := range states {
				key, source, slo = append(key, a.Key), append(source, a.Source), append(slo, a.SLO)
				service, severity, state = append(service, a.Service), append(severity, a.Severity), append(state, a.State)
				since, details, updated = append(since, taskstore.Nanos(a.Since)), append(details, a.Details), append(updated, taskstore.Nanos(a.UpdatedAt))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO alert_states (key, source, slo, service, severity, state, since, details, updated_at)
				SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[], $9::int8[])
				ON CONFLICT (key) DO UPDATE SET source = excluded.source, slo = excluded.slo,
					service = excluded.service, severity = excluded.severity, state = excluded.state,
					since = excluded.since, details = excluded.details, updated_at = excluded.updated_at`,
				key, source, slo, service, severity, state, since, details, updated); err != nil {
				return fmt.Errorf("upsert %d states: %w", len(states), err)
			}
		}
		if len(transitions) > 0 {
			var key, slo, service, severity, from, to, details []string
			var at []int64
			for _, tr := range transitions {
				key, slo, service, severity = append(key, tr.Key), append(slo, tr.SLO), append(service, tr.Service), append(severity, tr.Severity)
				from, to, at, details = append(from, tr.From), append(to, tr.To), append(at, taskstore.Nanos(tr.At)), append(details, tr.Details)
			}
			// The identity column numbers the rows in the order they are
			// inserted, which ORDER BY makes the order given.
			if _, err := tx.Exec(ctx, `INSERT INTO alert_transitions (key, slo, service, severity, from_state, to_state, at, details)
				SELECT key, slo, service, severity, from_state, to_state, at, details
				FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[])
					WITH ORDINALITY AS u(key, slo, service, severity, from_state, to_state, at, details, n)
				ORDER BY n`,
				key, slo, service, severity, from, to, at, details); err != nil {
				return fmt.Errorf("append %d transitions: %w", len(transitions), err)
			}
		}
		return nil
	})
}

// AlertStates returns every persisted alert state, sorted by key; see
// day2.StateStore.
func (s *Store) AlertStates(ctx context.Context) ([]day2.AlertState, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, source, slo, service, severity, state, since, details, updated_at
		FROM alert_states ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("postgres: alert states: %w", err)
	}
	defer rows.Close()
	var out []day2.AlertState
	for rows.Next() {
		var a day2.AlertState
		var since, updated int64
		if err := rows.Scan(&a.Key, &a.Source, &a.SLO, &a.Service, &a.Severity, &a.State, &since, &a.Details, &updated); err != nil {
			return nil, fmt.Errorf("postgres: alert states: %w", err)
		}
		a.Since, a.UpdatedAt = day2.UnixNano(since), day2.UnixNano(updated)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: alert states: %w", err)
	}
	return out, nil
}

// likeEscaper escapes the wildcards of LIKE and its escape character, the
// backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// AlertHistory returns the transitions of the alerts whose key starts with
// keyPrefix ("" for all), newest first; see day2.StateStore. A limit of 0 means
// statestore.DefaultLimit.
func (s *Store) AlertHistory(ctx context.Context, keyPrefix string, limit int) ([]day2.AlertTransition, error) {
	limit, err := statestore.Limit(limit, "alert transitions")
	if err != nil {
		return nil, err
	}
	q := "SELECT id, key, slo, service, severity, from_state, to_state, at, details FROM alert_transitions"
	args := []any{limit}
	if keyPrefix != "" {
		// key has collation "C", so LIKE with a fixed prefix compares bytes
		// and can use the index on key.
		q += ` WHERE key LIKE $2 ESCAPE '\'`
		args = append(args, likeEscaper.Replace(keyPrefix)+"%")
	}
	q += " ORDER BY id DESC LIMIT $1"
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: alert history: %w", err)
	}
	defer rows.Close()
	var out []day2.AlertTransition
	for rows.Next() {
		var tr day2.AlertTransition
		var at int64
		if err := rows.Scan(&tr.ID, &tr.Key, &tr.SLO, &tr.Service, &tr.Severity, &tr.From, &tr.To, &at, &tr.Details); err != nil {
			return nil, fmt.Errorf("postgres: alert history: %w", err)
		}
		tr.At = day2.UnixNano(at)
		out = append(out, tr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: alert history: %w", err)
	}
	return out, nil
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
	err = s.inTx(ctx, "create override", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO overrides (service, environment, actor, reason, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
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
	rows, err := s.pool.Query(ctx, `SELECT id, service, environment, actor, reason, created_at, expires_at
		FROM overrides WHERE service = $1 AND expires_at > $2 ORDER BY id`, service, at)
	if err != nil {
		return nil, fmt.Errorf("postgres: overrides of %s: %w", service, err)
	}
	defer rows.Close()
	var out []day2.Override
	for rows.Next() {
		var o day2.Override
		var created, expires int64
		if err := rows.Scan(&o.ID, &o.Service, &o.Environment, &o.Actor, &o.Reason, &created, &expires); err != nil {
			return nil, fmt.Errorf("postgres: overrides of %s: %w", service, err)
		}
		o.CreatedAt, o.ExpiresAt = statestore.Time(created), statestore.Time(expires)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: overrides of %s: %w", service, err)
	}
	return out, nil
}

// AppendAudit appends e to the audit log and returns it as stored, with its ID,
// PrevHash and Hash; see day2.StateStore. A zero At means now. Appends from all
// replicas are serialized by an advisory lock, so the chain never forks.
func (s *Store) AppendAudit(ctx context.Context, e day2.AuditEntry) (day2.AuditEntry, error) {
	e, err := statestore.Audit(e, time.Now())
	if err != nil {
		return day2.AuditEntry{}, err
	}
	if err := s.inTx(ctx, "append audit entry", func(tx pgx.Tx) error { return appendAudit(ctx, tx, &e) }); err != nil {
		return day2.AuditEntry{}, err
	}
	return e, nil
}

// appendAudit takes the audit lock, chains e, prepared by statestore.Audit, to
// the last entry of the log and inserts it.
func appendAudit(ctx context.Context, tx pgx.Tx, e *day2.AuditEntry) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", lockClassAudit); err != nil {
		return fmt.Errorf("lock the audit log: %w", err)
	}
	var lastID int64
	var lastHash string
	err := tx.QueryRow(ctx, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").Scan(&lastID, &lastHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read the last audit entry: %w", err)
	}
	statestore.Chain(e, lastID, lastHash)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (id, at, actor, action, target, reason, before, after, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.At.UnixNano(), e.Actor, e.Action, e.Target, e.Reason, jsonText(e.Before), jsonText(e.After),
		e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("insert audit entry %d: %w", e.ID, err)
	}
	return nil
}

// jsonText returns raw JSON as a text value, or nil (NULL) when there is none.
func jsonText(j json.RawMessage) *string {
	if len(j) == 0 {
		return nil
	}
	s := string(j)
	return &s
}

// ListAudit returns the audit entries matching f, oldest first; see
// day2.StateStore. A limit of 0 means statestore.DefaultLimit.
func (s *Store) ListAudit(ctx context.Context, f day2.AuditFilter) ([]day2.AuditEntry, error) {
	f, err := statestore.AuditFilter(f)
	if err != nil {
		return nil, err
	}
	where := []string{"id > $2"}
	args := []any{f.Limit, f.AfterID}
	if f.Action != "" {
		args = append(args, f.Action)
		where = append(where, "action = $"+strconv.Itoa(len(args)))
	}
	if f.Target != "" {
		args = append(args, f.Target)
		where = append(where, "target = $"+strconv.Itoa(len(args)))
	}
	rows, err := s.pool.Query(ctx, `SELECT id, at, actor, action, target, reason, before, after, prev_hash, hash
		FROM audit_log WHERE `+strings.Join(where, " AND ")+" ORDER BY id LIMIT $1", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit log: %w", err)
	}
	defer rows.Close()
	var out []day2.AuditEntry
	for rows.Next() {
		var e day2.AuditEntry
		var at int64
		var before, after *string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Reason, &before, &after, &e.PrevHash, &e.Hash); err != nil {
			return nil, fmt.Errorf("postgres: list audit log: %w", err)
		}
		e.At = statestore.Time(at)
		if before != nil {
			e.Before = json.RawMessage(*before)
		}
		if after != nil {
			e.After = json.RawMessage(*after)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list audit log: %w", err)
	}
	return out, nil
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
)

// rollupsMigration is the version of the migration that creates the rollups
// table. A database migrated past it in one Open had tasks without rollups, so
// the migration's transaction fills the table from them.
const rollupsMigration = 2

// Rollup rows are read and written rollupBatch rows per statement, and the rest
// rollupBatchSmall rows per statement: one statement of many rows costs far
// less than as many single-row statements. A short batch repeats its last row,
// which changes nothing: IN ignores repeated keys, and the upsert writes whole
// rows, so a repeated row writes the same values again.
const (
	rollupBatch      = 64
	rollupBatchSmall = 8
)

var (
	rollupKeyMatch = strings.Join(strings.Split(taskstore.RollupKeyColumns, ", "), " = ? AND ") + " = ?"

	rollupKeyValues = "(" + strings.TrimSuffix(strings.Repeat("?,", taskstore.NumRollupKeyColumns), ",") + ")"

	rollupRowValues = "(" + strings.TrimSuffix(strings.Repeat("?,", taskstore.NumRollupKeyColumns+taskstore.NumRollupCounterColumns+1), ",") + ")"

	dropRollupQuery = "DELETE FROM rollups WHERE " + rollupKeyMatch

	rollupRowsQuery = "SELECT " + taskstore.RollupKeyColumns + ", " + taskstore.RollupCounterColumns +
		", cycle FROM rollups WHERE service = ? AND tier = ? AND bucket_start >= ? AND bucket_start < ?"
)

// getRollupsQuery returns the statement that reads the rows of n keys.
func getRollupsQuery(n int) string {
	return "SELECT " + taskstore.RollupKeyColumns + ", " + taskstore.RollupCounterColumns + ", cycle FROM rollups WHERE (" +
		taskstore.RollupKeyColumns + ") IN (VALUES " + strings.TrimSuffix(strings.Repeat(rollupKeyValues+",", n), ",") + ")"
}

// putRollupsQuery returns the statement that writes n whole rows.
func putRollupsQuery(n int) string {
	var set []string
	for _, c := range strings.Split(taskstore.RollupCounterColumns+", cycle", ", ") {
		set = append(set, c+" = excluded."+c)
	}
	return "INSERT INTO rollups (" + taskstore.RollupKeyColumns + ", " + taskstore.RollupCounterColumns + ", cycle) VALUES " +
		strings.TrimSuffix(strings.Repeat(rollupRowValues+",", n), ",") +
		" ON CONFLICT (" + taskstore.RollupKeyColumns + ") DO UPDATE SET " + strings.Join(set, ", ")
}

// rollupStmts are the statements that apply rollup deltas.
type rollupStmts struct {
	getMany, getFew, putMany, putFew, drop *sql.Stmt
}

// preparer is a *sql.DB or *sql.Tx.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

func prepareRollupStmts(ctx context.Context, p preparer) (rollupStmts, error) {
	var st rollupStmts
	err := prepareAll(ctx, p, []stmtQuery{
		{&st.getMany, getRollupsQuery(rollupBatch)},
		{&st.getFew, getRollupsQuery(rollupBatchSmall)},
		{&st.putMany, putRollupsQuery(rollupBatch)},
		{&st.putFew, putRollupsQuery(rollupBatchSmall)},
		{&st.drop, dropRollupQuery},
	})
	if err != nil {
		_ = st.close()
		return rollupStmts{}, err
	}
	return st, nil
}

// stmtQuery is a query to prepare and where to keep the statement.
type stmtQuery struct {
	dst   **sql.Stmt
	query string
}

// prepareAll prepares every query on p, stopping at the first failure.
func prepareAll(ctx context.Context, p preparer, qs []stmtQuery) error {
	for _, q := range qs {
		var err error
		if *q.dst, err = p.PrepareContext(ctx, q.query); err != nil {
			return fmt.Errorf("prepare %q: %w", q.query, err)
		}
	}
	return nil
}

func (st rollupStmts) all() []*sql.Stmt {
	return []*sql.Stmt{st.getMany, st.getFew, st.putMany, st.putFew, st.drop}
}

func (st rollupStmts) close() error {
	var errs []error
	for _, s := range st.all() {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// in returns the statements bound to tx.
func (st rollupStmts) in(ctx context.Context, tx *sql.Tx) rollupStmts {
	return rollupStmts{
		getMany: tx.StmtContext(ctx, st.getMany), getFew: tx.StmtContext(ctx, st.getFew),
		putMany: tx.StmtContext(ctx, st.putMany), putFew: tx.StmtContext(ctx, st.putFew),
		drop: tx.StmtContext(ctx, st.drop),
	}
}

// batch returns the statement for the next batch of the remaining rows and
// its size.
func batch(remaining int, many, few *sql.Stmt) (*sql.Stmt, int) {
	if remaining >= rollupBatch {
		return many, rollupBatch
	}
	return few, rollupBatchSmall
}

// rollupState is a stored rollup row, or one about to be written.
type rollupState struct {
	bucket   *taskstore.RollupBucket
	counters day2.Counters
	cycle    []byte
}

// applyRollups reads the rows of the deltas, applies the deltas and writes the
// rows back, deleting those left empty. The writer holds the database's only
// write lock, so nothing changes a row between the read and the write.
func applyRollups(ctx context.Context, st rollupStmts, deltas []taskstore.RollupDelta) error {
	stored := make(map[taskstore.RollupBucket]rollupState, len(deltas))
	args := make([]any, 0, rollupBatch*(taskstore.NumRollupKeyColumns+taskstore.NumRollupCounterColumns+1))
	var sc taskstore.RollupScanner
	dest := sc.Dest()
	for rest := deltas; len(rest) > 0; {
		stmt, n := batch(len(rest), st.getMany, st.getFew)
		args = args[:0]
		for i := range n {
			args = taskstore.AppendRollupKey(args, &rest[min(i, len(rest)-1)].RollupBucket)
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("read rollups: %w", err)
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("read rollup: %w", err)
			}
			stored[sc.Scanned()] = rollupState{counters: sc.Counters, cycle: sc.Cycle}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read rollups: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read rollups: %w", err)
		}
		rest = rest[min(n, len(rest)):]
	}

	puts := make([]rollupState, 0, len(deltas))
	for i := range deltas {
		d := &deltas[i]
		cur, found := stored[d.RollupBucket]
		cur.bucket = &d.RollupBucket
		cur.counters.Add(d.Counters)
		var err error
		if cur.cycle, err = d.ApplyCycle(cur.cycle); err != nil {
			return err
		}
		if !taskstore.RollupEmpty(cur.counters, cur.cycle) {
			puts = append(puts, cur)
			continue
		}
		if found {
			if _, err := st.drop.ExecContext(ctx, taskstore.AppendRollupKey(args[:0], cur.bucket)...); err != nil {
				return fmt.Errorf("delete empty rollup of %s: %w", describe(cur.bucket), err)
			}
		}
	}

	for rest := puts; len(rest) > 0; {
		stmt, n := batch(len(rest), st.putMany, st.putFew)
		args = args[:0]
		for i := range n {
			r := &rest[min(i, len(rest)-1)]
			args = taskstore.AppendCounters(taskstore.AppendRollupKey(args, r.bucket), &r.counters)
			args = append(args, r.cycle)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("write %d rollups: %w", min(n, len(rest)), err)
		}
		rest = rest[min(n, len(rest)):]
	}
	return nil
}

// describe names a rollup row in errors.
func describe(b *taskstore.RollupBucket) string {
	return fmt.Sprintf("service %q %s %s", b.Key.Service, b.Tier, time.Unix(0, b.Start).UTC().Format(time.RFC3339))
}

// RollupRows returns the rows of service in tier whose bucket starts in [from,
// to); see day2.RollupStore. Times outside the years 1678 to 2262 are clamped
// to them, so the zero time as from leaves the range open below.
func (s *Store) RollupRows(ctx context.Context, service string, tier day2.RollupTier, from, to time.Time) ([]day2.RollupRow, error) {
	if err := taskstore.CheckTier(tier); err != nil {
		return nil, err
	}
	rows, err := s.rollupRows.QueryContext(ctx, service, int64(tier), taskstore.ClampNanos(from), taskstore.ClampNanos(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup rows of %q: %w", service, err)
	}
	defer rows.Close()
	out, err := taskstore.ReadRollupRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup rows of %q: %w", service, err)
	}
	return out, nil
}

// RebuildRollups recomputes every rollup from the stored task summaries in one
// transaction and returns the number of tasks read; see day2.RollupStore.
// Commits wait for it; readers see the old rollups until it commits.
func (s *Store) RebuildRollups(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, day2.Errorf(day2.EUnavailable, "the store is closed")
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlite: rebuild rollups: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	n, err := rebuildRollups(ctx, tx, s.rollup.in(ctx, tx))
	if err != nil {
		return 0, fmt.Errorf("sqlite: rebuild rollups: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlite: rebuild rollups: commit: %w", err)
	}
	return n, nil
}

// rebuildRollups deletes every rollup and adds up the stored tasks again,
// taskstore.RebuildChunk tasks at a time in the order of their row ids. Each
// chunk is applied like a commit's deltas, so the result is the one the commits
// maintain, whatever the chunks.
func rebuildRollups(ctx context.Context, tx *sql.Tx, st rollupStmts) (int64, error) {
	if _, err := tx.ExecContext(ctx, "DELETE FROM rollups"); err != nil {
		return 0, fmt.Errorf("delete rollups: %w", err)
	}
	var total, after int64
	var sc taskstore.TaskScanner
	dest := append([]any{&after}, sc.Dest()...)
	for {
		rows, err := tx.QueryContext(ctx, "SELECT id, "+taskstore.Columns+" FROM tasks WHERE id > ? ORDER BY id LIMIT ?",
			after, taskstore.RebuildChunk)
		if err != nil {
			return total, fmt.Errorf("read tasks: %w", err)
		}
		var acc taskstore.Rollups
		n := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return total, fmt.Errorf("read task: %w", err)
			}
			t := sc.Task(day2.TraceID{})
			acc.Move(nil, &t)
			n++
		}
		if err := rows.Close(); err != nil {
			return total, fmt.Errorf("read tasks: %w", err)
		}
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("read tasks: %w", err)
		}
		if err := applyRollups(ctx, st, acc.Deltas()); err != nil {
			return total, err
		}
		total += int64(n)
		if n < taskstore.RebuildChunk {
			return total, nil
		}
	}
}

// fillRollups computes the rollups of the tasks stored before the rollups
// table existed, inside the migration's transaction.
func fillRollups(ctx context.Context, tx *sql.Tx) error {
	st, err := prepareRollupStmts(ctx, tx)
	if err != nil {
		return fmt.Errorf("fill rollups: %w", err)
	}
	defer st.close()
	if _, err := rebuildRollups(ctx, tx, st); err != nil {
		return fmt.Errorf("fill rollups: %w", err)
	}
	return nil
}

// RollupRanges returns the rows of service in every (tier, range) pair with one
// query; see day2.RollupStore.
func (s *Store) RollupRanges(ctx context.Context, service string, ranges []day2.RollupRange) ([]day2.RollupRow, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	args, err := taskstore.RangesArgs(service, ranges)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, taskstore.RangesQuery(len(ranges), func(int) string { return "?" }), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup ranges of %q: %w", service, err)
	}
	defer rows.Close()
	out, err := taskstore.ReadRollupRows(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: rollup ranges of %q: %w", service, err)
	}
	return out, nil
}

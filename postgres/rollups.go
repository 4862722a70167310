package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
)

// rollupsMigration is the version of the migration that creates the rollups
// table. A database migrated past it in one Open had tasks without rollups, so
// the migration's transaction fills the table from them.
const rollupsMigration = 2

// The key columns' array types, in the order of taskstore.RollupKeyColumns.
var rollupKeyTypes = []string{"text", "int2", "int8", "text", "text", "text", "text"}

var (
	// upsertRollups adds the deltas' counters to their rows, creating the rows
	// that do not exist, and returns the rows as they now are. Upserting a row
	// locks it, and the rows come in primary key order, so concurrent commits
	// lock shared rows in the same order and cannot deadlock; the cycle blobs
	// returned cannot change under the commit until it ends.
	upsertRollups = func() string {
		types := slices.Repeat([]string{"int8"}, taskstore.NumRollupCounterColumns)
		var set []string
		for _, c := range strings.Split(taskstore.RollupCounterColumns, ", ") {
			set = append(set, c+" = r."+c+" + excluded."+c)
		}
		return "INSERT INTO rollups AS r (" + taskstore.RollupKeyColumns + ", " + taskstore.RollupCounterColumns + ") " +
			"SELECT * FROM " + unnest(1, slices.Concat(rollupKeyTypes, types)) +
			" ON CONFLICT (" + taskstore.RollupKeyColumns + ") DO UPDATE SET " + strings.Join(set, ", ") +
			" RETURNING " + taskstore.RollupKeyColumns + ", " + taskstore.RollupCounterColumns + ", cycle"
	}()

	setRollupCycles = "UPDATE rollups AS r SET cycle = u.cycle FROM " +
		unnest(1, slices.Concat(rollupKeyTypes, []string{"bytea"})) +
		" AS u(" + taskstore.RollupKeyColumns + ", cycle) WHERE (r." +
		strings.Join(strings.Split(taskstore.RollupKeyColumns, ", "), ", r.") + ") = (u." +
		strings.Join(strings.Split(taskstore.RollupKeyColumns, ", "), ", u.") + ")"

	dropRollups = "DELETE FROM rollups WHERE (" + taskstore.RollupKeyColumns + ") IN (SELECT * FROM " + unnest(1, rollupKeyTypes) + ")"

	rollupRowsQuery = "SELECT " + taskstore.RollupKeyColumns + ", " + taskstore.RollupCounterColumns +
		", cycle FROM rollups WHERE service = $1 AND tier = $2 AND bucket_start >= $3 AND bucket_start < $4"
)

// rollupKeys holds rollup row keys column-wise, as arrays for unnest.
type rollupKeys struct {
	service, environment, version, riskTier, businessProcess []string
	tier                                                     []int16
	start                                                    []int64
}

func (k *rollupKeys) add(b *taskstore.RollupBucket) {
	k.service = append(k.service, b.Key.Service)
	k.tier = append(k.tier, int16(b.Tier))
	k.start = append(k.start, b.Start)
	k.environment = append(k.environment, b.Key.Environment)
	k.version = append(k.version, b.Key.Version)
	k.riskTier = append(k.riskTier, b.Key.RiskTier)
	k.businessProcess = append(k.businessProcess, b.Key.BusinessProcess)
}

// args returns the arrays in the order of taskstore.RollupKeyColumns.
func (k *rollupKeys) args() []any {
	return []any{k.service, k.tier, k.start, k.environment, k.version, k.riskTier, k.businessProcess}
}

// applyRollups applies the deltas, sorted by key, in three statements at most:
// the counters are added in SQL, and the cycle sketches, which PostgreSQL cannot
// merge, are merged here from the rows the upsert returned (and locked) and
// written back, with the rows that count nothing any more deleted.
func applyRollups(ctx context.Context, tx pgx.Tx, deltas []taskstore.RollupDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	var keys rollupKeys
	var counters [taskstore.NumRollupCounterColumns][]int64
	index := make(map[taskstore.RollupBucket]int, len(deltas))
	vals := make([]any, 0, taskstore.NumRollupCounterColumns)
	for i := range deltas {
		d := &deltas[i]
		keys.add(&d.RollupBucket)
		vals = taskstore.AppendCounters(vals[:0], &d.Counters)
		for j, v := range vals {
			counters[j] = append(counters[j], v.(int64))
		}
		index[d.RollupBucket] = i
	}
	args := keys.args()
	for j := range counters {
		args = append(args, counters[j])
	}

	rows, err := tx.Query(ctx, upsertRollups, args...)
	if err != nil {
		return fmt.Errorf("add to %d rollups: %w", len(deltas), err)
	}
	var changed, empty rollupKeys
	var cycles [][]byte
	var sc taskstore.RollupScanner
	dest := sc.Dest()
	returned := 0
	for rows.Next() {
		returned++
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return fmt.Errorf("add to rollups: %w", err)
		}
		b := sc.Scanned()
		i, ok := index[b]
		if !ok {
			rows.Close()
			return fmt.Errorf("add to rollups: the database returned row %+v, which the commit did not write", b)
		}
		d := &deltas[i]
		cycle, err := d.ApplyCycle(sc.Cycle)
		if err != nil {
			rows.Close()
			return err
		}
		switch {
		case taskstore.RollupEmpty(sc.Counters, cycle):
			empty.add(&d.RollupBucket)
		case d.Cycle != nil:
			changed.add(&d.RollupBucket)
			cycles = append(cycles, cycle)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("add to %d rollups: %w", len(deltas), err)
	}
	if returned != len(deltas) {
		return fmt.Errorf("add to %d rollups: the database returned %d rows", len(deltas), returned)
	}

	var batch pgx.Batch
	if len(cycles) > 0 {
		batch.Queue(setRollupCycles, append(changed.args(), cycles)...)
	}
	if len(empty.service) > 0 {
		batch.Queue(dropRollups, empty.args()...)
	}
	if batch.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("write %d rollup sketches and delete %d empty rollups: %w", len(cycles), len(empty.service), err)
	}
	return nil
}

// RollupRows returns the rows of service in tier whose bucket starts in [from,
// to); see day2.RollupStore. Times outside the years 1678 to 2262 are clamped
// to them, so the zero time as from leaves the range open below.
func (s *Store) RollupRows(ctx context.Context, service string, tier day2.RollupTier, from, to time.Time) ([]day2.RollupRow, error) {
	if err := taskstore.CheckTier(tier); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, rollupRowsQuery, service, int16(tier), taskstore.ClampNanos(from), taskstore.ClampNanos(to))
	if err != nil {
		return nil, fmt.Errorf("postgres: rollup rows of %q: %w", service, err)
	}
	defer rows.Close()
	out, err := taskstore.ReadRollupRows(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: rollup rows of %q: %w", service, err)
	}
	return out, nil
}

// RebuildRollups recomputes every rollup from the stored task summaries in one
// transaction and returns the number of tasks read; see day2.RollupStore.
//
// The transaction locks the rollups table against writes (readers see the old
// rollups until it commits) and reads the tasks from one snapshot taken after
// the lock. A commit that had written rollups before has therefore ended and is
// counted; one that comes to write them waits for the rebuild, and then applies
// its changes on top of the rebuilt rows, which do not count it yet. Such a
// commit holds its tasks' locks while it waits, so other commits of the same
// tasks wait too.
func (s *Store) RebuildRollups(ctx context.Context) (int64, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return 0, fmt.Errorf("postgres: rebuild rollups: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	n, err := rebuildRollups(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("postgres: rebuild rollups: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: rebuild rollups: commit: %w", err)
	}
	return n, nil
}

// rebuildRollups deletes every rollup and adds up the stored tasks again,
// taskstore.RebuildChunk tasks at a time in the order of their row ids. Each
// chunk is applied like a commit's deltas, so the result is the one the commits
// maintain, whatever the chunks. In a repeatable-read transaction it must run
// first, so that the snapshot is taken after the lock; the migration that
// creates the table runs it at its end, when no one else can see the table.
func rebuildRollups(ctx context.Context, tx pgx.Tx) (int64, error) {
	if _, err := tx.Exec(ctx, "LOCK TABLE rollups IN EXCLUSIVE MODE"); err != nil {
		return 0, fmt.Errorf("lock rollups: %w", err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM rollups"); err != nil {
		return 0, fmt.Errorf("delete rollups: %w", err)
	}
	var total, after int64
	var sc taskstore.TaskScanner
	dest := append([]any{&after}, sc.Dest()...)
	for {
		rows, err := tx.Query(ctx, "SELECT id, "+taskstore.Columns+" FROM tasks WHERE id > $1 ORDER BY id LIMIT $2",
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
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("read tasks: %w", err)
		}
		if err := applyRollups(ctx, tx, acc.Deltas()); err != nil {
			return total, err
		}
		total += int64(n)
		if n < taskstore.RebuildChunk {
			return total, nil
		}
	}
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
	rows, err := s.pool.Query(ctx, taskstore.RangesQuery(len(ranges), func(i int) string { return "$" + strconv.Itoa(i+1) }), args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: rollup ranges of %q: %w", service, err)
	}
	defer rows.Close()
	out, err := taskstore.ReadRollupRows(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: rollup ranges of %q: %w", service, err)
	}
	return out, nil
}

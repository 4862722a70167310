// Package postgres implements day2.TaskStore on PostgreSQL (15 or later) with
// pgx, for teams that run several day2 replicas on one database.
//
// The layout is the one of package sqlite: a row per task holding its summary and
// its raw telemetry as one spancodec blob, and per-version task counts kept by the
// commits. What differs is concurrency. Every replica ingests, and the spans of
// one trace may reach different replicas, so two commits can merge into the same
// task at once. A commit therefore takes a transaction-level advisory lock per
// task, in ascending key order, before it reads the stored tasks: commits of the
// same task run one after the other, each seeing what the previous one wrote, and
// the fixed order rules out deadlocks. Commits of different tasks do not wait for
// each other, except on the rows they share: the per-version counts and the SLO
// rollups, which every commit upserts in key order, so it locks them in the same
// order as every other commit (see applyRollups).
//
// A commit holds one advisory lock per task it touches, and PostgreSQL keeps
// those in its shared lock table, which holds max_locks_per_transaction ×
// (max_connections + max_prepared_transactions) entries (6,400 by default). Keep
// the tasks per commit times the replicas committing at once below that, or raise
// max_locks_per_transaction.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
	"github.com/day2ops/day2/spancodec"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock classes, used with the two-key form of the advisory lock
// functions, whose key space is separate from the single bigint keys other code
// may use.
const (
	lockClassMigrate int32 = 0x64320001 // "d2", 1
	lockClassTask    int32 = 0x64320002 // "d2", 2: the second key is a trace id hash
)

// purgeChunk is the number of tasks purged per transaction.
const purgeChunk = 1000

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger for the store's warnings; the default is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Store is a day2.TaskStore kept in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

var (
	_ day2.TaskStore   = (*Store)(nil)
	_ day2.RollupStore = (*Store)(nil)
)

// Open connects to the database named by dsn (a URL or keyword/value connection
// string) and brings its schema up to date. Replicas may open the same database
// at the same time: migrations are serialized by an advisory lock.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	s := &Store{log: slog.Default()}
	for _, opt := range opts {
		opt(s)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse connection string: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	s.pool = pool
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Pool returns the connection pool, for packages that query the stored tasks
// directly (reports, KQL).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// lockKey returns the advisory lock key of a task: a 32-bit FNV-1a hash of its
// trace id. Two tasks sharing a key only wait for each other needlessly.
func lockKey(id day2.TraceID) int32 {
	h := fnv.New32a()
	_, _ = h.Write(id[:])
	return int32(h.Sum32())
}

// CommitTasks merges the batch into the stored tasks in one transaction; see
// day2.TaskStore and the package documentation on concurrent commits.
func (s *Store) CommitTasks(ctx context.Context, batch []day2.TaskData) (day2.CommitResult, error) {
	groups, res, err := taskstore.Group(batch)
	if err != nil || len(groups) == 0 {
		return res, err
	}
	keys := make([]int32, len(groups))
	ids := make([][]byte, len(groups))
	for i := range groups {
		keys[i] = lockKey(groups[i].TraceID)
		ids[i] = groups[i].TraceID[:]
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// Encoding the new tasks needs no lock: done before the transaction, it
	// overlaps other commits.
	fresh := taskstore.Fresh(groups)

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return day2.CommitResult{}, fmt.Errorf("postgres: commit tasks: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()

	// ORDER BY makes PostgreSQL take the locks in key order: it evaluates a
	// volatile function in the select list after sorting.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, k) FROM unnest($2::int4[]) AS k ORDER BY k",
		lockClassTask, keys); err != nil {
		return day2.CommitResult{}, fmt.Errorf("postgres: commit tasks: lock tasks: %w", err)
	}
	stored, err := readStored(ctx, tx, ids)
	if err != nil {
		return day2.CommitResult{}, fmt.Errorf("postgres: commit tasks: %w", err)
	}
	plan := taskstore.Prepare(groups, stored, fresh)
	for i := range plan.Updates {
		if c := &plan.Updates[i]; c.Corrupt != nil {
			s.log.Error("postgres: stored telemetry of a task is corrupt; keeping its summary and treating it as purged",
				"task_id", c.TraceID, "err", c.Corrupt)
		}
	}
	if err := write(ctx, tx, &plan); err != nil {
		return day2.CommitResult{}, fmt.Errorf("postgres: commit tasks: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return day2.CommitResult{}, fmt.Errorf("postgres: commit tasks: commit: %w", err)
	}
	res.Add(plan.Result)
	return res, nil
}

func readStored(ctx context.Context, tx pgx.Tx, ids [][]byte) (map[day2.TraceID]*taskstore.Stored, error) {
	rows, err := tx.Query(ctx, "SELECT id, task_id, "+taskstore.Columns+", raw, raw_purged FROM tasks WHERE task_id = ANY($1)", ids)
	if err != nil {
		return nil, fmt.Errorf("look up stored tasks: %w", err)
	}
	defer rows.Close()
	stored := make(map[day2.TraceID]*taskstore.Stored)
	var sc taskstore.TaskScanner
	for rows.Next() {
		st := &taskstore.Stored{}
		var rawID []byte
		dest := append([]any{&st.ID, &rawID}, sc.Dest()...)
		if err := rows.Scan(append(dest, &st.Raw, &st.Purged)...); err != nil {
			return nil, fmt.Errorf("read stored task: %w", err)
		}
		id, err := taskstore.TraceID(rawID)
		if err != nil {
			return nil, fmt.Errorf("read stored task: %w", err)
		}
		st.Task = sc.Task(id)
		stored[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look up stored tasks: %w", err)
	}
	return stored, nil
}

// taskColumns holds tasks column-wise, as the arrays that unnest turns into rows
// for updating stored tasks.
type taskColumns struct {
	id                                                                     []int64
	raw                                                                    [][]byte
	service, environment, version, businessProcess, riskTier, flowRunID    []string
	tenant, reasonCode, arm                                                []string
	start, end, outcome, inputTokens, outputTokens                         []int64
	cycle                                                                  []*int64
	success, escalated                                                     []*bool
	llmCalls, toolCalls, toolFailures, toolRetries, safetyBlocks, rateHits []int32
	spans                                                                  []int32
	rootSeen, purged                                                       []bool
}

func columnsOf(cs []taskstore.Change) *taskColumns {
	var c taskColumns
	for i := range cs {
		ch := &cs[i]
		t := &ch.Task
		c.id = append(c.id, ch.ID)
		c.raw = append(c.raw, ch.Raw)
		c.service = append(c.service, t.Service)
		c.environment = append(c.environment, t.Environment)
		c.version = append(c.version, t.Version)
		c.businessProcess = append(c.businessProcess, t.BusinessProcess)
		c.riskTier = append(c.riskTier, t.RiskTier)
		c.flowRunID = append(c.flowRunID, t.FlowRunID)
		c.tenant = append(c.tenant, t.Tenant)
		c.reasonCode = append(c.reasonCode, t.ReasonCode)
		c.start = append(c.start, taskstore.Nanos(t.StartTime))
		c.end = append(c.end, taskstore.Nanos(t.EndTime))
		c.outcome = append(c.outcome, taskstore.Nanos(t.OutcomeTime))
		c.inputTokens = append(c.inputTokens, t.InputTokens)
		c.outputTokens = append(c.outputTokens, t.OutputTokens)
		c.cycle = append(c.cycle, t.CycleTimeMS)
		c.success = append(c.success, t.Success)
		c.escalated = append(c.escalated, t.Escalated)
		c.llmCalls = append(c.llmCalls, int32(t.LLMCalls))
		c.toolCalls = append(c.toolCalls, int32(t.ToolCalls))
		c.toolFailures = append(c.toolFailures, int32(t.ToolFailures))
		c.toolRetries = append(c.toolRetries, int32(t.ToolRetries))
		c.safetyBlocks = append(c.safetyBlocks, int32(t.SafetyBlocks))
		c.rateHits = append(c.rateHits, int32(t.RateLimitHits))
		c.spans = append(c.spans, int32(t.Spans))
		c.rootSeen = append(c.rootSeen, t.RootSeen)
		c.purged = append(c.purged, ch.Purged)
		c.arm = append(c.arm, t.Arm)
	}
	return &c
}

// summaryArrays returns the arrays of the summary columns in the order of
// taskstore.Columns, and the SQL types to cast them to.
func (c *taskColumns) summaryArrays() ([]any, []string) {
	return []any{
			c.service, c.environment, c.version, c.businessProcess, c.riskTier, c.flowRunID, c.tenant,
			c.start, c.end, c.cycle, c.success, c.escalated, c.reasonCode, c.outcome,
			c.llmCalls, c.toolCalls, c.toolFailures, c.toolRetries, c.inputTokens, c.outputTokens,
			c.safetyBlocks, c.rateHits, c.spans, c.rootSeen, c.arm,
		}, []string{
			"text", "text", "text", "text", "text", "text", "text",
			"int8", "int8", "int8", "bool", "bool", "text", "int8",
			"int4", "int4", "int4", "int4", "int8", "int8",
			"int4", "int4", "int4", "bool", "text",
		}
}

// unnest returns "unnest($n::type[], ...)" for the arrays, numbering from first.
func unnest(first int, types []string) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = "$" + strconv.Itoa(first+i) + "::" + t + "[]"
	}
	return "unnest(" + strings.Join(parts, ", ") + ")"
}

var (
	summaryCols = strings.Split(taskstore.Columns, ", ")

	insertColumns = append(append([]string{"task_id"}, summaryCols...), "raw", "raw_purged")

	updateTasks = func() string {
		_, types := (&taskColumns{}).summaryArrays()
		types = append(append([]string{"int8"}, types...), "bytea", "bool")
		set := make([]string, 0, len(summaryCols)+2)
		for _, c := range append(slices.Clone(summaryCols), "raw", "raw_purged") {
			set = append(set, c+" = u."+c)
		}
		return "UPDATE tasks AS t SET " + strings.Join(set, ", ") + " FROM " + unnest(1, types) +
			" AS u(id, " + taskstore.Columns + ", raw, raw_purged) WHERE t.id = u.id"
	}()
)

func write(ctx context.Context, tx pgx.Tx, p *taskstore.Plan) error {
	if len(p.Inserts) > 0 {
		// The tasks are new (the locks rule out a concurrent insert), so the
		// fastest bulk load, COPY, can add them.
		row := make([]any, 0, taskstore.NumColumns+3)
		src := pgx.CopyFromSlice(len(p.Inserts), func(i int) ([]any, error) {
			c := &p.Inserts[i]
			row = append(row[:0], c.TraceID[:])
			row = taskstore.AppendValues(row, &c.Task)
			return append(row, c.Raw, c.Purged), nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tasks"}, insertColumns, src); err != nil {
			return fmt.Errorf("insert %d tasks: %w", len(p.Inserts), err)
		}
	}
	if len(p.Updates) > 0 {
		c := columnsOf(p.Updates)
		summary, _ := c.summaryArrays()
		args := append(append([]any{c.id}, summary...), c.raw, c.purged)
		if _, err := tx.Exec(ctx, updateTasks, args...); err != nil {
			return fmt.Errorf("update %d tasks: %w", len(p.Updates), err)
		}
	}
	// Every commit takes its row locks in one order: rollups, then versions,
	// each sorted by key.
	if err := applyRollups(ctx, tx, p.Rollups); err != nil {
		return fmt.Errorf("update rollups: %w", err)
	}
	if len(p.Versions) == 0 {
		return nil
	}
	// The deltas are sorted by key, and the rows are upserted in that order, so
	// concurrent commits lock the rows in the same order.
	var svc, env, ver, dropSvc, dropEnv, dropVer []string
	var count, first, last []int64
	for _, v := range p.Versions {
		svc, env, ver = append(svc, v.Service), append(env, v.Environment), append(ver, v.Version)
		count, first, last = append(count, v.Tasks), append(first, v.FirstSeen), append(last, v.LastSeen)
		if v.Tasks < 0 {
			dropSvc, dropEnv, dropVer = append(dropSvc, v.Service), append(dropEnv, v.Environment), append(dropVer, v.Version)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO service_versions AS sv (service, environment, version, task_count, first_seen, last_seen)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[])
		ON CONFLICT (service, environment, version) DO UPDATE SET
			task_count = sv.task_count + excluded.task_count,
			first_seen = CASE WHEN excluded.first_seen <> 0 AND (sv.first_seen = 0 OR excluded.first_seen < sv.first_seen)
				THEN excluded.first_seen ELSE sv.first_seen END,
			last_seen = GREATEST(sv.last_seen, excluded.last_seen)`,
		svc, env, ver, count, first, last); err != nil {
		return fmt.Errorf("count tasks per version: %w", err)
	}
	if len(dropSvc) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM service_versions
			WHERE task_count <= 0 AND (service, environment, version) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
			dropSvc, dropEnv, dropVer); err != nil {
			return fmt.Errorf("drop unused versions: %w", err)
		}
	}
	return nil
}

// GetTask returns one task with its raw telemetry; see day2.TaskStore.
func (s *Store) GetTask(ctx context.Context, id day2.TraceID) (day2.TaskDetail, error) {
	var sc taskstore.TaskScanner
	var raw []byte
	var purged bool
	err := s.pool.QueryRow(ctx, "SELECT "+taskstore.Columns+", raw, raw_purged FROM tasks WHERE task_id = $1", id[:]).
		Scan(append(sc.Dest(), &raw, &purged)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return day2.TaskDetail{}, day2.Errorf(day2.ENotFound, "task %s not found", id)
	}
	if err != nil {
		return day2.TaskDetail{}, fmt.Errorf("postgres: get task %s: %w", id, err)
	}
	d := day2.TaskDetail{Task: sc.Task(id), Data: day2.TaskData{TraceID: id}, RawPurged: purged || raw == nil}
	if raw != nil {
		if d.Data, err = spancodec.Decode(raw); err != nil {
			return day2.TaskDetail{}, fmt.Errorf("postgres: get task %s: %w", id, err)
		}
	}
	return d, nil
}

// ListTasks returns tasks newest first; see day2.TaskStore.
func (s *Store) ListTasks(ctx context.Context, f day2.TaskFilter) (day2.TaskPage, error) {
	limit, err := taskstore.Limit(f.Limit)
	if err != nil {
		return day2.TaskPage{}, err
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if f.Service != "" {
		add("service = ?", f.Service)
	}
	if f.Environment != "" {
		add("environment = ?", f.Environment)
	}
	if f.Version != "" {
		add("version = ?", f.Version)
	}
	if !f.Since.IsZero() {
		add("start_time >= ?", taskstore.Nanos(f.Since))
	}
	if !f.Until.IsZero() {
		add("start_time < ?", taskstore.Nanos(f.Until))
	}
	if f.Cursor != "" {
		c, err := taskstore.ParseCursor(f.Cursor)
		if err != nil {
			return day2.TaskPage{}, err
		}
		add("(start_time, task_id) < (?, ?)", c.Start, c.TaskID[:])
	}
	q := "SELECT task_id, " + taskstore.Columns + " FROM tasks"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY start_time DESC, task_id DESC LIMIT " + strconv.Itoa(limit+1)

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return day2.TaskPage{}, fmt.Errorf("postgres: list tasks: %w", err)
	}
	defer rows.Close()
	page, err := taskstore.ReadTaskPage(rows, limit)
	if err != nil {
		return day2.TaskPage{}, fmt.Errorf("postgres: list tasks: %w", err)
	}
	return page, nil
}

// ListServices returns every named service seen, sorted by name; see
// day2.TaskStore.
func (s *Store) ListServices(ctx context.Context) ([]day2.ServiceSummary, error) {
	rows, err := s.pool.Query(ctx, taskstore.ServicesQuery)
	if err != nil {
		return nil, fmt.Errorf("postgres: list services: %w", err)
	}
	defer rows.Close()
	svcs, err := taskstore.ReadServices(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: list services: %w", err)
	}
	return svcs, nil
}

// PurgeRawBefore drops the raw telemetry of tasks that ended before t; see
// day2.TaskStore. It works in transactions of purgeChunk tasks. A commit that
// merges into a task while it is being purged may write the task's telemetry
// back; the next purge then drops it.
func (s *Store) PurgeRawBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `UPDATE tasks SET raw = NULL, raw_purged = true WHERE id IN (
			SELECT id FROM tasks WHERE raw IS NOT NULL AND end_time < $1 LIMIT `+strconv.Itoa(purgeChunk)+")",
			taskstore.Nanos(t))
		if err != nil {
			return total, fmt.Errorf("postgres: purge raw telemetry: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeChunk {
			return total, nil
		}
	}
}

// migrate applies the embedded migrations the database lacks, in one transaction
// that holds an advisory lock, so replicas starting together apply them once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	files, err := taskstore.Migrations(migrations, "migrations")
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", lockClassMigrate); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest := files[len(files)-1].Version; current > latest {
		return fmt.Errorf("database schema version %d is newer than this build's %d; run a newer day2", current, latest)
	}
	for _, m := range files {
		if m.Version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return fmt.Errorf("record %s: %w", m.Name, err)
		}
	}
	if current < rollupsMigration {
		// The tasks stored before the rollups table existed.
		if _, err := rebuildRollups(ctx, tx); err != nil {
			return fmt.Errorf("fill rollups: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

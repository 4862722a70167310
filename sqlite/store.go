// Package sqlite implements day2.TaskStore on an embedded SQLite database, using
// the pure-Go driver modernc.org/sqlite, so that day2 runs as a single binary with
// no database server.
//
// A task is one row of the tasks table: the summary columns that listing and
// filtering need, and the raw spans and log records as one spancodec blob. A
// commit therefore writes a row per task, not per span, which is what lets one
// SQLite writer keep up with the ingest path. Per-version task counts are kept in
// service_versions by the commits themselves, so listing services reads a handful
// of rows, and so are the SLO rollups (table rollups), one row per bucket and key
// written once per commit however many tasks it touches.
//
// The database is day2.db in the directory given to Open, in WAL mode with
// synchronous=FULL: a commit that returned is on disk and survives a crash or
// power loss. Writes go through one connection, serialized by a mutex; reads use a
// separate pool of read-only connections, which WAL lets run alongside the writer.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/taskstore"
	"github.com/day2ops/day2/spancodec"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the name of the database file inside the store's directory.
const FileName = "day2.db"

// lookupChunk is the number of task ids looked up per query during a commit.
const lookupChunk = 200

// putRows is the number of tasks written per statement during a commit: one
// statement of many rows costs far less than as many single-row statements.
const putRows = 32

// purgeChunk is the number of tasks purged per transaction, so that retention
// never holds the writer for long.
const purgeChunk = 1000

// Option configures Open.
type Option func(*options)

type options struct {
	logger    *slog.Logger
	readConns int
}

// WithLogger sets the logger for the store's warnings; the default is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithReadConns sets the size of the read connection pool; the default is
// max(4, GOMAXPROCS).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

var useFdatasync sync.Once

// Store is a day2.TaskStore kept in a SQLite database.
type Store struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex // serializes writers on wdb
	closed bool       // guarded by mu
	wdb    *sql.DB    // exactly one connection
	rdb    *sql.DB    // read-only pool
	cdb    *sql.DB    // the checkpointer's connection

	stopCheckpoints chan struct{}
	checkpointsDone chan struct{}
	// lastHold is how long the last checkpoint held commits, in nanoseconds
	// (0 when it took no RESTART).
	lastHold atomic.Int64
	stopOnce sync.Once

	lookup, putMany, putOne, upsertVersion, dropVersion, purge *sql.Stmt
	lookupByID                                                 *sql.Stmt

	// Tasks created since the last index flush are found through recent, not
	// the task_ids table (see 0004_task_ids.sql). nextID and indexedThrough are
	// guarded by mu; recent by idsMu, as readers consult it too.
	nextID         int64
	indexedThrough int64
	lastFlush      time.Time
	idsMu          sync.RWMutex
	recent         map[day2.TraceID]int64
	rollup         rollupStmts
	rollupRows     *sql.Stmt // on rdb

	// Prepared statements of frequent reads, on rdb.
	reads readStmts

	// Record writes waiting for the group commit (see records.go).
	recStmts  driverStmts // recordQueries, guarded by mu
	recMu     sync.Mutex
	recQueue  []*recordWrite // guarded by recMu
	recClosed bool           // guarded by recMu
	recKick   chan struct{}
	recStop   chan struct{}
	recDone   chan struct{}
}

var (
	_ day2.TaskStore   = (*Store)(nil)
	_ day2.RollupStore = (*Store)(nil)
)

// Open opens, creating it if needed, the store in directory dir and brings its
// schema up to date.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	o := options{logger: slog.Default(), readConns: max(4, runtime.GOMAXPROCS(0))}
	for _, opt := range opts {
		opt(&o)
	}
	if strings.ContainsAny(dir, "?#") {
		return nil, fmt.Errorf("sqlite: data directory %q: the characters ? and # are not supported in its path", dir)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: create data directory: %w", err)
	}
	useFdatasync.Do(func() {
		// Commits sync the WAL with fdatasync(2), as SQLite does when built
		// by its own configure script: fsync(2), the library's default, also
		// writes the file's modification time, which on ext4 makes every
		// commit wait for a journal commit (and for whatever else that
		// journal commit carries, such as a checkpoint's writes). Durability
		// is the same: fdatasync writes the data and the size.
		_, _ = msqlite.Fdatasync(true) // unavailable on macOS and Windows, which sync their own way
	})
	s := &Store{path: filepath.Join(dir, FileName), log: o.logger}
	if err := s.open(ctx, o); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// dsn returns the driver's connection string. The driver runs the busy_timeout
// pragma first, so that switching to WAL waits out another process's lock instead
// of failing, then the others in name order; all are in force before any
// statement of ours runs on the connection.
func (s *Store) dsn(write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		// 32 MiB of page cache: enough to keep the task id index and the
		// rollup pages hot (64 MiB ingested no faster), while SQLite's work
		// at the end of each transaction, which grows with the cache, stays
		// small for the many small record writes (approvals).
		q.Add("_pragma", "cache_size(-32768)")
		// Multi-row statements keep a statement journal for a partial rollback;
		// in memory it costs no file writes.
		q.Add("_pragma", "temp_store(MEMORY)")
		// Checkpoints run on their own connection (see checkpointLoop), so that
		// copying WAL pages into the database never delays a commit.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Set("_txlock", "immediate")
		// WAL frames reach the file in one write per commit, not two per
		// frame (see walgather.go).
		if gatherVFSReady() {
			q.Set("vfs", gatherVFSName)
		}
	} else {
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", "cache_size(-16384)")
	}
	return s.path + "?" + q.Encode()
}

func (s *Store) open(ctx context.Context, o options) error {
	var err error
	if s.wdb, err = sql.Open("sqlite", s.dsn(true)); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %s: journal mode is %q, not WAL; is the file on a file system without shared memory support?", s.path, mode)
	}
	if err := migrate(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", s.path, err)
	}
	if err := s.loadRecentIDs(ctx); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", s.path, err)
	}

	if s.rdb, err = sql.Open("sqlite", s.dsn(false)); err != nil {
		return fmt.Errorf("sqlite: open %s for reading: %w", s.path, err)
	}
	s.rdb.SetMaxOpenConns(o.readConns)
	s.rdb.SetMaxIdleConns(o.readConns)
	s.rdb.SetConnMaxIdleTime(5 * time.Minute)

	if s.cdb, err = sql.Open("sqlite", s.path+fmt.Sprintf("?_pragma=busy_timeout(%d)", restartWait.Milliseconds())); err != nil {
		return fmt.Errorf("sqlite: open %s for checkpoints: %w", s.path, err)
	}
	s.cdb.SetMaxOpenConns(1)
	s.stopCheckpoints = make(chan struct{})
	s.checkpointsDone = make(chan struct{})
	go s.checkpointLoop()

	in := strings.TrimSuffix(strings.Repeat("?,", lookupChunk), ",")
	if err := prepareAll(ctx, s.wdb, []stmtQuery{
		{&s.lookup, "SELECT t.id, t.task_id, " + taskstore.Columns + ", raw, raw_purged FROM task_ids i JOIN tasks t ON t.id = i.id WHERE i.task_id IN (" + in + ")"},
		{&s.lookupByID, "SELECT id, task_id, " + taskstore.Columns + ", raw, raw_purged FROM tasks WHERE id IN (" + in + ")"},
		{&s.putMany, putQuery(putRows)},
		{&s.putOne, putQuery(1)},
		{&s.upsertVersion, `INSERT INTO service_versions (service, environment, version, task_count, first_seen, last_seen)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (service, environment, version) DO UPDATE SET
				task_count = task_count + excluded.task_count,
				first_seen = CASE WHEN excluded.first_seen <> 0 AND (first_seen = 0 OR excluded.first_seen < first_seen)
					THEN excluded.first_seen ELSE first_seen END,
				last_seen = max(last_seen, excluded.last_seen)`},
		{&s.dropVersion, "DELETE FROM service_versions WHERE service = ? AND environment = ? AND version = ? AND task_count <= 0"},
		{&s.purge, `UPDATE tasks SET raw = NULL, raw_purged = 1 WHERE id IN (
			SELECT id FROM tasks WHERE raw IS NOT NULL AND end_bucket <= ?1 / ` + fmt.Sprint(bucketNanos) + ` AND end_time < ?1
			LIMIT ` + fmt.Sprint(purgeChunk) + ")"},
	}); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if s.rollup, err = prepareRollupStmts(ctx, s.wdb); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	s.recKick, s.recStop, s.recDone = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go s.recordCommitter()
	if err := prepareAll(ctx, s.rdb, []stmtQuery{
		{&s.rollupRows, rollupRowsQuery},
		{&s.reads.getRecord, "SELECT " + recordColumns + " FROM records WHERE kind = ? AND id = ?"},
		{&s.reads.findRecord, "SELECT " + recordColumns + " FROM records WHERE kind = ? AND key = ? AND key <> ''"},
		{&s.reads.audit[0], auditQuery(0)},
		{&s.reads.audit[1], auditQuery(1)},
		{&s.reads.audit[2], auditQuery(2)},
		{&s.reads.audit[3], auditQuery(3)},
	}); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Close releases the store, after the commit in progress if any. Calls after
// the first do nothing; other methods then fail.
func (s *Store) Close() error {
	// The record committer and the checkpointer take mu: stop them first.
	s.stopOnce.Do(func() {
		if s.recDone != nil {
			s.recMu.Lock()
			s.recClosed = true
			s.recMu.Unlock()
			close(s.recStop)
			<-s.recDone
		}
		if s.stopCheckpoints != nil {
			close(s.stopCheckpoints)
			<-s.checkpointsDone
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, st := range append([]*sql.Stmt{s.lookup, s.lookupByID, s.putMany, s.putOne, s.upsertVersion, s.dropVersion, s.purge, s.rollupRows}, s.reads.all()...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.rollup.close())
	if s.recStmts.conn != nil {
		errs = append(errs, s.closeDriverStmts(&s.recStmts))
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		// Checkpoint so the database is one file again for backups and copies.
		if _, err := s.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			s.log.Warn("sqlite: checkpoint at close", "path", s.path, "err", err)
		}
		errs = append(errs, s.wdb.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.path, err)
	}
	return nil
}

// readStmts are the prepared statements, on rdb, of the reads an agent's
// request makes (approval requests look up their idempotency key, callers
// poll a request, the audit log is read by target): parsing them anew each
// time costs more than running them.
type readStmts struct {
	getRecord, findRecord *sql.Stmt
	audit                 [4]*sql.Stmt // by auditQuery variant
}

func (r readStmts) all() []*sql.Stmt {
	return append([]*sql.Stmt{r.getRecord, r.findRecord}, r.audit[:]...)
}

// checkpointInterval is how often the WAL is copied back into the database.
const checkpointInterval = 2 * time.Second

// restartWait is how long a checkpoint that would let the WAL start over waits
// for readers of older snapshots, with commits held; see checkpoint.
const restartWait = 10 * time.Millisecond

// checkpointLoop copies committed WAL frames into the database file from its own
// connection every checkpointInterval; see checkpoint.
func (s *Store) checkpointLoop() {
	defer close(s.checkpointsDone)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopCheckpoints:
			return
		case <-t.C:
		}
		if err := s.checkpoint(); err != nil {
			s.log.Warn("sqlite: checkpoint", "path", s.path, "err", err)
		}
	}
}

// checkpoint copies the WAL into the database and lets the next commit write
// the WAL from its start again.
//
// Under constant load a PASSIVE checkpoint never catches up: commits go on
// while it copies, so the WAL is never wholly copied and SQLite cannot start
// it over. It would grow without end, and a commit that extends the file makes
// its fsync update the file system's metadata (a journal commit that waits for
// the checkpoint's own writes), where a commit into blocks already allocated
// syncs its data only. So a checkpoint copies in PASSIVE rounds alongside the
// commits, each copying what arrived during the one before, until a round has
// little left to copy; then it holds commits (s.mu) for a RESTART, which copies
// the last few frames and waits at most restartWait for readers of older
// snapshots. When the rounds do not get there (heavy ingest), the WAL starts
// over only once it is longer than walRestartFrames.
func (s *Store) checkpoint() error {
	s.lastHold.Store(0)
	run := func(mode string) (logFrames int, err error) {
		var busy, done int
		if err := s.cdb.QueryRow("PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &done); err != nil {
			return 0, fmt.Errorf("%s: %w", mode, err)
		}
		return logFrames, nil
	}
	prev, small := -1, false
	for range checkpointRounds {
		n, err := run("PASSIVE")
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // nothing written since the WAL started over
		}
		if prev >= 0 && n-prev <= restartFrames {
			small = true
			break
		}
		prev = n
	}
	if !small && prev <= walRestartFrames {
		return nil
	}
	// The PASSIVE rounds copy pages into the database file without syncing
	// it; the RESTART syncs it, with commits held. Syncing here first, while
	// commits go on, leaves the RESTART only its own few pages to flush
	// (without it, the RESTART held commits for 20-40 ms). The pages go out
	// a slice at a time (writeOutPaced), so that the commits' own syncs
	// meanwhile wait behind one slice instead of all of them.
	if err := s.syncDBFile(); err != nil {
		return err
	}
	// Commits went on during that sync (tens of milliseconds under load):
	// one more PASSIVE round, and its pages synced, leaves the RESTART the
	// frames of a few milliseconds (it held commits for 5-9 ms at 4,000
	// approvals/s without this round, 2-4 ms with it).
	if _, err := run("PASSIVE"); err != nil {
		return err
	}
	if err := s.syncDBFile(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	start := time.Now()
	frames, err := run("RESTART")
	held := time.Since(start)
	s.lastHold.Store(int64(held))
	s.log.Debug("sqlite: checkpoint", "path", s.path, "frames", frames, "commits_held", held)
	return err
}

// syncDBFile writes the database file's pages in the operating system's cache
// to disk, paced (see writeOutPaced).
func (s *Store) syncDBFile() error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("sync the database file: %w", err)
	}
	defer f.Close()
	if err := writeOutPaced(f); err != nil {
		return fmt.Errorf("sync the database file: %w", err)
	}
	if err := datasync(f); err != nil {
		return fmt.Errorf("sync the database file: %w", err)
	}
	return nil
}

// checkpointRounds bounds the PASSIVE rounds of one checkpoint; restartFrames
// is how few frames a round must have had to copy for the RESTART to follow.
const (
	checkpointRounds = 4
	restartFrames    = 1024
)

// walRestartFrames is the WAL length (in pages) past which a checkpoint lets the
// WAL start over even if the RESTART has much to copy.
const walRestartFrames = 64 * 1024

// DB returns the pool of read-only connections, for packages that query the
// stored tasks directly (reports, KQL).
func (s *Store) DB() *sql.DB { return s.rdb }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// CommitTasks merges the batch into the stored tasks in one transaction; see
// day2.TaskStore.
func (s *Store) CommitTasks(ctx context.Context, batch []day2.TaskData) (day2.CommitResult, error) {
	groups, res, err := taskstore.Group(batch)
	if err != nil || len(groups) == 0 {
		return res, err
	}
	// Encoding the new tasks needs no lock: done here, it overlaps the
	// commit in progress when the ingest pipeline runs two committers.
	fresh := taskstore.Fresh(groups)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return day2.CommitResult{}, day2.Errorf(day2.EUnavailable, "the store is closed")
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return day2.CommitResult{}, fmt.Errorf("sqlite: commit tasks: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()

	if err := s.syncRecentIDs(ctx, tx); err != nil {
		return day2.CommitResult{}, fmt.Errorf("sqlite: commit tasks: %w", err)
	}
	stored, err := s.readStored(ctx, tx, groups)
	if err != nil {
		return day2.CommitResult{}, fmt.Errorf("sqlite: commit tasks: %w", err)
	}
	plan := taskstore.Prepare(groups, stored, fresh)
	next := s.nextID
	for i := range plan.Inserts {
		next++
		plan.Inserts[i].ID = next
	}
	if err := s.write(ctx, tx, &plan); err != nil {
		return day2.CommitResult{}, fmt.Errorf("sqlite: commit tasks: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return day2.CommitResult{}, fmt.Errorf("sqlite: commit tasks: commit: %w", err)
	}
	s.nextID = next
	if len(plan.Inserts) > 0 {
		s.idsMu.Lock()
		for _, c := range plan.Inserts {
			s.recent[c.TraceID] = c.ID
		}
		s.idsMu.Unlock()
	}
	if n := len(s.recent); n >= flushIDs || (n > 0 && time.Since(s.lastFlush) >= flushEvery) {
		if err := s.flushIDs(ctx); err != nil {
			// The ids stay in recent and are retried after the next commit.
			s.log.Warn("sqlite: index new task ids", "err", err)
		}
	}
	res.Add(plan.Result)
	return res, nil
}

// Index flushes: at most this many new tasks, or this long, between them.
const (
	flushIDs   = 100_000
	flushEvery = 5 * time.Second
)

// syncRecentIDs adds to recent the tasks another Store on the same file created
// since this one last wrote (rows after nextID), inside the write transaction
// that serializes the two.
func (s *Store) syncRecentIDs(ctx context.Context, tx *sql.Tx) error {
	var last int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM tasks").Scan(&last); err != nil {
		return fmt.Errorf("read last task id: %w", err)
	}
	if last <= s.nextID {
		return nil
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, task_id FROM tasks WHERE id > ?", s.nextID)
	if err != nil {
		return fmt.Errorf("read task ids of other writers: %w", err)
	}
	defer rows.Close()
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	for rows.Next() {
		var id int64
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return fmt.Errorf("read task ids of other writers: %w", err)
		}
		tid, err := taskstore.TraceID(raw)
		if err != nil {
			return fmt.Errorf("read task ids of other writers: %w", err)
		}
		s.recent[tid] = id
	}
	s.nextID = last
	return rows.Err()
}

// loadRecentIDs reads the index watermark and the ids of the tasks after it.
func (s *Store) loadRecentIDs(ctx context.Context) error {
	if err := s.wdb.QueryRowContext(ctx, "SELECT indexed_through FROM task_ids_state").Scan(&s.indexedThrough); err != nil {
		return fmt.Errorf("read task id watermark: %w", err)
	}
	if err := s.wdb.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM tasks").Scan(&s.nextID); err != nil {
		return fmt.Errorf("read last task id: %w", err)
	}
	rows, err := s.wdb.QueryContext(ctx, "SELECT id, task_id FROM tasks WHERE id > ?", s.indexedThrough)
	if err != nil {
		return fmt.Errorf("read unindexed task ids: %w", err)
	}
	defer rows.Close()
	s.recent = make(map[day2.TraceID]int64)
	for rows.Next() {
		var id int64
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			return fmt.Errorf("read unindexed task ids: %w", err)
		}
		tid, err := taskstore.TraceID(raw)
		if err != nil {
			return fmt.Errorf("read unindexed task ids: %w", err)
		}
		s.recent[tid] = id
	}
	s.lastFlush = time.Now()
	return rows.Err()
}

// flushIDs inserts the ids of the tasks in recent into task_ids, sorted, in one
// transaction, then forgets them. Called with mu held.
func (s *Store) flushIDs(ctx context.Context) error {
	s.idsMu.RLock()
	type entry struct {
		tid day2.TraceID
		id  int64
	}
	entries := make([]entry, 0, len(s.recent))
	through := s.indexedThrough
	for tid, id := range s.recent {
		entries = append(entries, entry{tid, id})
		through = max(through, id)
	}
	s.idsMu.RUnlock()
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.tid[:], b.tid[:]) })

	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	const perStmt = 100
	// Another Store on the same file may have indexed some of these already.
	many, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO task_ids (task_id, id) VALUES "+strings.TrimSuffix(strings.Repeat("(?, ?),", perStmt), ","))
	if err != nil {
		return err
	}
	defer many.Close()
	one, err := tx.PrepareContext(ctx, "INSERT OR IGNORE INTO task_ids (task_id, id) VALUES (?, ?)")
	if err != nil {
		return err
	}
	defer one.Close()
	args := make([]any, 0, 2*perStmt)
	for len(entries) > 0 {
		n := perStmt
		stmt := many
		if len(entries) < perStmt {
			n, stmt = 1, one
		}
		args = args[:0]
		for _, e := range entries[:n] {
			args = append(args, e.tid[:], e.id)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	if _, err := tx.ExecContext(ctx, "UPDATE task_ids_state SET indexed_through = max(indexed_through, ?)", through); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.idsMu.Lock()
	for tid, id := range s.recent {
		if id <= through {
			delete(s.recent, tid)
		}
	}
	s.idsMu.Unlock()
	s.indexedThrough = through
	s.lastFlush = time.Now()
	return nil
}

// readStored returns the stored rows of the batch's tasks, looked up lookupChunk
// ids per query.
func (s *Store) readStored(ctx context.Context, tx *sql.Tx, groups []day2.TaskData) (map[day2.TraceID]*taskstore.Stored, error) {
	// Tasks created since the last index flush are looked up by row id, the
	// others through task_ids.
	var byID, byTrace []any
	s.idsMu.RLock()
	for i := range groups {
		if id, ok := s.recent[groups[i].TraceID]; ok {
			byID = append(byID, id)
		} else {
			byTrace = append(byTrace, groups[i].TraceID[:])
		}
	}
	s.idsMu.RUnlock()
	stored := make(map[day2.TraceID]*taskstore.Stored)
	if err := s.readChunks(ctx, tx.StmtContext(ctx, s.lookupByID), byID, stored); err != nil {
		return nil, err
	}
	if err := s.readChunks(ctx, tx.StmtContext(ctx, s.lookup), byTrace, stored); err != nil {
		return nil, err
	}
	return stored, nil
}

// readChunks runs stmt (lookupChunk placeholders) over keys, adding the rows to stored.
func (s *Store) readChunks(ctx context.Context, stmt *sql.Stmt, keys []any, stored map[day2.TraceID]*taskstore.Stored) error {
	args := make([]any, lookupChunk)
	var sc taskstore.TaskScanner
	for from := 0; from < len(keys); from += lookupChunk {
		chunk := keys[from:min(from+lookupChunk, len(keys))]
		for i := range args {
			// A short last chunk repeats its last key; IN ignores repeats.
			args[i] = chunk[min(i, len(chunk)-1)]
		}
		rows, err := stmt.QueryContext(ctx, args...)
		if err != nil {
			return fmt.Errorf("look up stored tasks: %w", err)
		}
		for rows.Next() {
			st := &taskstore.Stored{}
			var rawID []byte
			dest := append([]any{&st.ID, &rawID}, sc.Dest()...)
			if err := rows.Scan(append(dest, &st.Raw, &st.Purged)...); err != nil {
				rows.Close()
				return fmt.Errorf("read stored task: %w", err)
			}
			id, err := taskstore.TraceID(rawID)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read stored task: %w", err)
			}
			st.Task = sc.Task(id)
			stored[id] = st
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("look up stored tasks: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("look up stored tasks: %w", err)
		}
	}
	return nil
}

// putQuery returns the statement that writes n tasks: new ones (id NULL) are
// inserted, stored ones (by id) overwritten.
func putQuery(n int) string {
	cols := "task_id, " + taskstore.Columns + ", raw, raw_purged"
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", taskstore.NumColumns+4), ",") + ")"
	var set []string
	for _, c := range strings.Split(taskstore.Columns+", raw, raw_purged", ", ") {
		// task_id is left out: setting it, even unchanged, rewrites its index.
		set = append(set, c+" = excluded."+c)
	}
	return "INSERT INTO tasks (id, " + cols + ") VALUES " + strings.TrimSuffix(strings.Repeat(row+",", n), ",") +
		" ON CONFLICT (id) DO UPDATE SET " + strings.Join(set, ", ")
}

func (s *Store) write(ctx context.Context, tx *sql.Tx, p *taskstore.Plan) error {
	puts := append(p.Updates, p.Inserts...)
	const perRow = taskstore.NumColumns + 4
	args := make([]any, 0, putRows*perRow)
	var many, one *sql.Stmt
	for len(puts) > 0 {
		n := min(len(puts), putRows)
		if n < putRows {
			n = 1
		}
		args = args[:0]
		for i := range puts[:n] {
			c := &puts[i]
			if c.Corrupt != nil {
				s.log.Error("sqlite: stored telemetry of a task is corrupt; keeping its summary and treating it as purged",
					"task_id", c.TraceID, "err", c.Corrupt)
			}
			var id any
			if c.ID != 0 {
				id = c.ID
			}
			args = append(args, id, c.TraceID[:])
			args = taskstore.AppendValues(args, &c.Task)
			args = append(args, c.Raw, c.Purged)
		}
		var stmt *sql.Stmt
		if n == putRows {
			if many == nil {
				many = tx.StmtContext(ctx, s.putMany)
			}
			stmt = many
		} else {
			if one == nil {
				one = tx.StmtContext(ctx, s.putOne)
			}
			stmt = one
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("write tasks: %w", err)
		}
		puts = puts[n:]
	}

	upsert := tx.StmtContext(ctx, s.upsertVersion)
	var drop *sql.Stmt
	for _, v := range p.Versions {
		if _, err := upsert.ExecContext(ctx, v.Service, v.Environment, v.Version, v.Tasks, v.FirstSeen, v.LastSeen); err != nil {
			return fmt.Errorf("count tasks of %s %s %s: %w", v.Service, v.Environment, v.Version, err)
		}
		if v.Tasks < 0 {
			if drop == nil {
				drop = tx.StmtContext(ctx, s.dropVersion)
			}
			if _, err := drop.ExecContext(ctx, v.Service, v.Environment, v.Version); err != nil {
				return fmt.Errorf("drop unused version %s %s %s: %w", v.Service, v.Environment, v.Version, err)
			}
		}
	}
	if len(p.Rollups) > 0 {
		if err := applyRollups(ctx, s.rollup.in(ctx, tx), p.Rollups); err != nil {
			return fmt.Errorf("update rollups: %w", err)
		}
	}
	return nil
}

// GetTask returns one task with its raw telemetry; see day2.TaskStore.
func (s *Store) GetTask(ctx context.Context, id day2.TraceID) (day2.TaskDetail, error) {
	var sc taskstore.TaskScanner
	var raw []byte
	var purged bool
	s.idsMu.RLock()
	rowID, recent := s.recent[id]
	s.idsMu.RUnlock()
	var row *sql.Row
	if recent {
		row = s.rdb.QueryRowContext(ctx, "SELECT "+taskstore.Columns+", raw, raw_purged FROM tasks WHERE id = ?", rowID)
	} else {
		// The flush writes task_ids before it forgets an id, so a task is always
		// in recent or in task_ids.
		row = s.rdb.QueryRowContext(ctx, "SELECT "+taskstore.Columns+", raw, raw_purged FROM task_ids i JOIN tasks t ON t.id = i.id WHERE i.task_id = ?", id[:])
	}
	err := row.Scan(append(sc.Dest(), &raw, &purged)...)
	if errors.Is(err, sql.ErrNoRows) && !recent {
		// Another Store on the file may have created it since its last index
		// flush: look among the tasks not indexed yet.
		err = s.rdb.QueryRowContext(ctx, "SELECT "+taskstore.Columns+", raw, raw_purged FROM tasks WHERE id > (SELECT indexed_through FROM task_ids_state) AND task_id = ?", id[:]).
			Scan(append(sc.Dest(), &raw, &purged)...)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return day2.TaskDetail{}, day2.Errorf(day2.ENotFound, "task %s not found", id)
	}
	if err != nil {
		return day2.TaskDetail{}, fmt.Errorf("sqlite: get task %s: %w", id, err)
	}
	d := day2.TaskDetail{Task: sc.Task(id), Data: day2.TaskData{TraceID: id}, RawPurged: purged || raw == nil}
	if raw != nil {
		if d.Data, err = spancodec.Decode(raw); err != nil {
			return day2.TaskDetail{}, fmt.Errorf("sqlite: get task %s: %w", id, err)
		}
	}
	return d, nil
}

// bucketNanos is the width of the time buckets the time indexes are keyed by
// (start_bucket and end_bucket, 0007_time_buckets.sql).
const bucketNanos = 10_000_000_000

// bucket returns the time bucket of t (Unix nanoseconds), rounding toward zero
// as SQLite's integer division does.
func bucket(t int64) int64 { return t / bucketNanos }

// ListTasks returns tasks newest first; see day2.TaskStore.
func (s *Store) ListTasks(ctx context.Context, f day2.TaskFilter) (day2.TaskPage, error) {
	limit, err := taskstore.Limit(f.Limit)
	if err != nil {
		return day2.TaskPage{}, err
	}
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
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
	// Every bound on start_time is also given on start_bucket, which the time
	// indexes are keyed by (see 0007_time_buckets.sql).
	if !f.Since.IsZero() {
		since := taskstore.Nanos(f.Since)
		add("start_bucket >= ? AND start_time >= ?", bucket(since), since)
	}
	if !f.Until.IsZero() {
		until := taskstore.Nanos(f.Until)
		add("start_bucket <= ? AND start_time < ?", bucket(until), until)
	}
	if f.Cursor != "" {
		c, err := taskstore.ParseCursor(f.Cursor)
		if err != nil {
			return day2.TaskPage{}, err
		}
		add("start_bucket <= ? AND (start_time, task_id) < (?, ?)", bucket(c.Start), c.Start, c.TaskID[:])
	}
	// The page is chosen from a time index alone, which covers the filters
	// and the sort within a bucket; only its tasks are then read. The index is
	// named: without a filter, SQLite would rather sort the whole table.
	q := "SELECT id FROM tasks INDEXED BY tasks_start"
	if f.Service != "" {
		q = "SELECT id FROM tasks INDEXED BY tasks_service_start"
	}
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q = "SELECT task_id, " + taskstore.Columns + " FROM tasks WHERE id IN (" + q +
		" ORDER BY start_bucket DESC, start_time DESC, task_id DESC LIMIT ?) ORDER BY start_time DESC, task_id DESC"
	args = append(args, limit+1)

	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return day2.TaskPage{}, fmt.Errorf("sqlite: list tasks: %w", err)
	}
	defer rows.Close()
	page, err := taskstore.ReadTaskPage(rows, limit)
	if err != nil {
		return day2.TaskPage{}, fmt.Errorf("sqlite: list tasks: %w", err)
	}
	return page, nil
}

// ListServices returns every named service seen, sorted by name; see
// day2.TaskStore.
func (s *Store) ListServices(ctx context.Context) ([]day2.ServiceSummary, error) {
	rows, err := s.rdb.QueryContext(ctx, taskstore.ServicesQuery)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list services: %w", err)
	}
	defer rows.Close()
	svcs, err := taskstore.ReadServices(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list services: %w", err)
	}
	return svcs, nil
}

// PurgeRawBefore drops the raw telemetry of tasks that ended before t; see
// day2.TaskStore. It works in transactions of purgeChunk tasks and lets commits
// run in between.
func (s *Store) PurgeRawBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.purgeChunk(ctx, taskstore.Nanos(t))
		total += n
		if err != nil {
			return total, fmt.Errorf("sqlite: purge raw telemetry: %w", err)
		}
		if n < purgeChunk {
			return total, nil
		}
	}
}

func (s *Store) purgeChunk(ctx context.Context, before int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, day2.Errorf(day2.EUnavailable, "the store is closed")
	}
	res, err := s.purge.ExecContext(ctx, before)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// migrate applies the embedded migrations the database lacks, in one transaction.
func migrate(ctx context.Context, db *sql.DB) error {
	files, err := taskstore.Migrations(migrations, "migrations")
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if latest := files[len(files)-1].Version; current > latest {
		return fmt.Errorf("database schema version %d is newer than this build's %d; run a newer day2", current, latest)
	}
	for _, m := range files {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.Version, m.Name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("record %s: %w", m.Name, err)
		}
	}
	if current < rollupsMigration {
		if err := fillRollups(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

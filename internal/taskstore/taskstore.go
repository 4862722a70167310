// Package taskstore holds the half of the day2.TaskStore implementations that
// does not depend on the database: grouping a commit batch by task, merging it
// into the stored telemetry, keeping the per-version task counts and the SLO
// rollups, paging cursors and the summary columns. Packages sqlite and postgres do the I/O around it, so
// both stores follow the same rules by construction.
package taskstore

import (
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/spancodec"
)

// Page sizes of ListTasks.
const (
	// DefaultLimit is the page size when the filter sets none.
	DefaultLimit = 50
	// MaxLimit is the largest page size a filter may ask for.
	MaxLimit = 1000
)

// Limit validates a requested page size: 0 means DefaultLimit, and negative sizes
// or sizes above MaxLimit are EInvalid errors.
func Limit(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0:
		return 0, day2.Errorf(day2.EInvalid, "limit %d is negative; ask for 1 to %d tasks", n, MaxLimit)
	case n > MaxLimit:
		return 0, day2.Errorf(day2.EInvalid, "limit %d is too large; the maximum is %d tasks per page, use the cursor for more", n, MaxLimit)
	}
	return n, nil
}

// Cursor is the position after the last task of a page: tasks sort newest first
// by start time (Unix nanoseconds), then by task id descending.
type Cursor struct {
	Start  int64
	TaskID day2.TraceID
}

const cursorVersion = 1

// String returns the opaque form handed to clients.
func (c Cursor) String() string {
	var b [25]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(c.Start))
	copy(b[9:], c.TaskID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ParseCursor parses a cursor made by Cursor.String. Anything else is an EInvalid
// error.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != cursorVersion {
		return Cursor{}, day2.Errorf(day2.EInvalid, "cursor %q is not valid; pass the next_cursor of the previous page unchanged, or no cursor for the first page", s)
	}
	var c Cursor
	c.Start = int64(binary.BigEndian.Uint64(b[1:9]))
	copy(c.TaskID[:], b[9:])
	return c, nil
}

// Nanos returns t as Unix nanoseconds, and 0 for the zero time, the inverse of
// day2.UnixNano.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Group merges the entries of batch that share a trace id, in the order each id
// first appears, and counts the spans and log records repeated within the batch as
// duplicates. Entries without a trace id are an EInvalid error.
func Group(batch []day2.TaskData) ([]day2.TaskData, day2.CommitResult, error) {
	var dup day2.CommitResult
	groups := make([]day2.TaskData, 0, len(batch))
	index := make(map[day2.TraceID]int, len(batch))
	for i := range batch {
		d := &batch[i]
		if d.TraceID.IsZero() {
			return nil, dup, day2.Errorf(day2.EInvalid, "batch entry %d has no trace id", i)
		}
		j, ok := index[d.TraceID]
		if !ok {
			index[d.TraceID] = len(groups)
			// Share the entry's records; MergeTaskData below appends to a
			// group only after copying its slices.
			groups = append(groups, *d)
			continue
		}
		g := &groups[j]
		g.Spans = slices.Clip(g.Spans)
		g.Logs = slices.Clip(g.Logs)
		r := day2.MergeTaskData(g, d)
		dup.DuplicateSpans += r.DuplicateSpans
		dup.DuplicateLogs += r.DuplicateLogs
	}
	// Spans repeated inside one entry count as duplicates too.
	for i := range groups {
		g := &groups[i]
		if hasRepeats(g) {
			var dedup day2.TaskData
			r := day2.MergeTaskData(&dedup, g)
			dup.DuplicateSpans += r.DuplicateSpans
			dup.DuplicateLogs += r.DuplicateLogs
			*g = dedup
		}
	}
	return groups, dup, nil
}

func hasRepeats(d *day2.TaskData) bool {
	return repeats(d.Spans, func(s *day2.Span) day2.SpanID { return s.SpanID }) ||
		repeats(d.Logs, func(l *day2.LogRecord) uint64 { return l.ID })
}

// repeats reports whether two elements of xs share a key. Entries are usually a
// handful of records, which a quadratic scan checks faster than a map.
func repeats[T any, K comparable](xs []T, key func(*T) K) bool {
	if len(xs) <= 16 {
		for i := 1; i < len(xs); i++ {
			k := key(&xs[i])
			for j := range i {
				if key(&xs[j]) == k {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[K]struct{}, len(xs))
	for i := range xs {
		k := key(&xs[i])
		if _, ok := seen[k]; ok {
			return true
		}
		seen[k] = struct{}{}
	}
	return false
}

// Stored is a task as read back from a store before a commit merges into it.
type Stored struct {
	ID     int64 // the store's row key
	Task   day2.Task
	Raw    []byte // spancodec blob; nil once purged
	Purged bool   // retention dropped the raw telemetry at least once
}

// Change is what a commit writes for one task.
type Change struct {
	ID      int64 // row key of the stored task; 0 for a new one
	TraceID day2.TraceID
	Prev    *day2.Task // the stored summary before the commit; nil for a new task
	Task    day2.Task
	Raw     []byte
	Purged  bool
	Result  day2.CommitResult
	// Corrupt is set when the stored blob could not be decoded; the task was then
	// handled like a purged one, and the store should log this.
	Corrupt error
}

// Merge merges incoming telemetry, an entry of Group's result, into a stored task
// (prev nil: a new task). It
// returns false when nothing new arrived, in which case the task must not be
// written (an entry without spans or logs creates no task).
//
// A task whose raw telemetry was purged keeps its stored summary as the base: the
// summary of the telemetry added now is folded into it (see Fold), and the raw
// column then holds only what arrived after the purge, so GetTask reports it as
// purged with partial data. Redelivered spans that were purged cannot be
// recognised and count again; retention runs long after exporters stop retrying.
func Merge(prev *Stored, in *day2.TaskData) (Change, bool) {
	c := Change{TraceID: in.TraceID}
	var data day2.TaskData
	if prev != nil {
		c.ID = prev.ID
		c.Prev = &prev.Task
		c.Purged = prev.Purged || prev.Raw == nil
		if prev.Raw != nil {
			d, err := spancodec.Decode(prev.Raw)
			if err != nil {
				c.Corrupt = err
				c.Purged = true
			} else {
				data = d
			}
		}
	}
	data.TraceID = in.TraceID
	nSpans, nLogs := len(data.Spans), len(data.Logs)
	if prev == nil {
		// Group removed repeats, so everything is new; the records are only
		// read from here on and can be shared with the batch.
		data.Spans, data.Logs = in.Spans, in.Logs
		c.Result = day2.CommitResult{Spans: len(in.Spans), Logs: len(in.Logs)}
	} else {
		c.Result = day2.MergeTaskData(&data, in)
	}
	if c.Result.Spans == 0 && c.Result.Logs == 0 && c.Corrupt == nil {
		return c, false
	}
	if prev == nil {
		c.Result.TasksCreated = 1
	} else {
		c.Result.TasksUpdated = 1
	}
	if c.Purged {
		added := day2.TaskData{TraceID: in.TraceID, Spans: data.Spans[nSpans:], Logs: data.Logs[nLogs:]}
		c.Task = Fold(prev.Task, day2.Summarize(&added))
	} else {
		c.Task = day2.Summarize(&data)
	}
	c.Raw = spancodec.Encode(&data)
	return c, true
}

// Fold combines the stored summary of a task whose raw telemetry was purged with
// the summary of telemetry that arrived later. Counters add up; times widen; the
// later telemetry's identity (service, version, ...) wins only when it brings the
// root span the stored summary lacked, and otherwise fills empty fields; its
// outcome wins when it is at least as late as the stored one.
func Fold(base, late day2.Task) day2.Task {
	t := base
	t.LLMCalls += late.LLMCalls
	t.ToolCalls += late.ToolCalls
	t.ToolFailures += late.ToolFailures
	t.ToolRetries += late.ToolRetries
	t.InputTokens += late.InputTokens
	t.OutputTokens += late.OutputTokens
	t.SafetyBlocks += late.SafetyBlocks
	t.RateLimitHits += late.RateLimitHits
	t.Spans += late.Spans

	pick := func(dst *string, v string, override bool) {
		if v != "" && (override || *dst == "") {
			*dst = v
		}
	}
	rootArrived := late.RootSeen && !base.RootSeen
	pick(&t.Service, late.Service, rootArrived)
	pick(&t.Environment, late.Environment, rootArrived)
	pick(&t.Version, late.Version, rootArrived)
	pick(&t.BusinessProcess, late.BusinessProcess, rootArrived)
	pick(&t.RiskTier, late.RiskTier, rootArrived)
	pick(&t.FlowRunID, late.FlowRunID, rootArrived)
	pick(&t.Tenant, late.Tenant, rootArrived)
	pick(&t.Arm, late.Arm, rootArrived)
	t.RootSeen = base.RootSeen || late.RootSeen

	if rootArrived {
		t.StartTime, t.EndTime = late.StartTime, late.EndTime
	} else {
		if !late.StartTime.IsZero() && (t.StartTime.IsZero() || late.StartTime.Before(t.StartTime)) {
			t.StartTime = late.StartTime
		}
		if late.EndTime.After(t.EndTime) {
			t.EndTime = late.EndTime
		}
	}

	if late.Success != nil && (base.Success == nil || !late.OutcomeTime.Before(base.OutcomeTime)) {
		t.Success, t.Escalated = late.Success, late.Escalated
		t.ReasonCode, t.OutcomeTime = late.ReasonCode, late.OutcomeTime
		if late.CycleTimeMS != nil {
			t.CycleTimeMS = late.CycleTimeMS
		}
	}
	if t.CycleTimeMS == nil {
		t.CycleTimeMS = late.CycleTimeMS
	}
	return t
}

// VersionKey identifies one row of the per-version task counts.
type VersionKey struct {
	Service, Environment, Version string
}

// VersionDelta is a change to, or the state of, one row of the per-version task
// counts. FirstSeen and LastSeen bound the start times (Unix nanoseconds) of the
// tasks counted; 0 means none is known.
type VersionDelta struct {
	VersionKey
	Tasks     int64
	FirstSeen int64
	LastSeen  int64
}

// Versions accumulates the changes a commit makes to the per-version task counts.
type Versions struct {
	m map[VersionKey]*VersionDelta
}

// Move records that a task is now counted under next's key instead of prev's
// (prev nil: a new task).
func (v *Versions) Move(prev, next *day2.Task) {
	if v.m == nil {
		v.m = make(map[VersionKey]*VersionDelta)
	}
	nk := VersionKey{next.Service, next.Environment, next.Version}
	d := v.get(nk)
	if prev == nil {
		d.Tasks++
	} else if pk := (VersionKey{prev.Service, prev.Environment, prev.Version}); pk != nk {
		v.get(pk).Tasks--
		d.Tasks++
	}
	if s := Nanos(next.StartTime); s != 0 {
		if d.FirstSeen == 0 || s < d.FirstSeen {
			d.FirstSeen = s
		}
		if s > d.LastSeen {
			d.LastSeen = s
		}
	}
}

func (v *Versions) get(k VersionKey) *VersionDelta {
	d, ok := v.m[k]
	if !ok {
		d = &VersionDelta{VersionKey: k}
		v.m[k] = d
	}
	return d
}

// Deltas returns the accumulated changes sorted by key, the order in which
// concurrent writers must touch the rows to avoid deadlocks.
func (v *Versions) Deltas() []VersionDelta {
	out := make([]VersionDelta, 0, len(v.m))
	for _, d := range v.m {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b VersionDelta) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		if c := strings.Compare(a.Environment, b.Environment); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out
}

// Plan is everything one commit writes.
type Plan struct {
	Inserts  []Change
	Updates  []Change
	Versions []VersionDelta
	// Rollups are the changes to the rollups, one per row, in primary key order.
	Rollups []RollupDelta
	Result  day2.CommitResult
}

// Prepare merges the grouped batch into the stored tasks (keyed by trace id) and
// returns what to write. fresh, when not nil, is Fresh(groups), computed
// beforehand: the tasks not stored are then taken from it. Large batches are
// merged on all CPUs: decoding, merging, summarizing and encoding are most of a
// commit's work.
func Prepare(groups []day2.TaskData, stored map[day2.TraceID]*Stored, fresh []Change) Plan {
	changes := make([]Change, len(groups))
	changed := make([]bool, len(groups))
	parallel(len(groups), func(i int) {
		prev := stored[groups[i].TraceID]
		if prev == nil && fresh != nil {
			// Merge of a new task reports a change exactly when spans or
			// logs arrived, which its result counts.
			changes[i], changed[i] = fresh[i], fresh[i].Result != (day2.CommitResult{})
			return
		}
		changes[i], changed[i] = Merge(prev, &groups[i])
	})

	var p Plan
	var versions Versions
	var rollups Rollups
	for i := range changes {
		c := &changes[i]
		p.Result.Add(c.Result)
		if !changed[i] {
			continue
		}
		versions.Move(c.Prev, &c.Task)
		rollups.Move(c.Prev, &c.Task)
		if c.Prev == nil {
			p.Inserts = append(p.Inserts, *c)
		} else {
			p.Updates = append(p.Updates, *c)
		}
	}
	p.Versions = versions.Deltas()
	p.Rollups = rollups.Deltas()
	return p
}

// Fresh merges every group as if its task were new (Merge with no stored
// task), for Prepare to use for the groups whose task turns out not to be
// stored. Most tasks of a batch are new, and this part of a commit, encoding
// their telemetry, needs nothing from the store: a store runs it before it
// takes its write lock, alongside the commit in progress.
func Fresh(groups []day2.TaskData) []Change {
	out := make([]Change, len(groups))
	parallel(len(groups), func(i int) {
		if c, ok := Merge(nil, &groups[i]); ok {
			out[i] = c
		}
	})
	return out
}

// parallel runs f(0) ... f(n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), 1+n/parallelMin)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				f(i)
			}
		})
	}
	wg.Wait()
}

// parallelMin is the number of tasks per additional goroutine in Prepare.
const parallelMin = 64

// Services assembles the service list from the per-version rows, which must be
// sorted by service. Services without a name are left out. Within a service,
// versions are listed by environment, then version.
func Services(rows []VersionDelta) []day2.ServiceSummary {
	var out []day2.ServiceSummary
	for _, r := range rows {
		if r.Service == "" || r.Tasks <= 0 {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Service != r.Service {
			out = append(out, day2.ServiceSummary{Service: r.Service})
		}
		s := &out[len(out)-1]
		if !slices.Contains(s.Environments, r.Environment) {
			s.Environments = append(s.Environments, r.Environment)
		}
		s.Versions = append(s.Versions, day2.VersionSummary{
			Environment: r.Environment, Version: r.Version, TaskCount: r.Tasks, LastSeen: day2.UnixNano(r.LastSeen)})
		s.TaskCount += r.Tasks
		if first := day2.UnixNano(r.FirstSeen); !first.IsZero() && (s.FirstSeen.IsZero() || first.Before(s.FirstSeen)) {
			s.FirstSeen = first
		}
		if last := day2.UnixNano(r.LastSeen); last.After(s.LastSeen) {
			s.LastSeen = last
		}
	}
	for i := range out {
		slices.Sort(out[i].Environments)
		slices.SortFunc(out[i].Versions, func(a, b day2.VersionSummary) int {
			if c := strings.Compare(a.Environment, b.Environment); c != 0 {
				return c
			}
			return strings.Compare(a.Version, b.Version)
		})
	}
	return out
}

// Columns lists the summary columns of the tasks table, in the order of Values
// and TaskScanner.Dest.
const Columns = "service, environment, version, business_process, risk_tier, flow_run_id, tenant, " +
	"start_time, end_time, cycle_time_ms, success, escalated, reason_code, outcome_time, " +
	"llm_calls, tool_calls, tool_failures, tool_retries, input_tokens, output_tokens, " +
	"safety_blocks, rate_limit_hits, span_count, root_seen, arm"

// NumColumns is the number of columns in Columns.
const NumColumns = 25

// Values returns t's summary as query arguments in the order of Columns: times as
// Unix nanoseconds, unknown values as nil.
func Values(t *day2.Task) []any {
	return AppendValues(make([]any, 0, NumColumns), t)
}

// AppendValues appends t's summary to args in the order of Columns.
func AppendValues(args []any, t *day2.Task) []any {
	return append(args,
		t.Service, t.Environment, t.Version, t.BusinessProcess, t.RiskTier, t.FlowRunID, t.Tenant,
		Nanos(t.StartTime), Nanos(t.EndTime), nullInt(t.CycleTimeMS), nullBool(t.Success), nullBool(t.Escalated),
		t.ReasonCode, Nanos(t.OutcomeTime),
		int64(t.LLMCalls), int64(t.ToolCalls), int64(t.ToolFailures), int64(t.ToolRetries),
		t.InputTokens, t.OutputTokens, int64(t.SafetyBlocks), int64(t.RateLimitHits), int64(t.Spans), t.RootSeen, t.Arm)
}

func nullInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

func nullBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

// TaskScanner receives the columns of Columns from a database row.
type TaskScanner struct {
	service, environment, version, businessProcess, riskTier, flowRunID, tenant string

	start, end, outcome                                                 int64
	cycle                                                               sql.NullInt64
	success, escalated                                                  sql.NullBool
	reason                                                              string
	llm, tools, toolFailures, toolRetries, in, out, blocks, rate, spans int64
	root                                                                bool
	arm                                                                 string
}

// Dest returns the scan destinations in the order of Columns.
func (s *TaskScanner) Dest() []any {
	return s.AppendDest(make([]any, 0, NumColumns))
}

// AppendDest appends the scan destinations in the order of Columns to dst.
func (s *TaskScanner) AppendDest(dst []any) []any {
	return append(dst,
		&s.service, &s.environment, &s.version, &s.businessProcess, &s.riskTier, &s.flowRunID, &s.tenant,
		&s.start, &s.end, &s.cycle, &s.success, &s.escalated, &s.reason, &s.outcome,
		&s.llm, &s.tools, &s.toolFailures, &s.toolRetries, &s.in, &s.out, &s.blocks, &s.rate, &s.spans, &s.root, &s.arm)
}

// Task returns the scanned summary of task id.
func (s *TaskScanner) Task(id day2.TraceID) day2.Task {
	t := day2.Task{
		TaskID: id.String(), Service: s.service, Environment: s.environment, Version: s.version,
		BusinessProcess: s.businessProcess, RiskTier: s.riskTier, FlowRunID: s.flowRunID, Tenant: s.tenant,
		StartTime: day2.UnixNano(s.start), EndTime: day2.UnixNano(s.end),
		ReasonCode: s.reason, OutcomeTime: day2.UnixNano(s.outcome),
		LLMCalls: int(s.llm), ToolCalls: int(s.tools), ToolFailures: int(s.toolFailures), ToolRetries: int(s.toolRetries),
		InputTokens: s.in, OutputTokens: s.out, SafetyBlocks: int(s.blocks), RateLimitHits: int(s.rate),
		Spans: int(s.spans), RootSeen: s.root, Arm: s.arm,
	}
	if s.cycle.Valid {
		v := s.cycle.Int64
		t.CycleTimeMS = &v
	}
	if s.success.Valid {
		v := s.success.Bool
		t.Success = &v
	}
	if s.escalated.Valid {
		v := s.escalated.Bool
		t.Escalated = &v
	}
	return t
}

// TraceID converts a task_id column value to a trace id.
func TraceID(b []byte) (day2.TraceID, error) {
	var id day2.TraceID
	if len(b) != len(id) {
		return id, fmt.Errorf("task_id of %d bytes, want %d", len(b), len(id))
	}
	copy(id[:], b)
	return id, nil
}

// Rows is what both database drivers' result sets offer (*sql.Rows and pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ReadTaskPage reads up to limit tasks of a query selecting "task_id, " + Columns
// with LIMIT limit+1, and sets the next cursor when a further row exists.
func ReadTaskPage(rows Rows, limit int) (day2.TaskPage, error) {
	page := day2.TaskPage{Tasks: make([]day2.Task, 0, min(limit, 64))}
	var sc TaskScanner
	var rawID []byte
	dest := append([]any{&rawID}, sc.Dest()...)
	var last Cursor
	for rows.Next() {
		if len(page.Tasks) == limit {
			page.NextCursor = last.String()
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return day2.TaskPage{}, err
		}
		id, err := TraceID(rawID)
		if err != nil {
			return day2.TaskPage{}, err
		}
		t := sc.Task(id)
		page.Tasks = append(page.Tasks, t)
		last = Cursor{Start: Nanos(t.StartTime), TaskID: id}
	}
	return page, rows.Err()
}

// ServicesQuery selects the per-version task counts that ReadServices reads.
const ServicesQuery = `SELECT service, environment, version, task_count, first_seen, last_seen
	FROM service_versions WHERE task_count > 0 ORDER BY service, environment, version`

// ReadServices reads the rows of ServicesQuery into service summaries.
func ReadServices(rows Rows) ([]day2.ServiceSummary, error) {
	var vs []VersionDelta
	for rows.Next() {
		var v VersionDelta
		if err := rows.Scan(&v.Service, &v.Environment, &v.Version, &v.Tasks, &v.FirstSeen, &v.LastSeen); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return Services(vs), nil
}

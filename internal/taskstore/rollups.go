package taskstore

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sketch"
)

// RollupBucket identifies one row of the rollups table: a tier, the start of
// the bucket in Unix nanoseconds, and the key.
type RollupBucket struct {
	Tier  day2.RollupTier
	Start int64
	Key   day2.RollupKey
}

// RollupDelta is a change to one rollup row: counters to add, which are
// negative where tasks left the row, and cycle times to add or, with negative
// counts, to remove. Cycle is nil when no cycle time changes.
type RollupDelta struct {
	RollupBucket
	Counters day2.Counters
	Cycle    *sketch.Sketch
}

// Rollups accumulates the changes a commit makes to the rollups, one delta per
// row however many tasks touch it, so that a commit writes each row once.
type Rollups struct {
	m map[RollupBucket]*RollupDelta
}

// Move records that a task now contributes next's share to the rollups instead
// of prev's (prev nil: a new task). Nothing changes when both contribute the
// same; otherwise prev's contribution is subtracted from its minute, hour and day
// and next's added to its own, which moves a task whose outcome arrived late to
// the minute of its outcome and a task whose version changed to its new key.
func (r *Rollups) Move(prev, next *day2.Task) {
	var old day2.Contribution
	hadOld := false
	if prev != nil {
		old, hadOld = day2.TaskContribution(*prev)
	}
	cur, hasCur := day2.TaskContribution(*next)
	if hadOld && hasCur && sameContribution(old, cur) {
		return
	}
	if hadOld {
		r.add(&old, -1)
	}
	if hasCur {
		r.add(&cur, 1)
	}
}

func sameContribution(a, b day2.Contribution) bool {
	return a.Key == b.Key && a.Minute.Equal(b.Minute) && a.Counters == b.Counters &&
		a.HasCycle == b.HasCycle && a.CycleTimeMS == b.CycleTimeMS
}

// rollupTiers lists every tier; each contribution counts once in each.
var rollupTiers = [...]day2.RollupTier{day2.TierMinute, day2.TierHour, day2.TierDay}

// add adds c to the rows of its minute, hour and day, or subtracts it (sign -1).
func (r *Rollups) add(c *day2.Contribution, sign int64) {
	if r.m == nil {
		r.m = make(map[RollupBucket]*RollupDelta)
	}
	for _, tier := range rollupTiers {
		b := RollupBucket{Tier: tier, Start: c.Minute.Truncate(tier.Duration()).UnixNano(), Key: c.Key}
		d, ok := r.m[b]
		if !ok {
			d = &RollupDelta{RollupBucket: b}
			r.m[b] = d
		}
		if sign > 0 {
			d.Counters.Add(c.Counters)
		} else {
			d.Counters.Sub(c.Counters)
		}
		if c.HasCycle {
			if d.Cycle == nil {
				d.Cycle = sketch.New()
			}
			d.Cycle.Add(float64(c.CycleTimeMS), sign)
		}
	}
}

// Deltas returns the accumulated changes that change something, in the order of
// the rollups table's primary key, which is the order in which concurrent
// writers must touch the rows to avoid deadlocks. A task that moved within an
// hour, for example, changes its two minutes but not its hour or day.
func (r *Rollups) Deltas() []RollupDelta {
	out := make([]RollupDelta, 0, len(r.m))
	for _, d := range r.m {
		if d.Cycle != nil && EncodeCycle(d.Cycle) == nil {
			d.Cycle = nil
		}
		if d.Counters.IsZero() && d.Cycle == nil {
			continue
		}
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b RollupDelta) int { return CompareBuckets(&a.RollupBucket, &b.RollupBucket) })
	return out
}

// CompareBuckets orders rollup rows as the primary key of the rollups table
// does: by service, tier, bucket start, environment, version, risk tier and
// business process, comparing strings bytewise.
func CompareBuckets(a, b *RollupBucket) int {
	if c := strings.Compare(a.Key.Service, b.Key.Service); c != 0 {
		return c
	}
	if a.Tier != b.Tier {
		return int(a.Tier - b.Tier)
	}
	if a.Start != b.Start {
		if a.Start < b.Start {
			return -1
		}
		return 1
	}
	if c := strings.Compare(a.Key.Environment, b.Key.Environment); c != 0 {
		return c
	}
	if c := strings.Compare(a.Key.Version, b.Key.Version); c != 0 {
		return c
	}
	if c := strings.Compare(a.Key.RiskTier, b.Key.RiskTier); c != 0 {
		return c
	}
	return strings.Compare(a.Key.BusinessProcess, b.Key.BusinessProcess)
}

// ApplyCycle returns the stored cycle sketch cur (encoded; nil or empty for
// none) with the delta's cycle times added and removed, encoded, or nil when
// nothing is left. Without cycle changes it returns cur unchanged.
func (d *RollupDelta) ApplyCycle(cur []byte) ([]byte, error) {
	if d.Cycle == nil {
		return cur, nil
	}
	var s sketch.Sketch
	if err := s.UnmarshalBinary(cur); err != nil {
		return nil, fmt.Errorf("cycle time sketch of %s %s bucket %s: %w",
			d.Key.Service, d.Tier, time.Unix(0, d.Start).UTC().Format(time.RFC3339), err)
	}
	s.Merge(d.Cycle)
	return EncodeCycle(&s), nil
}

// emptyCycle is the encoding of an empty sketch. The encoding is canonical (the
// zero count and the non-zero buckets in index order), so a sketch is empty
// exactly when it encodes to this.
var emptyCycle, _ = sketch.New().MarshalBinary()

// EncodeCycle returns the encoding stored in the cycle column: the sketch's
// MarshalBinary, or nil for an empty sketch, so that a row's blob depends only
// on the cycle times counted in it, whichever way they were added and removed.
func EncodeCycle(s *sketch.Sketch) []byte {
	b, _ := s.MarshalBinary() // never fails
	if bytes.Equal(b, emptyCycle) {
		return nil
	}
	return b
}

// RollupEmpty reports whether a row with these counters and cycle blob counts
// nothing, in which case the stores delete it: every task counts in Seen, so
// such a row has no task left, and deleting it keeps the maintained rollups
// identical to rebuilt ones.
func RollupEmpty(c day2.Counters, cycle []byte) bool {
	return c.IsZero() && len(cycle) == 0
}

// RollupKeyColumns lists the primary key columns of the rollups table, in the
// order of AppendRollupKey and RollupScanner.AppendKeyDest.
const RollupKeyColumns = "service, tier, bucket_start, environment, version, risk_tier, business_process"

// RollupCounterColumns lists the counter columns of the rollups table, one per
// field of day2.Counters, in the order of AppendCounters and AppendCounterDest.
const RollupCounterColumns = "tasks, successes, escalated, llm_calls, safety_blocks, tool_calls, tool_failures, " +
	"tool_retries, rate_limit_hits, input_tokens, output_tokens, success_tokens, seen"

// NumRollupKeyColumns is the number of columns in RollupKeyColumns.
const NumRollupKeyColumns = 7

// NumRollupCounterColumns is the number of columns in RollupCounterColumns.
const NumRollupCounterColumns = 13

// AppendRollupKey appends b's key as query arguments in the order of
// RollupKeyColumns.
func AppendRollupKey(args []any, b *RollupBucket) []any {
	return append(args, b.Key.Service, int64(b.Tier), b.Start, b.Key.Environment, b.Key.Version, b.Key.RiskTier, b.Key.BusinessProcess)
}

// AppendCounters appends c as query arguments in the order of
// RollupCounterColumns.
func AppendCounters(args []any, c *day2.Counters) []any {
	return append(args, c.Tasks, c.Successes, c.Escalated, c.LLMCalls, c.SafetyBlocks, c.ToolCalls, c.ToolFailures,
		c.ToolRetries, c.RateLimitHits, c.InputTokens, c.OutputTokens, c.SuccessTokens, c.Seen)
}

// AppendCounterDest appends scan destinations for the columns of
// RollupCounterColumns to dst.
func AppendCounterDest(dst []any, c *day2.Counters) []any {
	return append(dst, &c.Tasks, &c.Successes, &c.Escalated, &c.LLMCalls, &c.SafetyBlocks, &c.ToolCalls, &c.ToolFailures,
		&c.ToolRetries, &c.RateLimitHits, &c.InputTokens, &c.OutputTokens, &c.SuccessTokens, &c.Seen)
}

// RollupScanner receives rollup rows from the database.
type RollupScanner struct {
	Bucket   RollupBucket  // the key columns; complete after Scanned
	Counters day2.Counters // the counter columns
	Cycle    []byte        // the cycle column, nil for NULL
	tier     int64
}

// AppendKeyDest appends scan destinations for the columns of RollupKeyColumns
// to dst.
func (s *RollupScanner) AppendKeyDest(dst []any) []any {
	k := &s.Bucket.Key
	return append(dst, &k.Service, &s.tier, &s.Bucket.Start, &k.Environment, &k.Version, &k.RiskTier, &k.BusinessProcess)
}

// Dest returns scan destinations for RollupKeyColumns, RollupCounterColumns and
// the cycle column, in that order.
func (s *RollupScanner) Dest() []any {
	dst := s.AppendKeyDest(make([]any, 0, NumRollupKeyColumns+NumRollupCounterColumns+1))
	return append(AppendCounterDest(dst, &s.Counters), &s.Cycle)
}

// Scanned completes the bucket after a scan and returns it.
func (s *RollupScanner) Scanned() RollupBucket {
	s.Bucket.Tier = day2.RollupTier(s.tier)
	return s.Bucket
}

// Row returns the scanned row. It shares the scanned cycle blob, which is the
// row's own: database/sql and pgx both copy a value scanned into a []byte.
func (s *RollupScanner) Row() day2.RollupRow {
	b := s.Scanned()
	return day2.RollupRow{Key: b.Key, Tier: b.Tier, Start: time.Unix(0, b.Start).UTC(), Counters: s.Counters, Cycle: s.Cycle}
}

// ReadRollupRows reads the rows of a query selecting RollupKeyColumns,
// RollupCounterColumns and cycle.
func ReadRollupRows(rows Rows) ([]day2.RollupRow, error) {
	var out []day2.RollupRow
	var sc RollupScanner
	dest := sc.Dest()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		out = append(out, sc.Row())
	}
	return out, rows.Err()
}

// RangesQuery returns a query reading the rollup rows of one service in n
// (tier, range) pairs, as a UNION ALL of primary-key range scans; ph(i) renders
// the i-th (0-based) placeholder. Its arguments are RangesArgs.
func RangesQuery(n int, ph func(int) string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		k := 4 * i
		b.WriteString("SELECT " + RollupKeyColumns + ", " + RollupCounterColumns + ", cycle FROM rollups WHERE service = " + ph(k) +
			" AND tier = " + ph(k+1) + " AND bucket_start >= " + ph(k+2) + " AND bucket_start < " + ph(k+3))
	}
	return b.String()
}

// RangesArgs returns the arguments of RangesQuery, after checking the tiers.
func RangesArgs(service string, ranges []day2.RollupRange) ([]any, error) {
	args := make([]any, 0, 4*len(ranges))
	for _, r := range ranges {
		if err := CheckTier(r.Tier); err != nil {
			return nil, err
		}
		args = append(args, service, int16(r.Tier), ClampNanos(r.From), ClampNanos(r.To))
	}
	return args, nil
}

// CheckTier returns an EInvalid error for a tier that is not one of day2's.
func CheckTier(tier day2.RollupTier) error {
	if tier < day2.TierMinute || tier > day2.TierDay {
		return day2.Errorf(day2.EInvalid, "rollup tier %d is unknown; use minute (%d), hour (%d) or day (%d)",
			tier, day2.TierMinute, day2.TierHour, day2.TierDay)
	}
	return nil
}

var (
	minNanos = time.Unix(0, math.MinInt64)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// ClampNanos returns t as Unix nanoseconds, clamped to the int64 range: the
// zero time and other times before 1678 give math.MinInt64, times after 2262
// math.MaxInt64. It bounds rollup range queries, where an unrepresentable time
// must still compare correctly.
func ClampNanos(t time.Time) int64 {
	switch {
	case t.Before(minNanos):
		return math.MinInt64
	case t.After(maxNanos):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// RebuildChunk is the number of tasks a rebuild of the rollups reads and
// aggregates at a time: large enough that a chunk's hour and day rows are
// written once for many tasks, small enough to bound its memory.
const RebuildChunk = 10_000

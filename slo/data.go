package slo

import (
	"context"
	"sort"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sketch"
)

// piece is a span of time served by one rollup tier.
type piece struct {
	tier     day2.RollupTier
	from, to time.Time
}

// decompose splits [from, to) into the fewest pieces of aligned rollup buckets:
// whole days in the middle, hours and minutes at the edges. from and to must be
// minute-aligned.
func decompose(from, to time.Time, tier day2.RollupTier) []piece {
	if !from.Before(to) {
		return nil
	}
	if tier == day2.TierMinute {
		return []piece{{day2.TierMinute, from, to}}
	}
	d := tier.Duration()
	a := from.Truncate(d)
	if a.Before(from) {
		a = a.Add(d)
	}
	b := to.Truncate(d)
	if !a.Before(b) {
		return decompose(from, to, tier-1)
	}
	out := decompose(from, a, tier-1)
	out = append(out, piece{tier, a, b})
	return append(out, decompose(b, to, tier-1)...)
}

// RowSource is where Load reads rollup rows from; day2.RollupStore satisfies it.
type RowSource interface {
	RollupRows(ctx context.Context, service string, tier day2.RollupTier, from, to time.Time) ([]day2.RollupRow, error)
}

// Interval is a time range [From, To).
type Interval struct{ From, To time.Time }

// Data holds the rollup rows of one service needed to answer sums over a set of
// intervals. Build it with Load; it is read-only afterwards.
type Data struct {
	Service string
	tiers   [3][]row
	loaded  [3][]Interval
	src     RowSource
	ctx     context.Context
	err     error
}

type row struct {
	start    time.Time
	key      day2.RollupKey
	counters day2.Counters
	cycle    []byte
	sk       *sketch.Sketch // cycle, decoded on first use
}

// sketch returns the row's decoded cycle-time sketch (nil when it has none),
// decoding it once.
func (r *row) sketch() *sketch.Sketch {
	if r.sk == nil && len(r.cycle) > 0 {
		var s sketch.Sketch
		if s.UnmarshalBinary(r.cycle) == nil {
			r.sk = &s
		}
	}
	return r.sk
}

// Load fetches, per tier, the rows covering every piece of the given intervals
// (minute-aligned), merging overlapping ranges so each row is read once.
func Load(ctx context.Context, src RowSource, service string, intervals []Interval, minuteOnly bool) (*Data, error) {
	d := &Data{Service: service, src: src, ctx: ctx}
	var need [3][]Interval
	for _, iv := range intervals {
		top := day2.TierDay
		if minuteOnly {
			top = day2.TierMinute
		}
		for _, p := range decompose(iv.From, iv.To, top) {
			need[p.tier] = append(need[p.tier], Interval{p.from, p.to})
		}
	}
	var ranges []day2.RollupRange
	for tier := range need {
		for _, iv := range mergeIntervals(need[tier]) {
			ranges = append(ranges, day2.RollupRange{Tier: day2.RollupTier(tier), From: iv.From, To: iv.To})
		}
	}
	if rs, ok := src.(RangeSource); ok && len(ranges) > 1 {
		// One round trip for every range instead of one per range.
		rows, err := rs.RollupRanges(ctx, service, ranges)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			d.tiers[r.Tier] = append(d.tiers[r.Tier], row{start: r.Start, key: r.Key, counters: r.Counters, cycle: r.Cycle})
		}
		for _, rg := range ranges {
			d.loaded[rg.Tier] = mergeIntervals(append(d.loaded[rg.Tier], Interval{rg.From, rg.To}))
		}
		for tier := range d.tiers {
			rows := d.tiers[tier]
			sort.Slice(rows, func(i, j int) bool { return rows[i].start.Before(rows[j].start) })
		}
		return d, nil
	}
	for _, rg := range ranges {
		d.ensure(rg.Tier, rg.From, rg.To)
	}
	return d, d.err
}

// RangeSource reads several tier ranges of a service in one query; Load uses it
// when the source offers it.
type RangeSource interface {
	RollupRanges(ctx context.Context, service string, ranges []day2.RollupRange) ([]day2.RollupRow, error)
}

// ensure makes sure the rows of tier in [from, to) are in memory, fetching only
// the parts not loaded yet. A fetch error is kept in d.err (see Err).
func (d *Data) ensure(tier day2.RollupTier, from, to time.Time) {
	missing := []Interval{{from, to}}
	for _, have := range d.loaded[tier] {
		var next []Interval
		for _, m := range missing {
			next = append(next, subtract(m, have)...)
		}
		missing = next
	}
	if len(missing) == 0 || d.src == nil {
		return
	}
	for _, iv := range missing {
		rows, err := d.src.RollupRows(d.ctx, d.Service, tier, iv.From, iv.To)
		if err != nil {
			if d.err == nil {
				d.err = err
			}
			return
		}
		for _, r := range rows {
			d.tiers[tier] = append(d.tiers[tier], row{start: r.Start, key: r.Key, counters: r.Counters, cycle: r.Cycle})
		}
		d.loaded[tier] = mergeIntervals(append(d.loaded[tier], iv))
	}
	rows := d.tiers[tier]
	sort.Slice(rows, func(i, j int) bool { return rows[i].start.Before(rows[j].start) })
}

// Err returns the first error met while fetching rows; sums made after it may be
// incomplete.
func (d *Data) Err() error { return d.err }

// subtract returns the parts of a not covered by b.
func subtract(a, b Interval) []Interval {
	if !b.From.Before(a.To) || !a.From.Before(b.To) {
		return []Interval{a}
	}
	var out []Interval
	if a.From.Before(b.From) {
		out = append(out, Interval{a.From, b.From})
	}
	if b.To.Before(a.To) {
		out = append(out, Interval{b.To, a.To})
	}
	return out
}

// mergeIntervals sorts and coalesces overlapping or touching intervals.
func mergeIntervals(ivs []Interval) []Interval {
	if len(ivs) == 0 {
		return nil
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].From.Before(ivs[j].From) })
	out := []Interval{ivs[0]}
	for _, iv := range ivs[1:] {
		last := &out[len(out)-1]
		if !iv.From.After(last.To) {
			if iv.To.After(last.To) {
				last.To = iv.To
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Totals are summed counters with the merged cycle-time sketch.
type Totals struct {
	Counters day2.Counters
	Cycle    sketch.Sketch
}

// Sum adds up the rows matching f in [from, to) (minute-aligned), using the
// coarsest tiers that fit, with the merged cycle-time sketch (for quantiles).
// include, when set, keeps only buckets whose start it accepts (business hours).
func (d *Data) Sum(f Filter, from, to time.Time, include func(time.Time) bool) Totals {
	var t Totals
	d.each(f, from, to, include, func(r *row) {
		t.Counters.Add(r.counters)
		t.Cycle.Merge(r.sketch())
	})
	return t
}

// sumCounts adds up the counters of the rows matching f in [from, to) and, when
// cycleLTE > 0, counts the tasks whose cycle time is at most cycleLTE ms. It merges
// no sketches, which keeps SLO evaluation cheap.
func (d *Data) sumCounts(f Filter, from, to time.Time, include func(time.Time) bool, cycleLTE int64) (c day2.Counters, within int64) {
	d.each(f, from, to, include, func(r *row) {
		c.Add(r.counters)
		if cycleLTE > 0 {
			if s := r.sketch(); s != nil {
				within += s.CountAtMost(float64(cycleLTE))
			}
		}
	})
	return c, within
}

// each calls fn for every row matching f in [from, to).
func (d *Data) each(f Filter, from, to time.Time, include func(time.Time) bool, fn func(*row)) {
	top := day2.TierDay
	if include != nil {
		top = day2.TierMinute
	}
	for _, p := range decompose(from, to, top) {
		d.ensure(p.tier, p.from, p.to)
		rows := d.tiers[p.tier]
		i := sort.Search(len(rows), func(i int) bool { return !rows[i].start.Before(p.from) })
		for ; i < len(rows) && rows[i].start.Before(p.to); i++ {
			r := &rows[i]
			if !f.matches(r.key) || (include != nil && !include(r.start)) {
				continue
			}
			fn(r)
		}
	}
}

func (f Filter) matches(k day2.RollupKey) bool {
	return (f.Environment == "" || f.Environment == k.Environment) &&
		(f.Version == "" || f.Version == k.Version) &&
		(f.RiskTier == "" || f.RiskTier == k.RiskTier) &&
		(f.BusinessProcess == "" || f.BusinessProcess == k.BusinessProcess)
}

// countOf returns the events sel picks out of counters (cycle-time bounds aside).
func (sel Selector) countOf(c *day2.Counters) float64 {
	switch sel.Event {
	case EventTasks:
		return float64(c.Tasks)
	case EventTaskSuccess:
		return float64(c.Successes)
	case EventTaskFailure:
		return float64(c.Tasks - c.Successes)
	case EventEscalated:
		return float64(c.Escalated)
	case EventToolCalls:
		return float64(c.ToolCalls)
	case EventToolFailures:
		return float64(c.ToolFailures)
	case EventLLMCalls:
		return float64(c.LLMCalls)
	case EventSafetyBlocks:
		return float64(c.SafetyBlocks)
	}
	return 0
}

package slo_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/sketch"
	"github.com/day2ops/day2/slo"
)

// memRollups is an in-memory rollup source built from per-minute task counts; it
// aggregates hours and days from the minutes as the stores do.
type memRollups struct {
	rows   [3]map[time.Time]*day2.RollupRow
	sorted [3][]*day2.RollupRow // by start, rebuilt after adds
}

func newMem() *memRollups {
	m := &memRollups{}
	for i := range m.rows {
		m.rows[i] = map[time.Time]*day2.RollupRow{}
	}
	return m
}

// add records n tasks with an outcome at minute t, of which good succeeded, each
// with the given cycle time.
func (m *memRollups) add(t time.Time, n, good int64, cycleMS float64) {
	for tier := day2.TierMinute; tier <= day2.TierDay; tier++ {
		start := t.Truncate(tier.Duration())
		r := m.rows[tier][start]
		if r == nil {
			r = &day2.RollupRow{Key: day2.RollupKey{Service: "svc", Environment: "prod"}, Start: start}
			m.rows[tier][start] = r
		}
		r.Counters.Add(day2.Counters{Tasks: n, Successes: good, Seen: n, ToolCalls: n, ToolFailures: n - good})
		var s sketch.Sketch
		_ = s.UnmarshalBinary(r.Cycle)
		s.Add(cycleMS, n)
		r.Cycle, _ = s.MarshalBinary()
	}
}

func (m *memRollups) RollupRows(_ context.Context, service string, tier day2.RollupTier, from, to time.Time) ([]day2.RollupRow, error) {
	if len(m.sorted[tier]) != len(m.rows[tier]) {
		m.sorted[tier] = m.sorted[tier][:0]
		for _, r := range m.rows[tier] {
			m.sorted[tier] = append(m.sorted[tier], r)
		}
		sort.Slice(m.sorted[tier], func(i, j int) bool { return m.sorted[tier][i].Start.Before(m.sorted[tier][j].Start) })
	}
	rows := m.sorted[tier]
	var out []day2.RollupRow
	for i := sort.Search(len(rows), func(i int) bool { return !rows[i].Start.Before(from) }); i < len(rows) && rows[i].Start.Before(to); i++ {
		if rows[i].Key.Service == service {
			out = append(out, *rows[i])
		}
	}
	return out, nil
}

func evaluate(t *testing.T, m *memRollups, def slo.Definition, at time.Time) slo.Status {
	t.Helper()
	ivs := def.Intervals(at)
	d, err := slo.Load(context.Background(), m, "svc", ivs, def.NeedsMinutes())
	if err != nil {
		t.Fatal(err)
	}
	st := slo.Evaluate(&def, d, at)
	for i := range st.Alerts {
		if st.Alerts[i].State == slo.StateFiring {
			st.Alerts[i].Since = slo.FiringSince(&def, d, at, st.Alerts[i].Severity)
		}
	}
	return st
}

func taskSuccess() slo.Definition {
	return slo.Defaults("svc", slo.DefaultsSettings{})[0]
}

// An outage of 30 minutes at 100% failures after two clean hours, 10 tasks a
// minute, against the 97%/28d task-success SLO whose page thresholds are 13.44
// (1h/5m) and 5.6 (6h/30m): the 1h window reaches 0.4032 errors after 25 bad
// minutes (25/60 = 0.4167; 24/60 = 0.4 is short), so the page fires at +25m; it
// stays on through the 6h/30m pair until the 30m window drops below 0.168 bad,
// which happens 25 minutes after the outage ends (5/30 = 0.1667).
func TestPageAlertStartsAndStopsToTheMinute(t *testing.T) {
	m := newMem()
	t0 := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	outage := t0.Add(2 * time.Hour)
	for i := 0; i < 6*60; i++ {
		min := t0.Add(time.Duration(i) * time.Minute)
		good := int64(10)
		if !min.Before(outage) && min.Before(outage.Add(30*time.Minute)) {
			good = 0
		}
		m.add(min, 10, good, 30000)
	}
	def := taskSuccess()
	tests := []struct {
		after time.Duration
		page  string
		since time.Duration
	}{
		{24 * time.Minute, slo.StateInactive, 0},
		{25 * time.Minute, slo.StateFiring, 25 * time.Minute},
		{40 * time.Minute, slo.StateFiring, 25 * time.Minute},
		{54 * time.Minute, slo.StateFiring, 25 * time.Minute},
		{55 * time.Minute, slo.StateInactive, 0},
	}
	for _, tt := range tests {
		st := evaluate(t, m, def, outage.Add(tt.after))
		page := st.Alerts[0]
		if page.Severity != slo.Page || page.State != tt.page {
			t.Errorf("at outage+%v: page alert %q, want %q (burn 1h=%v 5m=%v)", tt.after, page.State, tt.page, deref(st.BurnRates["1h"]), deref(st.BurnRates["5m"]))
			continue
		}
		if tt.page == slo.StateFiring && !page.Since.Equal(outage.Add(tt.since)) {
			t.Errorf("at outage+%v: firing since %v, want outage+%v", tt.after, page.Since.Sub(outage), tt.since)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestStatusNumbers(t *testing.T) {
	m := newMem()
	t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	// 1,000 tasks over 100 minutes, 15 failures in the last 3 minutes.
	for i := 0; i < 100; i++ {
		good := int64(10)
		if i >= 97 {
			good = 5
		}
		m.add(t0.Add(time.Duration(i)*time.Minute), 10, good, float64(1000*(i+1)))
	}
	at := t0.Add(100 * time.Minute)
	st := evaluate(t, m, taskSuccess(), at)
	if st.SLI == nil || *st.SLI != 0.985 || st.Good != 985 || st.Total != 1000 {
		t.Fatalf("SLI = %v (%v/%v), want 0.985 (985/1000)", deref(st.SLI), st.Good, st.Total)
	}
	b := st.ErrorBudget
	if !near(b.Total, 30) || b.Consumed != 15 || !near(b.Remaining, 15) || !near(b.RemainingFraction, 0.5) {
		t.Fatalf("budget = %+v, want total 30, consumed 15, remaining 15 (0.5)", b)
	}
	// 5m window: 50 tasks, 15 bad -> 0.3 / 0.03 = 10.
	if r := st.BurnRates["5m"]; r == nil || !near(*r, 10) {
		t.Fatalf("5m burn = %v, want 10", deref(r))
	}
	// 1h window: 600 tasks, 15 bad -> 0.025 / 0.03 = 0.8333.
	if r := st.BurnRates["1h"]; r == nil || !near(*r, 0.025/0.03) {
		t.Fatalf("1h burn = %v, want 0.8333", deref(r))
	}
	if st.Status != slo.StatusOK {
		t.Fatalf("status = %s, want ok", st.Status)
	}
	// Cycle time: tasks of minute i took 1000*(i+1) ms; within 120 s: all 1,000.
	ct := slo.Defaults("svc", slo.DefaultsSettings{})[2]
	cst := evaluate(t, m, ct, at)
	if cst.SLI == nil || *cst.SLI != 1 {
		t.Fatalf("cycle-time SLI = %v, want 1", deref(cst.SLI))
	}
}

func TestAnSLOWithoutDataSaysSo(t *testing.T) {
	st := evaluate(t, newMem(), taskSuccess(), time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC))
	if st.SLI != nil || !st.NoData || st.Status != slo.StatusNoData {
		t.Fatalf("empty window: sli=%v no_data=%v status=%s, want null, true, no_data", deref(st.SLI), st.NoData, st.Status)
	}
	if st.ErrorBudget.RemainingFraction != 1 {
		t.Fatalf("remaining fraction = %v, want 1 (nothing spent)", st.ErrorBudget.RemainingFraction)
	}
}

func TestLowTrafficDoesNotPage(t *testing.T) {
	m := newMem()
	t0 := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	// Three tasks an hour, one failing: a 33% error ratio, far above any threshold,
	// but below the 10-event minimum in every page window.
	for i := 0; i < 3; i++ {
		good := int64(1)
		if i == 2 {
			good = 0
		}
		m.add(t0.Add(time.Duration(i*20)*time.Minute), 1, good, 1000)
	}
	st := evaluate(t, m, taskSuccess(), t0.Add(time.Hour))
	if st.Alerts[0].State != slo.StateInactive {
		t.Fatalf("page alert %s on 3 events, want inactive", st.Alerts[0].State)
	}
	if st.Status != slo.StatusExhausted {
		t.Fatalf("status = %s, want exhausted (1 bad of 3 is over a 3%% budget)", st.Status)
	}
}

func TestCalendarWindowStartsAtThePeriod(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	def := taskSuccess()
	def.Window = slo.TimeWindow{Duration: 30 * 24 * time.Hour, CalendarUnit: "M", CalendarCount: 1,
		CalendarStart: time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), Location: berlin, Text: "1M"}
	from, to := def.WindowRange(time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC))
	if want := time.Date(2026, 11, 1, 0, 0, 0, 0, berlin); !from.Equal(want) {
		t.Fatalf("calendar window starts %v, want %v", from, want)
	}
	if !to.Equal(time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)) {
		t.Fatalf("window ends %v", to)
	}
}

func TestBusinessHoursCountOnlyWorkingTime(t *testing.T) {
	m := newMem()
	// Monday 2026-11-02: slow tasks at 07:00 UTC (outside 09-17), fast at 10:00.
	mon := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	m.add(mon.Add(7*time.Hour), 10, 10, 300000)
	m.add(mon.Add(10*time.Hour), 10, 10, 1000)
	bh := &slo.BusinessHours{Location: time.UTC, Days: []time.Weekday{time.Monday}, Start: 9 * time.Hour, End: 17 * time.Hour, Text: "Mon 09:00-17:00 UTC"}
	def := slo.Defaults("svc", slo.DefaultsSettings{CycleTime: &slo.DefaultSLO{BusinessHours: bh}})[2]
	st := evaluate(t, m, def, mon.Add(20*time.Hour))
	if st.Total != 10 || st.SLI == nil || *st.SLI != 1 {
		t.Fatalf("business-hours cycle time: %v of %v good, want 10 of 10", st.Good, st.Total)
	}
	plain := slo.Defaults("svc", slo.DefaultsSettings{})[2]
	st = evaluate(t, m, plain, mon.Add(20*time.Hour))
	if st.Total != 20 || st.Good != 10 {
		t.Fatalf("all-hours cycle time: %v of %v good, want 10 of 20", st.Good, st.Total)
	}
}

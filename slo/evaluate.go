package slo

import (
	"math"
	"time"
)

// Alert states.
const (
	StateInactive = "inactive"
	StatePending  = "pending"
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// SLO statuses.
const (
	StatusOK        = "ok"
	StatusBurning   = "burning"
	StatusExhausted = "exhausted"
	StatusNoData    = "no_data"
)

// DefaultMinEvents is the fewest events a burn-rate window needs before it may
// fire an alert, so that one failure among three tasks does not page anyone.
const DefaultMinEvents = 10

// AlertStatus is the state of one severity of an SLO's burn-rate alerts.
type AlertStatus struct {
	Severity Severity  `json:"severity"`
	State    string    `json:"state"`
	Since    time.Time `json:"since,omitzero"`
	// Windows are the pair that fired (e.g. "1h/5m"), empty when inactive.
	Windows string `json:"windows,omitempty"`
}

// Status is an SLO evaluated at one time.
type Status struct {
	Name      string  `json:"name"`
	Service   string  `json:"service"`
	Objective float64 `json:"objective"`
	Window    string  `json:"window"`
	// SLI is good/total over the window; nil when the window has no events.
	SLI    *float64 `json:"sli"`
	Good   float64  `json:"good_events"`
	Total  float64  `json:"total_events"`
	NoData bool     `json:"no_data"`
	// ErrorBudget is the budget over the window.
	ErrorBudget Budget `json:"error_budget"`
	// BurnRates are keyed by window ("5m" ... "3d"); nil for a window with no events.
	BurnRates map[string]*float64 `json:"burn_rates"`
	// TimeToExhaustion at the 1h burn rate; nil when not burning.
	TimeToExhaustion *Duration     `json:"time_to_exhaustion"`
	Alerts           []AlertStatus `json:"alerts"`
	Status           string        `json:"status"`
	WindowStart      time.Time     `json:"window_start"`
	At               time.Time     `json:"at"`
	Definition       *Definition   `json:"definition,omitempty"`
}

// Duration marshals as a Go duration string and as seconds.
type Duration struct {
	D time.Duration
}

// MarshalJSON renders the duration as {"seconds": s, "text": "1h30m"}.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`{"seconds":` + ftoa(d.D.Seconds()) + `,"text":"` + d.D.Round(time.Minute).String() + `"}`), nil
}

func ftoa(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "null"
	}
	return trimFloat(f)
}

// WindowRange returns the SLO's compliance window ending at at: the last
// Duration for a rolling window, the current calendar period for a calendar one.
// Both ends are minute-aligned.
func (def *Definition) WindowRange(at time.Time) (from, to time.Time) {
	to = at.Truncate(time.Minute)
	w := def.Window
	if w.Rolling || w.CalendarUnit == "" {
		return to.Add(-w.Duration), to
	}
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	start := w.CalendarStart.In(loc)
	n := max(w.CalendarCount, 1)
	step := func(t time.Time, k int) time.Time {
		switch w.CalendarUnit {
		case "d":
			return t.AddDate(0, 0, k*n)
		case "w":
			return t.AddDate(0, 0, 7*k*n)
		case "M":
			return t.AddDate(0, k*n, 0)
		case "Q":
			return t.AddDate(0, 3*k*n, 0)
		case "Y":
			return t.AddDate(k*n, 0, 0)
		}
		return t.Add(time.Duration(k) * w.Duration)
	}
	// Walk from the calendar start to the period containing at; periods are few
	// (months or weeks), so stepping is cheap and exact across DST and month lengths.
	cur := start
	if to.Before(cur) {
		for to.Before(cur) {
			cur = step(cur, -1)
		}
	} else {
		for i := 0; i < 100000; i++ {
			next := step(cur, 1)
			if next.After(to) {
				break
			}
			cur = next
		}
	}
	return cur.UTC().Truncate(time.Minute), to
}

// period is the length used to derive burn-rate thresholds.
func (def *Definition) period() time.Duration {
	if def.Window.Duration > 0 {
		return def.Window.Duration
	}
	return 28 * 24 * time.Hour
}

// Pairs returns the SLO's alert window pairs.
func (def *Definition) Pairs() []WindowPair {
	if len(def.AlertPairs) > 0 {
		return def.AlertPairs
	}
	return DefaultPairs
}

func (def *Definition) minEvents() float64 {
	if def.MinEvents > 0 {
		return float64(def.MinEvents)
	}
	return DefaultMinEvents
}

// Intervals lists the time ranges Evaluate reads at time at, for Load.
func (def *Definition) Intervals(at time.Time) []Interval {
	from, to := def.WindowRange(at)
	ivs := []Interval{{from, to}}
	for _, w := range Windows {
		ivs = append(ivs, Interval{to.Add(-w.D), to})
	}
	for _, p := range def.Pairs() {
		ivs = append(ivs, Interval{to.Add(-p.Long), to}, Interval{to.Add(-p.Short), to})
	}
	return ivs
}

// NeedsMinutes reports whether the SLO must be summed minute by minute (business
// hours or timeslices), so Load should fetch minute rows only.
func (def *Definition) NeedsMinutes() bool {
	return def.BusinessHours != nil || def.Method == Timeslices
}

// counts returns good and total events over [from, to).
func (def *Definition) counts(d *Data, from, to time.Time) (good, total float64) {
	if def.Method == Timeslices {
		return def.sliceCounts(d, from, to)
	}
	include := def.BusinessHours.includer()
	ind := &def.Indicator
	count := func(sel *Selector) float64 {
		c, within := d.sumCounts(sel.Filter, from, to, include, sel.CycleTimeLTE)
		if sel.CycleTimeLTE > 0 {
			return float64(within)
		}
		return sel.countOf(&c)
	}
	total = count(&ind.Total)
	switch {
	case ind.Good != nil:
		good = count(ind.Good)
	case ind.Bad != nil:
		good = total - count(ind.Bad)
	}
	good = math.Max(0, math.Min(good, total))
	return good, total
}

// sliceCounts counts timeslices: a slice is good when its ratio reaches
// TimesliceTarget; slices without events are not counted.
func (def *Definition) sliceCounts(d *Data, from, to time.Time) (good, total float64) {
	w := def.TimesliceWindow
	if w <= 0 {
		w = time.Minute
	}
	occ := *def
	occ.Method = Occurrences
	for s := from.Truncate(w); s.Before(to); s = s.Add(w) {
		a, b := s, s.Add(w)
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		g, t := occ.counts(d, a, b)
		if t == 0 {
			continue
		}
		total++
		if g/t >= def.TimesliceTarget {
			good++
		}
	}
	return good, total
}

// includer returns the bucket filter of business hours, or nil.
func (bh *BusinessHours) includer() func(time.Time) bool {
	if bh == nil {
		return nil
	}
	return bh.Contains
}

// Contains reports whether t falls in business hours.
func (bh *BusinessHours) Contains(t time.Time) bool {
	loc := bh.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	dayOK := len(bh.Days) == 0
	for _, d := range bh.Days {
		if lt.Weekday() == d {
			dayOK = true
			break
		}
	}
	if !dayOK {
		return false
	}
	off := time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute
	return off >= bh.Start && off < bh.End
}

// Evaluate computes the SLO's status at time at from rollup data loaded for
// def.Intervals(at). Firing alerts carry no Since: FiringSince finds it, for the
// callers that need it (it scans up to a day of minutes). Only buckets before at (minute-aligned) count, so the answer
// is what day2 would have said at that time, given the data that has since
// arrived for that past.
func Evaluate(def *Definition, d *Data, at time.Time) Status {
	from, to := def.WindowRange(at)
	st := Status{
		Name: def.Name, Service: def.Service, Objective: def.Objective, Window: def.Window.Text,
		BurnRates: map[string]*float64{}, WindowStart: from, At: to, Alerts: []AlertStatus{},
	}
	st.Good, st.Total = def.counts(d, from, to)
	c := Counts{Good: st.Good, Total: st.Total}
	if r, ok := c.Ratio(); ok {
		st.SLI = &r
	} else {
		st.NoData = true
	}
	st.ErrorBudget, _ = ComputeBudget(def.Objective, c)

	for _, w := range Windows {
		g, t := def.counts(d, to.Add(-w.D), to)
		if r, ok := BurnRate(def.Objective, Counts{Good: g, Total: t}); ok {
			st.BurnRates[w.Key] = &r
		} else {
			st.BurnRates[w.Key] = nil
		}
	}
	if r := st.BurnRates["1h"]; r != nil && *r > 0 {
		if tte, ok := TimeToExhaustion(st.ErrorBudget.RemainingFraction, *r, def.period()); ok {
			st.TimeToExhaustion = &Duration{tte}
		}
	}

	for _, sev := range []Severity{Page, Ticket} {
		a := AlertStatus{Severity: sev, State: StateInactive}
		if pair, ok := def.firingPair(d, to, sev); ok {
			a.State = StateFiring
			a.Windows = pair.Long.String() + "/" + pair.Short.String()
		}
		st.Alerts = append(st.Alerts, a)
	}

	switch {
	case st.NoData:
		st.Status = StatusNoData
	case st.ErrorBudget.RemainingFraction <= 0:
		st.Status = StatusExhausted
	case st.Alerts[0].State == StateFiring || st.Alerts[1].State == StateFiring:
		st.Status = StatusBurning
	default:
		st.Status = StatusOK
	}
	return st
}

// firingPair returns the first pair of severity sev whose long and short windows
// both burn at or above its threshold, with enough events, at time to.
func (def *Definition) firingPair(d *Data, to time.Time, sev Severity) (WindowPair, bool) {
	for _, p := range def.Pairs() {
		if p.Severity != sev {
			continue
		}
		th := p.ThresholdFor(def.period())
		if def.burnsAt(d, to.Add(-p.Long), to, th) && def.burnsAt(d, to.Add(-p.Short), to, th) {
			return p, true
		}
	}
	return WindowPair{}, false
}

func (def *Definition) burnsAt(d *Data, from, to time.Time, threshold float64) bool {
	g, t := def.counts(d, from, to)
	if t < def.minEvents() {
		return false
	}
	r, ok := BurnRate(def.Objective, Counts{Good: g, Total: t})
	return ok && r >= threshold
}

// maxLookback bounds how far back FiringSince searches for the start of an alert.
const maxLookback = 24 * time.Hour

// FiringSince finds the minute the alert of severity sev, firing at at, began
// firing, looking back minute by minute while it held, at most maxLookback. It
// reads the minute rows once into per-minute counts and slides every window over
// their prefix sums.
func FiringSince(def *Definition, d *Data, at time.Time, sev Severity) time.Time {
	to := at.Truncate(time.Minute)
	var longest time.Duration
	var pairs []WindowPair
	for _, p := range def.Pairs() {
		if p.Severity == sev {
			pairs = append(pairs, p)
			longest = max(longest, p.Long)
		}
	}
	if def.Method == Timeslices || len(pairs) == 0 {
		return to
	}
	start := to.Add(-maxLookback - longest)
	n := int(to.Sub(start) / time.Minute)
	good, total := def.minuteCounts(d, start, n)
	G := make([]float64, n+1) // prefix sums of good events per minute
	T := make([]float64, n+1)
	for i := 0; i < n; i++ {
		G[i+1], T[i+1] = G[i]+good[i], T[i]+total[i]
	}
	burns := func(end int, w time.Duration, th float64) bool {
		k := end - int(w/time.Minute)
		if k < 0 {
			return false
		}
		t := T[end] - T[k]
		if t < def.minEvents() {
			return false
		}
		r, ok := BurnRate(def.Objective, Counts{Good: G[end] - G[k], Total: t})
		return ok && r >= th
	}
	firing := func(end int) bool {
		for _, p := range pairs {
			th := p.ThresholdFor(def.period())
			if burns(end, p.Long, th) && burns(end, p.Short, th) {
				return true
			}
		}
		return false
	}
	since := to
	for end := n - 1; end >= 0 && n-end <= int(maxLookback/time.Minute); end-- {
		if !firing(end) {
			break
		}
		since = start.Add(time.Duration(end) * time.Minute)
	}
	return since
}

// minuteCounts returns good and total events for each of the n minutes from
// start, in one pass over the minute rows of each selector.
func (def *Definition) minuteCounts(d *Data, start time.Time, n int) (good, total []float64) {
	include := def.BusinessHours.includer()
	if include == nil {
		include = func(time.Time) bool { return true } // forces minute rows
	}
	end := start.Add(time.Duration(n) * time.Minute)
	per := func(sel *Selector) []float64 {
		out := make([]float64, n)
		d.each(sel.Filter, start, end, include, func(r *row) {
			i := int(r.start.Sub(start) / time.Minute)
			if sel.CycleTimeLTE > 0 {
				if sk := r.sketch(); sk != nil {
					out[i] += float64(sk.CountAtMost(float64(sel.CycleTimeLTE)))
				}
				return
			}
			out[i] += sel.countOf(&r.counters)
		})
		return out
	}
	ind := &def.Indicator
	total = per(&ind.Total)
	switch {
	case ind.Good != nil:
		good = per(ind.Good)
	case ind.Bad != nil:
		bad := per(ind.Bad)
		good = make([]float64, n)
		for i := range good {
			good[i] = total[i] - bad[i]
		}
	default:
		good = make([]float64, n)
	}
	for i := range good {
		good[i] = math.Max(0, math.Min(good[i], total[i]))
	}
	return good, total
}

package slo

import "time"

// Point is one step of an SLO's chart.
type Point struct {
	Time time.Time `json:"time"`
	// SLI is good/total within the step; nil for a step without events.
	SLI   *float64 `json:"sli"`
	Good  float64  `json:"good"`
	Total float64  `json:"total"`
	// BudgetRemaining is the share of the error budget left, counted from the
	// window's start up to the end of the step: the burn-down.
	BudgetRemaining float64 `json:"budget_remaining"`
}

// SeriesStep picks a chart step for a window: hourly up to a week, then coarser,
// for about 170 points.
func SeriesStep(window time.Duration) time.Duration {
	switch {
	case window <= 2*24*time.Hour:
		return 15 * time.Minute
	case window <= 8*24*time.Hour:
		return time.Hour
	default:
		return 4 * time.Hour
	}
}

// SeriesIntervals lists what Series reads, for Load.
func (def *Definition) SeriesIntervals(at time.Time) []Interval {
	from, to := def.WindowRange(at)
	return []Interval{{from, to}}
}

// Series returns the SLO's chart over its window ending at at, one point per step
// (aligned to the step; the first and last may be partial).
func Series(def *Definition, d *Data, at time.Time, step time.Duration) []Point {
	from, to := def.WindowRange(at)
	var pts []Point
	var cumGood, cumTotal float64
	allowed := 1 - def.Objective
	for s := from.Truncate(step); s.Before(to); s = s.Add(step) {
		a, b := s, s.Add(step)
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		g, t := def.counts(d, a, b)
		p := Point{Time: b, Good: g, Total: t, BudgetRemaining: 1}
		if t > 0 {
			r := g / t
			p.SLI = &r
		}
		cumGood += g
		cumTotal += t
		if cumTotal > 0 && allowed > 0 {
			p.BudgetRemaining = (allowed - (cumTotal-cumGood)/cumTotal) / allowed
		}
		pts = append(pts, p)
	}
	return pts
}

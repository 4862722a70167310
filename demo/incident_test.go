package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2/slo"
)

// simulate draws what Run would send for a backfill of backfill ending at now,
// with the scenario sc (nil: ordinary traffic only), followed by live traffic at
// DefaultRate for live from the moment the backfill ends, and passes every
// completed task to visit. It does what Run does without the SDK and the network.
func simulate(t *testing.T, seed int64, now time.Time, backfill, live time.Duration, sc *scenario, visit func(p *Plan)) {
	t.Helper()
	gens := make([]*Generator, len(fleet))
	for i, f := range fleet {
		g, err := NewGenerator(f.stream, seed)
		if err != nil {
			t.Fatal(err)
		}
		if sc != nil {
			g.SetIncident(sc.incident)
		}
		gens[i] = g
	}
	h := newHistory(gens, seed, now.Add(-backfill), now, sc)
	for {
		_, p, ok := h.next()
		if !ok {
			break
		}
		visit(&p)
	}
	arr := make([]*arrivals, len(fleet))
	for i, f := range fleet {
		arr[i] = newArrivals(f.stream, seed, 2, now, DefaultRate*f.profile.weight, false, surge{})
	}
	for {
		i := earliest(arr)
		at := arr[i].next
		if !at.Before(now.Add(live)) {
			break
		}
		arr[i].advance()
		p := gens[i].Next(at)
		visit(&p)
	}
}

// perMinute holds one SLI's good and total events per minute from a start, as
// prefix sums: what day2's minute rollups hold, bucketed by outcome time.
type perMinute struct {
	start       time.Time
	good, total []float64
}

func newPerMinute(from, to time.Time) *perMinute {
	n := int(to.Sub(from)/time.Minute) + 1
	return &perMinute{start: from, good: make([]float64, n+1), total: make([]float64, n+1)}
}

func (m *perMinute) add(at time.Time, good, total float64) {
	i := int(at.Sub(m.start) / time.Minute)
	if i < 0 || i+1 >= len(m.total) {
		return
	}
	m.good[i+1] += good
	m.total[i+1] += total
}

// sums turns the per-minute counts into prefix sums; call it once, after the
// last add.
func (m *perMinute) sums() {
	for i := 1; i < len(m.total); i++ {
		m.good[i] += m.good[i-1]
		m.total[i] += m.total[i-1]
	}
}

// counts returns the events in [from, to), both minute-aligned.
func (m *perMinute) counts(from, to time.Time) slo.Counts {
	idx := func(t time.Time) int {
		i := int(t.Sub(m.start) / time.Minute)
		return max(0, min(i, len(m.total)-1))
	}
	a, b := idx(from), idx(to)
	return slo.Counts{Good: m.good[b] - m.good[a], Total: m.total[b] - m.total[a]}
}

// errorRatio returns bad/total over [from, to).
func (m *perMinute) errorRatio(from, to time.Time) (ratio, total float64) {
	c := m.counts(from, to)
	if c.Total == 0 {
		return 0, 0
	}
	return c.Bad() / c.Total, c.Total
}

// pages reports which page-severity window pair of def fires at at, as day2's
// SLO engine decides it: both windows burn at or above the pair's threshold and
// hold at least MinEvents events. It returns "" when none fires.
func (m *perMinute) pages(def slo.Definition, at time.Time) string {
	for _, p := range def.Pairs() {
		if p.Severity != slo.Page {
			continue
		}
		th := p.ThresholdFor(def.Window.Duration)
		burns := func(w time.Duration) bool {
			c := m.counts(at.Add(-w), at)
			r, ok := slo.BurnRate(def.Objective, c)
			return ok && c.Total >= float64(def.MinEvents) && r >= th
		}
		if burns(p.Long) && burns(p.Short) {
			return p.Long.String() + "/" + p.Short.String()
		}
	}
	return ""
}

func builtin(t *testing.T, service, short string) slo.Definition {
	t.Helper()
	for _, d := range slo.Defaults(service, slo.DefaultsSettings{}) {
		if d.Name == service+"/"+short {
			return d
		}
	}
	t.Fatalf("no built-in SLO %s", short)
	return slo.Definition{}
}

// incidentRun is a simulated run's support-triage SLIs and incident tallies.
type incidentRun struct {
	tasks, tools *perMinute // task success; tool calls that did not fail
	// inIncident counts, per stream, the tasks started in the outage and how
	// many failed; crmUnavailable the outcomes with the incident's reason code,
	// misplaced those of them outside the outage or its affected streams.
	inIncident     map[Stream][2]int
	crmUnavailable int
	misplaced      int
}

func runIncident(t *testing.T, seed int64, now time.Time, sc *scenario) *incidentRun {
	const backfill, live = 12 * time.Hour, time.Hour
	from := now.Add(-backfill)
	r := &incidentRun{
		tasks:      newPerMinute(from, now.Add(live+10*time.Minute)),
		tools:      newPerMinute(from, now.Add(live+10*time.Minute)),
		inIncident: map[Stream][2]int{},
	}
	inc := crmOutage(now)
	simulate(t, seed, now, backfill, live, sc, func(p *Plan) {
		if p.Stream.Service != outageService {
			return
		}
		at := p.Outcome.Time.UTC().Truncate(time.Minute)
		good := 0.0
		if p.Outcome.Success {
			good = 1
		}
		r.tasks.add(at, good, 1)
		r.tools.add(at, float64(p.ToolCalls-p.ToolFailures), float64(p.ToolCalls))
		if inc.covers(p.Start) {
			c := r.inIncident[p.Stream]
			c[0]++
			if !p.Outcome.Success {
				c[1]++
			}
			r.inIncident[p.Stream] = c
		}
		if p.Outcome.ReasonCode == inc.ReasonCode {
			r.crmUnavailable++
			if !inc.covers(p.Start) || inc.Down[p.Stream] == 0 || p.ToolFailures == 0 || p.Outcome.Success {
				r.misplaced++
			}
		}
	})
	r.tasks.sums()
	r.tools.sums()
	return r
}

func TestScheduledIncidentPages(t *testing.T) {
	taskSuccess := builtin(t, outageService, slo.NameTaskSuccess)
	toolFailure := builtin(t, outageService, slo.NameToolFailure)
	// The error ratio at which the 1h/5m pair pages: 13.44 x 3% = 0.4032.
	pageRatio := slo.DefaultPairs[0].ThresholdFor(taskSuccess.Window.Duration) * (1 - taskSuccess.Objective)
	if pageRatio < 0.4031 || pageRatio > 0.4033 {
		t.Fatalf("1h/5m page error ratio = %g, want 0.4032", pageRatio)
	}
	tests := []struct {
		name string
		now  time.Time
		seed int64
	}{
		// The 6h window before the surge holds the day's busiest hours: the
		// hardest case for the 6h/30m pair once the outage is over.
		{"a weekday afternoon after the busiest hours", time.Date(2025, 3, 11, 16, 30, 0, 0, time.UTC), 1},
		{"a weekday night", time.Date(2025, 3, 12, 3, 7, 0, 0, time.UTC), 2},
		{"a Sunday morning", time.Date(2025, 3, 16, 9, 41, 0, 0, time.UTC), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			inc := crmOutage(now)
			r := runIncident(t, tt.seed, now, newScenario(now))

			// Every 5-minute window of the outage has enough tasks to alert on,
			// and fails more than the 1h/5m pair's error ratio.
			for m := inc.Start; !m.Add(5 * time.Minute).After(inc.End); m = m.Add(time.Minute) {
				ratio, n := r.tasks.errorRatio(m, m.Add(5*time.Minute))
				if n < float64(taskSuccess.MinEvents) || ratio <= pageRatio {
					t.Errorf("5m window from %s: %.0f tasks, error ratio %.3f; want at least %d tasks and above %.4f",
						m.Format("15:04"), n, ratio, taskSuccess.MinEvents, pageRatio)
				}
			}
			// So does the hour up to the end of the outage, and the 1h/5m pair
			// fires in its last minutes.
			for m := inc.End.Add(-10 * time.Minute); !m.After(inc.End); m = m.Add(time.Minute) {
				if ratio, _ := r.tasks.errorRatio(m.Add(-time.Hour), m); ratio <= pageRatio {
					t.Errorf("1h window to %s: error ratio %.3f, want above %.4f", m.Format("15:04"), ratio, pageRatio)
				}
				if got := r.tasks.pages(taskSuccess, m); got != "1h0m0s/5m0s" {
					t.Errorf("at %s the task-success page fires on %q, want the 1h/5m pair", m.Format("15:04"), got)
				}
			}
			ratio, _ := r.tasks.errorRatio(inc.End.Add(-time.Hour), inc.End)
			r6, n6 := r.tasks.errorRatio(now.Add(-6*time.Hour), now)
			r30, _ := r.tasks.errorRatio(now.Add(-30*time.Minute), now)
			t.Logf("error ratios: 1h to the end of the outage %.3f; at the end of the backfill 6h %.3f (%.0f tasks), 30m %.3f",
				ratio, r6, n6, r30)

			// The page fires from the last minutes of the outage through the end
			// of the backfill into the live phase, so that it is on when someone
			// opens day2 after the backfill, and resolves in the live phase.
			var firing, resolved time.Time
			for m := now.Add(-6 * time.Hour); !m.After(now.Add(time.Hour)); m = m.Add(time.Minute) {
				on := r.tasks.pages(taskSuccess, m) != ""
				switch {
				case on && m.Before(inc.Start):
					t.Errorf("task-success pages at %s, before the outage", m.Format("15:04"))
				case on && firing.IsZero():
					firing = m
				case !on && !firing.IsZero() && resolved.IsZero():
					resolved = m
				case on && !resolved.IsZero():
					t.Errorf("task-success pages again at %s after resolving at %s", m.Format("15:04"), resolved.Format("15:04"))
				}
			}
			t.Logf("outage %s-%s, backfill ends %s: task-success pages from %s, resolves at %s",
				inc.Start.Format("15:04"), inc.End.Format("15:04"), now.Format("15:04"), firing.Format("15:04"), resolved.Format("15:04"))
			if firing.IsZero() || firing.After(inc.End.Add(-10*time.Minute)) {
				t.Errorf("task-success starts paging at %s, want before %s", firing.Format("15:04"), inc.End.Add(-10*time.Minute).Format("15:04"))
			}
			if resolved.Before(now.Add(5*time.Minute)) || resolved.After(now.Add(20*time.Minute)) {
				t.Errorf("task-success stops paging at %s, want 5 to 20 minutes after the backfill ends at %s", resolved.Format("15:04"), now.Format("15:04"))
			}

			// The outage shows as tool failures: tool-failure pages too.
			if got := r.tools.pages(toolFailure, inc.End); got == "" {
				tf, _ := r.tools.errorRatio(inc.End.Add(-time.Hour), inc.End)
				t.Errorf("tool-failure does not page at the end of the outage (1h tool failure share %.3f)", tf)
			}

			// And in the outcomes' reason codes, of the affected streams' tasks
			// in the outage only.
			if r.crmUnavailable < 100 || r.misplaced > 0 {
				t.Errorf("%d outcomes with reason_code %s, %d of them outside the outage or without a failed tool call; want hundreds, none misplaced",
					r.crmUnavailable, inc.ReasonCode, r.misplaced)
			}
			for s, want := range map[Stream]bounds{
				{outageService, "1.5.0", "prod"}:    {0.80, 0.92},
				{outageService, "1.4.0", "prod"}:    {0.50, 0.65},
				{outageService, "1.5.0", "staging"}: {0, 0.2},
			} {
				c := r.inIncident[s]
				if s.Environment == "prod" && c[0] < 250 {
					t.Errorf("%s started %d tasks in the 45-minute outage, want about 360", s, c[0])
				}
				if c[0] > 0 {
					want.check(t, s.String()+" failure share in the outage", float64(c[1])/float64(c[0]))
				}
			}
		})
	}
}

func TestNoIncidentMeansOrdinaryTraffic(t *testing.T) {
	now := time.Date(2025, 3, 11, 16, 30, 0, 0, time.UTC)
	taskSuccess := builtin(t, outageService, slo.NameTaskSuccess)
	r := runIncident(t, 1, now, nil)
	if r.crmUnavailable != 0 {
		t.Errorf("%d outcomes say crm_unavailable without an incident", r.crmUnavailable)
	}
	for m := now.Add(-6 * time.Hour); !m.After(now.Add(time.Hour)); m = m.Add(time.Minute) {
		if got := r.tasks.pages(taskSuccess, m); got != "" {
			t.Fatalf("task-success pages at %s on %s without an incident", m.Format("15:04"), got)
		}
	}
	// Without the surge the last 90 minutes follow the daily pattern: about
	// 2.1 streams x 2.3 tasks a minute at this hour, not 16.
	if _, n := r.tasks.errorRatio(now.Add(-90*time.Minute), now); n > 700 {
		t.Errorf("%.0f support-triage tasks in the last 90 minutes without the surge, want about 400", n)
	}
}

func TestIncidentIsDeterministic(t *testing.T) {
	now := time.Date(2025, 3, 12, 3, 7, 0, 0, time.UTC)
	var a, b []string
	for _, out := range []*[]string{&a, &b} {
		g, _ := NewGenerator(Stream{outageService, "1.5.0", "prod"}, 9)
		g.SetIncident(crmOutage(now))
		for i := range 200 {
			p := g.Next(now.Add(-time.Hour + time.Duration(i)*10*time.Second))
			*out = append(*out, p.TraceID.String()+" "+p.Outcome.ReasonCode)
		}
	}
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Error("two generators with the same seed and incident drew different plans")
	}
}

func TestSurgeArrivals(t *testing.T) {
	now := time.Date(2025, 3, 12, 3, 0, 0, 0, time.UTC) // a quiet hour
	s := Stream{outageService, "1.4.0", "prod"}
	sg := newScenario(now).surgeFor(s)
	if sg.perMin != surgeRate {
		t.Fatalf("%s gets no surge", s)
	}
	if got := newScenario(now).surgeFor(Stream{outageService, "1.5.0", "staging"}); got.perMin != 0 {
		t.Errorf("staging gets a surge of %g tasks a minute", got.perMin)
	}
	a := newArrivals(s, 4, 1, now.Add(-4*time.Hour), backfillRate, true, sg)
	var before, during int
	for ; a.next.Before(now); a.advance() {
		if sg.covers(a.next) {
			during++
		} else {
			before++
		}
	}
	// 150 quiet minutes at about 0.27 tasks a minute, then 90 at 8.
	bounds{650, 790}.check(t, "arrivals during the 90-minute surge", float64(during))
	bounds{15, 80}.check(t, "arrivals in the 150 minutes before it", float64(before))
}

package incident

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// incidentsOpened returns the incidents opened in [from, to), oldest first.
// Records are listed newest first by creation, which follows opening, so the
// listing stops at the first page older than from.
func (s *Service) incidentsOpened(ctx context.Context, from, to time.Time) ([]Incident, error) {
	var out []Incident
	seen := map[string]bool{}
	f := day2.RecordFilter{Kind: KindIncident, Order: day2.NewestFirst, Limit: 1000}
	for page := 0; page < 20; page++ {
		recs, err := s.o.Records.ListRecords(ctx, f)
		if err != nil {
			return nil, err
		}
		older := true
		for _, r := range recs {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			inc, err := decode(r)
			if err != nil {
				s.log.Error("skipping an unreadable incident record", "id", r.ID, "err", err)
				continue
			}
			if !inc.OpenedAt.Before(from) {
				older = false
			}
			if !inc.OpenedAt.Before(from) && inc.OpenedAt.Before(to) {
				out = append(out, inc)
			}
		}
		if len(recs) < f.Limit || older {
			break
		}
		f.CreatedBefore = recs[len(recs)-1].CreatedAt
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	return out, nil
}

// pendingReviews returns the resolved incidents without a recorded review,
// oldest first.
func (s *Service) pendingReviews(ctx context.Context) ([]Incident, error) {
	all, err := s.List(ctx, Filter{State: StateResolved, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []Incident
	for _, inc := range all {
		if inc.Review == nil && (inc.PostmortemRequired || inc.Severity == SeverityPage) {
			out = append(out, inc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResolvedAt.Before(out[j].ResolvedAt) })
	return out, nil
}

// Digest returns the daily reliability stand-up in Markdown as of now: open
// incidents, incidents of the last 24 hours, rollouts and flag changes of the
// last 24 hours from the audit log, error budget burn (when SLOBudget is set)
// and reviews pending.
func (s *Service) Digest(ctx context.Context, now time.Time) (string, error) {
	now = now.UTC()
	open, err := s.List(ctx, Filter{State: "open", Limit: 1000})
	if err != nil {
		return "", err
	}
	day, err := s.incidentsOpened(ctx, now.Add(-24*time.Hour), now.Add(time.Nanosecond))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Daily reliability digest: %s\n\n", now.Format("Monday 2 January 2006, 15:04 UTC"))

	w("## Open incidents (%d)\n\n", len(open))
	if len(open) == 0 {
		w("None.\n\n")
	} else {
		w("| Incident | Severity | Service | State | Open for | Title |\n|---|---|---|---|---|---|\n")
		for _, inc := range open {
			w("| [%s](%s) | %s | %s | %s | %s | %s |\n", inc.ID, inc.URL, inc.Severity, inc.where(), inc.State,
				dur(now.Sub(inc.OpenedAt)), cell(inc.Title))
		}
		w("\n")
	}

	w("## Incidents of the last 24 hours (%d)\n\n", len(day))
	if len(day) == 0 {
		w("None.\n\n")
	} else {
		incidentTable(&b, day, now)
	}

	w("## Rollouts and changes of the last 24 hours\n\n")
	if s.o.Audit == nil {
		w("The audit log is not available to the incident service.\n\n")
	} else {
		es, err := s.auditBetween(ctx, now.Add(-24*time.Hour), now, ChangePrefixes)
		if err != nil {
			return "", err
		}
		changesSection(&b, es)
	}

	if s.o.SLOBudget != nil {
		w("## Error budget burn of the last 24 hours\n\n")
		svcs := s.services(ctx, open, day)
		if len(svcs) == 0 {
			w("No services.\n\n")
		} else {
			w("| Service | Share of the 4-week budget consumed |\n|---|---|\n")
			for _, svc := range svcs {
				if f, ok := s.o.SLOBudget(ctx, svc, now.Add(-24*time.Hour), now); ok {
					w("| %s | %s |\n", svc, pct(f))
				} else {
					w("| %s | no data |\n", svc)
				}
			}
			w("\n")
		}
	}

	pending, err := s.pendingReviews(ctx)
	if err != nil {
		return "", err
	}
	reviewsSection(&b, pending, now)
	return b.String(), nil
}

// WeeklyReview returns the weekly reliability review in Markdown as of now:
// the incidents of the last 7 days with their durations and detection,
// acknowledgement, mitigation and resolution times, the trend against the 7
// days before, open incidents, and postmortems pending.
func (s *Service) WeeklyReview(ctx context.Context, now time.Time) (string, error) {
	now = now.UTC()
	// One listing for both weeks, split at the week's start (oldest first).
	both, err := s.incidentsOpened(ctx, now.Add(-14*24*time.Hour), now.Add(time.Nanosecond))
	if err != nil {
		return "", err
	}
	split, _ := slices.BinarySearchFunc(both, now.Add(-7*24*time.Hour), func(inc Incident, t time.Time) int {
		return inc.OpenedAt.Compare(t)
	})
	prev, week := both[:split], both[split:]
	open, err := s.List(ctx, Filter{State: "open", Limit: 1000})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Weekly reliability review: %s to %s\n\n", now.Add(-7*24*time.Hour).Format("2 Jan"), now.Format("2 Jan 2006"))

	w("## Incidents of the week (%d)\n\n", len(week))
	if len(week) == 0 {
		w("None.\n\n")
	} else {
		incidentTable(&b, week, now)
	}

	w("## Trends against the week before\n\n| Measure | This week | Week before |\n|---|---|---|\n")
	cur, old := weekStats(week), weekStats(prev)
	w("| Incidents | %d | %d |\n", cur.n, old.n)
	w("| Pages | %d | %d |\n", cur.pages, old.pages)
	w("| Mean time to detect | %s | %s |\n", cur.detect.mean(), old.detect.mean())
	w("| Mean time to acknowledge | %s | %s |\n", cur.ack.mean(), old.ack.mean())
	w("| Mean time to mitigate | %s | %s |\n", cur.mitigate.mean(), old.mitigate.mean())
	w("| Mean time to resolve | %s | %s |\n", cur.resolve.mean(), old.resolve.mean())
	w("| Error budget consumed by incidents | %s | %s |\n\n", cur.budgetText(), old.budgetText())
	switch {
	case cur.n > old.n:
		w("More incidents than the week before (%d against %d).\n\n", cur.n, old.n)
	case cur.n < old.n:
		w("Fewer incidents than the week before (%d against %d).\n\n", cur.n, old.n)
	}

	w("## Open incidents (%d)\n\n", len(open))
	for _, inc := range open {
		w("- [%s](%s) %s %s, %s for %s: %s\n", inc.ID, inc.URL, inc.Severity, inc.where(), inc.State, dur(now.Sub(inc.OpenedAt)), inc.Title)
	}
	if len(open) == 0 {
		w("None.\n")
	}
	w("\n")

	pending, err := s.pendingReviews(ctx)
	if err != nil {
		return "", err
	}
	reviewsSection(&b, pending, now)

	w("## Reviews recorded this week\n\n")
	n := 0
	for _, inc := range append(append([]Incident(nil), prev...), week...) {
		if r := inc.Review; r != nil && !r.At.Before(now.Add(-7*24*time.Hour)) {
			n++
			w("- [%s](%s) %s, by %s %s%s\n", inc.ID, inc.URL, inc.Title, r.Actor, utc(r.At), link(r.URL))
		}
	}
	if n == 0 {
		w("None. The action items of each postmortem are tracked in its document.\n")
	}
	return b.String(), nil
}

// incidentTable writes incs as a table of their times.
func incidentTable(b *strings.Builder, incs []Incident, now time.Time) {
	fmt.Fprintf(b, "| Incident | Severity | Service | State | Opened | Duration | Detection | To mitigate | To resolve | Budget |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, inc := range incs {
		started := earliest(inc.DetectedAt, inc.OpenedAt)
		end := inc.ResolvedAt
		if end.IsZero() {
			end = now
		}
		budget := "-"
		if inc.BudgetConsumed != nil {
			budget = pct(*inc.BudgetConsumed)
		}
		fmt.Fprintf(b, "| [%s](%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", inc.ID, inc.URL, inc.Severity, inc.where(), inc.State,
			inc.OpenedAt.Format("Mon 2 Jan 15:04"), dur(end.Sub(started)), dur(inc.OpenedAt.Sub(inc.DetectedAt)),
			since(started, inc.MitigatedAt), since(started, inc.ResolvedAt), budget)
	}
	b.WriteString("\n")
}

// since returns the time from start to t, "-" when t is zero.
func since(start, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return dur(t.Sub(start))
}

// changesSection writes the rollouts and flag changes of es: the latest action
// of each rollout, then every other change.
func changesSection(b *strings.Builder, es []day2.AuditEntry) {
	if len(es) == 0 {
		b.WriteString("No deployment or flag change recorded.\n\n")
		return
	}
	latest := map[string]day2.AuditEntry{}
	var targets []string
	var others []day2.AuditEntry
	for _, e := range es {
		if strings.HasPrefix(e.Action, "rollout.") {
			if _, ok := latest[e.Target]; !ok {
				targets = append(targets, e.Target)
			}
			latest[e.Target] = e
			continue
		}
		others = append(others, e)
	}
	if len(targets) > 0 {
		b.WriteString("Rollouts (latest step of each):\n\n")
		for _, t := range targets {
			e := latest[t]
			fmt.Fprintf(b, "- %s: %s by %s at %s%s\n", t, e.Action, e.Actor, utc(e.At), reason(e.Reason))
		}
		b.WriteString("\n")
	}
	if len(others) > 0 {
		b.WriteString("Versions and flags:\n\n")
		for i := len(others) - 1; i >= 0 && i >= len(others)-50; i-- {
			e := others[i]
			fmt.Fprintf(b, "- %s %s %s by %s%s\n", utc(e.At), e.Action, e.Target, e.Actor, reason(e.Reason))
		}
		b.WriteString("\n")
	}
}

// reviewsSection writes the incidents whose review is pending.
func reviewsSection(b *strings.Builder, pending []Incident, now time.Time) {
	fmt.Fprintf(b, "## Postmortems pending (%d)\n\n", len(pending))
	for _, inc := range pending {
		due := inc.ResolvedAt.Add(ReviewDue)
		state := "due " + utc(due)
		if now.After(due) {
			state = "**overdue** since " + utc(due)
		}
		req := ""
		if inc.PostmortemRequired {
			req = " (required: over 20% of the error budget)"
		}
		fmt.Fprintf(b, "- [%s](%s) %s: %s, %s%s\n", inc.ID, inc.URL, inc.where(), inc.Title, state, req)
	}
	if len(pending) == 0 {
		b.WriteString("None.\n")
	}
	b.WriteString("\n")
}

// services returns the services to report the budget burn of: those day2
// has seen, else those of the incidents given.
func (s *Service) services(ctx context.Context, lists ...[]Incident) []string {
	seen := map[string]bool{}
	var out []string
	if s.o.Tasks != nil {
		if svcs, err := s.o.Tasks.ListServices(ctx); err == nil {
			for _, sv := range svcs {
				if !seen[sv.Service] {
					seen[sv.Service] = true
					out = append(out, sv.Service)
				}
			}
		} else {
			s.log.Warn("digest: list services", "err", err)
		}
	}
	for _, l := range lists {
		for _, inc := range l {
			if !seen[inc.Service] {
				seen[inc.Service] = true
				out = append(out, inc.Service)
			}
		}
	}
	sort.Strings(out)
	return out
}

// stats are the aggregate times of a week's incidents.
type stats struct {
	n, pages                       int
	detect, ack, mitigate, resolve durations
	budget                         float64
	budgetKnown                    bool
}

// durations collects durations for a mean.
type durations []time.Duration

func (d durations) mean() string {
	if len(d) == 0 {
		return "-"
	}
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return dur(sum / time.Duration(len(d)))
}

func (s stats) budgetText() string {
	if !s.budgetKnown {
		return "-"
	}
	return pct(s.budget)
}

func weekStats(incs []Incident) stats {
	var st stats
	for _, inc := range incs {
		st.n++
		if inc.Severity == SeverityPage {
			st.pages++
		}
		start := earliest(inc.DetectedAt, inc.OpenedAt)
		st.detect = append(st.detect, inc.OpenedAt.Sub(inc.DetectedAt))
		if !inc.AcknowledgedAt.IsZero() {
			st.ack = append(st.ack, inc.AcknowledgedAt.Sub(inc.OpenedAt))
		}
		if !inc.MitigatedAt.IsZero() {
			st.mitigate = append(st.mitigate, inc.MitigatedAt.Sub(start))
		}
		if !inc.ResolvedAt.IsZero() {
			st.resolve = append(st.resolve, inc.ResolvedAt.Sub(start))
		}
		if inc.BudgetConsumed != nil {
			st.budget += *inc.BudgetConsumed
			st.budgetKnown = true
		}
	}
	return st
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(oneLine(s, 120), "|", "\\|") }

func reason(r string) string {
	if r == "" {
		return ""
	}
	return ": " + oneLine(r, 200)
}

func link(u string) string {
	if u == "" {
		return ""
	}
	return ": " + u
}

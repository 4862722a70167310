package incident

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Postmortem returns a Markdown draft of the postmortem of incident id in the
// format of the Google SRE book's example postmortem: Date, Authors, Status,
// Summary, Impact, Root Causes, Trigger, Resolution, Detection, Action Items,
// Lessons Learned, Timeline and Supporting information. What day2 knows is
// filled in (the timeline in UTC, detection, mitigation and resolution times,
// the error budget consumed, the triage); the rest is left for the review.
func (s *Service) Postmortem(ctx context.Context, id string) (string, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	now := s.now().UTC()
	started := earliest(inc.DetectedAt, inc.OpenedAt)
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Postmortem: %s\n\n", inc.Title)
	w("**Date:** %s\n\n", started.Format("2006-01-02"))
	authors := actors(&inc)
	if len(authors) == 0 {
		w("**Authors:** _who ran the incident and wrote this review_\n\n")
	} else {
		w("**Authors:** %s _(the people on the timeline; edit)_\n\n", strings.Join(authors, ", "))
	}
	status := "Draft: the incident is still " + inc.State + "."
	if !inc.Open() {
		status = "Draft: incident resolved " + utc(inc.ResolvedAt) + "; review pending."
		if inc.Review != nil {
			status = "Reviewed " + utc(inc.Review.At) + " by " + inc.Review.Actor + "."
		}
	}
	if inc.PostmortemRequired {
		status += " A postmortem is required: the incident consumed more than 20% of the 4-week error budget."
	}
	w("**Status:** %s\n\n", status)

	w("## Summary\n\n%s: %s, severity %s, incident [%s](%s).\n\n", inc.where(), inc.Title, inc.Severity, inc.ID, inc.URL)

	w("## Impact\n\n")
	consumed := inc.BudgetConsumed
	if consumed == nil && s.o.SLOBudget != nil {
		end := inc.ResolvedAt
		if end.IsZero() {
			end = now
		}
		if f, ok := s.o.SLOBudget(ctx, inc.Service, started, end); ok {
			consumed = &f
		}
	}
	if consumed != nil {
		w("- Error budget consumed: **%s** of the service's 4-week budget.\n", pct(*consumed))
	} else {
		w("- Error budget consumed: unknown (no SLO data for %s).\n", inc.Service)
	}
	if t := inc.Triage; t != nil {
		for _, bd := range t.Breakdown {
			if bd.Failures > 0 {
				w("- %s %s: %d of %d tasks failed (%s) in the hour before the incident opened; %d escalated.\n",
					orNone(bd.Environment), orNone(bd.Version), bd.Failures, bd.Tasks, pct(bd.FailureRate), bd.Escalations)
			}
		}
	}
	w("- Customer and business impact: _fill in (tasks handled by hand, SLAs missed, users affected)_\n\n")

	w("## Root Causes\n\n_What made the failure possible (blameless: systems and processes, not people)._\n\n")
	w("## Trigger\n\n")
	if t := inc.Triage; t != nil && len(t.Changes) > 0 {
		w("Changes in the 24 hours before the incident (candidates):\n\n")
		for _, c := range t.Changes {
			rel := ""
			if c.Related {
				rel = " (this service)"
			}
			w("- %s %s %s by %s%s\n", utc(c.At), c.Action, c.Target, c.Actor, rel)
		}
		w("\n")
	} else {
		w("_What set it off. No deployment or flag change was recorded in the 24 hours before._\n\n")
	}

	w("## Resolution\n\n")
	var mitigations []Entry
	for _, e := range inc.Timeline {
		if e.Type == EntryMitigation {
			mitigations = append(mitigations, e)
		}
	}
	for _, e := range mitigations {
		w("- %s %s\n", utc(e.At), e.Text)
	}
	if len(mitigations) == 0 {
		w("_How the impact was stopped; no lever was pulled through day2._\n")
	}
	w("\n")

	w("## Detection\n\n")
	w("- First alert condition began: %s\n", utc(inc.DetectedAt))
	w("- Incident opened: %s (detection took %s)\n", utc(inc.OpenedAt), dur(inc.OpenedAt.Sub(inc.DetectedAt)))
	if !inc.AcknowledgedAt.IsZero() {
		w("- Acknowledged: %s (%s after opening)\n", utc(inc.AcknowledgedAt), dur(inc.AcknowledgedAt.Sub(inc.OpenedAt)))
	}
	if !inc.MitigatedAt.IsZero() {
		w("- Mitigated: %s (time to mitigate %s from detection)\n", utc(inc.MitigatedAt), dur(inc.MitigatedAt.Sub(started)))
	}
	if !inc.ResolvedAt.IsZero() {
		w("- Resolved: %s (time to resolve %s from detection)\n", utc(inc.ResolvedAt), dur(inc.ResolvedAt.Sub(started)))
	}
	w("- Alerts:\n")
	for _, a := range inc.Alerts {
		w("  - %s %s: %s (since %s)\n", a.Source, a.Key, a.Summary, utc(a.StartsAt))
	}
	w("- What detection missed: _fill in_\n\n")

	w("## Action Items\n\n| Action Item | Type | Owner | Bug |\n|---|---|---|---|\n")
	w("| _Update the runbook %q with what this incident taught_ | mitigate | | |\n", inc.Runbook)
	w("| _Review the SLO and error budget policy of %s_ | prevent | | |\n", inc.Service)
	w("| | | | |\n\n")

	w("## Lessons Learned\n\n### What went well\n\n- \n\n### What went wrong\n\n- \n\n### Where we got lucky\n\n- \n\n")

	w("## Timeline\n\nAll times UTC.\n\n")
	tl := append([]Entry(nil), inc.Timeline...)
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].At.Before(tl[j].At) })
	for _, e := range tl {
		w("- **%s** [%s] %s: %s\n", e.At.UTC().Format("2006-01-02 15:04:05"), e.Type, e.Actor, e.Text)
	}
	if inc.TimelineDropped > 0 {
		w("- (%d alert entries were dropped to keep the timeline short)\n", inc.TimelineDropped)
	}
	w("\n## Supporting information\n\n")
	l := s.links(&inc)
	w("- Incident: %s\n- Runbook: %s\n- SLO dashboard: %s\n- Tasks: %s\n", l.Incident, l.Runbook, l.Dashboard, l.Tasks)
	if inc.RunbookURL != "" {
		w("- Runbook linked by the alert: %s\n", inc.RunbookURL)
	}
	if t := inc.Triage; t != nil {
		for _, ft := range t.FailingTasks {
			w("- Failed task: %s (%d tool failures)\n", ft.URL, ft.ToolFailures)
		}
	}
	for _, a := range inc.Alerts {
		if a.URL != "" {
			w("- Alert source: %s\n", a.URL)
		}
	}
	if inc.Review != nil && inc.Review.URL != "" {
		w("- Review: %s\n", inc.Review.URL)
	}
	return b.String(), nil
}

// actors returns the people on inc's timeline, in order of appearance.
func actors(inc *Incident) []string {
	seen := map[string]bool{SystemActor: true}
	var out []string
	for _, e := range inc.Timeline {
		if !seen[e.Actor] && e.Actor != "" {
			seen[e.Actor] = true
			out = append(out, e.Actor)
		}
	}
	return out
}

// utc formats t as a UTC time, "-" when zero.
func utc(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// dur formats a duration rounded to the second.
func dur(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return d.Round(time.Second).String()
}

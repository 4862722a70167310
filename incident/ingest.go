package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

// Ingest files alerts into incidents. Alerts are grouped by the grouping
// labels (service and environment by default): an open incident of the group
// absorbs them, otherwise a firing alert opens a new incident, triggered, with
// the severity and title of its first alert, a triage summary, a matched
// runbook and an incident.triggered notification at once.
//
// An alert joining, resolving or firing again is written on the timeline at
// once, but announced in one incident.updated message per group interval
// (Tick sends the ones that wait); a repeat of an alert already known in the
// same status changes nothing. A page alert joining a ticket incident raises
// it to page. When every alert of an incident has resolved the timeline says
// so, and the incident stays open until a person resolves it. A resolved alert
// with no open incident of its group is ignored.
//
// Every alert must be valid (see Alert.Validate); otherwise nothing is
// ingested and the error names the first bad alert.
func (s *Service) Ingest(ctx context.Context, alerts []Alert) error {
	now := s.now().UTC()
	type group struct {
		key    string
		alerts []Alert
	}
	var groups []*group
	byKey := map[string]*group{}
	onlyOpen := map[string]string{} // by service: the only open incident's group, looked up once
	for i := range alerts {
		a := alerts[i]
		a.Service, a.Environment = strings.TrimSpace(a.Service), strings.TrimSpace(a.Environment)
		if err := a.Validate(); err != nil {
			if len(alerts) > 1 {
				return fmt.Errorf("alert %d: %w", i, err)
			}
			return err
		}
		if a.StartsAt.IsZero() || a.StartsAt.After(now) {
			a.StartsAt = now
		}
		a.StartsAt = a.StartsAt.UTC()
		k := s.groupKey(&a)
		if a.Environment == "" {
			open, seen := onlyOpen[a.Service]
			if !seen {
				open, _ = s.onlyOpenGroup(ctx, a.Service)
				onlyOpen[a.Service] = open
			}
			if open != "" {
				k = open
			}
		}
		g := byKey[k]
		if g == nil {
			g = &group{key: k}
			byKey[k] = g
			groups = append(groups, g)
		}
		g.alerts = append(g.alerts, a)
	}
	var errs []error
	for _, g := range groups {
		if err := s.ingestGroup(ctx, g.key, g.alerts, now); err != nil {
			errs = append(errs, fmt.Errorf("alerts of %s: %w", g.key, err))
		}
	}
	return errors.Join(errs...)
}

// ingestGroup files the alerts of one group, retrying when another writer
// changed the group's incident (or opened one) meanwhile.
func (s *Service) ingestGroup(ctx context.Context, key string, alerts []Alert, now time.Time) error {
	var tri *Triage
	for attempt := 0; ; attempt++ {
		var inc Incident
		var ch change
		rec, err := s.o.Records.FindRecord(ctx, KindIncident, key)
		switch {
		case err == nil:
			if inc, err = decode(rec); err != nil {
				return err
			}
			changed := false
			for i := range alerts {
				changed = s.absorb(&inc, &alerts[i], now, false) || changed
			}
			if !changed {
				return nil
			}
			ch.msgs = s.maybeFlush(&inc, now)
		case day2.ErrorCode(err) == day2.ENotFound:
			var firing []int
			for i := range alerts {
				if alerts[i].Status == StatusFiring {
					firing = append(firing, i)
				}
			}
			if len(firing) == 0 {
				return nil
			}
			if tri == nil {
				first := &alerts[firing[0]]
				tri = s.triage(ctx, first.Service, first.Environment, now)
			}
			inc, ch = s.open(ctx, key, alerts, firing[0], tri, now)
		default:
			return err
		}
		_, err = s.put(ctx, inc, ch)
		if err == nil {
			return nil
		}
		if day2.ErrorCode(err) != day2.EConflict || attempt+1 >= maxAttempts {
			return err
		}
	}
}

// open returns a new incident opened by alerts[first] and joined by the other
// alerts of its batch, with its triggered message and audit entry.
func (s *Service) open(ctx context.Context, key string, alerts []Alert, first int, tri *Triage, now time.Time) (Incident, change) {
	a := &alerts[first]
	id := newID(now)
	inc := Incident{
		ID: id, Title: a.title(), Service: a.Service, Environment: a.Environment, Severity: a.Severity,
		State: StateTriggered, GroupKey: key, URL: s.url("/incidents/" + id),
		DetectedAt: a.StartsAt, OpenedAt: now, LastUpdateSentAt: now, Triage: tri,
	}
	inc.Runbook, inc.RunbookURL = s.matchRunbook(a)
	inc.add(Entry{At: now, Actor: SystemActor, Type: EntryState, Text: "incident triggered by " + a.Source + " alert: " + oneLine(a.Summary, 300),
		Data: map[string]any{"to": StateTriggered, "alert": a.Key}})
	s.absorb(&inc, a, now, true)
	for i := range alerts {
		if i != first {
			s.absorb(&inc, &alerts[i], now, true)
		}
	}
	if tri != nil {
		inc.add(Entry{At: now, Actor: SystemActor, Type: EntryTriage, Text: tri.headline()})
	}
	summary := inc.Title
	if n := len(inc.Alerts); n > 1 {
		summary += fmt.Sprintf(" (%d alerts)", n)
	}
	if tri != nil {
		if h := tri.headline(); h != "" {
			summary += ". " + h
		}
	}
	m := s.message(&inc, notify.EventIncidentTriggered, now, summary)
	audit := auditEntry(now, SystemActor, "incident.trigger", &inc, a.Summary, nil,
		map[string]any{"state": StateTriggered, "severity": inc.Severity, "service": inc.Service, "environment": inc.Environment, "alert": a.Key})
	return inc, change{msgs: []notify.Message{m}, audit: []day2.AuditEntry{audit}}
}

// absorb files alert a into inc and reports whether the incident changed in a
// way worth telling: a new alert, an alert resolving or firing again, the
// severity raised, or every alert resolved. opening is true while the
// incident is being opened (the triggered message tells about those).
func (s *Service) absorb(inc *Incident, a *Alert, now time.Time, opening bool) bool {
	var lines []string
	idx := -1
	for i := range inc.Alerts {
		if inc.Alerts[i].Key == a.Key {
			idx = i
			break
		}
	}
	switch {
	case idx >= 0:
		ref := &inc.Alerts[idx]
		if ref.Status == a.Status {
			return false
		}
		ref.Status = a.Status
		if a.Summary != "" {
			ref.Summary = a.Summary
		}
		text := "alert firing again: " + oneLine(ref.Summary, 300)
		if a.Status == StatusResolved {
			ref.ResolvedAt = now
			text = "alert resolved: " + oneLine(ref.Summary, 300)
		} else {
			ref.ResolvedAt = time.Time{}
		}
		inc.add(Entry{At: now, Actor: SystemActor, Type: EntryAlert, Text: text, Data: map[string]any{"key": a.Key, "status": a.Status}})
		lines = append(lines, text)
	case a.Status == StatusResolved:
		return false // never joined this incident
	case len(inc.Alerts) >= maxAlerts:
		inc.DroppedAlerts++
		return false
	default:
		inc.Alerts = append(inc.Alerts, AlertRef{
			Key: a.Key, Source: a.Source, Status: a.Status, Severity: a.Severity, Summary: a.Summary,
			Details: a.Details, Labels: a.Labels, Runbook: a.Runbook, URL: a.URL, StartsAt: a.StartsAt, FirstSeen: now,
		})
		if a.StartsAt.Before(inc.DetectedAt) {
			inc.DetectedAt = a.StartsAt
		}
		text := "alert firing: " + oneLine(a.Summary, 300)
		inc.add(Entry{At: now, Actor: SystemActor, Type: EntryAlert, Text: text,
			Data: map[string]any{"key": a.Key, "source": a.Source, "severity": a.Severity, "status": a.Status}})
		lines = append(lines, text)
		if a.Severity == SeverityPage && inc.Severity != SeverityPage {
			inc.Severity = SeverityPage
			t := "severity raised to page by alert " + a.Key
			inc.add(Entry{At: now, Actor: SystemActor, Type: EntryAlert, Text: t, Data: map[string]any{"severity": SeverityPage}})
			lines = append(lines, t)
		}
	}
	firing := inc.Firing()
	switch {
	case firing == 0 && inc.AllAlertsResolvedAt.IsZero():
		inc.AllAlertsResolvedAt = now
		t := "all alerts resolved; verify recovery, then resolve the incident"
		inc.add(Entry{At: now, Actor: SystemActor, Type: EntryAlert, Text: t})
		lines = append(lines, t)
	case firing > 0:
		inc.AllAlertsResolvedAt = time.Time{}
	}
	if !opening {
		inc.UpdatePending = true
		inc.PendingCount += len(lines)
		for _, l := range lines {
			if len(inc.PendingChanges) < maxPending {
				inc.PendingChanges = append(inc.PendingChanges, l)
			}
		}
	}
	return true
}

// maybeFlush returns the incident.updated message of inc's pending changes
// when the group interval since the last message has passed, and marks them
// told.
func (s *Service) maybeFlush(inc *Incident, now time.Time) []notify.Message {
	if !inc.UpdatePending || !inc.Open() || now.Before(inc.LastUpdateSentAt.Add(s.o.GroupInterval)) {
		return nil
	}
	summary := fmt.Sprintf("%d change(s) since the last message; %d of %d alerts firing", inc.PendingCount, inc.Firing(), len(inc.Alerts))
	if len(inc.PendingChanges) > 0 {
		summary += ": " + strings.Join(inc.PendingChanges, "; ")
		if more := inc.PendingCount - len(inc.PendingChanges); more > 0 {
			summary += fmt.Sprintf("; and %d more", more)
		}
	}
	inc.UpdatesSent++
	m := s.message(inc, notify.EventIncidentUpdated, now, summary)
	inc.clearPending()
	inc.LastUpdateSentAt = now
	return []notify.Message{m}
}

// message returns the notification of event about inc.
//
// Its Seq is the revision the incident's write will have, so two messages of
// one event about one incident never share an outbox key, and a write retried
// after a conflict enqueues its message once.
func (s *Service) message(inc *Incident, event string, now time.Time, summary string) notify.Message {
	facts := []notify.Fact{
		{Name: "Alerts firing", Value: fmt.Sprintf("%d of %d", inc.Firing(), len(inc.Alerts))},
		{Name: "Opened", Value: inc.OpenedAt.UTC().Format(time.RFC3339)},
	}
	if inc.Runbook != "" {
		facts = append(facts, notify.Fact{Name: "Runbook", Value: s.url("/api/v1/incidents/" + inc.ID + "/runbook")})
	}
	if inc.BudgetConsumed != nil {
		facts = append(facts, notify.Fact{Name: "Error budget consumed", Value: pct(*inc.BudgetConsumed)})
	}
	return notify.Message{
		Event: event, Service: inc.Service, Environment: inc.Environment, Severity: inc.Severity,
		Title: inc.Title, Summary: summary, NextSteps: s.nextSteps(inc), URL: inc.URL, DedupKey: inc.ID,
		Facts: facts, Incident: s.ref(inc), At: now, Seq: "r" + strconv.FormatInt(inc.Rev+1, 10),
	}
}

// nextSteps says what the people told about inc should do now.
func (s *Service) nextSteps(inc *Incident) []string {
	id := inc.ID
	switch inc.State {
	case StateTriggered:
		return []string{
			"Acknowledge: day2 incident ack " + id,
			"Follow the runbook: day2 incident show " + id + " (runbook at " + s.url("/api/v1/incidents/"+id+"/runbook") + ")",
			"Mitigate now, e.g.: day2 incident mitigate " + id + " --lever canary_to_zero --reason \"...\"",
		}
	case StateAcknowledged:
		return []string{
			"Mitigate: day2 incident mitigate " + id + " --lever canary_to_zero|flag|force_manual|override --reason \"...\"",
			"Post customer impact, ETA and next steps: day2 incident note " + id + " \"...\"",
		}
	case StateMitigated:
		return []string{
			"Verify the SLIs recovered: " + s.url("/slos?service="+inc.Service),
			"Resolve: day2 incident resolve " + id,
		}
	}
	return []string{
		"Run the blameless review within 72 hours: day2 incident postmortem " + id,
		"Record it: POST " + s.url("/api/v1/incidents/"+id+"/review"),
	}
}

// pct writes a fraction as a percentage.
func pct(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" }

// onlyOpenGroup returns the group key of the service's open incident when it
// has exactly one and the grouping splits by environment. An alert without an
// environment (SLO burn-rate alerts judge a service across its environments)
// then joins that incident instead of opening a second one for the same
// outage.
func (s *Service) onlyOpenGroup(ctx context.Context, service string) (string, bool) {
	if !slices.Contains(s.o.Grouping, "environment") && !slices.Contains(s.o.Grouping, "env") {
		return "", false
	}
	recs, err := s.o.Records.ListRecords(ctx, day2.RecordFilter{Kind: KindIncident, Service: service, States: OpenStates, Limit: 2})
	if err != nil || len(recs) != 1 || recs[0].Key == "" {
		return "", false
	}
	return recs[0].Key, true
}

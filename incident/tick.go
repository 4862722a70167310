package incident

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

// Tick does what is due: it evaluates the alert rules (when Options.Rules is
// set) and ingests their alerts, sends the batched incident.updated messages
// whose group interval has passed, repeats incidents nobody mitigated for
// RepeatInterval, and reminds of reviews still missing 72
// hours after resolution (once per incident). One replica runs it.
func (s *Service) Tick(ctx context.Context) error {
	now := s.now().UTC()
	var errs []error
	if s.o.Rules != nil {
		alerts, err := s.o.Rules.Tick(ctx, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("alert rules: %w", err))
		}
		if len(alerts) > 0 {
			if err := s.Ingest(ctx, alerts); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for page := 0; page < 10; page++ {
		recs, err := s.o.Records.ListRecords(ctx, day2.RecordFilter{Kind: KindIncident, DueBefore: now, Order: day2.DueFirst, Limit: 100})
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, r := range recs {
			if _, err := s.updateFrom(ctx, r.ID, &r, func(inc *Incident, now time.Time) (change, error) {
				return s.dueWork(inc, now), nil
			}); err != nil {
				errs = append(errs, err)
			}
		}
		if len(recs) < 100 {
			break
		}
	}
	return errors.Join(errs...)
}

// dueWork does what is due for inc at now: the batched update, or the review
// reminder. Storing inc afterwards recomputes its due time, so an incident
// with nothing left to do drops out of the due list.
func (s *Service) dueWork(inc *Incident, now time.Time) change {
	var ch change
	ch.msgs = s.maybeFlush(inc, now)
	if len(ch.msgs) == 0 && s.repeats(inc) && !now.Before(inc.LastUpdateSentAt.Add(s.o.RepeatInterval)) {
		text := fmt.Sprintf("still %s after %s, %d of %d alerts firing; nobody has mitigated it yet",
			inc.State, dur(now.Sub(inc.OpenedAt)), inc.Firing(), len(inc.Alerts))
		inc.add(Entry{At: now, Actor: SystemActor, Type: EntryReminder, Text: text})
		inc.UpdatesSent++
		inc.LastUpdateSentAt = now
		ch.msgs = append(ch.msgs, s.message(inc, notify.EventIncidentUpdated, now, "Reminder: "+text))
	}
	if s.wantsReminder(inc) && !now.Before(inc.ResolvedAt.Add(ReviewDue)) {
		inc.ReminderSentAt = now
		text := fmt.Sprintf("no post-incident review recorded %s after resolution; hold the blameless review and record it", dur(now.Sub(inc.ResolvedAt)))
		if inc.PostmortemRequired {
			text += " (a postmortem is required: the incident consumed more than 20% of the error budget)"
		}
		inc.add(Entry{At: now, Actor: SystemActor, Type: EntryReminder, Text: text})
		m := s.message(inc, notify.EventIncidentUpdated, now, "Review due: "+text)
		ch.msgs = append(ch.msgs, m)
	}
	return ch
}

// Run calls Tick every interval until ctx ends, logging its errors.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("incident tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

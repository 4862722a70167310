package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

// The events Options.Notify receives; they are notify's approval events.
const (
	// EventPending: a request waits for a person.
	EventPending = notify.EventApprovalPending
	// EventReminder: a request still waits (a reminder, or its escalation, in
	// which case Event.Escalated is true).
	EventReminder = notify.EventApprovalReminder
	// EventDecided: a request that waited was approved, rejected or expired.
	EventDecided = notify.EventApprovalDecided
)

// Event is something people should hear about an approval request.
type Event struct {
	// Type is EventPending, EventReminder or EventDecided.
	Type    string
	At      time.Time
	Request Request
	// Escalated is set on the reminder sent when the request escalates.
	Escalated bool
	// Title and Summary say what happened in words.
	Title   string
	Summary string
	// Audience is who should act: the tier's approvers, plus the escalation
	// groups once the request escalated.
	Audience ApproverSet
	// URL links to the request in day2 ("" without Options.BaseURL).
	URL string
	// Seq tells apart two events of one type about one request (the reminders).
	Seq string
}

// Message returns the event as a notification for package notify's outbox:
// Options.Notify can be `func(ctx, ev) []day2.Record { return outbox.Prepare(ev.Message()) }`.
func (ev *Event) Message() notify.Message {
	r := &ev.Request
	facts := []notify.Fact{
		{Name: "Action", Value: r.Action},
		{Name: "Tier", Value: strconv.Itoa(r.Tier)},
		{Name: "Requester", Value: r.Requester},
		{Name: "State", Value: r.State},
	}
	if r.Amount != nil {
		facts = append(facts, notify.Fact{Name: "Amount", Value: strconv.FormatFloat(*r.Amount, 'f', -1, 64)})
	}
	if r.TaskID != "" {
		facts = append(facts, notify.Fact{Name: "Task", Value: r.TaskID})
	}
	if r.State == StatePending {
		facts = append(facts, notify.Fact{Name: "Expires", Value: r.ExpiresAt.UTC().Format(time.RFC3339)},
			notify.Fact{Name: "Approvers", Value: ev.Audience.String()})
	}
	facts = append(facts, notify.Fact{Name: "Why", Value: r.Reason})
	var next []string
	if r.State == StatePending {
		next = []string{
			"approve: day2 approvals approve " + r.ID + " --comment '...'",
			"reject: day2 approvals reject " + r.ID + " --comment '...'",
		}
	}
	doc, _ := json.Marshal(r)
	return notify.Message{Event: ev.Type, Service: r.Service, Environment: r.Environment, Title: ev.Title,
		Summary: ev.Summary, NextSteps: next, URL: ev.URL, DedupKey: r.ID, Facts: facts, Approval: doc,
		At: ev.At, Seq: ev.Seq}
}

// event returns the outbox records of an event about r, nil without Notify.
func (s *Service) event(ctx context.Context, typ string, r *Request, now time.Time, seq string) []day2.Record {
	if s.notify == nil || typ == "" {
		return nil
	}
	ev := Event{Type: typ, At: now, Request: *r, Audience: r.Approvers, Seq: seq}
	if s.baseURL != "" {
		ev.URL = s.baseURL + "/approvals/" + r.ID
	}
	what := fmt.Sprintf("%s of %s", r.Action, r.Service)
	if r.Amount != nil {
		what += fmt.Sprintf(" (amount %s)", strconv.FormatFloat(*r.Amount, 'f', -1, 64))
	}
	switch {
	case typ == EventPending:
		ev.Title = fmt.Sprintf("Tier %d approval needed: %s", r.Tier, what)
		ev.Summary = fmt.Sprintf("%s asks to %s. %s. Decide before %s, or it expires and is denied.",
			r.Requester, r.Action, r.Reason, r.ExpiresAt.UTC().Format(time.RFC3339))
	case typ == EventReminder && seq == "escalated":
		ev.Escalated = true
		ev.Audience = ApproverSet{Groups: append(append([]string(nil), r.Approvers.Groups...), r.EscalationGroups...), Names: r.Approvers.Names}
		ev.Title = fmt.Sprintf("Escalated: Tier %d approval still waiting: %s", r.Tier, what)
		ev.Summary = fmt.Sprintf("Nobody has decided since %s; %s may now decide too. It expires at %s.",
			r.CreatedAt.UTC().Format(time.RFC3339), ApproverSet{Groups: r.EscalationGroups}, r.ExpiresAt.UTC().Format(time.RFC3339))
	case typ == EventReminder:
		if r.Escalated {
			ev.Audience = ApproverSet{Groups: append(append([]string(nil), r.Approvers.Groups...), r.EscalationGroups...), Names: r.Approvers.Names}
		}
		ev.Title = fmt.Sprintf("Reminder: Tier %d approval still waiting: %s", r.Tier, what)
		ev.Summary = fmt.Sprintf("Waiting since %s; it expires and is denied at %s.",
			r.CreatedAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339))
	case r.State == StateExpired:
		ev.Title = fmt.Sprintf("Expired (denied): %s", what)
		ev.Summary = fmt.Sprintf("Nobody decided before %s, so the request was denied.", r.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		ev.Title = fmt.Sprintf("%s by %s: %s", map[string]string{StateApproved: "Approved", StateRejected: "Rejected"}[r.State], r.DecidedBy, what)
		ev.Summary = r.Comment
	}
	return s.notify(ctx, ev)
}

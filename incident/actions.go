package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

// Levers a LeverRequest can pull.
const (
	LeverCanaryToZero = "canary_to_zero"
	LeverFlag         = "flag"
	LeverForceManual  = "force_manual"
	LeverOverride     = "override"
)

// LeverNames lists the levers in the order of the runbook.
var LeverNames = []string{LeverCanaryToZero, LeverFlag, LeverForceManual, LeverOverride}

// OverrideNames lists the overrides an override lever may set, as the flag
// "override.<service>.<name>" the agents read.
var OverrideNames = []string{"temperature_cap", "tool_allowlist", "retry_budget", "timeout_ms"}

// LeverRequest asks Mitigate to pull one lever. A zero Lever only moves the
// incident to mitigated.
type LeverRequest struct {
	// Lever is canary_to_zero, flag, force_manual or override.
	Lever string `json:"lever"`
	// Flag and On are the flag lever's key and new value.
	Flag string `json:"flag,omitempty"`
	// On is the flag lever's value (required) and force_manual's (default on).
	On *bool `json:"on,omitempty"`
	// Name and Value are the override lever's: Name one of OverrideNames;
	// Value a number from 0 to 2 (temperature_cap), a list of tool names
	// (tool_allowlist: a JSON list or a comma-separated string), a whole number
	// of zero or more (retry_budget) or above zero (timeout_ms).
	Name  string `json:"name,omitempty"`
	Value any    `json:"value,omitempty"`
	// Reason says why; it is required to pull a lever.
	Reason string `json:"reason,omitempty"`
}

// Ack acknowledges incident id: someone is on it. Only a triggered incident
// can be acknowledged.
func (s *Service) Ack(ctx context.Context, actor, id, reason string) (Incident, error) {
	return s.transition(ctx, actor, id, reason, StateAcknowledged, "incident.ack", notify.EventIncidentAcknowledged)
}

// Resolve resolves incident id: the service has recovered. Resolved is final.
// The error budget the incident consumed is recorded (when SLOBudget is set),
// and an incident that consumed more than 20% of a 4-week budget is marked
// postmortem_required.
func (s *Service) Resolve(ctx context.Context, actor, id, reason string) (Incident, error) {
	return s.transition(ctx, actor, id, reason, StateResolved, "incident.resolve", notify.EventIncidentResolved)
}

// order ranks the states; an incident only moves forward.
var order = map[string]int{StateTriggered: 0, StateAcknowledged: 1, StateMitigated: 2, StateResolved: 3}

// transition moves incident id to state by hand.
func (s *Service) transition(ctx context.Context, actor, id, reason, state, action, event string) (Incident, error) {
	if err := checkActor(actor); err != nil {
		return Incident{}, err
	}
	var budget *float64
	var read *day2.Record
	if state == StateResolved && s.o.SLOBudget != nil {
		inc, rec, err := s.load(ctx, id)
		if err != nil {
			return inc, err
		}
		read = &rec
		if inc.Open() {
			if f, ok := s.o.SLOBudget(ctx, inc.Service, earliest(inc.DetectedAt, inc.OpenedAt), s.now().UTC()); ok {
				budget = &f
			}
		}
	}
	return s.updateFrom(ctx, id, read, func(inc *Incident, now time.Time) (change, error) {
		if err := s.checkMove(inc, state); err != nil {
			return change{}, err
		}
		before := inc.State
		s.setState(inc, state, now)
		text := fmt.Sprintf("%s by %s", state, actor)
		if reason != "" {
			text += ": " + oneLine(reason, 500)
		}
		inc.add(Entry{At: now, Actor: actor, Type: EntryState, Text: text, Data: map[string]any{"from": before, "to": state}})
		summary := text
		if state == StateResolved {
			if budget != nil {
				inc.BudgetConsumed = budget
				inc.PostmortemRequired = *budget > PostmortemBudgetShare
			}
			summary = fmt.Sprintf("%s after %s", text, now.Sub(inc.OpenedAt).Round(time.Second))
			if inc.PostmortemRequired {
				summary += fmt.Sprintf("; it consumed %s of the error budget, so a postmortem is required", pct(*inc.BudgetConsumed))
			}
		}
		return change{
			msgs:  []notify.Message{s.message(inc, event, now, summary)},
			audit: []day2.AuditEntry{auditEntry(now, actor, action, inc, reason, map[string]string{"state": before}, map[string]string{"state": state})},
		}, nil
	})
}

// checkMove returns an EConflict error when inc cannot move to state.
func (s *Service) checkMove(inc *Incident, state string) error {
	switch {
	case !inc.Open():
		return day2.Errorf(day2.EConflict, "incident %s is resolved, which is final; a new alert opens a new incident", inc.ID)
	case inc.State == state:
		return day2.Errorf(day2.EConflict, "incident %s is already %s", inc.ID, state)
	case order[state] < order[inc.State]:
		return day2.Errorf(day2.EConflict, "incident %s is %s, past %s; incidents only move forward (triggered, acknowledged, mitigated, resolved)", inc.ID, inc.State, state)
	}
	return nil
}

// setState moves inc to state at now, keeping the time of each step and
// clearing its group key when it resolves (a new alert then opens a new
// incident).
func (s *Service) setState(inc *Incident, state string, now time.Time) {
	inc.State = state
	switch state {
	case StateAcknowledged:
		inc.AcknowledgedAt = now
	case StateMitigated:
		inc.MitigatedAt = now
	case StateResolved:
		inc.ResolvedAt = now
		inc.clearPending()
	}
}

// Mitigate records a mitigation of incident id. With a lever it pulls the
// lever through Levers first, writes the outcome (or the error) on the
// timeline, and moves the incident to mitigated when the lever worked, unless
// it is already mitigated or resolved; a lever that failed is returned as the
// error after being recorded. Without a lever it only moves the incident to
// mitigated (someone mitigated it by other means).
func (s *Service) Mitigate(ctx context.Context, actor, id string, lever LeverRequest) (Incident, error) {
	if err := checkActor(actor); err != nil {
		return Incident{}, err
	}
	if lever.Lever == "" {
		return s.transition(ctx, actor, id, lever.Reason, StateMitigated, "incident.mitigate", notify.EventIncidentMitigated)
	}
	if s.o.Levers == nil {
		return Incident{}, day2.Errorf(day2.EUnavailable, "levers are not configured: day2 runs without the release, flag and approval capabilities; mitigate by other means and record it with mitigate without a lever")
	}
	if err := lever.normalize(); err != nil {
		return Incident{}, err
	}
	inc, rec, err := s.load(ctx, id)
	if err != nil {
		return inc, err
	}
	desc, leverErr := s.pull(ctx, actor, &inc, &lever)
	stored, err := s.updateFrom(ctx, id, &rec, func(inc *Incident, now time.Time) (change, error) {
		data := map[string]any{"lever": lever.Lever, "ok": leverErr == nil}
		switch lever.Lever {
		case LeverFlag:
			data["flag"], data["on"] = lever.Flag, *lever.On
		case LeverForceManual:
			data["on"] = *lever.On
		case LeverOverride:
			data["name"], data["value"] = lever.Name, lever.Value
		}
		text := desc + " by " + actor + ": " + oneLine(lever.Reason, 500)
		if leverErr != nil {
			data["error"] = day2.ErrorMessage(leverErr)
			text = "FAILED: " + text + " (" + day2.ErrorMessage(leverErr) + ")"
		}
		inc.add(Entry{At: now, Actor: actor, Type: EntryMitigation, Text: text, Data: data})
		ch := change{audit: []day2.AuditEntry{auditEntry(now, actor, "incident.mitigate", inc, lever.Reason,
			map[string]string{"state": inc.State}, data)}}
		if leverErr == nil && inc.Open() && inc.State != StateMitigated {
			before := inc.State
			s.setState(inc, StateMitigated, now)
			inc.add(Entry{At: now, Actor: actor, Type: EntryState, Text: "mitigated by " + actor + ": " + desc,
				Data: map[string]any{"from": before, "to": StateMitigated}})
			ch.msgs = append(ch.msgs, s.message(inc, notify.EventIncidentMitigated, now, "Mitigated: "+desc+" ("+oneLine(lever.Reason, 300)+")"))
		} else if leverErr == nil && inc.Open() {
			ch.msgs = append(ch.msgs, s.message(inc, notify.EventIncidentUpdated, now, "Further mitigation: "+desc+" ("+oneLine(lever.Reason, 300)+")"))
		}
		return ch, nil
	})
	if err != nil {
		if leverErr == nil {
			s.log.Error("a mitigation lever was pulled but could not be recorded on the incident", "incident", id,
				"lever", lever.Lever, "actor", actor, "err", err)
		}
		return stored, err
	}
	if leverErr != nil {
		return stored, fmt.Errorf("%s failed: %w", desc, leverErr)
	}
	return stored, nil
}

// normalize checks the request and fills its defaults.
func (r *LeverRequest) normalize() error {
	r.Reason = strings.TrimSpace(r.Reason)
	if r.Reason == "" {
		return day2.Errorf(day2.EInvalid, "a reason is required to pull a lever: say why, for the timeline and the audit log")
	}
	switch r.Lever {
	case LeverCanaryToZero:
	case LeverFlag:
		if strings.TrimSpace(r.Flag) == "" {
			return day2.Errorf(day2.EInvalid, "the flag lever needs flag: the key of the flag or kill switch to set")
		}
		if r.On == nil {
			return day2.Errorf(day2.EInvalid, "the flag lever needs on: true or false (the flag's new value)")
		}
	case LeverForceManual:
		if r.On == nil {
			on := true
			r.On = &on
		}
	case LeverOverride:
		if !slices.Contains(OverrideNames, r.Name) {
			return day2.Errorf(day2.EInvalid, "override name %q is unknown; use one of %s", r.Name, strings.Join(OverrideNames, ", "))
		}
		v, err := overrideValue(r.Name, r.Value)
		if err != nil {
			return err
		}
		r.Value = v
	default:
		return day2.Errorf(day2.EInvalid, "lever %q is unknown; use one of %s", r.Lever, strings.Join(LeverNames, ", "))
	}
	return nil
}

// overrideValue checks and converts the value of override name: a float64
// for temperature_cap, a []string for tool_allowlist, an int for the others.
func overrideValue(name string, v any) (any, error) {
	if v == nil {
		return nil, day2.Errorf(day2.EInvalid, "the override lever needs value: the new %s", name)
	}
	if name == "tool_allowlist" {
		var tools []string
		switch x := v.(type) {
		case string:
			for _, t := range strings.Split(x, ",") {
				if t = strings.TrimSpace(t); t != "" {
					tools = append(tools, t)
				}
			}
		case []string:
			tools = x
		case []any:
			for _, e := range x {
				t, ok := e.(string)
				if !ok {
					return nil, day2.Errorf(day2.EInvalid, "tool_allowlist must list tool names as strings")
				}
				tools = append(tools, t)
			}
		default:
			return nil, day2.Errorf(day2.EInvalid, "tool_allowlist must be a list of tool names, such as [\"crm.lookup\", \"kb.search\"] or \"crm.lookup,kb.search\"")
		}
		if len(tools) == 0 {
			return nil, day2.Errorf(day2.EInvalid, "tool_allowlist is empty; list the tools the agent may still call")
		}
		return tools, nil
	}
	f, isNumber := day2.Number(v)
	switch x := v.(type) {
	case json.Number:
		if !isNumber {
			return nil, day2.Errorf(day2.EInvalid, "%s must be a number, not %q", name, x)
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return nil, day2.Errorf(day2.EInvalid, "%s must be a number, not %q", name, x)
		}
	default:
		if !isNumber {
			return nil, day2.Errorf(day2.EInvalid, "%s must be a number", name)
		}
	}
	switch name {
	case "temperature_cap":
		if math.IsNaN(f) || f < 0 || f > 2 {
			return nil, day2.Errorf(day2.EInvalid, "temperature_cap must be between 0 and 2, such as 0.2")
		}
		return f, nil
	case "retry_budget":
		if f != math.Trunc(f) || f < 0 || f > 100 {
			return nil, day2.Errorf(day2.EInvalid, "retry_budget must be a whole number from 0 to 100, such as 1")
		}
	case "timeout_ms":
		if f != math.Trunc(f) || f < 1 || f > 3_600_000 {
			return nil, day2.Errorf(day2.EInvalid, "timeout_ms must be a whole number of milliseconds from 1 to 3600000, such as 30000")
		}
	}
	return int(f), nil
}

// pull runs lever r for inc and describes it.
func (s *Service) pull(ctx context.Context, actor string, inc *Incident, r *LeverRequest) (string, error) {
	reason := fmt.Sprintf("incident %s: %s", inc.ID, r.Reason)
	switch r.Lever {
	case LeverCanaryToZero:
		return fmt.Sprintf("canary weight of %s set to 0", inc.where()),
			s.o.Levers.SetCandidateWeight(ctx, actor, inc.Service, inc.Environment, 0, reason)
	case LeverFlag:
		return fmt.Sprintf("flag %s turned %s", r.Flag, onOff(*r.On)), s.o.Levers.SetFlag(ctx, actor, r.Flag, *r.On, reason)
	case LeverForceManual:
		return fmt.Sprintf("human review of every risk-tiered action of %s forced %s", inc.Service, onOff(*r.On)),
			s.o.Levers.ForceManual(ctx, actor, inc.Service, *r.On, reason)
	default:
		return fmt.Sprintf("override %s of %s set to %v", r.Name, inc.Service, r.Value),
			s.o.Levers.SetOverride(ctx, actor, inc.Service, r.Name, r.Value, reason)
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

// Note adds a note to the timeline of incident id (resolved ones too):
// customer impact, an ETA, a finding.
func (s *Service) Note(ctx context.Context, actor, id, text string) (Incident, error) {
	if err := checkActor(actor); err != nil {
		return Incident{}, err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return Incident{}, day2.Errorf(day2.EInvalid, "the note is empty; write what you found or did")
	}
	if len(text) > 10000 {
		return Incident{}, day2.Errorf(day2.EInvalid, "the note is %d bytes long; keep notes under 10000 bytes and link longer documents", len(text))
	}
	return s.update(ctx, id, func(inc *Incident, now time.Time) (change, error) {
		inc.add(Entry{At: now, Actor: actor, Type: EntryNote, Text: text})
		return change{audit: []day2.AuditEntry{auditEntry(now, actor, "incident.note", inc, "", nil, map[string]string{"text": text})}}, nil
	})
}

// RecordReview records the post-incident review of incident id: a link to the
// postmortem document and notes. It stops the review reminder.
func (s *Service) RecordReview(ctx context.Context, actor, id, url, notes string) (Incident, error) {
	if err := checkActor(actor); err != nil {
		return Incident{}, err
	}
	url, notes = strings.TrimSpace(url), strings.TrimSpace(notes)
	if url == "" && notes == "" {
		return Incident{}, day2.Errorf(day2.EInvalid, "a review needs a url of the postmortem document or notes")
	}
	return s.update(ctx, id, func(inc *Incident, now time.Time) (change, error) {
		inc.Review = &Review{At: now, Actor: actor, URL: url, Notes: notes}
		text := "post-incident review recorded by " + actor
		if url != "" {
			text += ": " + url
		}
		inc.add(Entry{At: now, Actor: actor, Type: EntryNote, Text: text, Data: map[string]any{"review": true}})
		return change{audit: []day2.AuditEntry{auditEntry(now, actor, "incident.review", inc, "", nil, inc.Review)}}, nil
	})
}

// RefreshTriage computes the triage summary of incident id again.
func (s *Service) RefreshTriage(ctx context.Context, actor, id string) (Incident, error) {
	if err := checkActor(actor); err != nil {
		return Incident{}, err
	}
	inc, rec, err := s.load(ctx, id)
	if err != nil {
		return inc, err
	}
	tri := s.triage(ctx, inc.Service, inc.Environment, s.now().UTC())
	return s.updateFrom(ctx, id, &rec, func(inc *Incident, now time.Time) (change, error) {
		inc.Triage = tri
		inc.add(Entry{At: now, Actor: actor, Type: EntryTriage, Text: "triage refreshed: " + tri.headline()})
		return change{}, nil
	})
}

// checkActor refuses an action without an actor: every change is audited
// with who did it.
func checkActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return day2.Errorf(day2.EInvalid, "the actor is empty; every change of an incident records who made it")
	}
	return nil
}

// earliest returns the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// Switch is the force-manual switch of one service: while On, no Tier 1
// request of the service is auto-approved (Tier 0 still is). The seed's
// incident runbook flips it to put people back in the loop until the service is
// stable again.
type Switch struct {
	Service string `json:"service"`
	On      bool   `json:"on"`
	// Source is "switch" when someone set it, "policy" when it is the policy's
	// force_manual default.
	Source    string    `json:"source"`
	Actor     string    `json:"actor,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	ChangedAt time.Time `json:"changed_at,omitzero"`
}

// SetForceManual turns the force-manual switch of service on or off as actor,
// with a reason for the audit log. It holds until changed again, whatever the
// policy's force_manual says.
func (s *Service) SetForceManual(ctx context.Context, actor, service string, on bool, reason string) error {
	if strings.TrimSpace(service) == "" {
		return day2.Errorf(day2.EInvalid, "name the service whose force-manual switch to set")
	}
	if err := checkName(service); err != nil {
		return day2.Errorf(day2.EInvalid, "service: %v", err)
	}
	if strings.TrimSpace(reason) == "" {
		return day2.Errorf(day2.EInvalid, "reason is missing; say why (e.g. \"incident INC-42: wrong payouts\"), the audit log keeps it")
	}
	if len(reason) > maxCommentLength {
		return day2.Errorf(day2.EInvalid, "the reason is %d characters long; keep it under %d", len(reason), maxCommentLength)
	}
	for attempt := 0; ; attempt++ {
		now := s.now().UTC()
		var rev int64
		var before json.RawMessage
		rec, err := s.rs.GetRecord(ctx, KindSwitch, service)
		switch {
		case err == nil:
			rev, before = rec.Rev, rec.Body
		case day2.ErrorCode(err) != day2.ENotFound:
			return fmt.Errorf("read the force-manual switch of %s: %w", service, err)
		}
		sw := Switch{Service: service, On: on, Source: "switch", Actor: actor, Reason: reason, ChangedAt: now}
		body, _ := json.Marshal(sw)
		state := "off"
		if on {
			state = "on"
		}
		audit := day2.AuditEntry{At: now, Actor: actor, Action: "approval.force_manual", Target: "service/" + service,
			Reason: reason, Before: before, After: body}
		_, _, err = s.rs.PutRecords(ctx, []day2.Record{{Kind: KindSwitch, ID: service, Service: service, State: state, Body: body, Rev: rev}},
			[]day2.AuditEntry{audit})
		if err == nil {
			return nil
		}
		if day2.ErrorCode(err) != day2.EConflict || attempt >= 5 {
			return fmt.Errorf("store the force-manual switch of %s: %w", service, err)
		}
	}
}

// ForceManual reports whether force manual is on for service: the switch when
// someone set it, else the policy's force_manual.
func (s *Service) ForceManual(ctx context.Context, service string) (bool, error) {
	sw, err := s.Switch(ctx, service)
	return sw.On, err
}

// Switch returns the force-manual switch of service: as someone set it, else
// the policy's default (Source "policy"; off for a service without a policy).
func (s *Service) Switch(ctx context.Context, service string) (Switch, error) {
	rec, err := s.rs.GetRecord(ctx, KindSwitch, service)
	if err == nil {
		var sw Switch
		if err := json.Unmarshal(rec.Body, &sw); err != nil {
			return Switch{}, fmt.Errorf("decode the force-manual switch of %s: %w", service, err)
		}
		return sw, nil
	}
	if day2.ErrorCode(err) != day2.ENotFound {
		return Switch{}, fmt.Errorf("read the force-manual switch of %s: %w", service, err)
	}
	sw := Switch{Service: service, Source: "policy"}
	for _, p := range s.Policies() {
		if p.Service == service {
			sw.On = p.ForceManual
		}
	}
	return sw, nil
}

// Switches returns the force-manual switch of every service that has a policy
// or a switch set, by service.
func (s *Service) Switches(ctx context.Context) ([]Switch, error) {
	recs, err := s.rs.ListRecords(ctx, day2.RecordFilter{Kind: KindSwitch, Limit: 1000})
	if err != nil {
		return nil, fmt.Errorf("list force-manual switches: %w", err)
	}
	by := map[string]Switch{}
	for _, p := range s.Policies() {
		by[p.Service] = Switch{Service: p.Service, On: p.ForceManual, Source: "policy"}
	}
	for _, rec := range recs {
		var sw Switch
		if err := json.Unmarshal(rec.Body, &sw); err != nil {
			return nil, fmt.Errorf("decode the force-manual switch of %s: %w", rec.ID, err)
		}
		by[sw.Service] = sw
	}
	out := make([]Switch, 0, len(by))
	for _, sw := range by {
		out = append(out, sw)
	}
	slices.SortFunc(out, func(a, b Switch) int { return strings.Compare(a.Service, b.Service) })
	return out, nil
}

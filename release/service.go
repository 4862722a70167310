// Package release is day2's safe release machinery: immutable versions of an
// agent (prompt, model, settings, tools) with content hashes and diffs, and
// rollouts that move traffic from a baseline version to a candidate by canary
// steps, rings of targeting rules or in shadow, judged statistically against
// the baseline (package canary) and rolled back at once when the candidate is
// worse.
//
// Everything is kept as day2.Record documents and changes by compare-and-swap,
// so the judge loop and people acting through the API, on any number of
// replicas, leave one consistent state. Assign answers "which version does this
// key get" from an in-memory snapshot, fast enough to sit in every request path.
package release

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/canary"
)

// Options configure a Service. Records and Tasks are required.
type Options struct {
	// Records keeps versions and rollouts.
	Records day2.RecordStore
	// Tasks is where the judge reads the tasks of each arm.
	Tasks day2.TaskStore
	// Freeze reports whether the error budget policy freezes releases of the
	// service in the environment; a frozen rollout holds its step. Nil means
	// never frozen.
	Freeze func(ctx context.Context, service, environment string) (frozen bool, why string, err error)
	// OnEvent is called after a rollout advanced, was held, promoted or rolled
	// back (by the judge or a person), once the change is stored. Nil means no
	// hook.
	OnEvent func(ctx context.Context, ev Event)
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Event types passed to Options.OnEvent.
const (
	EventRolledBack = "rolled_back"
	EventPromoted   = "promoted"
	EventAdvanced   = "advanced"
	EventHeld       = "held"
)

// Event tells Options.OnEvent that a rollout changed.
type Event struct {
	// Type is rolled_back, promoted, advanced or held.
	Type    string  `json:"type"`
	Rollout Rollout `json:"rollout"`
	// Actor is who caused it (JudgeActor for the judge).
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	// Evidence is the judge's failing metrics of a rollback, or its metrics of a
	// pass that advanced or promoted.
	Evidence []canary.MetricVerdict `json:"evidence,omitempty"`
}

// Service manages versions and rollouts, assigns versions to keys and runs the
// judge.
type Service struct {
	records day2.RecordStore
	tasks   day2.TaskStore
	freeze  func(ctx context.Context, service, environment string) (bool, string, error)
	onEvent func(ctx context.Context, ev Event)
	now     func() time.Time
	log     *slog.Logger

	snap      atomic.Pointer[snapshot]
	refreshMu sync.Mutex
}

// NewService checks o and returns a Service.
func NewService(o Options) (*Service, error) {
	if o.Records == nil {
		return nil, errors.New("release: Options.Records is required")
	}
	if o.Tasks == nil {
		return nil, errors.New("release: Options.Tasks is required")
	}
	s := &Service{records: o.Records, tasks: o.Tasks, freeze: o.Freeze, onEvent: o.OnEvent, now: o.Clock, log: o.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// maxCASAttempts bounds the retries of a compare-and-swap update; each retry
// follows another writer's success, so running out means heavy contention.
const maxCASAttempts = 20

// newID returns a new record id with the given prefix; see day2.NewRecordID.
func newID(prefix string, now time.Time) string { return day2.NewRecordID(prefix, now) }

// StartRollout starts a rollout of req.Candidate over req.Baseline. Only one
// rollout per service and environment may be active: another is an EConflict
// error naming it.
func (s *Service) StartRollout(ctx context.Context, actor string, req StartRequest) (Rollout, error) {
	if err := req.normalize(); err != nil {
		return Rollout{}, err
	}
	now := s.now().UTC()
	r := newRollout(newID("ro_", now), actor, req, now)
	rec, err := r.record()
	if err != nil {
		return Rollout{}, err
	}
	audit := day2.AuditEntry{At: now, Actor: actor, Action: "rollout.start", Target: "rollout/" + r.ID, Reason: req.Reason,
		After: mustJSON(map[string]any{"service": r.Service, "environment": r.Environment, "baseline": r.Baseline,
			"candidate": r.Candidate, "strategy": r.Strategy, "judge": r.Judge, "state": r.State, "step": r.Step, "weights": r.Weights})}
	recs, _, err := s.records.PutRecords(ctx, []day2.Record{rec}, []day2.AuditEntry{audit})
	if err != nil {
		if day2.ErrorCode(err) == day2.EConflict {
			if other, ferr := s.records.FindRecord(ctx, KindRollout, activeKey(r.Service, r.Environment)); ferr == nil {
				return Rollout{}, day2.Errorf(day2.EConflict, "%s already has an active rollout in %s (%s, %s); promote it or roll it back before starting another",
					r.Service, r.Environment, other.ID, other.State)
			}
		}
		return Rollout{}, fmt.Errorf("start rollout of %s: %w", r.Service, err)
	}
	r.Rev = recs[0].Rev
	s.refreshAfterWrite(ctx)
	return r, nil
}

// Rollout returns one rollout, or an ENotFound error.
func (s *Service) Rollout(ctx context.Context, id string) (Rollout, error) {
	rec, err := s.records.GetRecord(ctx, KindRollout, id)
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return Rollout{}, day2.Errorf(day2.ENotFound, "no rollout %q; list them with GET /api/v1/rollouts", id)
		}
		return Rollout{}, fmt.Errorf("read rollout %s: %w", id, err)
	}
	return decodeRollout(rec)
}

// Active returns the active (running or paused) rollout of service in
// environment (default prod), or an ENotFound error when there is none. The
// incident levers use it to find the rollout whose weight to drop.
func (s *Service) Active(ctx context.Context, service, environment string) (Rollout, error) {
	if environment == "" {
		environment = "prod"
	}
	rec, err := s.records.FindRecord(ctx, KindRollout, activeKey(service, environment))
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return Rollout{}, day2.Errorf(day2.ENotFound, "%s has no active rollout in %s", service, environment)
		}
		return Rollout{}, fmt.Errorf("find the active rollout of %s in %s: %w", service, environment, err)
	}
	return decodeRollout(rec)
}

// RolloutFilter selects rollouts. Zero fields do not filter.
type RolloutFilter struct {
	Service     string
	Environment string
	States      []string
	// Limit caps the rollouts returned: 0 means 100, at most 1000.
	Limit int
}

// Rollouts returns the rollouts matching f, newest first.
func (s *Service) Rollouts(ctx context.Context, f RolloutFilter) ([]Rollout, error) {
	for _, st := range f.States {
		switch st {
		case StateRunning, StatePaused, StatePromoted, StateRolledBack:
		default:
			return nil, day2.Errorf(day2.EInvalid, "state %q is unknown; use running, paused, promoted or rolled_back", st)
		}
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	fetch := limit
	if f.Environment != "" {
		fetch = 1000 // filtered below
	}
	recs, err := s.records.ListRecords(ctx, day2.RecordFilter{Kind: KindRollout, Service: f.Service, States: f.States, Limit: fetch})
	if err != nil {
		return nil, fmt.Errorf("list rollouts: %w", err)
	}
	out := []Rollout{}
	for _, rec := range recs {
		r, err := decodeRollout(rec)
		if err != nil {
			return nil, err
		}
		if f.Environment != "" && r.Environment != f.Environment {
			continue
		}
		out = append(out, r)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Act applies a person's action to a rollout: pause, resume, promote (the
// candidate serves everyone; the rollout ends promoted) or rollback (the
// candidate's weight goes to 0 at once; the rollout ends rolled_back). An
// action the current state does not allow is an EConflict error naming it.
func (s *Service) Act(ctx context.Context, actor, id, action, reason string) (Rollout, error) {
	switch action {
	case ActionPause, ActionResume, ActionPromote, ActionRollback:
	default:
		return Rollout{}, day2.Errorf(day2.EInvalid, "action %q is unknown; use pause, resume, promote or rollback", action)
	}
	return s.personChange(ctx, actor, id, "rollout."+action, reason, func(r *Rollout, now time.Time) error {
		return r.act(action, actor, reason, now)
	})
}

// SetCandidateWeight is the incident lever on a rollout's traffic: weight 0
// rolls back at once, 100 promotes, and a canary weight in between is applied
// at once and pauses the rollout so the judge does not move it (resume returns
// to the step's planned weight).
func (s *Service) SetCandidateWeight(ctx context.Context, actor, id string, weight int, reason string) (Rollout, error) {
	if weight < 0 || weight > 100 {
		return Rollout{}, day2.Errorf(day2.EInvalid, "weight %d is out of range; give the candidate's percentage, 0 (roll back) to 100 (promote)", weight)
	}
	return s.personChange(ctx, actor, id, "rollout.weight", reason, func(r *Rollout, now time.Time) error {
		return r.setWeight(weight, actor, reason, now)
	})
}

// personChange applies a person's change to rollout id, audited as action, and
// announces the rollout's end if the change ended it.
func (s *Service) personChange(ctx context.Context, actor, id, action, reason string, apply func(r *Rollout, now time.Time) error) (Rollout, error) {
	r, ev, err := s.update(ctx, id, actor, action, reason, func(r *Rollout, now time.Time) (*Event, error) {
		if err := apply(r, now); err != nil {
			return nil, err
		}
		return endEvent(r, actor, reason, nil), nil
	})
	if err != nil {
		return Rollout{}, err
	}
	s.emit(ctx, ev)
	return r, nil
}

// endEvent returns the Event of a rollout that just ended, or nil.
func endEvent(r *Rollout, actor, reason string, evidence []canary.MetricVerdict) *Event {
	switch r.State {
	case StatePromoted:
		return &Event{Type: EventPromoted, Rollout: *r, Actor: actor, Reason: reason, Evidence: evidence}
	case StateRolledBack:
		return &Event{Type: EventRolledBack, Rollout: *r, Actor: actor, Reason: reason, Evidence: evidence}
	}
	return nil
}

// errSkip from an update's change function means there is nothing to write.
var errSkip = errors.New("release: nothing to change")

// update changes rollout id by compare-and-swap: it reads the rollout, applies
// change, and writes it with an audit entry (before and after state, step and
// weights); when another writer got there first it reads again and re-applies
// change, which decides whether the change is still legal. When the rollout
// ends, the service's current version is written in the same transaction.
func (s *Service) update(ctx context.Context, id, actor, action, reason string, change func(r *Rollout, now time.Time) (*Event, error)) (Rollout, *Event, error) {
	for range maxCASAttempts {
		r, err := s.Rollout(ctx, id)
		if err != nil {
			return Rollout{}, nil, err
		}
		before := snapshotOf(&r)
		wasActive := r.Active()
		now := s.now().UTC()
		ev, err := change(&r, now)
		if err != nil {
			return r, nil, err
		}
		rec, err := r.record()
		if err != nil {
			return Rollout{}, nil, err
		}
		recs := []day2.Record{rec}
		if wasActive && !r.Active() {
			cur, err := s.currentRecord(ctx, &r, now)
			if err != nil {
				return Rollout{}, nil, err
			}
			recs = append(recs, cur)
		}
		var audit []day2.AuditEntry
		if action != "" {
			audit = []day2.AuditEntry{{At: now, Actor: actor, Action: action, Target: "rollout/" + r.ID, Reason: reason, Before: before, After: snapshotOf(&r)}}
		}
		stored, _, err := s.records.PutRecords(ctx, recs, audit)
		if err != nil {
			if day2.ErrorCode(err) == day2.EConflict {
				continue
			}
			return Rollout{}, nil, fmt.Errorf("update rollout %s: %w", id, err)
		}
		r.Rev = stored[0].Rev
		if ev != nil {
			ev.Rollout = r
		}
		if wasActive && !r.Active() || action != "" {
			s.refreshAfterWrite(ctx)
		}
		return r, ev, nil
	}
	return Rollout{}, nil, day2.Errorf(day2.EConflict, "rollout %s kept changing while it was being updated; try again", id)
}

// current is the body of a KindCurrent record.
type current struct {
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	Rollout     string    `json:"rollout"`
	Since       time.Time `json:"since"`
}

// currentRecord returns the KindCurrent record that an ended rollout r writes:
// its candidate if promoted, its baseline if rolled back.
func (s *Service) currentRecord(ctx context.Context, r *Rollout, now time.Time) (day2.Record, error) {
	c := current{Service: r.Service, Environment: r.Environment, Version: r.Baseline, Rollout: r.ID, Since: now}
	if r.State == StatePromoted {
		c.Version = r.Candidate
	}
	rec := day2.Record{Kind: KindCurrent, ID: activeKey(r.Service, r.Environment), Service: r.Service, State: "current", Body: mustJSON(c)}
	old, err := s.records.GetRecord(ctx, KindCurrent, rec.ID)
	switch {
	case err == nil:
		rec.Rev = old.Rev
	case day2.ErrorCode(err) != day2.ENotFound:
		return day2.Record{}, fmt.Errorf("read current version of %s: %w", rec.ID, err)
	}
	return rec, nil
}

// emit calls the OnEvent hook.
func (s *Service) emit(ctx context.Context, ev *Event) {
	if ev == nil || s.onEvent == nil {
		return
	}
	s.onEvent(ctx, *ev)
}

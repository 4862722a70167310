package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
)

// MaxWait caps one long poll: under the 60 s timeout of common HTTP clients and
// proxies. A caller that wants to wait longer polls again; the wait never
// changes the request's lifetime.
const MaxWait = 55 * time.Second

// Options configure NewService. Records is required.
type Options struct {
	// Records keeps requests, switches and their audit entries.
	Records day2.RecordStore
	// Policies are the ApprovalPolicy documents; NewService validates them.
	Policies []Policy
	// Clock is the time source for expiry, reminders and escalation; default
	// time.Now.
	Clock func() time.Time
	// BaseURL is day2's external URL, for links in notifications (e.g.
	// https://day2.example.com); may be empty.
	BaseURL string
	// Notify, when set, turns an event into outbox records, which are stored in
	// the same transaction as the change the event announces, so a
	// notification is sent exactly when the change happened.
	Notify func(ctx context.Context, ev Event) []day2.Record
	// OnRequired, when set, is called after a request that needs a person is
	// stored (not for auto-approvals, not for idempotent repeats).
	OnRequired func(ctx context.Context, r Request)
	// CallbackSecret signs callbacks (X-Day2-Signature-256); callbacks are
	// not sent while it is empty.
	CallbackSecret string
	// CallbackClient posts callbacks; the default has a 10 s timeout and
	// follows no redirects.
	CallbackClient *http.Client
	// PollInterval is how often Wait re-reads the store, for decisions made by
	// other replicas and for the clock passing the expiry; default 1 s.
	PollInterval time.Duration
	Logger       *slog.Logger
}

// Service keeps approval requests. It is safe for concurrent use, and several
// replicas may share one store.
type Service struct {
	rs       day2.RecordStore
	policies atomic.Pointer[[]Policy]
	now      func() time.Time
	baseURL  string
	notify   func(ctx context.Context, ev Event) []day2.Record
	required func(ctx context.Context, r Request)
	secret   string
	client   *http.Client
	poll     time.Duration
	log      *slog.Logger

	mu      sync.Mutex
	waiters map[string]*waiter
	calls   sync.WaitGroup
}

// waiter is the broadcast channel of one request id, closed when the request
// changes in this process.
type waiter struct {
	ch chan struct{}
	n  int
}

// NewService returns a Service, or an EInvalid error when a policy is invalid.
func NewService(o Options) (*Service, error) {
	if o.Records == nil {
		return nil, errors.New("approval: Options.Records is required")
	}
	s := &Service{rs: o.Records, now: o.Clock, baseURL: strings.TrimRight(o.BaseURL, "/"), notify: o.Notify,
		required: o.OnRequired, secret: o.CallbackSecret, client: o.CallbackClient, poll: o.PollInterval,
		log: o.Logger, waiters: map[string]*waiter{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.poll <= 0 {
		s.poll = time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if err := s.SetPolicies(o.Policies); err != nil {
		return nil, err
	}
	return s, nil
}

// SetPolicies replaces the policies (on a configuration reload). They are
// validated first; on an error the old ones stay. Requests already made keep
// the tier, approvers and times they were given.
func (s *Service) SetPolicies(ps []Policy) error {
	cp := make([]Policy, len(ps))
	seen := map[string]string{}
	var errs []string
	for i, p := range ps {
		p.Rules = slices.Clone(p.Rules)
		if err := p.Validate(); err != nil {
			errs = append(errs, day2.ErrorMessage(err))
		}
		if first, dup := seen[p.Service]; dup && p.Service != "" {
			errs = append(errs, fmt.Sprintf("approval policies %q and %q are both for service %s; merge their rules into one policy", first, p.Name, p.Service))
		}
		seen[p.Service] = p.Name
		cp[i] = p
	}
	if len(errs) > 0 {
		return day2.Errorf(day2.EInvalid, "%s", strings.Join(errs, "\n"))
	}
	s.policies.Store(&cp)
	return nil
}

// Now returns the service's current time (its clock).
func (s *Service) Now() time.Time { return s.now() }

// Policies returns the policies in use.
func (s *Service) Policies() []Policy { return *s.policies.Load() }

// Create stores a new approval request from the identity id and returns it, or,
// when the service already has a request with the same idempotency key, that
// request and true. Tier 0 requests, and Tier 1 requests that are in policy and
// confident enough (unless force manual is on), come back approved; all others
// pending until a person decides or they expire.
func (s *Service) Create(ctx context.Context, id auth.Identity, in CreateInput) (Request, bool, error) {
	if err := in.check(); err != nil {
		return Request{}, false, err
	}
	if in.CallbackURL != "" && s.secret == "" {
		return Request{}, false, day2.Errorf(day2.EInvalid,
			"callback_url: this day2 has no callback secret to sign callbacks with, so it sends none; poll GET /api/v1/approvals/{id}?wait=55s instead, or ask the operator to configure one")
	}
	if in.Requester == "" {
		in.Requester = id.Name
	}
	now := s.now().UTC()
	attrs := in.attrs()
	pols := s.Policies()
	d, p := evaluate(pols, in.Service, in.Action, attrs, in.RiskTier)
	if d.Tier == Tier1 && (d.Auto || d.ForceManual) {
		// Only here can the switch change the outcome; Tier 0 stays one write.
		on, err := s.ForceManual(ctx, in.Service)
		if err != nil {
			return Request{}, false, err
		}
		if on != d.ForceManual {
			d.ForceManual = on // the tier stands; only the auto-approval changes
			d.Auto, d.AutoReason = autoApprove(p, d.Tier, attrs, on, in.Service)
		}
	}
	r := Request{
		ID: newID(now), Tier: d.Tier, Reason: d.Reason + "; " + d.AutoReason, Rule: d.Rule, Policy: d.Policy,
		Service: in.Service, Environment: in.Environment, Action: in.Action, TaskID: in.TaskID,
		Requester: in.Requester, Amount: in.Amount, EntityType: in.EntityType, Context: in.Context,
		CreatedBy: id.Name, IdempotencyKey: in.IdempotencyKey, CallbackURL: in.CallbackURL,
		Approvers: d.Approvers, ForceManual: d.ForceManual, CreatedAt: now,
		History: []Step{{At: now, Actor: id.Name, Action: "requested", Note: d.Reason}},
	}
	if d.Auto {
		r.State, r.AutoApproved, r.DecidedAt, r.DecidedBy = StateApproved, true, now, Actor
		r.History = append(r.History, Step{At: now, Actor: Actor, Action: "auto_approved", Note: d.AutoReason})
	} else {
		r.State = StatePending
		r.ExpiresAt = now.Add(p.timeout())
		if p != nil && p.Escalation != nil {
			r.EscalationGroups = p.Escalation.Groups
			r.EscalatesAt = now.Add(p.Escalation.After.D())
		}
		if p != nil && p.Reminders != nil {
			r.NextReminderAt = now.Add(p.Reminders.After.D())
			r.RemindEvery = p.Reminders.Every
		}
	}
	rec, err := r.record(0)
	if err != nil {
		return Request{}, false, err
	}
	recs := []day2.Record{rec}
	if r.State == StatePending {
		recs = append(recs, s.event(ctx, EventPending, &r, now, "")...)
	}
	audit := day2.AuditEntry{At: now, Actor: id.Name, Action: "approval.request", Target: "approval/" + r.ID,
		Reason: r.Reason, After: r.auditJSON()}
	if _, _, err := s.rs.PutRecords(ctx, recs, []day2.AuditEntry{audit}); err != nil {
		if day2.ErrorCode(err) == day2.EConflict && r.IdempotencyKey != "" {
			return s.existing(ctx, &in)
		}
		return Request{}, false, fmt.Errorf("store approval request: %w", err)
	}
	if r.State == StatePending && s.required != nil {
		s.required(ctx, r)
	}
	return r, false, nil
}

// existing returns the request holding in's idempotency key, after checking that
// it asks for the same thing.
func (s *Service) existing(ctx context.Context, in *CreateInput) (Request, bool, error) {
	rec, err := s.rs.FindRecord(ctx, KindRequest, idemKey(in.Service, in.IdempotencyKey))
	if err != nil {
		return Request{}, false, fmt.Errorf("find approval request by idempotency key: %w", err)
	}
	r, err := decodeRequest(rec)
	if err != nil {
		return Request{}, false, err
	}
	if r.Action != in.Action || r.Environment != in.Environment || r.TaskID != in.TaskID {
		return Request{}, false, day2.Errorf(day2.EConflict,
			"idempotency_key %q of %s was already used by request %s (action %s, task %s); use a new key for a different request",
			in.IdempotencyKey, in.Service, r.ID, r.Action, r.TaskID)
	}
	r, err = s.observe(ctx, rec, r)
	return r, true, err
}

// Get returns the request id. A pending request past its expiry is expired
// first, so that nobody sees it pending after its time.
func (s *Service) Get(ctx context.Context, id string) (Request, error) {
	rec, r, err := s.load(ctx, id)
	if err != nil {
		return Request{}, err
	}
	return s.observe(ctx, rec, r)
}

func (s *Service) load(ctx context.Context, id string) (day2.Record, Request, error) {
	rec, err := s.rs.GetRecord(ctx, KindRequest, id)
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return rec, Request{}, day2.Errorf(day2.ENotFound, "no approval request %q; list them with GET /api/v1/approvals", id)
		}
		return rec, Request{}, fmt.Errorf("read approval request %s: %w", id, err)
	}
	r, err := decodeRequest(rec)
	return rec, r, err
}

// observe expires r if it is pending past its expiry, and returns it as stored.
func (s *Service) observe(ctx context.Context, rec day2.Record, r Request) (Request, error) {
	for attempt := 0; r.State == StatePending && !s.now().Before(r.ExpiresAt); attempt++ {
		if attempt == 3 {
			return Request{}, day2.Errorf(day2.EUnavailable, "approval request %s keeps changing; try again", r.ID)
		}
		err := s.expire(ctx, rec, &r)
		if err == nil {
			return r, nil
		}
		if day2.ErrorCode(err) != day2.EConflict {
			return Request{}, err
		}
		// Another writer came first: a decision, another replica's expiry or a
		// reminder. Read it again; exactly one final state wins.
		if rec, r, err = s.load(ctx, r.ID); err != nil {
			return Request{}, err
		}
	}
	return r, nil
}

// expire moves a pending request past its expiry to expired, by
// compare-and-swap on rec: an EConflict error means another writer came first.
func (s *Service) expire(ctx context.Context, rec day2.Record, rp *Request) error {
	r := *rp
	now := s.now().UTC()
	before := r.auditJSON()
	r.State, r.DecidedAt, r.DecidedBy = StateExpired, now, Actor
	note := fmt.Sprintf("nobody decided before %s: denied (on_timeout deny)", r.ExpiresAt.UTC().Format(time.RFC3339))
	r.History = append(r.History, Step{At: now, Actor: Actor, Action: "expired", Note: note})
	audit := day2.AuditEntry{At: now, Actor: Actor, Action: "approval.expire", Target: "approval/" + r.ID,
		Reason: note, Before: before, After: r.auditJSON()}
	if err := s.write(ctx, rec, &r, EventDecided, now, "", audit); err != nil {
		return err
	}
	*rp = r
	return nil
}

// write stores r over rec (compare-and-swap), with the event's outbox records
// and audit, then wakes this process's waiters and, for a final state, sends the
// callback.
func (s *Service) write(ctx context.Context, rec day2.Record, r *Request, event string, now time.Time, seq string, audit ...day2.AuditEntry) error {
	nr, err := r.record(rec.Rev)
	if err != nil {
		return err
	}
	recs := append([]day2.Record{nr}, s.event(ctx, event, r, now, seq)...)
	if _, _, err := s.rs.PutRecords(ctx, recs, audit); err != nil {
		if day2.ErrorCode(err) == day2.EConflict {
			return err
		}
		return fmt.Errorf("store approval request %s: %w", r.ID, err)
	}
	s.changed(r.ID)
	if r.Final() && r.CallbackURL != "" {
		s.callback(*r)
	}
	return nil
}

// Wait returns request id once it is final, or as it is when d (at most MaxWait)
// has passed. It wakes on decisions made in this process at once, and re-reads
// the store every PollInterval for decisions made elsewhere and for the clock
// passing the expiry.
func (s *Service) Wait(ctx context.Context, id string, d time.Duration) (Request, error) {
	if d < 0 {
		return Request{}, day2.Errorf(day2.EInvalid, "wait %s is negative", d)
	}
	d = min(d, MaxWait)
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(s.poll)
	defer tick.Stop()
	for {
		ch, release := s.watch(id)
		r, err := s.Get(ctx, id)
		if err != nil || r.Final() || d == 0 {
			release()
			return r, err
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-timer.C:
			release()
			return r, nil
		case <-ctx.Done():
			release()
			return r, ctx.Err()
		}
		release()
	}
}

// watch returns a channel closed at the next change of request id in this
// process, and the function to call when no longer waiting.
func (s *Service) watch(id string) (<-chan struct{}, func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waiters[id]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		s.waiters[id] = w
	}
	w.n++
	return w.ch, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.n--
		if w.n == 0 && s.waiters[id] == w {
			delete(s.waiters, id)
		}
	}
}

// changed wakes the waiters of request id.
func (s *Service) changed(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.waiters[id]; w != nil {
		close(w.ch)
		delete(s.waiters, id)
	}
}

// Decide approves or rejects request reqID as the identity id, with a comment.
// The identity needs the approve scope and must be an approver of the request's
// tier (or, once it escalated, in an escalation group); the requester, and the
// token that made the request, may never decide it (two-person rule). A decided
// or expired request is an EConflict error; of two decisions racing, or a
// decision racing the expiry, exactly one wins.
//
// A server without an auth file runs every request as the anonymous identity,
// which holds every scope; it may decide any request, its own included, since
// there is nobody to tell apart.
func (s *Service) Decide(ctx context.Context, id auth.Identity, reqID, decision, comment string) (Request, error) {
	if err := id.Require(auth.ScopeApprove); err != nil {
		return Request{}, err
	}
	var state, action, auditAction string
	switch decision {
	case DecisionApprove:
		state, action, auditAction = StateApproved, "approved", "approval.approve"
	case DecisionReject:
		state, action, auditAction = StateRejected, "rejected", "approval.reject"
	default:
		return Request{}, day2.Errorf(day2.EInvalid, "decision %q: use approve or reject", decision)
	}
	if len(comment) > maxCommentLength {
		return Request{}, day2.Errorf(day2.EInvalid, "the comment is %d characters long; keep it under %d", len(comment), maxCommentLength)
	}
	for attempt := 0; ; attempt++ {
		rec, r, err := s.load(ctx, reqID)
		if err != nil {
			return Request{}, err
		}
		if r, err = s.observe(ctx, rec, r); err != nil {
			return Request{}, err
		}
		if r.Final() {
			return r, finalConflict(&r)
		}
		if err := s.mayDecide(id, &r); err != nil {
			return Request{}, err
		}
		now := s.now().UTC()
		before := r.auditJSON()
		r.State, r.DecidedAt, r.DecidedBy, r.Comment = state, now, id.Name, comment
		r.History = append(r.History, Step{At: now, Actor: id.Name, Action: action, Note: comment})
		audit := day2.AuditEntry{At: now, Actor: id.Name, Action: auditAction, Target: "approval/" + r.ID,
			Reason: comment, Before: before, After: r.auditJSON()}
		err = s.write(ctx, rec, &r, EventDecided, now, "", audit)
		if err == nil {
			return r, nil
		}
		if day2.ErrorCode(err) != day2.EConflict || attempt >= 5 {
			return Request{}, err
		}
		// Someone changed the request since it was read (a decision, the
		// expiry, a reminder): read it again and decide anew.
	}
}

// finalConflict is the EConflict error of deciding a request that is final.
func finalConflict(r *Request) error {
	at := r.DecidedAt.UTC().Format(time.RFC3339)
	switch {
	case r.State == StateExpired:
		return day2.Errorf(day2.EConflict, "approval request %s expired at %s; nobody decided before its timeout, so it was denied. Ask again if it is still needed",
			r.ID, r.ExpiresAt.UTC().Format(time.RFC3339))
	case r.AutoApproved:
		return day2.Errorf(day2.EConflict, "approval request %s was auto-approved at %s (%s); it needs no decision", r.ID, at, r.Reason)
	default:
		return day2.Errorf(day2.EConflict, "approval request %s was already %s by %s at %s", r.ID, r.State, r.DecidedBy, at)
	}
}

// mayDecide checks the two-person rule and the approver lists.
func (s *Service) mayDecide(id auth.Identity, r *Request) error {
	if id.Name == auth.AnonymousName {
		return nil
	}
	if id.Name == r.Requester || id.Name == r.CreatedBy {
		return day2.Errorf(day2.EForbidden, "%s may not decide approval request %s: it asked for it itself, and the two-person rule needs someone else", id.Name, r.ID)
	}
	if r.Approvers.Allows(id) {
		return nil
	}
	escalated := !r.EscalatesAt.IsZero() && !s.now().Before(r.EscalatesAt)
	if escalated {
		for _, g := range r.EscalationGroups {
			if id.InGroup(g) {
				return nil
			}
		}
	}
	msg := fmt.Sprintf("%s is not an approver of Tier %d requests of %s: needs %s", id.Name, r.Tier, r.Service, r.Approvers)
	if len(r.EscalationGroups) > 0 {
		groups := ApproverSet{Groups: r.EscalationGroups}.String()
		if escalated {
			msg += " or " + groups + " (escalated)"
		} else {
			msg += fmt.Sprintf(" (after escalation at %s also %s)", r.EscalatesAt.UTC().Format(time.RFC3339), groups)
		}
	}
	return day2.Errorf(day2.EForbidden, "%s", msg)
}

// Sweep expires the pending requests past their expiry (denying them, as
// on_timeout deny says), and sends the reminders and escalations that are due.
// Several replicas may sweep at once: each change is a compare-and-swap, so each
// happens once.
func (s *Service) Sweep(ctx context.Context) error {
	const page = 500
	var errs []error
	for range 20 { // at most 10,000 changes per sweep; the next sweep does the rest
		now := s.now().UTC()
		recs, err := s.rs.ListRecords(ctx, day2.RecordFilter{Kind: KindRequest, States: []string{StatePending},
			DueBefore: now, Order: day2.DueFirst, Limit: page})
		if err != nil {
			return fmt.Errorf("list due approval requests: %w", err)
		}
		changed := 0
		for _, rec := range recs {
			ok, err := s.sweepOne(ctx, rec, now)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				changed++
			}
		}
		if len(recs) < page || changed == 0 {
			break
		}
	}
	return errors.Join(errs...)
}

// sweepOne applies what is due on one pending request; it reports whether the
// request changed.
func (s *Service) sweepOne(ctx context.Context, rec day2.Record, now time.Time) (bool, error) {
	r, err := decodeRequest(rec)
	if err != nil {
		return false, err
	}
	if r.Final() {
		return false, nil
	}
	if !now.Before(r.ExpiresAt) {
		err := s.expire(ctx, rec, &r)
		if day2.ErrorCode(err) == day2.EConflict {
			return false, nil // decided meanwhile, or another replica expired it
		}
		return err == nil, err
	}
	var audit []day2.AuditEntry
	event, seq := "", ""
	if !r.Escalated && !r.EscalatesAt.IsZero() && !now.Before(r.EscalatesAt) {
		r.Escalated = true
		note := fmt.Sprintf("waited since %s; %s may now decide too", r.CreatedAt.UTC().Format(time.RFC3339), ApproverSet{Groups: r.EscalationGroups})
		r.History = append(r.History, Step{At: now, Actor: Actor, Action: "escalated", Note: note})
		audit = append(audit, day2.AuditEntry{At: now, Actor: Actor, Action: "approval.escalate", Target: "approval/" + r.ID,
			Reason: note, After: r.auditJSON()})
		event, seq = EventReminder, "escalated"
	}
	if !r.NextReminderAt.IsZero() && !now.Before(r.NextReminderAt) {
		r.Reminders++
		r.History = append(r.History, Step{At: now, Actor: Actor, Action: "reminded", Note: fmt.Sprintf("reminder %d", r.Reminders)})
		prev, every := r.NextReminderAt, r.RemindEvery.D()
		r.NextReminderAt = time.Time{}
		if every > 0 {
			// The next reminder after now on the schedule; one missed while
			// day2 was down is not sent twice.
			next := prev.Add((now.Sub(prev)/every + 1) * every)
			if next.Before(r.ExpiresAt) {
				r.NextReminderAt = next
			}
		}
		if event == "" {
			event, seq = EventReminder, fmt.Sprintf("reminder-%d", r.Reminders)
		}
	}
	if event == "" {
		return false, nil
	}
	if err := s.write(ctx, rec, &r, event, now, seq, audit...); err != nil {
		if day2.ErrorCode(err) == day2.EConflict {
			return false, nil // another replica or a decision came first
		}
		return false, err
	}
	return true, nil
}

// Run sweeps every second until ctx ends, then waits for callbacks in flight.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("approval sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			s.calls.Wait()
			return
		case <-t.C:
		}
	}
}

// Filter selects requests for List.
type Filter struct {
	Service string
	// State is one of the states, or "" for all.
	State string
	// Limit caps the result: 0 means 100, at most 1000.
	Limit int
}

// List returns requests matching f: pending ones soonest to expire first, the
// others newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Request, error) {
	switch f.State {
	case "", StatePending, StateApproved, StateRejected, StateExpired:
	default:
		return nil, day2.Errorf(day2.EInvalid, "state %q: use pending, approved, rejected or expired", f.State)
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, day2.Errorf(day2.EInvalid, "limit %d: use 1 to 1000", f.Limit)
	}
	rf := day2.RecordFilter{Kind: KindRequest, Service: f.Service, Limit: f.Limit, Order: day2.NewestFirst}
	if f.State != "" {
		rf.States = []string{f.State}
	}
	if f.State == StatePending {
		rf.Order = day2.DueFirst
	}
	recs, err := s.rs.ListRecords(ctx, rf)
	if err != nil {
		return nil, fmt.Errorf("list approval requests: %w", err)
	}
	out := make([]Request, 0, len(recs))
	for _, rec := range recs {
		r, err := decodeRequest(rec)
		if err != nil {
			return nil, err
		}
		if r, err = s.observe(ctx, rec, r); err != nil {
			return nil, err
		}
		if f.State != "" && r.State != f.State {
			continue // expired while listing
		}
		out = append(out, r)
	}
	if f.State == StatePending {
		slices.SortStableFunc(out, func(a, b Request) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	}
	return out, nil
}

package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"text/template"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

// KindIncident is the record kind of incidents. An open incident's record Key
// is its group key, so at most one incident per group is open; resolving it
// clears the key.
const KindIncident = "incident"

// Incident states: triggered -> acknowledged -> mitigated -> resolved.
// Acknowledging and mitigating may be skipped; resolved is final.
const (
	StateTriggered    = "triggered"
	StateAcknowledged = "acknowledged"
	StateMitigated    = "mitigated"
	StateResolved     = "resolved"
)

// OpenStates are the states of an incident that is not resolved.
var OpenStates = []string{StateTriggered, StateAcknowledged, StateMitigated}

// Timeline entry types.
const (
	EntryAlert        = "alert"
	EntryState        = "state"
	EntryNotification = "notification"
	EntryMitigation   = "mitigation"
	EntryNote         = "note"
	EntryTriage       = "triage"
	EntryReminder     = "reminder"
)

// SystemActor is the actor of what day2 does by itself.
const SystemActor = "day2"

// Limits that keep an incident's record small however long an outage lasts.
const (
	maxAlerts   = 500  // distinct alerts kept per incident; more are counted
	maxTimeline = 1000 // timeline entries; the oldest alert entries go first
	maxPending  = 10   // change lines kept for the next batched update
	maxAttempts = 8    // compare-and-swap retries
)

// ReviewDue is how long after resolution the blameless review is expected.
const ReviewDue = 72 * time.Hour

// PostmortemBudgetShare is the share of a 4-week error budget above which an
// incident requires a postmortem.
const PostmortemBudgetShare = 0.20

// Entry is one line of an incident's timeline.
type Entry struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	// Type is alert, state, notification, mitigation, note, triage or reminder.
	Type string         `json:"type"`
	Text string         `json:"text"`
	Data map[string]any `json:"data,omitempty"`
}

// AlertRef is one alert of an incident, as it stands.
type AlertRef struct {
	Key       string            `json:"key"`
	Source    string            `json:"source"`
	Status    string            `json:"status"`
	Severity  string            `json:"severity"`
	Summary   string            `json:"summary"`
	Details   string            `json:"details,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Runbook   string            `json:"runbook,omitempty"`
	URL       string            `json:"url,omitempty"`
	StartsAt  time.Time         `json:"starts_at"`
	FirstSeen time.Time         `json:"first_seen"`
	// ResolvedAt is when the alert last resolved; zero while it fires.
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
}

// Review is the record of a post-incident review.
type Review struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	URL   string    `json:"url,omitempty"`
	Notes string    `json:"notes,omitempty"`
}

// Incident is one outage or degradation of a service, from its first alert to
// its review.
type Incident struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	// Severity is page or ticket: the highest of its alerts'.
	Severity string `json:"severity"`
	State    string `json:"state"`
	// GroupKey is the grouping labels' values the incident gathers alerts of.
	GroupKey string `json:"group_key"`
	// Runbook is the name of the runbook matched when the incident opened;
	// RunbookURL a link an alert gave instead of a configured name.
	Runbook    string `json:"runbook"`
	RunbookURL string `json:"runbook_url,omitempty"`
	URL        string `json:"url"`
	// DetectedAt is when the first alert's condition began (its StartsAt);
	// OpenedAt when day2 opened the incident.
	DetectedAt     time.Time `json:"detected_at"`
	OpenedAt       time.Time `json:"opened_at"`
	AcknowledgedAt time.Time `json:"acknowledged_at,omitzero"`
	MitigatedAt    time.Time `json:"mitigated_at,omitzero"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	// AllAlertsResolvedAt is set while none of its alerts fires. The incident
	// stays open until a person resolves it: recovery is for people to verify.
	AllAlertsResolvedAt time.Time  `json:"all_alerts_resolved_at,omitzero"`
	Alerts              []AlertRef `json:"alerts,omitempty"`
	// DroppedAlerts counts alerts that joined after the incident held maxAlerts.
	DroppedAlerts int     `json:"dropped_alerts,omitempty"`
	Timeline      []Entry `json:"timeline,omitempty"`
	// TimelineDropped counts alert entries removed to keep the timeline short.
	TimelineDropped int     `json:"timeline_dropped,omitempty"`
	Triage          *Triage `json:"triage,omitempty"`
	// Updates to the incident's alerts are announced at most once per group
	// interval: LastUpdateSentAt is when the last message went out (the
	// triggered one at first), UpdatePending whether changes wait to be told.
	LastUpdateSentAt time.Time `json:"last_update_sent_at"`
	UpdatePending    bool      `json:"update_pending"`
	PendingChanges   []string  `json:"pending_changes,omitempty"`
	PendingCount     int       `json:"pending_count,omitempty"`
	UpdatesSent      int       `json:"updates_sent,omitempty"`
	// BudgetConsumed is the share of the service's error budget the incident
	// consumed, when known (set at resolution).
	BudgetConsumed *float64 `json:"budget_consumed,omitempty"`
	// PostmortemRequired is set when the incident consumed more than 20% of a
	// 4-week error budget.
	PostmortemRequired bool      `json:"postmortem_required"`
	Review             *Review   `json:"review,omitempty"`
	ReminderSentAt     time.Time `json:"reminder_sent_at,omitzero"`
	// Rev is the revision of the incident's record, for compare-and-swap.
	Rev int64 `json:"rev"`
}

// Open reports whether the incident is not resolved.
func (inc *Incident) Open() bool { return inc.State != StateResolved }

// Firing returns the number of its alerts that fire.
func (inc *Incident) Firing() int {
	n := 0
	for i := range inc.Alerts {
		if inc.Alerts[i].Status == StatusFiring {
			n++
		}
	}
	return n
}

// where names the incident's service and environment.
func (inc *Incident) where() string {
	if inc.Environment != "" {
		return inc.Service + " (" + inc.Environment + ")"
	}
	return inc.Service
}

// add appends a timeline entry, dropping the oldest alert entries beyond
// maxTimeline.
func (inc *Incident) add(e Entry) {
	e.At = e.At.UTC()
	inc.Timeline = append(inc.Timeline, e)
	for len(inc.Timeline) > maxTimeline {
		i := 0
		for i < len(inc.Timeline) && inc.Timeline[i].Type != EntryAlert {
			i++
		}
		if i == len(inc.Timeline) {
			i = 0
		}
		inc.Timeline = append(inc.Timeline[:i], inc.Timeline[i+1:]...)
		inc.TimelineDropped++
	}
}

// Levers are the mitigations an incident can pull; the release, flag and
// approval capabilities implement them (the app wires an adapter).
type Levers interface {
	// SetCandidateWeight sets the traffic weight of the candidate of the
	// service's running rollout (0 sends all traffic to the baseline).
	SetCandidateWeight(ctx context.Context, actor, service, environment string, weight int, reason string) error
	// SetFlag turns a feature flag or kill switch on or off.
	SetFlag(ctx context.Context, actor, key string, on bool, reason string) error
	// ForceManual makes every risk-tiered action of the service wait for a
	// person (on) or returns to the configured tiers (off).
	ForceManual(ctx context.Context, actor, service string, on bool, reason string) error
	// SetOverride sets an override the agents read: temperature_cap,
	// tool_allowlist, retry_budget or timeout_ms, as the flag
	// "override.<service>.<name>".
	SetOverride(ctx context.Context, actor, service, name string, value any, reason string) error
	// RolloutWeight returns the candidate weight of the service's running
	// rollout, and false when none runs.
	RolloutWeight(ctx context.Context, service, environment string) (weight int, rolloutID string, ok bool)
}

// Options configure a Service. Records is required; every other field may be
// left zero.
type Options struct {
	Records day2.RecordStore
	// Audit lists audit entries, for recent deployments and flag changes in
	// triage and the digests.
	Audit func(ctx context.Context, f day2.AuditFilter) ([]day2.AuditEntry, error)
	// Tasks and Rollups feed the triage summary.
	Tasks   day2.TaskStore
	Rollups day2.RollupStore
	// Notify turns a message into outbox records, stored in the same write as
	// the incident change; Kick tells the outbox to deliver now.
	Notify func(ctx context.Context, m notify.Message) []day2.Record
	Kick   func()
	// Levers run mitigations; nil refuses them.
	Levers Levers
	// Runbooks are Markdown text/template runbooks by name. A runbook named
	// "default" replaces the built-in one.
	Runbooks map[string]string
	// Grouping names the alert fields or labels that make an incident:
	// default service and environment. "service", "environment", "source" and
	// "severity" name the alert's fields, any other name a label.
	Grouping []string
	// GroupInterval is the least time between two update notifications of one
	// incident: default 5m.
	GroupInterval time.Duration
	// RepeatInterval is how long an open, unmitigated incident goes without a
	// message before it is announced again, as Alertmanager's repeat_interval:
	// default 4h; negative turns repeats off.
	RepeatInterval time.Duration
	// BaseURL is day2's public URL, for links in messages and runbooks.
	BaseURL string
	Clock   func() time.Time
	Logger  *slog.Logger
	// SLOBudget returns the share of the service's 4-week error budget consumed
	// in [from, to), and false when it has no SLO data.
	SLOBudget func(ctx context.Context, service string, from, to time.Time) (consumedFraction float64, ok bool)
	// Rules, when set, are evaluated by Tick and their alerts ingested.
	Rules *RuleEvaluator
}

// Service runs incidents.
type Service struct {
	o        Options
	log      *slog.Logger
	now      func() time.Time
	runbooks map[string]*template.Template
}

// NewService returns a Service with o, or an EInvalid error when a runbook
// does not parse or the grouping is empty.
func NewService(o Options) (*Service, error) {
	if o.Records == nil {
		return nil, day2.Errorf(day2.EInvalid, "the incident service needs a record store")
	}
	if len(o.Grouping) == 0 {
		o.Grouping = []string{"service", "environment"}
	}
	for _, g := range o.Grouping {
		if strings.TrimSpace(g) == "" {
			return nil, day2.Errorf(day2.EInvalid, "incident grouping has an empty label name; use e.g. [service, environment]")
		}
	}
	if o.GroupInterval <= 0 {
		o.GroupInterval = 5 * time.Minute
	}
	if o.RepeatInterval == 0 {
		o.RepeatInterval = DefaultRepeatInterval
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	s := &Service{o: o, log: o.Logger, now: o.Clock, runbooks: map[string]*template.Template{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	def, err := parseRunbook(DefaultRunbook, defaultRunbookText)
	if err != nil {
		return nil, fmt.Errorf("built-in runbook: %w", err)
	}
	s.runbooks[DefaultRunbook] = def
	for name, text := range o.Runbooks {
		t, err := parseRunbook(name, text)
		if err != nil {
			return nil, err
		}
		s.runbooks[name] = t
	}
	return s, nil
}

// url returns day2's link to path.
func (s *Service) url(path string) string { return s.o.BaseURL + path }

// newID returns a new incident id; see day2.NewRecordID.
func newID(now time.Time) string { return day2.NewRecordID("in_", now) }

// groupKey returns the key of the group a belongs to under the grouping.
func (s *Service) groupKey(a *Alert) string {
	parts := make([]string, 0, len(s.o.Grouping))
	for _, g := range s.o.Grouping {
		var v string
		switch g {
		case "service":
			v = a.Service
		case "environment", "env":
			v = a.Environment
		case "source":
			v = a.Source
		case "severity":
			v = a.Severity
		default:
			v = a.Labels[g]
		}
		parts = append(parts, g+"="+fmt.Sprintf("%q", v))
	}
	return strings.Join(parts, ",")
}

// Get returns the incident id.
func (s *Service) Get(ctx context.Context, id string) (Incident, error) {
	inc, _, err := s.load(ctx, id)
	return inc, err
}

// Filter selects incidents for List.
type Filter struct {
	// State is one of the states, "open" for any but resolved, or "" for all.
	State   string
	Service string
	// Limit caps the incidents returned: 0 means 100, at most 1000.
	Limit int
}

// List returns the incidents matching f, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Incident, error) {
	rf := day2.RecordFilter{Kind: KindIncident, Service: f.Service, Limit: f.Limit}
	switch f.State {
	case "":
	case "open":
		rf.States = OpenStates
	case StateTriggered, StateAcknowledged, StateMitigated, StateResolved:
		rf.States = []string{f.State}
	default:
		return nil, day2.Errorf(day2.EInvalid, "state %q is unknown; use open, triggered, acknowledged, mitigated or resolved", f.State)
	}
	if f.Limit < 0 || f.Limit > 1000 {
		return nil, day2.Errorf(day2.EInvalid, "limit %d is out of range; ask for 1 to 1000 incidents", f.Limit)
	}
	recs, err := s.o.Records.ListRecords(ctx, rf)
	if err != nil {
		return nil, err
	}
	out := make([]Incident, 0, len(recs))
	for _, r := range recs {
		inc, err := decode(r)
		if err != nil {
			s.log.Error("skipping an unreadable incident record", "id", r.ID, "err", err)
			continue
		}
		out = append(out, inc)
	}
	return out, nil
}

// decode reads an incident from its record.
func decode(r day2.Record) (Incident, error) {
	var inc Incident
	if err := json.Unmarshal(r.Body, &inc); err != nil {
		return inc, fmt.Errorf("incident %s: %w", r.ID, err)
	}
	inc.Rev = r.Rev
	return inc, nil
}

// clearPending forgets the alert changes waiting to be announced, once they
// were (or an announcement of the incident's state made them moot).
func (inc *Incident) clearPending() {
	inc.UpdatePending, inc.PendingChanges, inc.PendingCount = false, nil, 0
}

// load reads incident id.
func (s *Service) load(ctx context.Context, id string) (Incident, day2.Record, error) {
	r, err := s.o.Records.GetRecord(ctx, KindIncident, id)
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return Incident{}, r, day2.Errorf(day2.ENotFound, "no incident %q; list them with day2 incident list", id)
		}
		return Incident{}, r, err
	}
	inc, err := decode(r)
	return inc, r, err
}

// DefaultRepeatInterval is Options.RepeatInterval's default, Alertmanager's.
const DefaultRepeatInterval = 4 * time.Hour

// due returns when something must next happen to inc: a batched update to
// send, a repeat of an unmitigated incident, or a review reminder; zero when
// nothing is due.
func (s *Service) due(inc *Incident) time.Time {
	if inc.Open() {
		if inc.UpdatePending {
			return inc.LastUpdateSentAt.Add(s.o.GroupInterval)
		}
		if s.repeats(inc) {
			return inc.LastUpdateSentAt.Add(s.o.RepeatInterval)
		}
		return time.Time{}
	}
	if s.wantsReminder(inc) {
		return inc.ResolvedAt.Add(ReviewDue)
	}
	return time.Time{}
}

// repeats reports whether inc is announced again after RepeatInterval of
// silence: while it is open and nobody has mitigated it.
func (s *Service) repeats(inc *Incident) bool {
	return s.o.RepeatInterval > 0 && inc.Open() && inc.State != StateMitigated && !inc.LastUpdateSentAt.IsZero()
}

// wantsReminder reports whether a review reminder is still to be sent for inc:
// a resolved page or postmortem-worthy incident with no review and no reminder.
func (s *Service) wantsReminder(inc *Incident) bool {
	return !inc.Open() && inc.Review == nil && inc.ReminderSentAt.IsZero() &&
		(inc.PostmortemRequired || inc.Severity == SeverityPage)
}

// change is what one write of an incident carries besides the incident: the
// messages to enqueue and the audit entries to append.
type change struct {
	msgs  []notify.Message
	audit []day2.AuditEntry
}

// put stores inc (created when its Rev is 0) with the outbox records of ch's
// messages and its audit entries in one write, returns it as stored, and kicks
// the outbox when messages were queued.
func (s *Service) put(ctx context.Context, inc Incident, ch change) (Incident, error) {
	var outbox []day2.Record
	if s.o.Notify != nil {
		for _, m := range ch.msgs {
			recs := s.o.Notify(ctx, m)
			if len(recs) > 0 {
				inc.add(Entry{At: m.At, Actor: SystemActor, Type: EntryNotification,
					Text: fmt.Sprintf("%s queued for %d destination(s)", m.Event, len(recs)), Data: map[string]any{"event": m.Event}})
			}
			outbox = append(outbox, recs...)
		}
	}
	body, err := json.Marshal(inc)
	if err != nil {
		return inc, fmt.Errorf("encode incident %s: %w", inc.ID, err)
	}
	rec := day2.Record{Kind: KindIncident, ID: inc.ID, Service: inc.Service, State: inc.State,
		Due: s.due(&inc), Body: body, Rev: inc.Rev}
	if inc.Open() {
		rec.Key = inc.GroupKey
	}
	stored, _, err := s.o.Records.PutRecords(ctx, append([]day2.Record{rec}, outbox...), ch.audit)
	if err != nil {
		return inc, err
	}
	inc.Rev = stored[0].Rev
	if len(outbox) > 0 && s.o.Kick != nil {
		s.o.Kick()
	}
	return inc, nil
}

// update applies fn to incident id and stores the result, reading the
// incident again and retrying when another writer changed it meanwhile. An
// error of fn is returned as is.
func (s *Service) update(ctx context.Context, id string, fn func(inc *Incident, now time.Time) (change, error)) (Incident, error) {
	return s.updateFrom(ctx, id, nil, fn)
}

// updateFrom is update starting from rec, the incident's record as the caller
// just read it (nil: read it now), so that it is not read twice.
func (s *Service) updateFrom(ctx context.Context, id string, rec *day2.Record, fn func(inc *Incident, now time.Time) (change, error)) (Incident, error) {
	for attempt := 0; ; attempt++ {
		var inc Incident
		var err error
		if rec != nil {
			inc, err = decode(*rec)
			rec = nil // a retry reads the record again
		} else {
			inc, _, err = s.load(ctx, id)
		}
		if err != nil {
			return inc, err
		}
		now := s.now().UTC()
		ch, err := fn(&inc, now)
		if err != nil {
			return inc, err
		}
		stored, err := s.put(ctx, inc, ch)
		if err == nil {
			return stored, nil
		}
		if day2.ErrorCode(err) != day2.EConflict || attempt+1 >= maxAttempts {
			return inc, fmt.Errorf("update incident %s: %w", id, err)
		}
	}
}

// ref returns what a notification says about inc.
func (s *Service) ref(inc *Incident) *notify.IncidentRef {
	return &notify.IncidentRef{ID: inc.ID, Title: inc.Title, Service: inc.Service, Environment: inc.Environment,
		Severity: inc.Severity, State: inc.State, URL: inc.URL}
}

// auditEntry returns the audit entry of action on inc.
func auditEntry(now time.Time, actor, action string, inc *Incident, reason string, before, after any) day2.AuditEntry {
	e := day2.AuditEntry{At: now, Actor: actor, Action: action, Target: "incident/" + inc.ID, Reason: reason}
	if before != nil {
		e.Before, _ = json.Marshal(before)
	}
	if after != nil {
		e.After, _ = json.Marshal(after)
	}
	return e
}

// Now returns the service's clock.
func (s *Service) Now() time.Time { return s.now().UTC() }

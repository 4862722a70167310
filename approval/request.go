package approval

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// The states of a request. Pending is the only one that changes; the others are
// final. Expired means nobody decided before the timeout, which denies.
const (
	StatePending  = "pending"
	StateApproved = "approved"
	StateRejected = "rejected"
	StateExpired  = "expired"
)

// Record kinds the service stores.
const (
	// KindRequest is the record kind of approval requests.
	KindRequest = "approval"
	// KindSwitch is the record kind of a service's force-manual switch (ID: the
	// service).
	KindSwitch = "approval_switch"
)

// Actor is the name day2 records as the actor of what it does by itself
// (auto-approvals, expiry, escalation).
const Actor = "day2"

// Decisions a person can make.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// CreateInput is the body of a new approval request (POST /api/v1/approvals).
type CreateInput struct {
	// Service and Action are required: who asks, and for what.
	Service     string `json:"service"`
	Environment string `json:"environment,omitempty"`
	Action      string `json:"action"`
	// RiskTier, when given, raises the policy's tier (it never lowers it).
	RiskTier *int `json:"risk_tier,omitempty"`
	// TaskID links the request to the task (trace) that asks.
	TaskID string `json:"task_id,omitempty"`
	// Requester is who asks (the end user or agent); default: the token's name.
	Requester string `json:"requester,omitempty"`
	// Amount and EntityType are conditions' most common fields; they may also
	// be given in Context.
	Amount     *float64 `json:"amount,omitempty"`
	EntityType string   `json:"entity_type,omitempty"`
	// Context is what the approver needs to decide: prompt, facts, tool_plan,
	// side_effects, confidence, in_policy and anything else. Its fields are
	// visible to the policy's conditions.
	Context map[string]any `json:"context,omitempty"`
	// IdempotencyKey makes retries safe: the same key for the same service
	// returns the first request.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// CallbackURL, when set, receives the request (signed) when it is decided
	// or expires.
	CallbackURL string `json:"callback_url,omitempty"`
}

// Request is an approval request as stored and as the API shows it.
type Request struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Tier  int    `json:"tier"`
	// ExpiresAt is when a pending request expires (zero for auto-approved ones).
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	AutoApproved bool      `json:"auto_approved"`
	// Reason says why the request has its tier and why it was or was not
	// approved at once.
	Reason string `json:"reason"`
	// Rule is the policy rule that gave the tier ("" when none matched).
	Rule        string         `json:"rule,omitempty"`
	Policy      string         `json:"policy,omitempty"`
	Service     string         `json:"service"`
	Environment string         `json:"environment,omitempty"`
	Action      string         `json:"action"`
	TaskID      string         `json:"task_id,omitempty"`
	Requester   string         `json:"requester"`
	Amount      *float64       `json:"amount,omitempty"`
	EntityType  string         `json:"entity_type,omitempty"`
	Context     map[string]any `json:"context,omitempty"`
	// CreatedBy is the token that made the request; like Requester, it may not
	// decide it.
	CreatedBy      string `json:"created_by"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	CallbackURL    string `json:"callback_url,omitempty"`
	// Approvers may decide the request; after EscalatesAt, EscalationGroups may
	// too.
	Approvers        ApproverSet `json:"approvers"`
	EscalationGroups []string    `json:"escalation_groups,omitempty"`
	EscalatesAt      time.Time   `json:"escalates_at,omitzero"`
	Escalated        bool        `json:"escalated,omitempty"`
	// NextReminderAt is when the approvers are reminded next (zero: never).
	NextReminderAt time.Time     `json:"next_reminder_at,omitzero"`
	RemindEvery    day2.Duration `json:"remind_every,omitempty"`
	Reminders      int           `json:"reminders,omitempty"`
	ForceManual    bool          `json:"force_manual,omitempty"`
	CreatedAt      time.Time     `json:"created_at"`
	DecidedAt      time.Time     `json:"decided_at,omitzero"`
	DecidedBy      string        `json:"decided_by,omitempty"`
	Comment        string        `json:"comment,omitempty"`
	History        []Step        `json:"history"`
}

// Step is one entry of a request's history.
type Step struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"` // requested, auto_approved, approved, rejected, expired, reminded, escalated
	Note   string    `json:"note,omitempty"`
}

// Final reports whether the request's state can no longer change.
func (r *Request) Final() bool { return r.State != StatePending }

// due returns when the sweeper must next look at a pending request: the first of
// its expiry, its escalation and its next reminder.
func (r *Request) due() time.Time {
	if r.Final() {
		return time.Time{}
	}
	d := r.ExpiresAt
	if !r.Escalated && !r.EscalatesAt.IsZero() && r.EscalatesAt.Before(d) {
		d = r.EscalatesAt
	}
	if !r.NextReminderAt.IsZero() && r.NextReminderAt.Before(d) {
		d = r.NextReminderAt
	}
	return d
}

// record returns r as a record at rev.
func (r *Request) record(rev int64) (day2.Record, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return day2.Record{}, fmt.Errorf("encode approval %s: %w", r.ID, err)
	}
	rec := day2.Record{Kind: KindRequest, ID: r.ID, Service: r.Service, State: r.State, Due: r.due(), Body: body, Rev: rev}
	if r.IdempotencyKey != "" {
		rec.Key = idemKey(r.Service, r.IdempotencyKey)
	}
	return rec, nil
}

// decodeRequest reads a stored request.
func decodeRequest(rec day2.Record) (Request, error) {
	var r Request
	if err := json.Unmarshal(rec.Body, &r); err != nil {
		return Request{}, fmt.Errorf("decode approval %s: %w", rec.ID, err)
	}
	if r.History == nil {
		r.History = []Step{}
	}
	return r, nil
}

// auditView is the part of a request written to the audit log: who, what and
// why, without the (possibly large) context, which stays in the request.
type auditView struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	Tier         int       `json:"tier"`
	Service      string    `json:"service"`
	Environment  string    `json:"environment,omitempty"`
	Action       string    `json:"action"`
	TaskID       string    `json:"task_id,omitempty"`
	Requester    string    `json:"requester"`
	Amount       *float64  `json:"amount,omitempty"`
	AutoApproved bool      `json:"auto_approved,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	DecidedBy    string    `json:"decided_by,omitempty"`
	Comment      string    `json:"comment,omitempty"`
}

func (r *Request) auditJSON() json.RawMessage {
	b, _ := json.Marshal(auditView{ID: r.ID, State: r.State, Tier: r.Tier, Service: r.Service, Environment: r.Environment,
		Action: r.Action, TaskID: r.TaskID, Requester: r.Requester, Amount: r.Amount, AutoApproved: r.AutoApproved,
		Reason: r.Reason, ExpiresAt: r.ExpiresAt, DecidedBy: r.DecidedBy, Comment: r.Comment})
	return b
}

func idemKey(service, key string) string { return service + "/" + key }

// newID returns a new request id, "ap_" and 20 base32 characters; see
// day2.NewRecordID.
func newID(now time.Time) string { return day2.NewRecordID("ap_", now) }

// Limits of a request's fields.
const (
	maxKeyLength     = 200
	maxCommentLength = 4000
)

// check validates in and returns the problem as an EInvalid error.
func (in *CreateInput) check() error {
	if strings.TrimSpace(in.Service) == "" {
		return day2.Errorf(day2.EInvalid, "service is missing; name the agent asking, e.g. \"service\": \"invoice-agent\"")
	}
	if strings.TrimSpace(in.Action) == "" {
		return day2.Errorf(day2.EInvalid, "action is missing; name what the agent wants to do, e.g. \"action\": \"pay_invoice\"")
	}
	for _, f := range []struct{ name, v string }{{"service", in.Service}, {"action", in.Action}, {"environment", in.Environment},
		{"task_id", in.TaskID}, {"requester", in.Requester}, {"entity_type", in.EntityType}} {
		if err := checkName(f.v); err != nil {
			return day2.Errorf(day2.EInvalid, "%s: %v", f.name, err)
		}
	}
	if in.RiskTier != nil && (*in.RiskTier < Tier0 || *in.RiskTier > Tier2) {
		return day2.Errorf(day2.EInvalid, "risk_tier %d is not a tier; use 0, 1 or 2, or leave it out to let the policy decide", *in.RiskTier)
	}
	if len(in.IdempotencyKey) > maxKeyLength {
		return day2.Errorf(day2.EInvalid, "idempotency_key is %d characters long; keep it under %d", len(in.IdempotencyKey), maxKeyLength)
	}
	if in.CallbackURL != "" {
		u, err := url.Parse(in.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return day2.Errorf(day2.EInvalid, "callback_url %q is not an http or https URL", in.CallbackURL)
		}
	}
	return nil
}

// attrs returns what a policy's conditions see: the context's fields, then the
// request's own fields (which win).
func (in *CreateInput) attrs() map[string]any {
	m := make(map[string]any, len(in.Context)+8)
	for k, v := range in.Context {
		m[k] = v
	}
	m["service"] = in.Service
	m["action"] = in.Action
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("environment", in.Environment)
	set("task_id", in.TaskID)
	set("requester", in.Requester)
	set("entity_type", in.EntityType)
	if in.Amount != nil {
		m["amount"] = *in.Amount
	}
	return m
}

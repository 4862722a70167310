package day2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// AlertState is the persisted state of one alert: an SLO's burn-rate alert of one
// severity (later also threshold rules and canary failures).
type AlertState struct {
	// Key identifies the alert, e.g. "slo:invoice-agent/task-success:page".
	Key      string    `json:"key"`
	Source   string    `json:"source"` // "slo"
	SLO      string    `json:"slo,omitempty"`
	Service  string    `json:"service"`
	Severity string    `json:"severity"`
	State    string    `json:"state"` // inactive, pending, firing, resolved
	Since    time.Time `json:"since"` // when State began
	// Details is a short human description of why (e.g. "burn 1h=15.2 5m=20.1 >= 13.44").
	Details   string    `json:"details,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// AlertTransition is one change of an alert's state, kept as history.
type AlertTransition struct {
	ID       int64     `json:"id"`
	Key      string    `json:"key"`
	SLO      string    `json:"slo,omitempty"`
	Service  string    `json:"service"`
	Severity string    `json:"severity"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	At       time.Time `json:"at"`
	Details  string    `json:"details,omitempty"`
}

// Override lifts a release freeze for a service (and optionally one environment)
// until ExpiresAt. Only admins create them, with a reason; each is audited.
type Override struct {
	ID          int64     `json:"id"`
	Service     string    `json:"service"`
	Environment string    `json:"environment,omitempty"`
	Actor       string    `json:"actor"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// AuditEntry is one record of the append-only audit log: who changed what, when
// and why, with the state before and after. Entries are hash-chained: Hash covers
// the entry and the previous entry's hash, so editing or deleting any entry breaks
// every hash after it.
type AuditEntry struct {
	ID       int64           `json:"id"`
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"` // e.g. "policy.override"
	Target   string          `json:"target"` // e.g. "service/invoice-agent"
	Reason   string          `json:"reason,omitempty"`
	Before   json.RawMessage `json:"before,omitempty"`
	After    json.RawMessage `json:"after,omitempty"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// AuditHash returns the chained hash of e after prev: SHA-256 over the previous
// hash and the entry's fields, each length-prefixed so no two entries collide.
func AuditHash(prev string, e *AuditEntry) string {
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	write(prev)
	write(strconv.FormatInt(e.ID, 10))
	write(e.At.UTC().Format(time.RFC3339Nano))
	write(e.Actor)
	write(e.Action)
	write(e.Target)
	write(e.Reason)
	write(string(e.Before))
	write(string(e.After))
	return hex.EncodeToString(h.Sum(nil))
}

// AuditFilter selects audit entries; zero fields do not filter. Entries come
// oldest first from AfterID.
type AuditFilter struct {
	Action  string
	Target  string
	AfterID int64
	Limit   int
}

// StateStore keeps the control plane's own state: alert states and their history,
// freeze overrides, and the audit log.
type StateStore interface {
	// SaveAlerts upserts the current states and appends the transitions, in one
	// transaction.
	SaveAlerts(ctx context.Context, states []AlertState, transitions []AlertTransition) error
	// AlertStates returns every persisted alert state.
	AlertStates(ctx context.Context) ([]AlertState, error)
	// AlertHistory returns the newest transitions first, for one alert key prefix
	// ("" for all), at most limit.
	AlertHistory(ctx context.Context, keyPrefix string, limit int) ([]AlertTransition, error)
	// CreateOverride stores o and appends its audit entry in one transaction.
	CreateOverride(ctx context.Context, o Override, audit AuditEntry) (Override, error)
	// Overrides returns the overrides of service that have not expired at t.
	Overrides(ctx context.Context, service string, t time.Time) ([]Override, error)
	// AppendAudit appends e, filling ID, PrevHash and Hash, and returns it.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns entries matching f, oldest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

package day2

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"time"
)

// Record is one object of the control plane's own state, kept as a JSON document:
// a rollout, a registered version, a flag change, an approval request, an
// incident, a notification waiting in the outbox. Each capability owns its kinds
// and the shape of their Body; the store only indexes the columns below.
//
// Records change by compare-and-swap on Rev, so two writers racing on one record
// (two approvers deciding at once, a decision racing an expiry) leave exactly one
// winner: the loser gets an EConflict error and reads the record again.
type Record struct {
	// Kind names the capability's object type, e.g. "rollout" or "approval".
	Kind string `json:"kind"`
	// ID is unique within Kind and never changes.
	ID string `json:"id"`
	// Key, when set, is unique within Kind: an idempotency key, or the grouping key
	// of an open incident. Clearing it frees it for another record.
	Key string `json:"key,omitempty"`
	// Service and State are indexed for listing.
	Service string `json:"service,omitempty"`
	State   string `json:"state,omitempty"`
	// Due is the next time something must happen to the record (an approval's
	// expiry, an outbox message's next attempt); zero means nothing is due.
	Due time.Time `json:"due,omitzero"`
	// Body is the capability's JSON document.
	Body json.RawMessage `json:"body"`
	// Rev is the revision: 0 for a record not stored yet, then 1, 2, ... The store
	// assigns it on every successful write.
	Rev int64 `json:"rev"`
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RecordOrder is the order ListRecords returns records in.
type RecordOrder int

const (
	// NewestFirst orders by creation, newest first (then ID descending).
	NewestFirst RecordOrder = iota
	// DueFirst orders by Due, earliest first (then ID); records without Due last.
	DueFirst
	// OldestFirst orders by creation, oldest first (then ID).
	OldestFirst
)

// RecordFilter selects records of one kind. Zero fields other than Kind do not
// filter.
type RecordFilter struct {
	Kind    string // required
	Service string
	States  []string // any of these
	// DueBefore keeps records whose Due is set and not after it.
	DueBefore time.Time
	// CreatedAfter and CreatedBefore bound the creation time (after is
	// exclusive, before inclusive).
	CreatedAfter  time.Time
	CreatedBefore time.Time
	Order         RecordOrder
	// Limit caps the records returned: 0 means 100, at most 1000.
	Limit int
}

// RecordStore keeps records. Writes are atomic with the audit entries that
// explain them: either everything given is stored or nothing is.
type RecordStore interface {
	// PutRecords writes recs and appends audit (filling ID, PrevHash and Hash) in
	// one transaction, and returns the records as stored (new Rev, times). A
	// record with Rev 0 is created: an EConflict error if its Kind and ID or Kind
	// and Key exist. Any other record replaces the stored one only if the stored
	// Rev equals the given Rev: EConflict otherwise, and ENotFound if it does not
	// exist. The whole call fails on the first such error.
	PutRecords(ctx context.Context, recs []Record, audit []AuditEntry) ([]Record, []AuditEntry, error)
	// GetRecord returns one record, or an ENotFound error.
	GetRecord(ctx context.Context, kind, id string) (Record, error)
	// FindRecord returns the record of kind holding key, or an ENotFound error.
	FindRecord(ctx context.Context, kind, key string) (Record, error)
	// ListRecords returns the records matching f in f.Order.
	ListRecords(ctx context.Context, f RecordFilter) ([]Record, error)
	// DeleteRecords removes at most limit records of kind in one of states
	// that have not changed since before, and returns how many it removed;
	// retention of finished work (sent notifications) uses it.
	DeleteRecords(ctx context.Context, kind string, states []string, before time.Time, limit int) (int64, error)
}

// idEncoding writes record ids in lowercase base32 without padding, which sorts
// in the same order as the bytes it encodes.
var idEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// NewRecordID returns a new record id: prefix (such as "ap_") and 20 base32
// characters of 96 bits, the first 48 the Unix milliseconds of t and the rest
// random. Ids made later sort later, so the indexes over ids (the records' and
// the audit log's targets) grow at their end, as a log does, instead of
// touching a random page per write; the 48 random bits keep ids unguessable
// and unique.
func NewRecordID(prefix string, t time.Time) string {
	var b [12]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read does not fail
	return prefix + idEncoding.EncodeToString(b[:])
}

// Package statestore holds the half of the day2.StateStore implementations that
// does not depend on the database: validating what is stored, the defaults of
// overrides and audit entries, page sizes, and chaining audit entries. Packages
// sqlite and postgres do the I/O around it, so both stores follow the same rules.
//
// Times are stored as Unix nanoseconds and read back in UTC. An audit entry's
// hash covers its time, so the entry is normalized to exactly what is stored
// (UTC, no monotonic clock reading) before it is hashed; the hash recomputed from
// the entry read back then matches.
package statestore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/day2ops/day2"
)

// Page sizes of AlertHistory and ListAudit.
const (
	// DefaultLimit is the number of rows returned when the caller asks for none.
	DefaultLimit = 100
	// MaxLimit is the largest number of rows a caller may ask for.
	MaxLimit = 1000
)

// Limit validates a requested number of rows of what (e.g. "audit entries"): 0
// means DefaultLimit, and negative numbers or numbers above MaxLimit are EInvalid
// errors.
func Limit(n int, what string) (int, error) {
	switch {
	case n == 0:
		return DefaultLimit, nil
	case n < 0:
		return 0, day2.Errorf(day2.EInvalid, "limit %d is negative; ask for 1 to %d %s", n, MaxLimit, what)
	case n > MaxLimit:
		return 0, day2.Errorf(day2.EInvalid, "limit %d is too large; ask for at most %d %s at a time", n, MaxLimit, what)
	}
	return n, nil
}

// The times a Unix nanosecond count can hold.
var (
	minTime = time.Unix(0, -1<<63)
	maxTime = time.Unix(0, 1<<63-1)
)

// Nanos returns t as Unix nanoseconds, and 0 for the zero time. Times outside
// the years 1678 to 2262, which nanoseconds cannot hold, are EInvalid errors.
func Nanos(t time.Time, field string) (int64, error) {
	if t.IsZero() {
		return 0, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return 0, day2.Errorf(day2.EInvalid, "%s %s is out of range; times must lie between the years 1678 and 2262", field, t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// Time returns the UTC time of Unix nanoseconds ns; unlike day2.UnixNano it
// keeps 0 as the Unix epoch, for columns that always hold a time.
func Time(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// normalize returns t as stored: in UTC without a monotonic clock reading.
func normalize(t time.Time, field string) (time.Time, error) {
	ns, err := Nanos(t, field)
	if err != nil || t.IsZero() {
		return time.Time{}, err
	}
	return Time(ns), nil
}

// checkText rejects text that PostgreSQL cannot store in a text column (invalid
// UTF-8 or NUL bytes), so that both stores accept the same values.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return day2.Errorf(day2.EInvalid, "%s is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return day2.Errorf(day2.EInvalid, "%s contains a NUL character", field)
	}
	return nil
}

func checkTexts(what string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if err := checkText(what+" "+fields[i], fields[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// Alerts validates the arguments of SaveAlerts and returns the states to
// upsert, normalized, one per key (the last given wins) and sorted by key so that
// concurrent saves lock rows in the same order, and the transitions normalized,
// in the given order.
func Alerts(states []day2.AlertState, transitions []day2.AlertTransition) ([]day2.AlertState, []day2.AlertTransition, error) {
	byKey := make(map[string]int, len(states))
	var out []day2.AlertState
	for i, s := range states {
		if s.Key == "" {
			return nil, nil, day2.Errorf(day2.EInvalid, "alert state %d has no key", i)
		}
		what := fmt.Sprintf("alert state %q", s.Key)
		if err := checkTexts(what, "key", s.Key, "source", s.Source, "slo", s.SLO, "service", s.Service,
			"severity", s.Severity, "state", s.State, "details", s.Details); err != nil {
			return nil, nil, err
		}
		var err error
		if s.Since, err = normalize(s.Since, what+" since"); err != nil {
			return nil, nil, err
		}
		if s.UpdatedAt, err = normalize(s.UpdatedAt, what+" updated_at"); err != nil {
			return nil, nil, err
		}
		if j, ok := byKey[s.Key]; ok {
			out[j] = s
			continue
		}
		byKey[s.Key] = len(out)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b day2.AlertState) int { return strings.Compare(a.Key, b.Key) })

	trans := make([]day2.AlertTransition, len(transitions))
	for i, tr := range transitions {
		if tr.Key == "" {
			return nil, nil, day2.Errorf(day2.EInvalid, "alert transition %d has no key", i)
		}
		what := fmt.Sprintf("alert transition %d of %q", i, tr.Key)
		if err := checkTexts(what, "key", tr.Key, "slo", tr.SLO, "service", tr.Service, "severity", tr.Severity,
			"from", tr.From, "to", tr.To, "details", tr.Details); err != nil {
			return nil, nil, err
		}
		var err error
		if tr.At, err = normalize(tr.At, what+" at"); err != nil {
			return nil, nil, err
		}
		tr.ID = 0 // assigned by the store
		trans[i] = tr
	}
	return out, trans, nil
}

// Override validates an override to create and returns it as it will be
// stored: CreatedAt defaults to now, times are normalized, and ExpiresAt must
// lie after CreatedAt. Its ID is left for the store to assign.
func Override(o day2.Override, now time.Time) (day2.Override, error) {
	if o.Service == "" {
		return day2.Override{}, day2.Errorf(day2.EInvalid, "an override needs the service whose freeze it lifts")
	}
	if err := checkTexts("override", "service", o.Service, "environment", o.Environment,
		"actor", o.Actor, "reason", o.Reason); err != nil {
		return day2.Override{}, err
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	var err error
	if o.CreatedAt, err = normalize(o.CreatedAt, "override created_at"); err != nil {
		return day2.Override{}, err
	}
	if o.ExpiresAt, err = normalize(o.ExpiresAt, "override expires_at"); err != nil {
		return day2.Override{}, err
	}
	if !o.ExpiresAt.After(o.CreatedAt) {
		return day2.Override{}, day2.Errorf(day2.EInvalid, "override of %s expires at %s, not after its creation at %s; give it a positive duration",
			o.Service, o.ExpiresAt.Format(time.RFC3339), o.CreatedAt.Format(time.RFC3339))
	}
	o.ID = 0
	return o, nil
}

// OverrideAudit returns the audit entry of creating override o (as stored, with
// its ID): the fields of a that are empty default to the override's actor,
// reason and creation time, the action "policy.override", the target
// "service/<service>", and as After the override itself.
func OverrideAudit(o day2.Override, a day2.AuditEntry) (day2.AuditEntry, error) {
	if a.At.IsZero() {
		a.At = o.CreatedAt
	}
	if a.Actor == "" {
		a.Actor = o.Actor
	}
	if a.Action == "" {
		a.Action = "policy.override"
	}
	if a.Target == "" {
		a.Target = "service/" + o.Service
	}
	if a.Reason == "" {
		a.Reason = o.Reason
	}
	if len(a.After) == 0 {
		after, err := json.Marshal(o)
		if err != nil {
			return day2.AuditEntry{}, fmt.Errorf("encode override: %w", err)
		}
		a.After = after
	}
	return a, nil
}

// Audit validates an audit entry to append and returns it as it will be stored,
// before Chain numbers it: At defaults to now and is normalized, and Before and
// After, when set, must be valid JSON in UTF-8. They are kept byte for byte, as
// the hash covers them.
func Audit(e day2.AuditEntry, now time.Time) (day2.AuditEntry, error) {
	if e.Action == "" {
		return day2.AuditEntry{}, day2.Errorf(day2.EInvalid, "an audit entry needs an action, e.g. \"policy.override\"")
	}
	if e.Actor == "" {
		return day2.AuditEntry{}, day2.Errorf(day2.EInvalid, "audit entry %q needs the actor who did it", e.Action)
	}
	if err := checkTexts("audit entry", "actor", e.Actor, "action", e.Action, "target", e.Target, "reason", e.Reason); err != nil {
		return day2.AuditEntry{}, err
	}
	for _, f := range []struct {
		name string
		v    json.RawMessage
	}{{"before", e.Before}, {"after", e.After}} {
		if len(f.v) > 0 && (!utf8.Valid(f.v) || !json.Valid(f.v)) {
			return day2.AuditEntry{}, day2.Errorf(day2.EInvalid, "audit entry %q: %s is not valid JSON", e.Action, f.name)
		}
	}
	if len(e.Before) == 0 {
		e.Before = nil
	}
	if len(e.After) == 0 {
		e.After = nil
	}
	if e.At.IsZero() {
		e.At = now
	}
	var err error
	if e.At, err = normalize(e.At, "audit entry at"); err != nil {
		return day2.AuditEntry{}, err
	}
	e.ID, e.PrevHash, e.Hash = 0, "", ""
	return e, nil
}

// Chain numbers e as the entry after the last one stored, lastID (0 when the log
// is empty) with hash lastHash, and sets its hash.
func Chain(e *day2.AuditEntry, lastID int64, lastHash string) {
	e.ID = lastID + 1
	e.PrevHash = lastHash
	e.Hash = day2.AuditHash(e.PrevHash, e)
}

// AuditFilter validates f and returns it with its limit set: 0 means
// DefaultLimit. A negative AfterID or a limit out of range is an EInvalid error.
func AuditFilter(f day2.AuditFilter) (day2.AuditFilter, error) {
	if f.AfterID < 0 {
		return day2.AuditFilter{}, day2.Errorf(day2.EInvalid, "after_id %d is negative; pass the id of the last entry seen, or 0 to start at the beginning", f.AfterID)
	}
	var err error
	if f.Limit, err = Limit(f.Limit, "audit entries"); err != nil {
		return day2.AuditFilter{}, err
	}
	return f, nil
}

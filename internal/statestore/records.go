package statestore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/day2ops/day2"
)

// MaxRecordBody is the largest record body, in bytes, a store accepts. Records
// are control-plane objects (a rollout, an approval request, an incident with
// its timeline), not telemetry; a body this large means a capability keeps
// growing a document without bound.
const MaxRecordBody = 4 << 20

// Records validates the arguments of PutRecords and returns them as they will
// be stored: the records unchanged but checked, and the audit entries prepared
// by Audit with now as their default time.
func Records(recs []day2.Record, audit []day2.AuditEntry, now time.Time) ([]day2.AuditEntry, error) {
	seen := make(map[[2]string]bool, len(recs))
	for i, r := range recs {
		if r.Kind == "" || r.ID == "" {
			return nil, day2.Errorf(day2.EInvalid, "record %d needs a kind and an id", i)
		}
		what := fmt.Sprintf("record %s/%s", r.Kind, r.ID)
		if err := checkTexts(what, "kind", r.Kind, "id", r.ID, "key", r.Key, "service", r.Service, "state", r.State); err != nil {
			return nil, err
		}
		if r.Rev < 0 {
			return nil, day2.Errorf(day2.EInvalid, "%s has a negative revision %d", what, r.Rev)
		}
		if len(r.Body) == 0 || !utf8.Valid(r.Body) || !json.Valid(r.Body) {
			return nil, day2.Errorf(day2.EInvalid, "%s: the body is not valid JSON", what)
		}
		if len(r.Body) > MaxRecordBody {
			return nil, day2.Errorf(day2.EInvalid, "%s: the body is %d bytes, over the limit of %d", what, len(r.Body), MaxRecordBody)
		}
		if _, err := Nanos(r.Due, what+" due"); err != nil {
			return nil, err
		}
		k := [2]string{r.Kind, r.ID}
		if seen[k] {
			return nil, day2.Errorf(day2.EInvalid, "%s is given twice in one write", what)
		}
		seen[k] = true
	}
	out := make([]day2.AuditEntry, len(audit))
	for i, e := range audit {
		var err error
		if out[i], err = Audit(e, now); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RecordFilter validates f and returns it with its limit set.
func RecordFilter(f day2.RecordFilter) (day2.RecordFilter, error) {
	if f.Kind == "" {
		return f, day2.Errorf(day2.EInvalid, "listing records needs a kind")
	}
	if f.Order < day2.NewestFirst || f.Order > day2.OldestFirst {
		return f, day2.Errorf(day2.EInvalid, "unknown record order %d", f.Order)
	}
	for _, t := range []struct {
		name string
		v    time.Time
	}{{"due_before", f.DueBefore}, {"created_after", f.CreatedAfter}, {"created_before", f.CreatedBefore}} {
		if _, err := Nanos(t.v, t.name); err != nil {
			return f, err
		}
	}
	var err error
	f.Limit, err = Limit(f.Limit, "records")
	return f, err
}

// RecordExists is the error of creating a record whose kind and id exist.
func RecordExists(kind, id string) error {
	return day2.Errorf(day2.EConflict, "%s %s already exists", kind, id)
}

// RecordKeyTaken is the error of storing a record under a key another record
// of its kind holds.
func RecordKeyTaken(kind, key, holder string) error {
	return day2.Errorf(day2.EConflict, "%s key %q is held by %s %s", kind, key, kind, holder)
}

// RecordChanged is the error of replacing a record that changed since it was
// read: the caller should read it again and decide anew.
func RecordChanged(kind, id string, given, stored int64) error {
	return day2.Errorf(day2.EConflict, "%s %s changed since it was read (revision %d, now %d); read it again and retry", kind, id, given, stored)
}

// RecordMissing is the error of replacing a record that does not exist.
func RecordMissing(kind, id string) error {
	return day2.Errorf(day2.ENotFound, "%s %s does not exist", kind, id)
}

// RecordOrderBy returns the ORDER BY clause of o for the records table, whose
// columns are the same in both stores.
func RecordOrderBy(o day2.RecordOrder) string {
	switch o {
	case day2.DueFirst:
		return "(due = 0), due, id"
	case day2.OldestFirst:
		return "created_at, id"
	default:
		return "created_at DESC, id DESC"
	}
}

// RecordWhere returns the WHERE conditions and arguments of f for the records
// table; ph returns the placeholder of the n-th argument (1-based).
func RecordWhere(f day2.RecordFilter, ph func(n int) string) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.Replace(cond, "?", ph(len(args)), 1))
	}
	add("kind = ?", f.Kind)
	if f.Service != "" {
		add("service = ?", f.Service)
	}
	if len(f.States) > 0 {
		var in []string
		for _, st := range f.States {
			args = append(args, st)
			in = append(in, ph(len(args)))
		}
		conds = append(conds, "state IN ("+strings.Join(in, ", ")+")")
	}
	if !f.DueBefore.IsZero() {
		conds = append(conds, "due <> 0")
		add("due <= ?", f.DueBefore.UnixNano())
	}
	if !f.CreatedAfter.IsZero() {
		add("created_at > ?", f.CreatedAfter.UnixNano())
	}
	if !f.CreatedBefore.IsZero() {
		add("created_at <= ?", f.CreatedBefore.UnixNano())
	}
	return strings.Join(conds, " AND "), args
}

// DeleteRecords validates the arguments of DeleteRecords: a kind, at least one
// state, a time, and a limit of 1 to MaxLimit.
func DeleteRecords(kind string, states []string, before time.Time, limit int) error {
	if kind == "" || len(states) == 0 {
		return day2.Errorf(day2.EInvalid, "deleting records needs a kind and the states to delete")
	}
	if before.IsZero() {
		return day2.Errorf(day2.EInvalid, "deleting records needs the time before which they last changed")
	}
	if _, err := Nanos(before, "before"); err != nil {
		return err
	}
	if limit < 1 || limit > MaxLimit {
		return day2.Errorf(day2.EInvalid, "delete 1 to %d records at a time, not %d", MaxLimit, limit)
	}
	return nil
}

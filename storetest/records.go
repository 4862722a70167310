package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

// recordTests are the cases of day2.RecordStore; RunState runs them.
var recordTests = []struct {
	name string
	run  func(t *testing.T, open func(t *testing.T) StateStore)
}{
	{"a record is created, read, found by key and replaced by revision", testRecordLifecycle},
	{"creating an existing record or a taken key conflicts; clearing a key frees it", testRecordConflicts},
	{"a write whose second record conflicts stores nothing and appends no audit entry", testRecordAtomic},
	{"records are listed by service, state and due time in the asked order", testRecordList},
	{"compare-and-swap from many writers on two stores loses no update", testRecordCAS},
	{"of concurrent creates with one key exactly one wins", testRecordKeyRace},
	{"concurrent writes of which some conflict store the others, with an unbroken audit chain", testRecordMixedBatch},
	{"finished records are deleted by kind, state and age, at most the limit", testRecordDelete},
}

func rec(kind, id string, body any) day2.Record {
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return day2.Record{Kind: kind, ID: id, Body: b}
}

func put(t *testing.T, s StateStore, recs []day2.Record, audit ...day2.AuditEntry) []day2.Record {
	t.Helper()
	out, _, err := s.PutRecords(bg, recs, audit)
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if day2.ErrorCode(err) != code {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, day2.ErrorCode(err), code)
	}
}

func testRecordLifecycle(t *testing.T, open func(t *testing.T) StateStore) {
	s := openState(t, open)
	r := rec("approval", "ap_1", map[string]any{"state": "pending", "n": 1})
	r.Key, r.Service, r.State, r.Due = "invoice-agent/k1", "invoice-agent", "pending", T0.Add(time.Hour)
	stored := put(t, s, []day2.Record{r}, day2.AuditEntry{Actor: "alice", Action: "approval.request", Target: "approval/ap_1"})[0]
	if stored.Rev != 1 || stored.CreatedAt.IsZero() || !stored.UpdatedAt.Equal(stored.CreatedAt) || !stored.Due.Equal(r.Due) {
		t.Fatalf("created record %+v: want rev 1, creation time set, due %v", stored, r.Due)
	}
	got, err := s.GetRecord(bg, "approval", "ap_1")
	if err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if got.Key != r.Key || got.Service != r.Service || got.State != r.State || !got.Due.Equal(r.Due) || got.Rev != 1 || string(got.Body) != string(r.Body) {
		t.Fatalf("GetRecord = %+v, want %+v", got, stored)
	}
	found, err := s.FindRecord(bg, "approval", "invoice-agent/k1")
	if err != nil || found.ID != "ap_1" {
		t.Fatalf("FindRecord = %+v, %v; want ap_1", found, err)
	}
	_, err = s.FindRecord(bg, "incident", "invoice-agent/k1")
	wantCode(t, "FindRecord of another kind", err, day2.ENotFound)
	_, err = s.GetRecord(bg, "approval", "ap_2")
	wantCode(t, "GetRecord of a missing id", err, day2.ENotFound)

	got.State, got.Due, got.Body = "approved", time.Time{}, json.RawMessage(`{"state":"approved"}`)
	upd := put(t, s, []day2.Record{got})[0]
	if upd.Rev != 2 || !upd.CreatedAt.Equal(stored.CreatedAt) || !upd.Due.IsZero() {
		t.Fatalf("replaced record %+v: want rev 2, the same creation time, no due", upd)
	}
	// The stale revision 1 loses.
	_, _, err = s.PutRecords(bg, []day2.Record{got}, nil)
	wantCode(t, "replacing with a stale revision", err, day2.EConflict)
	got.ID = "ap_missing"
	_, _, err = s.PutRecords(bg, []day2.Record{got}, nil)
	wantCode(t, "replacing a missing record", err, day2.ENotFound)
	verify(t, auditLog(t, s))
}

func testRecordConflicts(t *testing.T, open func(t *testing.T) StateStore) {
	s := openState(t, open)
	a := rec("incident", "in_1", map[string]string{"title": "a"})
	a.Key = "support/prod"
	a = put(t, s, []day2.Record{a})[0]
	_, _, err := s.PutRecords(bg, []day2.Record{rec("incident", "in_1", 1)}, nil)
	wantCode(t, "creating an existing id", err, day2.EConflict)
	b := rec("incident", "in_2", map[string]string{"title": "b"})
	b.Key = "support/prod"
	_, _, err = s.PutRecords(bg, []day2.Record{b}, nil)
	wantCode(t, "creating with a taken key", err, day2.EConflict)
	if !strings.Contains(err.Error(), "held by incident in_1") {
		t.Errorf("creating with a taken key: %v; want it to name the holder, in_1", err)
	}
	// Another kind may use the same id and key.
	other := rec("outbox", "in_1", 1)
	other.Key = "support/prod"
	put(t, s, []day2.Record{other})
	// Resolving the incident clears its key; the next incident takes it.
	a.Key, a.State = "", "resolved"
	put(t, s, []day2.Record{a})
	put(t, s, []day2.Record{b})
	if f, err := s.FindRecord(bg, "incident", "support/prod"); err != nil || f.ID != "in_2" {
		t.Fatalf("FindRecord after the key moved = %+v, %v; want in_2", f, err)
	}
	for _, bad := range []day2.Record{
		{Kind: "x", ID: "", Body: json.RawMessage(`1`)},
		{Kind: "x", ID: "1", Body: json.RawMessage(`{`)},
		{Kind: "x", ID: "1", Body: nil},
		{Kind: "x", ID: "1", Rev: -1, Body: json.RawMessage(`1`)},
		{Kind: "x", ID: "1\x00", Body: json.RawMessage(`1`)},
	} {
		_, _, err := s.PutRecords(bg, []day2.Record{bad}, nil)
		wantCode(t, fmt.Sprintf("invalid record %+v", bad), err, day2.EInvalid)
	}
}

func testRecordAtomic(t *testing.T, open func(t *testing.T) StateStore) {
	s := openState(t, open)
	put(t, s, []day2.Record{rec("rollout", "ro_1", 1)})
	before := len(auditLog(t, s))
	_, _, err := s.PutRecords(bg, []day2.Record{rec("rollout", "ro_2", 2), rec("rollout", "ro_1", 3)},
		[]day2.AuditEntry{{Actor: "bob", Action: "rollout.start", Target: "rollout/ro_2"}})
	wantCode(t, "a write with a conflicting second record", err, day2.EConflict)
	if _, err := s.GetRecord(bg, "rollout", "ro_2"); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("the first record of the failed write was stored: %v", err)
	}
	if after := len(auditLog(t, s)); after != before {
		t.Fatalf("the failed write appended %d audit entries", after-before)
	}
	// An invalid audit entry fails the write as well.
	_, _, err = s.PutRecords(bg, []day2.Record{rec("rollout", "ro_3", 3)}, []day2.AuditEntry{{Action: "rollout.start"}})
	wantCode(t, "a write with an audit entry lacking its actor", err, day2.EInvalid)
	if _, err := s.GetRecord(bg, "rollout", "ro_3"); day2.ErrorCode(err) != day2.ENotFound {
		t.Fatalf("the record of a write with an invalid audit entry was stored: %v", err)
	}
}

func testRecordList(t *testing.T, open func(t *testing.T) StateStore) {
	s := openState(t, open)
	var recs []day2.Record
	for i := range 6 {
		r := rec("approval", "ap_"+strconv.Itoa(i), i)
		r.Service = []string{"a", "b"}[i%2]
		r.State = []string{"pending", "approved", "expired"}[i%3]
		if i != 4 {
			r.Due = T0.Add(time.Duration(10-i) * time.Minute)
		}
		recs = append(recs, r)
		put(t, s, []day2.Record{r}) // one at a time: creation order is i
	}
	ids := func(f day2.RecordFilter) []string {
		t.Helper()
		got, err := s.ListRecords(bg, f)
		if err != nil {
			t.Fatalf("ListRecords(%+v): %v", f, err)
		}
		var out []string
		for _, r := range got {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tt := range []struct {
		f    day2.RecordFilter
		want []string
	}{
		{day2.RecordFilter{Kind: "approval"}, []string{"ap_5", "ap_4", "ap_3", "ap_2", "ap_1", "ap_0"}},
		{day2.RecordFilter{Kind: "approval", Order: day2.OldestFirst, Limit: 2}, []string{"ap_0", "ap_1"}},
		{day2.RecordFilter{Kind: "approval", Service: "a"}, []string{"ap_4", "ap_2", "ap_0"}},
		{day2.RecordFilter{Kind: "approval", States: []string{"pending", "expired"}, Order: day2.DueFirst}, []string{"ap_5", "ap_3", "ap_2", "ap_0"}},
		{day2.RecordFilter{Kind: "approval", Order: day2.DueFirst}, []string{"ap_5", "ap_3", "ap_2", "ap_1", "ap_0", "ap_4"}},
		{day2.RecordFilter{Kind: "approval", DueBefore: T0.Add(7 * time.Minute), Order: day2.DueFirst}, []string{"ap_5", "ap_3"}},
		{day2.RecordFilter{Kind: "approval", CreatedAfter: mustCreated(t, s, "ap_3")}, []string{"ap_5", "ap_4"}},
		{day2.RecordFilter{Kind: "rollout"}, nil},
	} {
		if got := ids(tt.f); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("ListRecords(%+v) = %v, want %v", tt.f, got, tt.want)
		}
	}
	_, err := s.ListRecords(bg, day2.RecordFilter{})
	wantCode(t, "listing without a kind", err, day2.EInvalid)
	_, err = s.ListRecords(bg, day2.RecordFilter{Kind: "approval", Limit: 5000})
	wantCode(t, "listing with a limit too large", err, day2.EInvalid)
}

func mustCreated(t *testing.T, s StateStore, id string) time.Time {
	t.Helper()
	r, err := s.GetRecord(bg, "approval", id)
	if err != nil {
		t.Fatal(err)
	}
	return r.CreatedAt
}

func testRecordCAS(t *testing.T, open func(t *testing.T) StateStore) {
	stores := []StateStore{openState(t, open), openState(t, open)}
	put(t, stores[0], []day2.Record{rec("counter", "c", 0)})
	const writers, each = 6, 15
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%2]
		wg.Go(func() {
			for range each {
				for {
					r, err := s.GetRecord(bg, "counter", "c")
					if err != nil {
						errs[w] = err
						return
					}
					var n int
					_ = json.Unmarshal(r.Body, &n)
					r.Body = json.RawMessage(strconv.Itoa(n + 1))
					_, _, err = s.PutRecords(bg, []day2.Record{r}, []day2.AuditEntry{{Actor: "w" + strconv.Itoa(w), Action: "counter.add"}})
					if day2.ErrorCode(err) == day2.EConflict {
						continue
					}
					if err != nil {
						errs[w] = err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	r, err := stores[1].GetRecord(bg, "counter", "c")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != strconv.Itoa(writers*each) || r.Rev != writers*each+1 {
		t.Fatalf("counter = %s at revision %d, want %d at %d", r.Body, r.Rev, writers*each, writers*each+1)
	}
	all := auditLog(t, stores[0])
	if len(all) != writers*each {
		t.Fatalf("audit log has %d entries, want one per successful write, %d", len(all), writers*each)
	}
	verify(t, all)
}

func testRecordKeyRace(t *testing.T, open func(t *testing.T) StateStore) {
	stores := []StateStore{openState(t, open), openState(t, open)}
	for round := range 5 {
		key := "svc/idem-" + strconv.Itoa(round)
		const racers = 6
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				r := rec("approval", fmt.Sprintf("ap_%d_%d", round, i), i)
				r.Key = key
				_, _, errs[i] = stores[i%2].PutRecords(bg, []day2.Record{r}, nil)
			})
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch day2.ErrorCode(err) {
			case "":
				wins++
			case day2.EConflict:
			default:
				t.Fatalf("round %d racer %d: %v", round, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d creates with one key succeeded, want 1", round, wins)
		}
	}
}

// testRecordMixedBatch sends many writes at once to one store, a quarter of
// which conflict with a stored record, so that a store committing writes
// together has failing and succeeding writes in one batch. Every other write
// must be stored with its audit entry, no failed write may leave one, and the
// audit chain must verify.
func testRecordMixedBatch(t *testing.T, open func(t *testing.T) StateStore) {
	s := openState(t, open)
	put(t, s, []day2.Record{rec("approval", "taken", 0)}, day2.AuditEntry{Actor: "a", Action: "approval.request", Target: "approval/taken"})
	const writers = 40
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			id := fmt.Sprintf("ap_%02d", i)
			if i%4 == 0 {
				id = "taken"
			}
			r := rec("approval", id, i)
			_, _, errs[i] = s.PutRecords(bg, []day2.Record{r, rec("outbox", fmt.Sprintf("m_%02d", i), i)},
				[]day2.AuditEntry{{Actor: "a", Action: "approval.request", Target: fmt.Sprintf("write/%02d", i)}})
		})
	}
	wg.Wait()
	entries := auditLog(t, s)
	targets := map[string]bool{}
	for _, e := range entries {
		targets[e.Target] = true
	}
	for i, err := range errs {
		target := fmt.Sprintf("write/%02d", i)
		_, outErr := s.GetRecord(bg, "outbox", fmt.Sprintf("m_%02d", i))
		if i%4 == 0 {
			wantCode(t, fmt.Sprintf("write %d, creating a taken id", i), err, day2.EConflict)
			if targets[target] || day2.ErrorCode(outErr) != day2.ENotFound {
				t.Errorf("the failed write %d left its audit entry (%v) or its second record (%v)", i, targets[target], outErr)
			}
			continue
		}
		if err != nil || outErr != nil || !targets[target] {
			t.Errorf("write %d: %v; its second record: %v; its audit entry stored: %v", i, err, outErr, targets[target])
		}
	}
	if len(entries) != 1+writers*3/4 {
		t.Errorf("%d audit entries, want %d", len(entries), 1+writers*3/4)
	}
	if bad, err := day2.VerifyAudit(entries, ""); err != nil {
		t.Errorf("the audit chain breaks at entry %d: %v", bad, err)
	}
}

func testRecordDelete(t *testing.T, open func(t *testing.T) StateStore) {
	s := openState(t, open)
	for i, st := range []string{"sent", "sent", "failed", "pending"} {
		r := rec("outbox", "ob_"+strconv.Itoa(i), i)
		r.State = st
		put(t, s, []day2.Record{r})
	}
	other := rec("incident", "in_1", 1)
	other.State = "sent"
	put(t, s, []day2.Record{other})
	cut := time.Now().Add(time.Hour) // every record changed before it

	n, err := s.DeleteRecords(bg, "outbox", []string{"sent", "failed"}, cut, 2)
	if err != nil || n != 2 {
		t.Fatalf("DeleteRecords with limit 2 = %d, %v; want 2", n, err)
	}
	n, err = s.DeleteRecords(bg, "outbox", []string{"sent", "failed"}, cut, 100)
	if err != nil || n != 1 {
		t.Fatalf("the second DeleteRecords = %d, %v; want the 1 left", n, err)
	}
	left, err := s.ListRecords(bg, day2.RecordFilter{Kind: "outbox"})
	if err != nil || len(left) != 1 || left[0].State != "pending" {
		t.Fatalf("outbox after deleting = %+v, %v; want only the pending record", left, err)
	}
	if _, err := s.GetRecord(bg, "incident", "in_1"); err != nil {
		t.Fatalf("a record of another kind was deleted: %v", err)
	}
	// Records changed after the cut-off stay.
	if n, err := s.DeleteRecords(bg, "outbox", []string{"pending"}, time.Now().Add(-time.Hour), 100); err != nil || n != 0 {
		t.Fatalf("DeleteRecords of records changed after the cut-off = %d, %v; want 0", n, err)
	}
	_, err = s.DeleteRecords(bg, "outbox", nil, cut, 10)
	wantCode(t, "deleting without states", err, day2.EInvalid)
	_, err = s.DeleteRecords(bg, "outbox", []string{"sent"}, cut, 0)
	wantCode(t, "deleting with limit 0", err, day2.EInvalid)
}

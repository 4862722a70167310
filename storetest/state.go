package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

// StateStore is a day2.StateStore that the suite can close, as the stores of
// packages sqlite and postgres are.
type StateStore interface {
	day2.StateStore
	day2.RecordStore
	Close() error
}

// RunState runs the conformance suite of day2.StateStore and day2.RecordStore
// against the stores open returns, under the same rules as Run: the first call of open in a test returns
// a store on a new, empty database, later calls in that test more stores on the
// same database. exec runs a statement on the database of the test's stores,
// bypassing them, as someone tampering with the audit log would; it fails t on
// an error. The subtests run in parallel.
func RunState(t *testing.T, open func(t *testing.T) StateStore, exec func(t *testing.T, query string, args ...any)) {
	tests := []struct {
		name string
		run  func(t *testing.T, open func(t *testing.T) StateStore, exec func(t *testing.T, query string, args ...any))
	}{
		{"saved alert states are the latest and their transitions the history, newest first", testAlertsAndHistory},
		{"alert history selects keys by prefix, literally and case-sensitively", testHistoryPrefix},
		{"a rejected save of alerts stores nothing", testSaveAlertsRejected},
		{"a bad limit, after id or time is an invalid request", testInvalidStateRequests},
		{"creating an override writes one audit entry that verifies", testOverrideAudited},
		{"an override's audit entry defaults to the override", testOverrideAuditDefaults},
		{"an invalid override is rejected without an audit entry", testOverrideRejected},
		{"expired overrides are not returned", testOverrideExpiry},
		{"a long audit log forms one chain that verifies page by page", testAuditChain},
		{"audit entries are stored byte for byte and filtered by action and target", testAuditFilters},
		{"an invalid audit entry is rejected and takes no id", testAuditRejected},
		{"the audit chain continues after reopening the store", testAuditReopen},
		{"an audit entry edited in the database fails verification", testAuditTampered},
		{"concurrent appends from two stores form one unbroken chain", testAuditConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open, exec)
		})
	}
	for _, tt := range recordTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, open)
		})
	}
}

// openState opens a store and closes it when the test ends.
func openState(t *testing.T, open func(t *testing.T) StateStore) StateStore {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// zone is a time zone other than UTC, to check that times come back in UTC.
var zone = time.FixedZone("UTC+2", 2*60*60)

func saveAlerts(t *testing.T, s day2.StateStore, states []day2.AlertState, trans ...day2.AlertTransition) {
	t.Helper()
	if err := s.SaveAlerts(bg, states, trans); err != nil {
		t.Fatalf("SaveAlerts: %v", err)
	}
}

func history(t *testing.T, s day2.StateStore, prefix string, limit int) []day2.AlertTransition {
	t.Helper()
	h, err := s.AlertHistory(bg, prefix, limit)
	if err != nil {
		t.Fatalf("AlertHistory(%q, %d): %v", prefix, limit, err)
	}
	return h
}

// historyKeys returns the keys and target states of h, to compare orders.
func historyKeys(h []day2.AlertTransition) []string {
	out := make([]string, len(h))
	for i, tr := range h {
		out[i] = tr.Key + ">" + tr.To
	}
	return out
}

func testAlertsAndHistory(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	if got, err := s.AlertStates(bg); err != nil || len(got) != 0 {
		t.Fatalf("AlertStates of a new store: %+v, %v; want none", got, err)
	}
	page := day2.AlertState{Key: "slo:a/success:page", Source: "slo", SLO: "a/success", Service: "a",
		Severity: "page", State: "firing", Since: T0.In(zone), Details: "burn 1h=15.2", UpdatedAt: T0.Add(time.Second).In(zone)}
	ticket := day2.AlertState{Key: "slo:a/success:ticket", Source: "slo", SLO: "a/success", Service: "a",
		Severity: "ticket", State: "inactive", UpdatedAt: T0.Add(time.Second)}
	trans := func(a day2.AlertState, from string) day2.AlertTransition {
		return day2.AlertTransition{Key: a.Key, SLO: a.SLO, Service: a.Service, Severity: a.Severity,
			From: from, To: a.State, At: a.Since, Details: a.Details}
	}
	saveAlerts(t, s, []day2.AlertState{page, ticket},
		trans(page, "inactive"), day2.AlertTransition{Key: "slo:b/latency:page", From: "firing", To: "resolved", At: T0})

	// The page alert resolves; the ticket alert fires, then resolves, within
	// one save, and the same key given twice keeps the last state.
	resolved := page
	resolved.State, resolved.Since, resolved.Details, resolved.UpdatedAt = "resolved", T0.Add(time.Hour+123*time.Nanosecond), "", T0.Add(time.Hour)
	firing := ticket
	firing.State, firing.Since = "firing", T0.Add(30*time.Minute)
	ticketResolved := ticket
	ticketResolved.State, ticketResolved.Since, ticketResolved.UpdatedAt = "resolved", T0.Add(time.Hour), T0.Add(time.Hour)
	saveAlerts(t, s, []day2.AlertState{resolved, firing, ticketResolved},
		trans(firing, "inactive"), trans(resolved, "firing"), trans(ticketResolved, "firing"))

	utc := func(a day2.AlertState) day2.AlertState {
		if !a.Since.IsZero() {
			a.Since = a.Since.UTC()
		}
		a.UpdatedAt = a.UpdatedAt.UTC()
		return a
	}
	got, err := s.AlertStates(bg)
	if err != nil {
		t.Fatalf("AlertStates: %v", err)
	}
	if want := []day2.AlertState{utc(resolved), utc(ticketResolved)}; !reflect.DeepEqual(got, want) {
		t.Errorf("AlertStates\n got %+v\nwant %+v", got, want)
	}

	h := history(t, s, "", 0)
	want := []string{"slo:a/success:ticket>resolved", "slo:a/success:page>resolved", "slo:a/success:ticket>firing",
		"slo:b/latency:page>resolved", "slo:a/success:page>firing"}
	if got := historyKeys(h); !reflect.DeepEqual(got, want) {
		t.Fatalf("AlertHistory order\n got %q\nwant %q", got, want)
	}
	for i := 1; i < len(h); i++ {
		if h[i].ID >= h[i-1].ID {
			t.Errorf("AlertHistory: id %d after id %d, want descending ids", h[i].ID, h[i-1].ID)
		}
	}
	wantFirst := trans(page, "inactive")
	wantFirst.ID, wantFirst.At = h[4].ID, page.Since.UTC()
	if !reflect.DeepEqual(h[4], wantFirst) {
		t.Errorf("oldest transition\n got %+v\nwant %+v", h[4], wantFirst)
	}
	if !h[1].At.Equal(resolved.Since) || h[1].At.Location() != time.UTC {
		t.Errorf("transition time %v, want %v in UTC", h[1].At, resolved.Since)
	}
	if got := historyKeys(history(t, s, "", 2)); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("AlertHistory with limit 2: %q, want %q", got, want[:2])
	}
}

func testHistoryPrefix(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	keys := []string{
		"slo:a/x:page", "slo:a/x:ticket", "slo:a/xy:page", "slo:b:page", "SLO:a/x:page",
		`slo:c%_\:page`, "slo:cab:page", `slo:c%_\x:page`, "slo:é:page", "slo:\U0010FFFF:page",
	}
	var trans []day2.AlertTransition
	for _, k := range keys {
		trans = append(trans, day2.AlertTransition{Key: k, From: "inactive", To: "firing", At: T0})
	}
	saveAlerts(t, s, nil, trans...)
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", nil}, // every key, checked by count below
		{"slo:a/x:", []string{"slo:a/x:ticket", "slo:a/x:page"}},
		{"slo:a/x", []string{"slo:a/xy:page", "slo:a/x:ticket", "slo:a/x:page"}},
		{"slo:a/x:page", []string{"slo:a/x:page"}},
		{"SLO:", []string{"SLO:a/x:page"}},
		{`slo:c%_\`, []string{`slo:c%_\x:page`, `slo:c%_\:page`}},
		{`slo:c%_\:`, []string{`slo:c%_\:page`}},
		{"slo:c", []string{`slo:c%_\x:page`, "slo:cab:page", `slo:c%_\:page`}},
		{"slo:é", []string{"slo:é:page"}},
		{"slo:\U0010FFFF", []string{"slo:\U0010FFFF:page"}},
		{"slo:z", nil},
	}
	for _, tt := range tests {
		h := history(t, s, tt.prefix, 0)
		if tt.prefix == "" {
			if len(h) != len(keys) {
				t.Errorf("AlertHistory(\"\"): %d transitions, want %d", len(h), len(keys))
			}
			continue
		}
		var got []string
		for _, tr := range h {
			got = append(got, tr.Key)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("AlertHistory(%q): %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func testSaveAlertsRejected(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	ok := day2.AlertState{Key: "slo:a:page", State: "firing", Since: T0, UpdatedAt: T0}
	bad := []struct {
		name   string
		states []day2.AlertState
		trans  []day2.AlertTransition
	}{
		{"a state without a key", []day2.AlertState{ok, {State: "firing"}}, nil},
		{"a transition without a key", []day2.AlertState{ok}, []day2.AlertTransition{{Key: ok.Key, To: "firing"}, {To: "firing"}}},
		{"details with a NUL character", []day2.AlertState{ok}, []day2.AlertTransition{{Key: ok.Key, Details: "a\x00b"}}},
		{"a time past 2262", []day2.AlertState{{Key: "k", Since: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)}}, nil},
	}
	for _, b := range bad {
		checkCode(t, "SaveAlerts with "+b.name, s.SaveAlerts(bg, b.states, b.trans), day2.EInvalid)
	}
	if got, err := s.AlertStates(bg); err != nil || len(got) != 0 {
		t.Errorf("AlertStates after rejected saves: %+v, %v; want none", got, err)
	}
	if h := history(t, s, "", 0); len(h) != 0 {
		t.Errorf("AlertHistory after rejected saves: %+v, want none", h)
	}
	if err := s.SaveAlerts(bg, nil, nil); err != nil {
		t.Errorf("SaveAlerts of nothing: %v", err)
	}
}

func testInvalidStateRequests(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	for _, limit := range []int{-1, 1001} {
		_, err := s.AlertHistory(bg, "", limit)
		checkCode(t, fmt.Sprintf("AlertHistory with limit %d", limit), err, day2.EInvalid)
		_, err = s.ListAudit(bg, day2.AuditFilter{Limit: limit})
		checkCode(t, fmt.Sprintf("ListAudit with limit %d", limit), err, day2.EInvalid)
	}
	if _, err := s.AlertHistory(bg, "", 1000); err != nil {
		t.Errorf("AlertHistory with limit 1000: %v", err)
	}
	_, err := s.ListAudit(bg, day2.AuditFilter{AfterID: -1})
	checkCode(t, "ListAudit after id -1", err, day2.EInvalid)
	_, err = s.Overrides(bg, "", T0)
	checkCode(t, "Overrides of no service", err, day2.EInvalid)
	_, err = s.Overrides(bg, "a", time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC))
	checkCode(t, "Overrides at a time before 1678", err, day2.EInvalid)
}

func listAudit(t *testing.T, s day2.StateStore, f day2.AuditFilter) []day2.AuditEntry {
	t.Helper()
	es, err := s.ListAudit(bg, f)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", f, err)
	}
	return es
}

// auditLog returns the whole audit log, reading it a page at a time.
func auditLog(t *testing.T, s day2.StateStore) []day2.AuditEntry {
	t.Helper()
	var all []day2.AuditEntry
	for {
		page := listAudit(t, s, day2.AuditFilter{AfterID: lastID(all), Limit: 1000})
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
	}
}

func lastID(es []day2.AuditEntry) int64 {
	if len(es) == 0 {
		return 0
	}
	return es[len(es)-1].ID
}

// verify checks that es, the whole audit log, is an unbroken chain with ids
// 1..len(es).
func verify(t *testing.T, es []day2.AuditEntry) {
	t.Helper()
	for i, e := range es {
		if e.ID != int64(i+1) {
			t.Fatalf("audit entry %d has id %d, want ids 1, 2, 3, ...", i, e.ID)
		}
	}
	if bad, err := day2.VerifyAudit(es, ""); err != nil {
		t.Fatalf("VerifyAudit: entry %d: %v", bad, err)
	}
}

func appendAudit(t *testing.T, s day2.StateStore, e day2.AuditEntry) day2.AuditEntry {
	t.Helper()
	got, err := s.AppendAudit(bg, e)
	if err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	return got
}

func testOverrideAudited(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	created := T0.Add(123 * time.Nanosecond).In(zone)
	o := day2.Override{Service: "invoice-agent", Environment: "prod", Actor: "alice", Reason: "security fix",
		CreatedAt: created, ExpiresAt: created.Add(2 * time.Hour)}
	after := json.RawMessage(` {"service": "invoice-agent",  "reason":"security fix"} `)
	got, err := s.CreateOverride(bg, o, day2.AuditEntry{At: created, Actor: "alice", Action: "policy.override",
		Target: "service/invoice-agent", Reason: "security fix", After: after})
	if err != nil {
		t.Fatalf("CreateOverride: %v", err)
	}
	if got.ID == 0 {
		t.Errorf("CreateOverride returned no ID")
	}
	want := o
	want.ID, want.CreatedAt, want.ExpiresAt = got.ID, o.CreatedAt.UTC(), o.ExpiresAt.UTC()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CreateOverride returned\n %+v\nwant %+v", got, want)
	}
	if listed, err := s.Overrides(bg, "invoice-agent", created); err != nil || !reflect.DeepEqual(listed, []day2.Override{want}) {
		t.Errorf("Overrides: %+v, %v; want %+v", listed, err, want)
	}

	es := auditLog(t, s)
	if len(es) != 1 {
		t.Fatalf("audit log has %d entries after creating an override, want 1: %+v", len(es), es)
	}
	verify(t, es)
	e := es[0]
	if e.Actor != "alice" || e.Action != "policy.override" || e.Target != "service/invoice-agent" ||
		e.Reason != "security fix" || !e.At.Equal(created) || string(e.After) != string(after) || e.Before != nil {
		t.Errorf("audit entry %+v does not record the override as given", e)
	}
}

func testOverrideAuditDefaults(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	o, err := s.CreateOverride(bg, day2.Override{Service: "a", Actor: "bob", Reason: "hotfix", ExpiresAt: T0.Add(24 * 365 * 100 * time.Hour)},
		day2.AuditEntry{})
	if err != nil {
		t.Fatalf("CreateOverride: %v", err)
	}
	if o.CreatedAt.IsZero() || o.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt %v, want now in UTC", o.CreatedAt)
	}
	es := auditLog(t, s)
	if len(es) != 1 {
		t.Fatalf("audit log has %d entries, want 1", len(es))
	}
	verify(t, es)
	e := es[0]
	var recorded day2.Override
	if err := json.Unmarshal(e.After, &recorded); err != nil {
		t.Fatalf("audit entry's After %s: %v", e.After, err)
	}
	if e.Actor != "bob" || e.Action != "policy.override" || e.Target != "service/a" || e.Reason != "hotfix" ||
		!e.At.Equal(o.CreatedAt) || !reflect.DeepEqual(recorded, o) {
		t.Errorf("audit entry %+v (After %s), want the defaults from override %+v", e, e.After, o)
	}
}

func testOverrideRejected(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	valid := day2.AuditEntry{Actor: "alice", Action: "policy.override"}
	bad := []struct {
		name  string
		o     day2.Override
		audit day2.AuditEntry
	}{
		{"no service", day2.Override{Reason: "r", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}, valid},
		{"an expiry at its creation", day2.Override{Service: "a", CreatedAt: T0, ExpiresAt: T0}, valid},
		{"an expiry before its creation", day2.Override{Service: "a", CreatedAt: T0, ExpiresAt: T0.Add(-time.Hour)}, valid},
		{"no expiry", day2.Override{Service: "a", CreatedAt: T0}, valid},
		{"an expiry past 2262", day2.Override{Service: "a", CreatedAt: T0, ExpiresAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, valid},
		{"an audit entry whose After is not JSON", day2.Override{Service: "a", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)},
			day2.AuditEntry{Actor: "alice", Action: "policy.override", After: json.RawMessage("{")}},
	}
	for _, b := range bad {
		_, err := s.CreateOverride(bg, b.o, b.audit)
		checkCode(t, "CreateOverride with "+b.name, err, day2.EInvalid)
	}
	if got, err := s.Overrides(bg, "a", T0.Add(-time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("Overrides after rejected creations: %+v, %v; want none", got, err)
	}
	if es := auditLog(t, s); len(es) != 0 {
		t.Errorf("audit log after rejected overrides: %+v, want empty", es)
	}
}

func testOverrideExpiry(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	create := func(service, env string, expires time.Duration) day2.Override {
		t.Helper()
		o, err := s.CreateOverride(bg, day2.Override{Service: service, Environment: env, Actor: "alice", Reason: "fix",
			CreatedAt: T0, ExpiresAt: T0.Add(expires)}, day2.AuditEntry{Actor: "alice", Action: "policy.override"})
		if err != nil {
			t.Fatalf("CreateOverride: %v", err)
		}
		return o
	}
	short := create("a", "prod", time.Hour)
	long := create("a", "", 2*time.Hour)
	staging := create("a", "staging", 3*time.Hour)
	other := create("b", "prod", 2*time.Hour)
	tests := []struct {
		at   time.Duration
		want []day2.Override
	}{
		{-time.Hour, []day2.Override{short, long, staging}},
		{0, []day2.Override{short, long, staging}},
		{time.Hour - time.Nanosecond, []day2.Override{short, long, staging}},
		{time.Hour, []day2.Override{long, staging}},
		{90 * time.Minute, []day2.Override{long, staging}},
		{2 * time.Hour, []day2.Override{staging}},
		{3 * time.Hour, nil},
	}
	for _, tt := range tests {
		got, err := s.Overrides(bg, "a", T0.Add(tt.at).In(zone))
		if err != nil {
			t.Fatalf("Overrides: %v", err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Overrides of a at T0%+v\n got %+v\nwant %+v", tt.at, got, tt.want)
		}
	}
	if got, err := s.Overrides(bg, "b", T0); err != nil || !reflect.DeepEqual(got, []day2.Override{other}) {
		t.Errorf("Overrides of b: %+v, %v; want %+v", got, err, other)
	}
	verify(t, auditLog(t, s))
}

func testAuditChain(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	const n = 130
	var appended []day2.AuditEntry
	for i := range n {
		e := day2.AuditEntry{Actor: "alice", Action: "slo.update", Target: fmt.Sprintf("slo/a-%d", i%7),
			Reason: fmt.Sprintf("change %d", i)}
		switch i % 3 {
		case 0:
			e.At = T0.Add(time.Duration(i)*time.Second + time.Duration(i)).In(zone)
		case 1:
			e.At = time.Now() // with a monotonic clock reading, which is not stored
		}
		got := appendAudit(t, s, e)
		if got.ID != int64(i+1) || got.Hash == "" || got.At.IsZero() || got.At.Location() != time.UTC {
			t.Fatalf("AppendAudit returned %+v, want id %d, a hash and a time in UTC", got, i+1)
		}
		if !e.At.IsZero() && !got.At.Equal(e.At) {
			t.Errorf("AppendAudit: At %v, want %v", got.At, e.At)
		}
		appended = append(appended, got)
	}

	first := listAudit(t, s, day2.AuditFilter{})
	if len(first) != 100 {
		t.Fatalf("ListAudit without a limit: %d entries, want the default 100", len(first))
	}
	if bad, err := day2.VerifyAudit(first, ""); err != nil {
		t.Errorf("VerifyAudit of the first page: entry %d: %v", bad, err)
	}
	rest := listAudit(t, s, day2.AuditFilter{AfterID: lastID(first)})
	if len(rest) != n-100 {
		t.Fatalf("ListAudit after id %d: %d entries, want %d", lastID(first), len(rest), n-100)
	}
	if bad, err := day2.VerifyAudit(rest, first[len(first)-1].Hash); err != nil {
		t.Errorf("VerifyAudit of the second page: entry %d: %v", bad, err)
	}
	all := append(first, rest...)
	verify(t, all)
	if !reflect.DeepEqual(all, appended) {
		t.Errorf("listed entries differ from those AppendAudit returned")
	}
}

func testAuditFilters(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	exact := day2.AuditEntry{Actor: "alice", Action: "policy.override", Target: "service/a", Reason: "größer \u2028 ✓",
		Before: json.RawMessage("{\n  \"frozen\" : true ,\"n\":1.50e+2}"), After: json.RawMessage(`{"s":"\u00e9\ud83d\ude00","x":[ ]}`)}
	entries := []day2.AuditEntry{
		exact,
		{Actor: "bob", Action: "slo.update", Target: "slo/a", Before: json.RawMessage(`null`), After: json.RawMessage(`{}`)},
		{Actor: "bob", Action: "policy.override", Target: "service/b"},
		{Actor: "carol", Action: "slo.update", Target: "service/a", Reason: "x"},
		{Actor: "alice", Action: "policy.override", Target: "service/a", After: json.RawMessage{}},
	}
	var stored []day2.AuditEntry
	for _, e := range entries {
		stored = append(stored, appendAudit(t, s, e))
	}
	all := auditLog(t, s)
	verify(t, all)
	if !reflect.DeepEqual(all, stored) {
		t.Errorf("listed entries\n %+v\nwant %+v", all, stored)
	}
	if string(all[0].Before) != string(exact.Before) || string(all[0].After) != string(exact.After) || all[0].Reason != exact.Reason {
		t.Errorf("entry 1 read back as %q %q %q, want the bytes given", all[0].Before, all[0].After, all[0].Reason)
	}
	if all[4].After != nil {
		t.Errorf("an empty After reads back as %q, want nil", all[4].After)
	}
	tests := []struct {
		f    day2.AuditFilter
		want []int64
	}{
		{day2.AuditFilter{Action: "policy.override"}, []int64{1, 3, 5}},
		{day2.AuditFilter{Target: "service/a"}, []int64{1, 4, 5}},
		{day2.AuditFilter{Action: "policy.override", Target: "service/a"}, []int64{1, 5}},
		{day2.AuditFilter{Action: "policy.override", AfterID: 1}, []int64{3, 5}},
		{day2.AuditFilter{Action: "policy.override", Limit: 2}, []int64{1, 3}},
		{day2.AuditFilter{AfterID: 3}, []int64{4, 5}},
		{day2.AuditFilter{AfterID: 5}, nil},
		{day2.AuditFilter{Action: "policy"}, nil},
	}
	for _, tt := range tests {
		var got []int64
		for _, e := range listAudit(t, s, tt.f) {
			got = append(got, e.ID)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ListAudit(%+v): ids %v, want %v", tt.f, got, tt.want)
		}
	}
}

func testAuditRejected(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := openState(t, open)
	bad := []struct {
		name string
		e    day2.AuditEntry
	}{
		{"no action", day2.AuditEntry{Actor: "alice"}},
		{"no actor", day2.AuditEntry{Action: "slo.update"}},
		{"a Before that is not JSON", day2.AuditEntry{Actor: "alice", Action: "slo.update", Before: json.RawMessage(`{"a":`)}},
		{"an After that is not UTF-8", day2.AuditEntry{Actor: "alice", Action: "slo.update", After: json.RawMessage("\"\xff\"")}},
		{"a reason that is not UTF-8", day2.AuditEntry{Actor: "alice", Action: "slo.update", Reason: "\xff"}},
		{"a target with a NUL character", day2.AuditEntry{Actor: "alice", Action: "slo.update", Target: "a\x00"}},
		{"a time before 1678", day2.AuditEntry{Actor: "alice", Action: "slo.update", At: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, b := range bad {
		_, err := s.AppendAudit(bg, b.e)
		checkCode(t, "AppendAudit with "+b.name, err, day2.EInvalid)
	}
	if got := appendAudit(t, s, day2.AuditEntry{Actor: "alice", Action: "slo.update"}); got.ID != 1 || got.PrevHash != "" {
		t.Errorf("first entry after rejected ones: id %d, prev hash %q; want 1 and none", got.ID, got.PrevHash)
	}
}

func testAuditReopen(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	s := open(t)
	for i := range 3 {
		appendAudit(t, s, day2.AuditEntry{Actor: "alice", Action: "slo.update", Reason: fmt.Sprint(i)})
	}
	before := auditLog(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openState(t, open)
	if got := auditLog(t, s); !reflect.DeepEqual(got, before) {
		t.Errorf("audit log after reopening\n got %+v\nwant %+v", got, before)
	}
	if e := appendAudit(t, s, day2.AuditEntry{Actor: "alice", Action: "slo.update"}); e.ID != 4 || e.PrevHash != before[2].Hash {
		t.Errorf("entry appended after reopening: id %d, prev hash %q; want 4 after %q", e.ID, e.PrevHash, before[2].Hash)
	}
	verify(t, auditLog(t, s))
}

func testAuditTampered(t *testing.T, open func(t *testing.T) StateStore, exec func(*testing.T, string, ...any)) {
	s := openState(t, open)
	for i := range 5 {
		appendAudit(t, s, day2.AuditEntry{Actor: "alice", Action: "policy.override", Target: "service/a",
			Reason: fmt.Sprintf("reason %d", i)})
	}
	verify(t, auditLog(t, s))
	exec(t, "UPDATE audit_log SET reason = 'nothing to see' WHERE id = 3")
	es := auditLog(t, s)
	if len(es) != 5 || es[2].Reason != "nothing to see" {
		t.Fatalf("the update did not reach the store's database: %+v", es)
	}
	if bad, err := day2.VerifyAudit(es, ""); bad != 3 || err == nil {
		t.Errorf("VerifyAudit of a log with entry 3 edited: entry %d, %v; want entry 3 reported", bad, err)
	}
}

func testAuditConcurrent(t *testing.T, open func(t *testing.T) StateStore, _ func(*testing.T, string, ...any)) {
	stores := []StateStore{openState(t, open), openState(t, open)}
	const writers, each = 8, 25
	got := make([][]day2.AuditEntry, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				var e day2.AuditEntry
				var err error
				if w == 0 {
					// Overrides append to the same chain in their own transactions.
					_, err = s.CreateOverride(bg, day2.Override{Service: "a", Actor: "alice", Reason: fmt.Sprint(i),
						CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}, day2.AuditEntry{})
				} else {
					e, err = s.AppendAudit(bg, day2.AuditEntry{Actor: fmt.Sprintf("writer-%d", w), Action: "slo.update",
						Reason: fmt.Sprint(i)})
				}
				if err != nil {
					errs[w] = err
					return
				}
				if w != 0 {
					got[w] = append(got[w], e)
				}
			}
		})
	}
	wg.Wait()
	for w, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", w, err)
		}
	}
	all := auditLog(t, stores[1])
	if len(all) != writers*each {
		t.Fatalf("audit log has %d entries, want %d", len(all), writers*each)
	}
	verify(t, all)
	for w := 1; w < writers; w++ {
		for _, e := range got[w] {
			if !reflect.DeepEqual(all[e.ID-1], e) {
				t.Errorf("entry %d as returned by AppendAudit\n %+v\ndiffers from the stored one\n %+v", e.ID, e, all[e.ID-1])
			}
		}
	}
}

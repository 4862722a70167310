package incident

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/day2ops/day2/internal/testclock"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

var bg = context.Background()

// t0 is the start of the tests' timeline.
var t0 = storetest.T0

type fakeClock = testclock.Clock

// outbox records the messages the service enqueues and prepares them with the
// real notification outbox, so they are stored with the incident.
type outbox struct {
	ob    *notify.Outbox
	mu    sync.Mutex
	msgs  []notify.Message
	kicks atomic.Int64
}

func (o *outbox) notify(_ context.Context, m notify.Message) []day2.Record {
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	return o.ob.Prepare(m)
}

// count returns the number of messages of event about incident id ("" for
// any).
func (o *outbox) count(event, id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, m := range o.msgs {
		if m.Event == event && (id == "" || m.DedupKey == id) {
			n++
		}
	}
	return n
}

func (o *outbox) last() notify.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.msgs[len(o.msgs)-1]
}

// testEnv is a Service over a real SQLite store with a fake clock.
type testEnv struct {
	st    *sqlite.Store
	clock *fakeClock
	out   *outbox
	svc   *Service
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(bg, t.TempDir())
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newEnv returns a service at t0 over a new store; edit adjusts its options.
func newEnv(t *testing.T, edit func(o *Options)) *testEnv {
	t.Helper()
	e := &testEnv{st: openStore(t), clock: testclock.New(t0)}
	e.out = &outbox{ob: notify.NewOutbox(notify.OutboxOptions{Records: e.st, Clock: e.clock.Now,
		Notifiers: []notify.Notifier{{Name: "oncall", Type: notify.TypeWebhook, URL: "http://127.0.0.1:9/hook", Secret: "s3cret"}}})}
	o := Options{
		Records: e.st, Audit: e.st.ListAudit, Tasks: e.st, Rollups: e.st,
		Notify: e.out.notify, Kick: func() { e.out.kicks.Add(1) },
		BaseURL: "https://day2.example.com/", Clock: e.clock.Now,
	}
	if edit != nil {
		edit(&o)
	}
	svc, err := NewService(o)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	e.svc = svc
	return e
}

// alert returns a firing page alert of support-triage in env.
func alert(key, env string) Alert {
	return Alert{Source: SourceRule, Key: key, Status: StatusFiring, Service: "support-triage", Environment: env,
		Severity: SeverityPage, Summary: "task success of support-triage dropped (" + key + ")", StartsAt: t0.Add(-2 * time.Minute)}
}

func (e *testEnv) ingest(t *testing.T, alerts ...Alert) {
	t.Helper()
	if err := e.svc.Ingest(bg, alerts); err != nil {
		t.Fatalf("Ingest: %v", err)
	}
}

func (e *testEnv) tick(t *testing.T) {
	t.Helper()
	if err := e.svc.Tick(bg); err != nil {
		t.Fatalf("Tick: %v", err)
	}
}

func (e *testEnv) list(t *testing.T, f Filter) []Incident {
	t.Helper()
	incs, err := e.svc.List(bg, f)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return incs
}

func (e *testEnv) only(t *testing.T) Incident {
	t.Helper()
	incs := e.list(t, Filter{})
	if len(incs) != 1 {
		t.Fatalf("got %d incidents, want 1: %s", len(incs), titles(incs))
	}
	return incs[0]
}

func (e *testEnv) get(t *testing.T, id string) Incident {
	t.Helper()
	inc, err := e.svc.Get(bg, id)
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	return inc
}

// outboxRecords returns the number of outbox records stored.
func (e *testEnv) outboxRecords(t *testing.T) int {
	t.Helper()
	recs, err := e.st.ListRecords(bg, day2.RecordFilter{Kind: notify.RecordKind, Limit: 1000})
	if err != nil {
		t.Fatalf("list outbox: %v", err)
	}
	return len(recs)
}

// stored returns the number of outbox records of event: the messages stored
// with their change, not those prepared for a write that lost a race.
func (e *testEnv) stored(t *testing.T, event string) int {
	t.Helper()
	recs, err := e.st.ListRecords(bg, day2.RecordFilter{Kind: notify.RecordKind, Limit: 1000})
	if err != nil {
		t.Fatalf("list outbox: %v", err)
	}
	n := 0
	for _, r := range recs {
		var b struct {
			Message notify.Message `json:"message"`
		}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			t.Fatalf("outbox record %s: %v", r.ID, err)
		}
		if b.Message.Event == event {
			n++
		}
	}
	return n
}

func titles(incs []Incident) string {
	var parts []string
	for _, inc := range incs {
		parts = append(parts, fmt.Sprintf("%s %s %q", inc.ID, inc.State, inc.GroupKey))
	}
	return strings.Join(parts, "; ")
}

// entries returns the timeline entries of type typ.
func entries(inc Incident, typ string) []Entry {
	var out []Entry
	for _, e := range inc.Timeline {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if day2.ErrorCode(err) != code {
		t.Fatalf("%s: got error %v (code %q), want code %q", what, err, day2.ErrorCode(err), code)
	}
}

// fakeLevers records the levers pulled.
type fakeLevers struct {
	mu      sync.Mutex
	calls   []string
	err     error
	weight  int
	rollout string
}

func (f *fakeLevers) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

func (f *fakeLevers) SetCandidateWeight(_ context.Context, actor, service, env string, weight int, reason string) error {
	return f.record("weight %s %s %s %d %s", actor, service, env, weight, reason)
}

func (f *fakeLevers) SetFlag(_ context.Context, actor, key string, on bool, reason string) error {
	return f.record("flag %s %s %v %s", actor, key, on, reason)
}

func (f *fakeLevers) ForceManual(_ context.Context, actor, service string, on bool, reason string) error {
	return f.record("manual %s %s %v %s", actor, service, on, reason)
}

func (f *fakeLevers) SetOverride(_ context.Context, actor, service, name string, value any, reason string) error {
	return f.record("override %s %s %s %v %s", actor, service, name, value, reason)
}

func (f *fakeLevers) RolloutWeight(_ context.Context, service, env string) (int, string, bool) {
	return f.weight, f.rollout, f.rollout != ""
}

func (f *fakeLevers) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

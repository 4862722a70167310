package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/day2ops/day2/internal/testclock"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
	"github.com/day2ops/day2/sqlite"
)

type clock = testclock.Clock

func newClock() *clock { return testclock.New(time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)) }

// reply is one scripted answer of the test receiver.
type reply struct {
	status     int
	retryAfter string
	body       string
}

// request is one request the receiver got.
type request struct {
	delivery string
	body     map[string]any
}

// destination is a receiver answering with a script, then 200 for good.
type destination struct {
	*httptest.Server
	mu     sync.Mutex
	script []reply
	got    []request
}

func newDestination(t *testing.T, script ...reply) *destination {
	d := &destination{script: script}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var v map[string]any
		_ = json.Unmarshal(raw, &v)
		d.mu.Lock()
		d.got = append(d.got, request{delivery: r.Header.Get(notify.HeaderDelivery), body: v})
		rep := reply{status: http.StatusOK}
		if len(d.script) > 0 {
			rep, d.script = d.script[0], d.script[1:]
		}
		d.mu.Unlock()
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, rep.body)
	}))
	t.Cleanup(d.Close)
	return d
}

func (d *destination) requests() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]request(nil), d.got...)
}

func openStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func hook(name, url string) notify.Notifier {
	return notify.Notifier{Name: name, Type: notify.TypeWebhook, URL: url, Secret: "s3cret"}
}

// deliver runs one pass and fails the test on a store error.
func deliver(t *testing.T, ob *notify.Outbox) int {
	t.Helper()
	n, err := ob.Deliver(context.Background())
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	return n
}

// only returns the one delivery of the outbox.
func only(t *testing.T, ob *notify.Outbox) notify.Delivery {
	t.Helper()
	ds, err := ob.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("outbox holds %d messages, want 1: %+v", len(ds), ds)
	}
	return ds[0]
}

func TestServerErrorsAreRetriedWithBackoff(t *testing.T) {
	ctx := context.Background()
	dst := newDestination(t, reply{status: 500}, reply{status: 502})
	clk := newClock()
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{hook("hook", dst.URL)},
		Clock: clk.Now, Backoff: func(attempt int) time.Duration { return time.Duration(attempt) * time.Minute }})
	if err := ob.Enqueue(ctx, triggered()); err != nil {
		t.Fatal(err)
	}

	if n := deliver(t, ob); n != 0 {
		t.Errorf("first pass sent %d, want 0 (the destination answered 500)", n)
	}
	d := only(t, ob)
	if d.State != notify.StatePending || d.Attempts != 1 || d.LastStatus != 500 || !d.NextAttempt.Equal(clk.Now().Add(time.Minute)) {
		t.Errorf("after a 500: %+v; want pending, 1 attempt, status 500, next attempt in 1m", d)
	}
	if !strings.Contains(d.LastError, "500") {
		t.Errorf("last error %q does not give the status", d.LastError)
	}
	clk.Advance(59 * time.Second)
	deliver(t, ob)
	if got := len(dst.requests()); got != 1 {
		t.Fatalf("%d requests before the backoff ran out, want 1", got)
	}
	clk.Advance(time.Second)
	deliver(t, ob)
	if d := only(t, ob); d.Attempts != 2 || !d.NextAttempt.Equal(clk.Now().Add(2*time.Minute)) {
		t.Errorf("after a second failure: %+v; want 2 attempts, next in 2m", d)
	}
	clk.Advance(2 * time.Minute)
	if n := deliver(t, ob); n != 1 {
		t.Errorf("third pass sent %d, want 1", n)
	}
	d = only(t, ob)
	if d.State != notify.StateSent || d.Attempts != 3 || d.LastError != "" || !d.NextAttempt.IsZero() || !d.SentAt.Equal(clk.Now()) {
		t.Errorf("after success: %+v; want sent after 3 attempts, nothing due", d)
	}
	reqs := dst.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, r := range reqs {
		if r.delivery != d.ID || r.body["delivery_id"] != d.ID {
			t.Errorf("a retry carried delivery %q (body %v), want the same id %q every time", r.delivery, r.body["delivery_id"], d.ID)
		}
	}
	clk.Advance(time.Hour)
	deliver(t, ob)
	if got := len(dst.requests()); got != 3 {
		t.Errorf("a sent message was sent again: %d requests", got)
	}
}

func TestTooManyRequestsHonoursRetryAfter(t *testing.T) {
	dst := newDestination(t, reply{status: 429, retryAfter: "120"})
	clk := newClock()
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{hook("hook", dst.URL)},
		Clock: clk.Now, Backoff: func(int) time.Duration { return time.Second }})
	if err := ob.Enqueue(context.Background(), triggered()); err != nil {
		t.Fatal(err)
	}
	deliver(t, ob)
	if d := only(t, ob); d.State != notify.StatePending || !d.NextAttempt.Equal(clk.Now().Add(120*time.Second)) {
		t.Errorf("after a 429 with Retry-After: 120: %+v; want pending until 120 s later", d)
	}
	clk.Advance(119 * time.Second)
	deliver(t, ob)
	if got := len(dst.requests()); got != 1 {
		t.Errorf("%d requests before Retry-After ran out, want 1", got)
	}
	clk.Advance(time.Second)
	if n := deliver(t, ob); n != 1 {
		t.Errorf("sent %d after Retry-After, want 1", n)
	}
}

func TestClientErrorsFailWithoutRetry(t *testing.T) {
	dst := newDestination(t, reply{status: 400, body: "invalid_payload"})
	clk := newClock()
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{hook("hook", dst.URL)}, Clock: clk.Now})
	if err := ob.Enqueue(context.Background(), triggered()); err != nil {
		t.Fatal(err)
	}
	deliver(t, ob)
	d := only(t, ob)
	if d.State != notify.StateFailed || d.Attempts != 1 || d.LastStatus != 400 || !d.NextAttempt.IsZero() {
		t.Errorf("after a 400: %+v; want failed after one attempt", d)
	}
	if !strings.Contains(d.LastError, "400 Bad Request: invalid_payload") {
		t.Errorf("last error %q does not say what the destination answered", d.LastError)
	}
	clk.Advance(24 * time.Hour)
	deliver(t, ob)
	if got := len(dst.requests()); got != 1 {
		t.Errorf("a refused message was tried %d times, want 1", got)
	}
}

func TestMessagesFailAfterMaxAttempts(t *testing.T) {
	dst := newDestination(t, reply{status: 503}, reply{status: 503}, reply{status: 408})
	clk := newClock()
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{hook("hook", dst.URL)},
		Clock: clk.Now, MaxAttempts: 3})
	if err := ob.Enqueue(context.Background(), triggered()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		deliver(t, ob)
		clk.Advance(10 * time.Minute) // more than the default backoff's longest wait
	}
	d := only(t, ob)
	if d.State != notify.StateFailed || d.Attempts != 3 || !strings.Contains(d.LastError, "gave up after 3 attempts") {
		t.Errorf("after 3 failures: %+v; want failed, giving up after 3 attempts", d)
	}
	if got := len(dst.requests()); got != 3 {
		t.Errorf("%d requests, want 3", got)
	}
}

func TestEnqueuedMessagesSurviveARestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dst := newDestination(t)
	ns := []notify.Notifier{hook("hook", dst.URL)}

	st1, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := notify.NewOutbox(notify.OutboxOptions{Records: st1, Notifiers: ns}).Enqueue(ctx, triggered()); err != nil {
		t.Fatal(err)
	}
	// The process stops between enqueuing and sending.
	if err := st1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(dst.requests()); got != 0 {
		t.Fatalf("sent %d before any delivery pass", got)
	}

	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, dir), Notifiers: ns})
	if n := deliver(t, ob); n != 1 {
		t.Errorf("after the restart the pass sent %d, want 1", n)
	}
	deliver(t, ob)
	if got := dst.requests(); len(got) != 1 || got[0].body["event"] != "incident.triggered" {
		t.Errorf("the receiver got %d requests, want exactly the one enqueued: %v", len(got), got)
	}
}

// dyingTransport plays a process killed while it sends: it closes the store so
// nothing more is written, optionally after the request reached the receiver.
type dyingTransport struct {
	store       *sqlite.Store
	afterSend   bool
	dst         http.RoundTripper
	closeResult error
}

func (d *dyingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var resp *http.Response
	if d.afterSend {
		var err error
		if resp, err = d.dst.RoundTrip(r); err != nil {
			return nil, err
		}
		_ = resp.Body.Close()
	}
	d.closeResult = d.store.Close()
	return nil, errors.New("killed")
}

func TestAMessageClaimedByADeadProcessIsSentAfterItsLease(t *testing.T) {
	for _, afterSend := range []bool{false, true} {
		t.Run(fmt.Sprintf("died after the request went out: %v", afterSend), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			dst := newDestination(t)
			ns := []notify.Notifier{hook("hook", dst.URL)}
			clk := newClock()

			st1, err := sqlite.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			dying := &dyingTransport{store: st1, afterSend: afterSend, dst: http.DefaultTransport}
			ob1 := notify.NewOutbox(notify.OutboxOptions{Records: st1, Notifiers: ns, Clock: clk.Now, Client: &http.Client{Transport: dying}})
			if err := ob1.Enqueue(ctx, triggered()); err != nil {
				t.Fatal(err)
			}
			_, _ = ob1.Deliver(ctx) // dies mid-send; its store is closed
			if dying.closeResult != nil {
				t.Fatal(dying.closeResult)
			}

			ob2 := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, dir), Notifiers: ns, Clock: clk.Now})
			d := only(t, ob2)
			if d.State != notify.StateSending {
				t.Fatalf("the dead process left the message %s, want sending", d.State)
			}
			before := len(dst.requests())
			clk.Advance(29 * time.Second)
			deliver(t, ob2)
			if got := len(dst.requests()); got != before {
				t.Fatalf("the message was taken over within the dead process's lease")
			}
			clk.Advance(time.Second)
			if n := deliver(t, ob2); n != 1 {
				t.Errorf("after the lease the pass sent %d, want 1", n)
			}
			clk.Advance(time.Hour)
			deliver(t, ob2)
			reqs := dst.requests()
			if len(reqs) != before+1 {
				t.Errorf("the receiver got %d requests, want %d", len(reqs), before+1)
			}
			for _, r := range reqs {
				if r.delivery != d.ID {
					t.Errorf("a request carried delivery %q, want %q on every copy so the receiver can drop repeats", r.delivery, d.ID)
				}
			}
			if d := only(t, ob2); d.State != notify.StateSent || d.Attempts != 2 {
				t.Errorf("after the take-over: %+v; want sent, 2 attempts", d)
			}
		})
	}
}

func TestTwoReplicasSendEachMessageOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dst := newDestination(t)
	ns := []notify.Notifier{hook("hook-a", dst.URL), hook("hook-b", dst.URL)}
	// Two stores on one database, as two processes would have.
	a := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, dir), Notifiers: ns})
	b := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, dir), Notifiers: ns})
	const messages = 25
	for i := range messages {
		m := triggered()
		m.DedupKey = fmt.Sprintf("in_%d", i)
		if err := a.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	sent := make([]int, 2)
	deadline := time.Now().Add(30 * time.Second)
	for i, ob := range []*notify.Outbox{a, b} {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				n, err := ob.Deliver(ctx)
				if err != nil {
					t.Errorf("Deliver: %v", err)
					return
				}
				sent[i] += n
				ds, err := ob.List(ctx, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				done := 0
				for _, d := range ds {
					if d.State == notify.StateSent {
						done++
					}
				}
				if done == 2*messages {
					return
				}
			}
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for _, r := range dst.requests() {
		seen[r.delivery]++
	}
	if len(seen) != 2*messages || sent[0]+sent[1] != 2*messages {
		t.Errorf("the receiver got %d distinct deliveries and the replicas counted %d sends (%v), want %d", len(seen), sent[0]+sent[1], sent, 2*messages)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s was sent %d times", id, n)
		}
	}
}

func TestTheSameMessageEnqueuedTwiceIsSentOnce(t *testing.T) {
	ctx := context.Background()
	dst := newDestination(t)
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()),
		Notifiers: []notify.Notifier{hook("hook-a", dst.URL), hook("hook-b", dst.URL)}})
	for range 2 {
		if err := ob.Enqueue(ctx, triggered()); err != nil {
			t.Fatalf("enqueuing the same message again: %v", err)
		}
	}
	later := triggered()
	later.Event = notify.EventIncidentUpdated
	later.At = later.At.Add(time.Minute)
	reminder := later
	reminder.Seq = "2"
	for _, m := range []notify.Message{later, reminder} {
		if err := ob.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := deliver(t, ob); n != 6 {
		t.Errorf("sent %d, want 6: 3 distinct messages to 2 notifiers", n)
	}
	if got := len(dst.requests()); got != 6 {
		t.Errorf("the receiver got %d requests, want 6", got)
	}

	// A notifier added later gets a message enqueued again; the others do not.
	ob.SetNotifiers([]notify.Notifier{hook("hook-a", dst.URL), hook("hook-b", dst.URL), hook("hook-c", dst.URL)})
	if err := ob.Enqueue(ctx, triggered()); err != nil {
		t.Fatal(err)
	}
	if n := deliver(t, ob); n != 1 {
		t.Errorf("after adding hook-c, enqueuing the message again sent %d, want 1 (to hook-c)", n)
	}
}

func TestMessagesAboutOneIncidentArriveInOrder(t *testing.T) {
	ctx := context.Background()
	dst := newDestination(t, reply{status: 500})
	clk := newClock()
	pd := notify.Notifier{Name: "pd", Type: notify.TypePagerDuty, URL: dst.URL, Secret: "key"}
	other := triggered()
	other.DedupKey = "in_other"
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{pd}, Clock: clk.Now,
		Backoff: func(int) time.Duration { return time.Minute }})
	if err := ob.Enqueue(ctx, triggered()); err != nil {
		t.Fatal(err)
	}
	deliver(t, ob) // the trigger meets a 500 and waits a minute
	resolved := triggered()
	resolved.Event, resolved.At = notify.EventIncidentResolved, at.Add(time.Second)
	for _, m := range []notify.Message{resolved, other} {
		if err := ob.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if n := deliver(t, ob); n != 1 {
		t.Errorf("while the trigger waits, the pass sent %d, want 1 (the other incident's)", n)
	}
	clk.Advance(time.Minute)
	if n := deliver(t, ob); n != 2 {
		t.Errorf("after the wait the pass sent %d, want 2 (trigger, then resolve)", n)
	}
	var seq []string
	for _, r := range dst.requests() {
		seq = append(seq, fmt.Sprint(r.body["dedup_key"], ":", r.body["event_action"]))
	}
	if got := strings.Join(seq, " "); got != "in_42:trigger in_other:trigger in_42:trigger in_42:resolve" {
		t.Errorf("PagerDuty got %s; a resolve must never overtake its trigger", got)
	}
}

func TestARemovedNotifierFailsItsMessages(t *testing.T) {
	dst := newDestination(t)
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{hook("old-hook", dst.URL)}})
	if err := ob.Enqueue(context.Background(), triggered()); err != nil {
		t.Fatal(err)
	}
	ob.SetNotifiers([]notify.Notifier{hook("new-hook", dst.URL)})
	deliver(t, ob)
	d := only(t, ob)
	if d.State != notify.StateFailed || !strings.Contains(d.LastError, `notifier "old-hook" is no longer configured`) {
		t.Errorf("a message of a removed notifier: %+v; want failed, naming the notifier", d)
	}
	if got := len(dst.requests()); got != 0 {
		t.Errorf("%d requests, want none", got)
	}
}

func TestDeliveriesLeakNoSecrets(t *testing.T) {
	ctx := context.Background()
	dst := newDestination(t, reply{status: 503})
	var logs bytes.Buffer
	st := openStore(t, t.TempDir())
	ns := []notify.Notifier{
		{Name: "slack", Type: notify.TypeSlack, URL: dst.URL + "/services/T0/B0/URLTOKEN"},
		{Name: "hook", Type: notify.TypeWebhook, URL: dst.URL + "/hook", Secret: "HMACSECRET"},
		{Name: "down", Type: notify.TypeWebhook, URL: "http://127.0.0.1:1/hook?token=QUERYTOKEN", Secret: "HMACSECRET"},
	}
	ob := notify.NewOutbox(notify.OutboxOptions{Records: st, Notifiers: ns, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := ob.Enqueue(ctx, triggered()); err != nil {
		t.Fatal(err)
	}
	deliver(t, ob)
	ds, err := ob.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.ListRecords(ctx, day2.RecordFilter{Kind: notify.RecordKind})
	if err != nil {
		t.Fatal(err)
	}
	listed, _ := json.Marshal(ds)
	stored, _ := json.Marshal(recs)
	for what, text := range map[string]string{"the log": logs.String(), "the delivery list": string(listed), "the records": string(stored)} {
		for _, secret := range []string{"URLTOKEN", "HMACSECRET", "QUERYTOKEN"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains %s:\n%s", what, secret, text)
			}
		}
	}
	if !strings.Contains(string(listed), "connection refused") {
		t.Errorf("the delivery list does not say why the unreachable hook failed: %s", listed)
	}
}

// TestRunDeliversWhenKicked checks that Enqueue's kick makes a running Run
// deliver at once: its interval is an hour, so only the kick can.
func TestRunDeliversWhenKicked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dst := newDestination(t)
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()), Notifiers: []notify.Notifier{hook("hook", dst.URL)},
		Interval: time.Hour})
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	// Run's first pass may deliver the first message by itself; the second is
	// enqueued after that pass, and only the kick can deliver it.
	for want := 1; want <= 2; want++ {
		m := triggered()
		m.At = m.At.Add(time.Duration(want) * time.Minute) // another message of the incident
		if err := ob.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); len(dst.requests()) < want; {
			if time.Now().After(deadline) {
				t.Fatalf("Run did not deliver enqueued message %d", want)
			}
			time.Sleep(10 * time.Millisecond) // polling for the receiver, not waiting for a state
		}
	}
	cancel()
	<-done
}

func TestPruneRemovesOldSentAndFailedMessagesOnly(t *testing.T) {
	ctx := context.Background()
	ok := newDestination(t)
	bad := newDestination(t, reply{status: 400})
	slow := newDestination(t, reply{status: 503}, reply{status: 503})
	clk := testclock.New(time.Now().UTC())
	ob := notify.NewOutbox(notify.OutboxOptions{Records: openStore(t, t.TempDir()),
		Notifiers: []notify.Notifier{hook("ok", ok.URL), hook("bad", bad.URL), hook("slow", slow.URL)},
		Clock:     clk.Now, Retention: 7 * 24 * time.Hour})
	if err := ob.Enqueue(ctx, triggered()); err != nil {
		t.Fatal(err)
	}
	deliver(t, ob) // ok: sent; bad: failed (400); slow: pending (503)

	// Within the retention nothing goes.
	if n, err := ob.Prune(ctx); err != nil || n != 0 {
		t.Fatalf("Prune within the retention removed %d, %v; want 0", n, err)
	}
	clk.Advance(8 * 24 * time.Hour)
	n, err := ob.Prune(ctx)
	if err != nil || n != 2 {
		t.Fatalf("Prune after the retention removed %d, %v; want the sent and the failed message", n, err)
	}
	if d := only(t, ob); d.Notifier != "slow" || d.State != notify.StatePending {
		t.Fatalf("left %+v; want the pending message to slow", d)
	}
}

package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	randv2 "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/day2ops/day2"
)

// RecordKind is the day2.Record kind of outbox messages.
const RecordKind = "outbox"

// States of an outbox record.
const (
	// StatePending waits for its Due time: the first attempt or a retry.
	StatePending = "pending"
	// StateSending is claimed by one process, which is sending it; Due is the
	// end of its lease, after which another process may take it over.
	StateSending = "sending"
	// StateSent was accepted by the destination (HTTP 2xx); kept as history.
	StateSent = "sent"
	// StateFailed will not be tried again: refused by the destination, out of
	// attempts, or its notifier is no longer configured.
	StateFailed = "failed"
)

const (
	// lease is how long a claimed record belongs to the process that claimed it;
	// a process that dies mid-send leaves the record to be taken over after it.
	lease = 30 * time.Second
	// sendTimeout bounds one HTTP attempt, well within the lease.
	sendTimeout = 20 * time.Second
	// maxRetryAfter caps a destination's Retry-After.
	maxRetryAfter = time.Hour
	// workers is the number of destinations sent to at once in one pass.
	workers = 4
	// scanLimit is the number of open records one pass reads.
	scanLimit = 1000
	// dueLimit is the number of due records read in addition when the open
	// records exceed scanLimit, so that a backlog does not starve anything.
	dueLimit = 100
)

// OutboxOptions configure NewOutbox.
type OutboxOptions struct {
	// Records keeps the outbox; required.
	Records day2.RecordStore
	// Notifiers are the configured destinations (validated).
	Notifiers []Notifier
	// Client posts the messages; the default has a 20 s timeout and follows no
	// redirects.
	Client *http.Client
	// Clock is the time source for due times; the default is time.Now.
	Clock func() time.Time
	// Logger gets a line per delivery outcome; the default is slog.Default().
	Logger *slog.Logger
	// MaxAttempts is the number of attempts before a message fails; default 12.
	MaxAttempts int
	// Backoff is the wait after the attempt-th failed attempt (1-based); the
	// default doubles from 1 s up to 5 min, with ±20% jitter.
	Backoff func(attempt int) time.Duration
	// Retention is how long sent and failed messages are kept for the
	// delivery list before Prune removes them: default DefaultRetention.
	Retention time.Duration
	// Interval is how often Run delivers without being kicked; default 1 s.
	Interval time.Duration
}

// DefaultRetention is how long sent and failed messages are kept by default.
const DefaultRetention = 30 * 24 * time.Hour

// Outbox delivers messages through records of kind "outbox": Enqueue stores a
// record per matching notifier, and Deliver (every second under Run) sends the
// due ones. A record is claimed by compare-and-swap before it is sent, so
// several processes sharing a store send each message once; a message is sent
// at least once, since a process that dies after sending but before marking the
// record leaves it to be sent again after its lease, and webhook receivers drop
// such repeats by X-Day2-Delivery. Messages about the same incident or approval
// reach each notifier in the order they happened.
type Outbox struct {
	st          day2.RecordStore
	notifiers   atomic.Pointer[[]Notifier]
	client      *http.Client
	now         func() time.Time
	log         *slog.Logger
	maxAttempts int
	backoff     func(int) time.Duration
	retention   time.Duration
	interval    time.Duration
	lastPrune   time.Time
	kick        chan struct{}
	pass        sync.Mutex // one Deliver pass at a time per Outbox
}

// NewOutbox returns an outbox over o.Records.
func NewOutbox(o OutboxOptions) *Outbox {
	ob := &Outbox{st: o.Records, client: o.Client, now: o.Clock, log: o.Logger,
		maxAttempts: o.MaxAttempts, backoff: o.Backoff, retention: o.Retention, interval: o.Interval, kick: make(chan struct{}, 1)}
	if ob.retention <= 0 {
		ob.retention = DefaultRetention
	}
	if ob.interval <= 0 {
		ob.interval = time.Second
	}
	if ob.client == nil {
		ob.client = &http.Client{
			Timeout:       sendTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if ob.now == nil {
		ob.now = time.Now
	}
	if ob.log == nil {
		ob.log = slog.Default()
	}
	if ob.maxAttempts <= 0 {
		ob.maxAttempts = 12
	}
	if ob.backoff == nil {
		ob.backoff = DefaultBackoff
	}
	ob.SetNotifiers(o.Notifiers)
	return ob
}

// DefaultBackoff waits 1 s after the first failed attempt and twice as long
// after each further one, up to 5 minutes, varied by ±20% so that many messages
// failing together do not retry together.
func DefaultBackoff(attempt int) time.Duration {
	d := 5 * time.Minute
	if attempt < 10 {
		d = min(d, time.Second<<max(attempt-1, 0))
	}
	return time.Duration(float64(d) * (0.8 + 0.4*randv2.Float64()))
}

// SetNotifiers replaces the configured notifiers (a config reload). Messages
// already enqueued are sent with the notifier of their name as configured
// when they are sent; a message whose notifier was removed fails.
func (o *Outbox) SetNotifiers(ns []Notifier) {
	cp := slices.Clone(ns)
	o.notifiers.Store(&cp)
}

// notifier returns the configured notifier called name.
func (o *Outbox) notifier(name string) (Notifier, bool) {
	for _, n := range *o.notifiers.Load() {
		if n.Name == name {
			return n, true
		}
	}
	return Notifier{}, false
}

// body is the document of an outbox record.
type body struct {
	Notifier    string    `json:"notifier"`
	Type        string    `json:"type"`
	Message     Message   `json:"message"`
	Attempts    int       `json:"attempts"`
	LastStatus  int       `json:"last_status,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	SentAt      time.Time `json:"sent_at,omitzero"`
}

// Key returns the outbox key of m for notifier name: the same message gives
// the same key, so enqueuing it twice stores it once.
func Key(name string, m *Message) string {
	seq := m.Seq
	if seq == "" {
		seq = m.At.UTC().Format(time.RFC3339Nano)
	}
	return name + "/" + m.DedupKey + "/" + m.Event + "/" + seq
}

// Prepare returns one pending outbox record, due now, per notifier that
// matches m, for callers that store them in the same PutRecords as the change
// they announce (an incident's transition and its notification, atomically).
// Keys are deterministic (see Key): storing the records of a message prepared
// twice is an EConflict error the caller may ignore. An invalid message (see
// Message.Validate, which such callers should check first) gives no records.
func (o *Outbox) Prepare(m Message) []day2.Record {
	if err := m.Validate(); err != nil {
		o.log.Warn("notification not enqueued", "event", m.Event, "dedup_key", m.DedupKey, "err", err)
		return nil
	}
	now := o.now()
	var out []day2.Record
	for _, n := range *o.notifiers.Load() {
		if !n.Matches(&m) {
			continue
		}
		b, err := json.Marshal(body{Notifier: n.Name, Type: n.Type, Message: m})
		if err != nil { // cannot happen for a valid message; keep the others
			o.log.Error("notification not enqueued", "notifier", n.Name, "event", m.Event, "err", err)
			continue
		}
		out = append(out, day2.Record{Kind: RecordKind, ID: newID(now), Key: Key(n.Name, &m), Service: m.Service,
			State: StatePending, Due: now, Body: b})
	}
	return out
}

// newID returns a new outbox record id, which is also the delivery id; see
// day2.NewRecordID.
func newID(now time.Time) string { return day2.NewRecordID("ob_", now) }

// Enqueue stores m for every matching notifier and wakes the delivery loop.
// A message already enqueued is not stored again.
func (o *Outbox) Enqueue(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	recs := o.Prepare(m)
	if len(recs) == 0 {
		return nil
	}
	_, _, err := o.st.PutRecords(ctx, recs, nil)
	if day2.ErrorCode(err) == day2.EConflict && len(recs) > 1 {
		// Some were stored before; a write fails as a whole, so store the rest
		// one by one.
		err = nil
		for _, r := range recs {
			if _, _, e := o.st.PutRecords(ctx, []day2.Record{r}, nil); e != nil && day2.ErrorCode(e) != day2.EConflict {
				err = e
				break
			}
		}
	}
	if err != nil && day2.ErrorCode(err) != day2.EConflict {
		return fmt.Errorf("enqueue %s notification %s: %w", m.Event, m.DedupKey, err)
	}
	o.Kick()
	return nil
}

// Kick wakes Run to deliver now rather than at its next tick.
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Run delivers every Interval, and whenever Kick is called, until ctx ends.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTicker(o.interval)
	defer t.Stop()
	for {
		if _, err := o.Deliver(ctx); err != nil && ctx.Err() == nil {
			o.log.Warn("notification outbox pass failed", "err", err)
		}
		if now := o.now(); now.Sub(o.lastPrune) >= time.Hour {
			o.lastPrune = now
			if _, err := o.Prune(ctx); err != nil && ctx.Err() == nil {
				o.log.Warn("notification outbox clean-up failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.kick:
		}
	}
}

// item is an open outbox record and its decoded body.
type item struct {
	rec day2.Record
	b   body
}

// due reports whether the record may be taken at now: pending and due, or
// claimed by a process whose lease ran out.
func (it *item) due(now time.Time) bool {
	return !it.rec.Due.IsZero() && !it.rec.Due.After(now)
}

// Deliver makes one pass over the outbox: it sends every due message (and
// takes over messages whose sender's lease ran out), records each outcome, and
// returns how many messages destinations accepted. Destinations' failures are
// recorded on the messages (retried or failed), not returned; the error is
// the store's.
func (o *Outbox) Deliver(ctx context.Context) (int, error) {
	o.pass.Lock()
	defer o.pass.Unlock()
	now := o.now()
	open := day2.RecordFilter{Kind: RecordKind, States: []string{StatePending, StateSending}, Order: day2.OldestFirst, Limit: scanLimit}
	recs, err := o.st.ListRecords(ctx, open)
	if err != nil {
		return 0, fmt.Errorf("list outbox: %w", err)
	}
	if len(recs) == scanLimit {
		due := open
		due.DueBefore, due.Order, due.Limit = now, day2.DueFirst, dueLimit
		more, err := o.st.ListRecords(ctx, due)
		if err != nil {
			return 0, fmt.Errorf("list due outbox: %w", err)
		}
		for _, r := range more {
			if !slices.ContainsFunc(recs, func(x day2.Record) bool { return x.ID == r.ID }) {
				recs = append(recs, r)
			}
		}
	}

	// Messages about one incident or approval go to a notifier in the order
	// they happened: a group waits while its oldest open message is not due (in
	// backoff, or being sent by another process), so a resolve never overtakes
	// its trigger.
	groups := map[string][]*item{}
	var order []string
	for _, r := range recs {
		it := &item{rec: r}
		if err := json.Unmarshal(r.Body, &it.b); err != nil {
			// Not written by this package; leave the body as it is.
			o.log.Error("unreadable outbox record set aside", "delivery", r.ID, "err", err)
			r.State, r.Due = StateFailed, time.Time{}
			if _, _, err := o.st.PutRecords(ctx, []day2.Record{r}, nil); err != nil && day2.ErrorCode(err) != day2.EConflict {
				return 0, fmt.Errorf("set aside outbox record %s: %w", r.ID, err)
			}
			continue
		}
		k := it.b.Notifier + "\x00" + it.b.Message.DedupKey
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], it)
	}
	var ready [][]*item
	for _, k := range order {
		g := groups[k]
		slices.SortStableFunc(g, func(a, b *item) int {
			return cmp.Or(a.b.Message.At.Compare(b.b.Message.At), a.rec.CreatedAt.Compare(b.rec.CreatedAt), strings.Compare(a.rec.ID, b.rec.ID))
		})
		if g[0].due(now) {
			ready = append(ready, g)
		}
	}

	var (
		mu       sync.Mutex
		sent     int
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan []*item)
	)
	for range min(workers, len(ready)) {
		wg.Go(func() {
			for g := range next {
				n, err := o.deliverGroup(ctx, g, now)
				mu.Lock()
				sent += n
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, g := range ready {
		next <- g
	}
	close(next)
	wg.Wait()
	return sent, firstErr
}

// deliverGroup sends a group's due messages in order, stopping at the first
// that is not done (sent or failed for good).
func (o *Outbox) deliverGroup(ctx context.Context, g []*item, now time.Time) (int, error) {
	sent := 0
	for _, it := range g {
		if !it.due(now) || ctx.Err() != nil {
			break
		}
		state, err := o.attempt(ctx, it)
		if err != nil {
			return sent, err
		}
		if state == StateSent {
			sent++
		}
		if state != StateSent && state != StateFailed {
			break
		}
	}
	return sent, nil
}

// attempt claims it, sends it and records the outcome, returning the record's
// new state ("" when another process claimed it first).
func (o *Outbox) attempt(ctx context.Context, it *item) (string, error) {
	// The lease runs from the claim, not from the start of the pass, which
	// may be long past when earlier messages of the group were slow.
	claimed := o.now()
	it.b.Attempts++
	it.b.LastAttempt = claimed
	claim := it.rec
	claim.State, claim.Due = StateSending, claimed.Add(lease)
	var err error
	if claim.Body, err = json.Marshal(it.b); err != nil {
		return "", fmt.Errorf("claim outbox record %s: %w", it.rec.ID, err)
	}
	stored, _, err := o.st.PutRecords(ctx, []day2.Record{claim}, nil)
	switch day2.ErrorCode(err) {
	case "":
		it.rec = stored[0]
	case day2.EConflict, day2.ENotFound:
		return "", nil // another process took it
	default:
		return "", fmt.Errorf("claim outbox record %s: %w", it.rec.ID, err)
	}

	n, ok := o.notifier(it.b.Notifier)
	if !ok {
		msg := fmt.Sprintf("notifier %q is no longer configured; add it back to the configuration and enqueue again, or ignore this message", it.b.Notifier)
		return StateFailed, o.finish(ctx, it, StateFailed, 0, msg)
	}
	res := o.send(ctx, &n, &it.b.Message, it.rec.ID, claimed)
	at := o.now()
	switch {
	case res.ok:
		it.b.SentAt = at
		return StateSent, o.finish(ctx, it, StateSent, res.status, "")
	case !res.retry:
		return StateFailed, o.finish(ctx, it, StateFailed, res.status, res.err)
	case it.b.Attempts >= o.maxAttempts:
		return StateFailed, o.finish(ctx, it, StateFailed, res.status,
			fmt.Sprintf("gave up after %d attempts: %s", it.b.Attempts, res.err))
	}
	wait := o.backoff(it.b.Attempts)
	if res.retryAfter >= 0 {
		wait = res.retryAfter
	}
	it.rec.Due = at.Add(wait)
	return StatePending, o.finish(ctx, it, StatePending, res.status, res.err)
}

// finish stores the outcome of an attempt, by compare-and-swap on the claimed
// revision. It writes even when ctx was cancelled mid-send (shutdown), so
// that a finished attempt is not repeated.
func (o *Outbox) finish(ctx context.Context, it *item, state string, status int, errText string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r := it.rec
	r.State = state
	if state != StatePending {
		r.Due = time.Time{}
	}
	it.b.LastStatus, it.b.LastError = status, errText
	var err error
	if r.Body, err = json.Marshal(it.b); err != nil {
		return fmt.Errorf("record outcome of outbox record %s: %w", r.ID, err)
	}
	attrs := []any{"notifier", it.b.Notifier, "event", it.b.Message.Event, "dedup_key", it.b.Message.DedupKey,
		"delivery", r.ID, "attempt", it.b.Attempts, "status", status}
	switch state {
	case StateSent:
		o.log.Info("notification sent", attrs...)
	case StateFailed:
		o.log.Error("notification failed", append(attrs, "err", errText)...)
	default:
		o.log.Warn("notification attempt failed; will retry", append(attrs, "err", errText, "next", r.Due)...)
	}
	_, _, err = o.st.PutRecords(ctx, []day2.Record{r}, nil)
	switch day2.ErrorCode(err) {
	case "":
		return nil
	case day2.EConflict, day2.ENotFound:
		// The lease ran out and another process took the record over.
		o.log.Warn("notification outcome not recorded: another process took the message over after its lease", "delivery", r.ID)
		return nil
	}
	return fmt.Errorf("record outcome of outbox record %s: %w", r.ID, err)
}

// result is the outcome of one HTTP attempt.
type result struct {
	ok         bool
	retry      bool
	status     int
	err        string
	retryAfter time.Duration // -1 when the destination said nothing
}

// send renders m for n and posts it once.
func (o *Outbox) send(ctx context.Context, n *Notifier, m *Message, deliveryID string, now time.Time) result {
	res := result{retryAfter: -1}
	payload, h, err := render(n, m, deliveryID, now)
	if err != nil {
		res.err = day2.ErrorMessage(err)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint(), bytes.NewReader(payload))
	if err != nil {
		res.err = "notifier url " + RedactURL(n.endpoint()) + " is not usable"
		return res
	}
	req.Header = h
	resp, err := o.client.Do(req)
	if err != nil {
		res.retry, res.err = true, describeHTTPError(err)
		return res
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	res.status = resp.StatusCode
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		res.ok = true
		return res
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		res.retry = true
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), o.now()); ok {
			res.retryAfter = d
		}
	}
	res.err = fmt.Sprintf("%s answered %s", RedactURL(n.endpoint()), resp.Status)
	if c := resp.StatusCode; c >= 300 && c < 400 {
		res.err += "; it redirects, so configure the address it redirects to"
	}
	if s := oneLine(string(text)); s != "" {
		res.err += ": " + s
	}
	return res
}

// describeHTTPError describes a failed request without its URL, whose path may
// hold a credential.
func describeHTTPError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "POST " + RedactURL(ue.URL) + ": no answer within " + sendTimeout.String()
		}
		return "POST " + RedactURL(ue.URL) + ": " + ue.Err.Error()
	}
	return err.Error()
}

// oneLine shortens a response body for an error message.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	return truncate(s, 200)
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date, capped
// at an hour.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = max(t.Sub(now), 0)
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// Delivery is one outbox message as the API and the UI show it.
type Delivery struct {
	// ID is the record id, sent as X-Day2-Delivery.
	ID       string `json:"id"`
	Notifier string `json:"notifier"`
	Type     string `json:"type"`
	Event    string `json:"event"`
	Service  string `json:"service,omitempty"`
	DedupKey string `json:"dedup_key"`
	Title    string `json:"title,omitempty"`
	// State is pending, sending, sent or failed.
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	LastStatus int       `json:"last_status,omitempty"`
	LastError  string    `json:"last_error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// NextAttempt is when a pending message is tried next (a sending one's
	// lease end).
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	SentAt      time.Time `json:"sent_at,omitzero"`
}

// List returns the most recent outbox messages, newest first: limit of them,
// 0 meaning 100, at most 1000.
func (o *Outbox) List(ctx context.Context, limit int) ([]Delivery, error) {
	recs, err := o.st.ListRecords(ctx, day2.RecordFilter{Kind: RecordKind, Order: day2.NewestFirst, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	out := make([]Delivery, 0, len(recs))
	for _, r := range recs {
		var b body
		d := Delivery{ID: r.ID, State: r.State, Service: r.Service, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, NextAttempt: r.Due}
		if err := json.Unmarshal(r.Body, &b); err != nil {
			d.LastError = "the outbox record is unreadable"
		} else {
			d.Notifier, d.Type, d.Event, d.DedupKey, d.Title = b.Notifier, b.Type, b.Message.Event, b.Message.DedupKey, b.Message.Title
			d.Attempts, d.LastStatus, d.LastError, d.LastAttempt, d.SentAt = b.Attempts, b.LastStatus, b.LastError, b.LastAttempt, b.SentAt
		}
		out = append(out, d)
	}
	return out, nil
}

// Prune removes the sent and failed messages older than the retention, in
// chunks, and returns how many it removed; Run calls it every hour. Pending
// messages are never removed.
func (o *Outbox) Prune(ctx context.Context) (int64, error) {
	before := o.now().Add(-o.retention)
	var total int64
	for {
		n, err := o.st.DeleteRecords(ctx, RecordKind, []string{StateSent, StateFailed}, before, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

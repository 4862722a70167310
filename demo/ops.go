package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The operations story. Besides the fleet, the live phase can show day2's
// operations capabilities at work, each through day2's public HTTP API and
// OTLP, as agents and the people running them would use them:
//
//   - releases (ops_releases.go): kb-answer-agent, after sending a day of
//     history, answers customers' questions at a steady rate, asking GET
//     /api/v1/assign which version serves each customer. A canary of prompt version 2.4.0, whose new CRM client gives up
//     on the first HTTP 429, regresses tool failures and is rolled back by
//     day2's judge; a canary of 2.4.1, which fixes it, passes every step and is
//     promoted.
//   - approvals (ops_approvals.go): invoice-agent asks for approvals at every
//     risk tier for invoices it is processing (real traced tasks); a simulated
//     approver decides some, and the others expire.
//   - incidents (ops_incident.go): the CRM that account-agent reads goes down;
//     the tool-failure alert rule opens an incident; day2 notifies a local
//     webhook sink, which checks the signature and prints the message; the
//     on-call engineer acknowledges it and pulls a lever (the crm-tool-enabled
//     kill switch); the CRM recovers, the switch is reset and the incident
//     resolved; the postmortem draft is printed.
//
// WriteConfig writes the configuration the story needs (approval policy,
// alert rule, runbook, flags and the webhook notifier) into the demo's config.

// OpsOptions configure NewOps.
type OpsOptions struct {
	// Out receives the story's progress lines and the webhook messages; nil
	// discards them.
	Out io.Writer
	// Token, if set, is the bearer token of the simulated agents and of the
	// on-call engineer: it needs the ingest, read and operate scopes. The
	// demo runs day2 without an auth file, where every call is anonymous.
	Token string
	// ApproverToken is the simulated approver's token (approve and read
	// scopes); empty means Token. With an auth file it must name a different
	// identity from Token, as the two-person rule requires.
	ApproverToken string
	// Seed makes the simulated traffic reproducible.
	Seed int64
}

// Ops runs the operations story against a running day2. NewOps starts the
// story's webhook sink, whose address goes into the configuration
// (ConfigOptions) before day2 starts; Run's live phase then runs the story
// (Config.Ops).
type Ops struct {
	opts   OpsOptions
	timing opsTiming
	sink   *webhookSink
	done   chan struct{}
	// started is set by the one run an Ops allows.
	started atomic.Bool

	mu     sync.Mutex
	report OpsReport
}

// opsTiming is the story's pace. The defaults tell it in about five minutes;
// tests compress it.
type opsTiming struct {
	// scale multiplies the duration of every simulated task (1: real time).
	scale float64
	// poll is how often the story reads day2's state.
	poll time.Duration
	// patience bounds each wait for day2: a rollout to end, an incident to
	// open, a notification to arrive.
	patience time.Duration

	// Releases: kb-answer-agent's history (how far back, tasks a minute),
	// questions a second, baseline-only traffic before the first canary, the
	// canary's steps and the judge's settings.
	history         time.Duration
	historyRate     float64
	releaseRate     float64
	warmup          time.Duration
	steps           []int
	stepDuration    time.Duration
	judgeInterval   time.Duration
	minSamples      int64
	judgeMinSamples int64

	// Approvals: the policy's timeout, when the first request is made, the
	// time between requests, and how long the approver takes to decide.
	approvalTimeout time.Duration
	approvalStart   time.Duration
	approvalGap     time.Duration
	thinkTime       time.Duration

	// Incidents: account-agent's questions a second, when the CRM goes down,
	// the alert rule's window, how long the CRM stays down after the lever is
	// pulled, and how long recovery is watched before resolving.
	accountRate float64
	outageAfter time.Duration
	ruleWindow  time.Duration
	recovery    time.Duration
	verify      time.Duration
}

// defaultOpsTiming tells the story in about five minutes of live time.
var defaultOpsTiming = opsTiming{
	scale: 1, poll: 2 * time.Second, patience: 5 * time.Minute,

	history: 24 * time.Hour, historyRate: 4,
	releaseRate: 20, warmup: 20 * time.Second, steps: []int{5, 50, 100},
	stepDuration: 45 * time.Second, judgeInterval: 10 * time.Second, minSamples: 30, judgeMinSamples: 20,

	approvalTimeout: 2 * time.Minute, approvalStart: 5 * time.Second, approvalGap: 3 * time.Second, thinkTime: 10 * time.Second,

	accountRate: 5, outageAfter: 40 * time.Second, ruleWindow: 2 * time.Minute,
	recovery: 40 * time.Second, verify: 20 * time.Second,
}

// NewOps starts the story's webhook sink on a free loopback port. Close stops
// it.
func NewOps(opts OpsOptions) (*Ops, error) {
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("demo: webhook secret: %w", err)
	}
	sink, err := startWebhookSink(hex.EncodeToString(secret), opts.Out)
	if err != nil {
		return nil, err
	}
	return &Ops{opts: opts, timing: defaultOpsTiming, sink: sink, done: make(chan struct{})}, nil
}

// ConfigOptions returns the configuration the story needs: the webhook
// notifier pointing at the sink, and the story's approval timeout and alert
// rule window. Give it to WriteConfig.
func (o *Ops) ConfigOptions() ConfigOptions {
	return ConfigOptions{
		WebhookURL: o.sink.url, WebhookSecret: o.sink.secret,
		ApprovalTimeout: o.timing.approvalTimeout, RuleWindow: o.timing.ruleWindow,
	}
}

// WebhookURL is the address of the sink that receives day2's notifications.
func (o *Ops) WebhookURL() string { return o.sink.url }

// Done is closed when the story has been told (or stopped); the simulated
// agents keep running until the live phase ends.
func (o *Ops) Done() <-chan struct{} { return o.done }

// Report returns how the story went so far.
func (o *Ops) Report() OpsReport {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.report
	r.Rollouts = append([]RolloutResult(nil), r.Rollouts...)
	r.Approvals = append([]ApprovalResult(nil), r.Approvals...)
	r.Errors = append([]string(nil), r.Errors...)
	if r.Incident != nil {
		inc := *r.Incident
		r.Incident = &inc
	}
	r.Webhooks = o.sink.messages()
	return r
}

// Close stops the webhook sink.
func (o *Ops) Close() error { return o.sink.close() }

// OpsReport says how the operations story went.
type OpsReport struct {
	// Finished is set when every scenario has been told to its end.
	Finished  bool             `json:"finished"`
	Rollouts  []RolloutResult  `json:"rollouts"`
	Approvals []ApprovalResult `json:"approvals"`
	Incident  *IncidentResult  `json:"incident,omitempty"`
	// Webhooks are the notifications the sink received, in order.
	Webhooks []WebhookMessage `json:"webhooks"`
	// Errors are the story's failures: calls day2 refused, waits that ran
	// out of patience.
	Errors []string `json:"errors,omitempty"`
}

// RolloutResult is how one canary of the story ended.
type RolloutResult struct {
	ID        string `json:"id"`
	Service   string `json:"service"`
	Baseline  string `json:"baseline"`
	Candidate string `json:"candidate"`
	// State is the rollout's final state (promoted, rolled_back) or, when the
	// story stopped first, its last known one.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// ApprovalResult is one approval request of the story, as it ended.
type ApprovalResult struct {
	ID           string  `json:"id"`
	TaskID       string  `json:"task_id"`
	Action       string  `json:"action"`
	Amount       float64 `json:"amount"`
	Tier         int     `json:"tier"`
	State        string  `json:"state"`
	AutoApproved bool    `json:"auto_approved"`
	DecidedBy    string  `json:"decided_by,omitempty"`
}

// IncidentResult is the story's incident as it ended.
type IncidentResult struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	State string `json:"state"`
	// Lever is the mitigation lever pulled.
	Lever string `json:"lever,omitempty"`
	// Postmortem is the postmortem draft day2 wrote.
	Postmortem string `json:"postmortem,omitempty"`
}

// Print writes a summary of the story.
func (r OpsReport) Print(w io.Writer) {
	state := "told"
	if !r.Finished {
		state = "stopped before its end"
	}
	fmt.Fprintf(w, "operations story (%s):\n", state)
	if len(r.Rollouts) > 0 {
		parts := make([]string, 0, len(r.Rollouts))
		for _, ro := range r.Rollouts {
			parts = append(parts, fmt.Sprintf("%s %s %s", ro.Service, ro.Candidate, ro.State))
		}
		fmt.Fprintf(w, "  releases:  %s\n", strings.Join(parts, ", "))
	}
	if len(r.Approvals) > 0 {
		var auto, byPerson, rejected, expired, pending int
		for _, a := range r.Approvals {
			switch {
			case a.AutoApproved:
				auto++
			case a.State == "approved":
				byPerson++
			case a.State == "rejected":
				rejected++
			case a.State == "expired":
				expired++
			default:
				pending++
			}
		}
		fmt.Fprintf(w, "  approvals: %d requests: %d approved at once, %d approved by a person, %d rejected, %d expired",
			len(r.Approvals), auto, byPerson, rejected, expired)
		if pending > 0 {
			fmt.Fprintf(w, ", %d still pending", pending)
		}
		fmt.Fprintln(w)
	}
	if inc := r.Incident; inc != nil {
		fmt.Fprintf(w, "  incident:  %s %s (%s)", inc.ID, inc.State, inc.Title)
		if inc.Lever != "" {
			fmt.Fprintf(w, "; mitigated with %s", inc.Lever)
		}
		fmt.Fprintln(w)
	}
	if len(r.Webhooks) > 0 {
		bad := 0
		for _, m := range r.Webhooks {
			if !m.SignatureOK {
				bad++
			}
		}
		verdict := "all signatures ok"
		if bad > 0 {
			verdict = fmt.Sprintf("%d with a bad signature", bad)
		}
		fmt.Fprintf(w, "  webhook:   %s received, %s\n", counted(int64(len(r.Webhooks)), "notification"), verdict)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error:     %s\n", e)
	}
}

// run tells the story against day2's API at api, sending telemetry to the
// OTLP/HTTP base otlp, until every scenario is done; the simulated agents
// keep running until ctx ends. It returns when ctx ends.
func (o *Ops) run(ctx context.Context, api, otlp string, now func() time.Time) {
	if !o.started.CompareAndSwap(false, true) {
		fmt.Fprintln(o.opts.Out, "ops: the operations story was told already; start a new Ops to tell it again")
		return
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 70 * time.Second}
	s := &opsRun{
		ops: o, t: o.timing, now: now, otlp: otlp, delivery: &delivery{},
		agent:    &apiClient{base: api, token: o.opts.Token, hc: hc},
		approver: &apiClient{base: api, token: o.opts.ApproverToken, hc: hc},
	}
	if s.approver.token == "" {
		s.approver.token = o.opts.Token
	}
	fmt.Fprintf(o.opts.Out, "ops: the operations story starts: releases at %s/releases, approvals at %s/approvals, incidents at %s/incidents\n", api, api, api)
	started := time.Now()

	var stories, agents sync.WaitGroup
	for _, scenario := range []func(context.Context, *sync.WaitGroup){s.releases, s.approvals, s.incident} {
		stories.Go(func() { scenario(ctx, &agents) })
	}
	stories.Wait()
	if ctx.Err() == nil {
		o.mu.Lock()
		o.report.Finished = true
		o.mu.Unlock()
		fmt.Fprintf(o.opts.Out, "ops: the operations story is told, in %s; its agents keep running\n", time.Since(started).Round(time.Second))
	}
	close(o.done)
	agents.Wait()
	if err := s.delivery.err(); err != nil {
		s.fail("telemetry: %v", err)
	}
}

// opsRun is one telling of the story.
type opsRun struct {
	ops      *Ops
	t        opsTiming
	now      func() time.Time
	otlp     string
	delivery *delivery
	// agent is the simulated agents' and on-call engineer's client; approver
	// the simulated approver's.
	agent, approver *apiClient
}

// say prints one progress line of a scenario.
func (s *opsRun) say(scenario, format string, args ...any) {
	fmt.Fprintf(s.ops.opts.Out, "%s: %s\n", scenario, fmt.Sprintf(format, args...))
}

// fail records and prints a failure of the story. A scenario cut short
// because the demo is stopping (its error is context.Canceled) is no failure:
// the report already says the story stopped before its end.
func (s *opsRun) fail(format string, args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, context.Canceled) {
			return
		}
	}
	msg := fmt.Sprintf(format, args...)
	s.ops.mu.Lock()
	s.ops.report.Errors = append(s.ops.report.Errors, msg)
	s.ops.mu.Unlock()
	fmt.Fprintf(s.ops.opts.Out, "ops error: %s\n", msg)
}

// record changes the report under its lock.
func (s *opsRun) record(f func(r *OpsReport)) {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	f(&s.ops.report)
}

// clock returns the story's clock for sleeping until a time.
func (s *opsRun) clock() clock { return realClock{nowFn: s.now} }

// sleep waits d, or less if ctx ends first (then it returns ctx's error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pollUntil calls check every poll interval until it reports done, fails, or
// patience runs out (an error naming what was awaited).
func (s *opsRun) pollUntil(ctx context.Context, what string, check func() (bool, error)) error {
	deadline := time.Now().Add(s.t.patience)
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for %s after %s", what, s.t.patience)
		}
		if err := sleep(ctx, s.t.poll); err != nil {
			return err
		}
	}
}

// compress scales the timeline of plan p around its start by f, so that a
// test can run tasks faster than real agents do; f = 1 leaves it as it is.
func compress(p *Plan, f float64) {
	if f == 1 {
		return
	}
	at := func(t time.Time) time.Time {
		return p.Start.Add(time.Duration(float64(t.Sub(p.Start)) * f))
	}
	p.Root.Start, p.Root.End = at(p.Root.Start), at(p.Root.End)
	for i := range p.Children {
		c := &p.Children[i]
		c.Start, c.End = at(c.Start), at(c.End)
	}
	p.End = at(p.End)
	p.Outcome.Time = p.End
	p.Outcome.CycleTime = p.End.Sub(p.Start)
}

// apiClient calls day2's HTTP API with a bearer token.
type apiClient struct {
	base, token string
	hc          *http.Client
}

// apiError is an error answer of day2's API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// statusOf returns the HTTP status of an API error, 0 for any other error.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// call sends in (JSON; nil for no body) to method path and decodes the answer
// into out: a *string takes the body as text, nil discards it.
func (c *apiClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.Unmarshal(data, &eb)
		return fmt.Errorf("%s %s: %w", method, path, &apiError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message})
	}
	switch o := out.(type) {
	case nil:
		return nil
	case *string:
		*o = string(data)
		return nil
	}
	if resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
	}
	return nil
}

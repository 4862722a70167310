package web

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
)

// The approvals pages are the queue of requests waiting for a person, soonest
// to expire first, with the force-manual switches, the outcome and latency
// figures and the history; and one page per request with everything the agent
// sent, so that a person decides on the full context. Decisions go through
// approval.Service.Decide, which enforces the tiers' approver groups and the
// two-person rule; its refusals come back to the page as the flash message.

// Limits of the approvals pages.
const (
	maxQueue            = 200 // pending requests shown
	defaultHistoryLimit = 50
	maxHistoryLimit     = 1000
)

// approvalRoutes registers the approvals pages.
func (u *UI) approvalRoutes() {
	u.mux.HandleFunc("GET /approvals", u.approvalList)
	u.mux.HandleFunc("GET /approvals/{id}", u.approvalPage)
	u.mux.Handle("POST /approvals/{id}/decision", u.action(auth.ScopeApprove, u.decide))
}

type approvalListPage struct {
	chrome
	flash
	Service, State string
	Limit          int
	Services       []string
	States         []string
	Queue          []queueRow
	QueueCapped    bool
	Switches       []approval.Switch
	Stats          []statsColumn
	History        []historyRow
	MoreURL        string
	APIURL         string
}

// queueRow is a pending request in the queue.
type queueRow struct {
	R        approval.Request
	Left     string // time left before it expires
	Urgency  string // "", warn or bad
	Amount   string
	Conf     string
	InPolicy string
	Prompt   string // the prompt, shortened, for the row's summary
	Context  []ctxField
}

// historyRow is a request in the history table.
type historyRow struct {
	R       approval.Request
	Outcome string // auto-approved, approved, rejected, expired, pending
	Latency string // how long a person took to decide
	Amount  string
}

// statsColumn is the approval figures of one period.
type statsColumn struct {
	Label    string
	S        approval.Stats
	Auto     int
	Approved int
	Rejected int
	Expired  int
	Pending  int
	Share    string
	P50, P95 string
	Bar      []barSeg
}

// barSeg is one outcome's part of a stacked bar, in percent of its width.
type barSeg struct {
	Class, Label string
	X, W         float64
}

func (u *UI) approvalList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := approvalListPage{chrome: u.chrome(r, "Approvals", "approvals"), flash: flashOf(r),
		Service: q.Get("service"), State: q.Get("state"), Limit: defaultHistoryLimit,
		States: []string{approval.StatePending, approval.StateApproved, approval.StateRejected, approval.StateExpired}}
	p.Refresh = 60
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxHistoryLimit {
			u.fail(w, r, day2.Errorf(day2.EInvalid, "limit=%q is not a whole number from 1 to %d", v, maxHistoryLimit))
			return
		}
		p.Limit = n
	}
	ctx := r.Context()
	now := u.approvals.Now()
	pending, err := u.approvals.List(ctx, approval.Filter{Service: p.Service, State: approval.StatePending, Limit: maxQueue})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.QueueCapped = len(pending) == maxQueue
	for _, req := range pending {
		row := queueRow{R: req, Amount: amountText(req.Amount), Conf: confidenceText(req.Context["confidence"]),
			InPolicy: inPolicyText(req.Context["in_policy"]), Context: contextFields(req.Context)}
		if prompt, ok := req.Context["prompt"].(string); ok {
			row.Prompt = shorten(prompt, 160)
		}
		left := req.ExpiresAt.Sub(now)
		row.Left = "in " + leftText(left)
		switch {
		case left <= 5*time.Minute:
			row.Urgency = "bad"
		case left <= 15*time.Minute:
			row.Urgency = "warn"
		}
		p.Queue = append(p.Queue, row)
	}
	history, err := u.approvals.List(ctx, approval.Filter{Service: p.Service, State: p.State, Limit: p.Limit})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, req := range history {
		p.History = append(p.History, historyRow{R: req, Outcome: outcomeOf(&req), Latency: decisionLatency(&req), Amount: amountText(req.Amount)})
	}
	if len(history) == p.Limit && p.Limit < maxHistoryLimit {
		p.MoreURL = link("/approvals", "service", p.Service, "state", p.State, "limit", strconv.Itoa(min(maxHistoryLimit, 4*p.Limit)))
	}
	if p.Switches, err = u.approvals.Switches(ctx); err != nil {
		u.fail(w, r, err)
		return
	}
	// The two periods are counted at once: each reads every request asked in
	// it, which is most of the page's time when there are many.
	periods := []struct {
		label string
		d     time.Duration
	}{{"last 24 hours", 24 * time.Hour}, {"last 7 days", 7 * 24 * time.Hour}}
	stats := make([]approval.Stats, len(periods))
	errs := make([]error, len(periods))
	var wg sync.WaitGroup
	for i, period := range periods {
		wg.Go(func() { stats[i], errs[i] = u.approvals.Stats(ctx, p.Service, now.Add(-period.d)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		u.fail(w, r, err)
		return
	}
	for i, period := range periods {
		p.Stats = append(p.Stats, statsOf(period.label, stats[i]))
	}
	p.Services = approvalServices(u.approvals.Policies(), p.Switches, p.Service, pending, history)
	p.APIURL = link("/api/v1/approvals", "service", p.Service, "state", p.State)
	u.render(w, http.StatusOK, "approvals.html", p)
}

// statsOf turns a period's figures into its column, with the outcomes as a
// stacked bar.
func statsOf(label string, st approval.Stats) statsColumn {
	c := statsColumn{Label: label, S: st, Auto: st.ByOutcome[approval.OutcomeAutoApproved], Approved: st.ByOutcome[approval.OutcomeApproved],
		Rejected: st.ByOutcome[approval.OutcomeRejected], Expired: st.ByOutcome[approval.OutcomeExpired],
		Pending: st.ByOutcome[approval.OutcomePending], Share: "–", P50: "–", P95: "–"}
	if st.Total > 0 {
		c.Share = pct(st.AutoShare)
		x := 0.0
		for _, s := range []struct {
			class, label string
			n            int
		}{{"auto", "auto-approved", c.Auto}, {"approved", "approved by a person", c.Approved}, {"rejected", "rejected", c.Rejected},
			{"expired", "expired", c.Expired}, {"pending", "pending", c.Pending}} {
			if s.n == 0 {
				continue
			}
			wd := round1(100 * float64(s.n) / float64(st.Total))
			c.Bar = append(c.Bar, barSeg{Class: s.class, Label: s.label + ": " + strconv.Itoa(s.n), X: x, W: wd})
			x = round1(x + wd)
		}
	}
	if st.LatencyP50 != nil {
		c.P50 = latencyText(st.LatencyP50.D())
	}
	if st.LatencyP95 != nil {
		c.P95 = latencyText(st.LatencyP95.D())
	}
	return c
}

// approvalServices lists the services to filter on: those with a policy or a
// switch, the one chosen, and those of the requests shown.
func approvalServices(ps []approval.Policy, sws []approval.Switch, chosen string, lists ...[]approval.Request) []string {
	set := map[string]bool{chosen: true}
	for _, p := range ps {
		set[p.Service] = true
	}
	for _, s := range sws {
		set[s.Service] = true
	}
	for _, l := range lists {
		for _, r := range l {
			set[r.Service] = true
		}
	}
	delete(set, "")
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

type approvalPage struct {
	chrome
	flash
	R          approval.Request
	Outcome    string
	Left       string
	Urgency    string
	Amount     string
	Approvers  string
	Escalation string
	Context    []ctxField
	CanDecide  bool
	APIURL     string
	TaskURL    string
}

func (u *UI) approvalPage(w http.ResponseWriter, r *http.Request) {
	req, err := u.approvals.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := approvalPage{chrome: u.chrome(r, "Approval "+req.Action+" · "+req.Service, "approvals"), flash: flashOf(r), R: req,
		Outcome: outcomeOf(&req), Amount: amountText(req.Amount), Approvers: req.Approvers.String(),
		Context: contextFields(req.Context), APIURL: "/api/v1/approvals/" + req.ID}
	if req.State == approval.StatePending {
		left := req.ExpiresAt.Sub(u.approvals.Now())
		p.Left = "expires in " + leftText(left)
		if left <= 5*time.Minute {
			p.Urgency = "bad"
		} else if left <= 15*time.Minute {
			p.Urgency = "warn"
		}
		p.CanDecide = can(r, auth.ScopeApprove)
	}
	if len(req.EscalationGroups) > 0 {
		groups := approval.ApproverSet{Groups: req.EscalationGroups}.String()
		if req.Escalated {
			p.Escalation = "escalated: " + groups + " may decide too"
		} else {
			p.Escalation = groups + " may decide too from " + stamp(req.EscalatesAt)
		}
	}
	if _, err := day2.ParseTraceID(req.TaskID); err == nil && req.TaskID != "" {
		p.TaskURL = "/tasks/" + req.TaskID
	}
	u.render(w, http.StatusOK, "approval.html", p)
}

// decide approves or rejects a request as the signed-in identity.
func (u *UI) decide(w http.ResponseWriter, r *http.Request, id auth.Identity) (string, string, error) {
	reqID := r.PathValue("id")
	back := "/approvals/" + reqID
	decision := r.PostForm.Get("decision")
	req, err := u.approvals.Decide(r.Context(), id, reqID, decision, strings.TrimSpace(r.PostForm.Get("comment")))
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return "", "", err
		}
		return back, "", err
	}
	return back, "Request " + req.State + ": " + req.Action + " of " + req.Service + ".", nil
}

// outcomeOf names how a request ended, telling auto-approvals apart.
func outcomeOf(r *approval.Request) string {
	if r.AutoApproved {
		return "auto-approved"
	}
	return r.State
}

// decisionLatency is how long a person took to decide r, empty when nobody did.
func decisionLatency(r *approval.Request) string {
	if r.AutoApproved || r.DecidedAt.IsZero() || (r.State != approval.StateApproved && r.State != approval.StateRejected) {
		return ""
	}
	return latencyText(r.DecidedAt.Sub(r.CreatedAt))
}

// latencyText formats a decision latency: "45s", "12m", "1h05m", "2d3h".
func latencyText(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + "m"
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return strconv.Itoa(int(d/time.Hour)) + "h" + twoDigits(int(d%time.Hour/time.Minute)) + "m"
	default:
		d = d.Round(time.Hour)
		return strconv.Itoa(int(d/(24*time.Hour))) + "d" + strconv.Itoa(int(d%(24*time.Hour)/time.Hour)) + "h"
	}
}

// leftText formats the time left before an expiry; "0s" once it passed.
func leftText(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return latencyText(d)
}

// shorten cuts s to at most n runes on one line, marking the cut with "…".
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// amountText formats an amount with thousands separators and cents when it
// has any: 1250.5 → "1,250.50", 800 → "800".
func amountText(a *float64) string {
	if a == nil || math.IsNaN(*a) || math.IsInf(*a, 0) {
		return "–"
	}
	s := strconv.FormatFloat(math.Abs(*a), 'f', 2, 64)
	whole, cents, _ := strings.Cut(s, ".")
	var b strings.Builder
	if *a < 0 {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if cents != "00" {
		b.WriteString("." + cents)
	}
	return b.String()
}

// confidenceText shows a confidence: a share (0..1) as a percentage, anything
// else as it came.
func confidenceText(v any) string {
	switch x := v.(type) {
	case nil:
		return "–"
	case float64:
		if x >= 0 && x <= 1 {
			return strconv.FormatFloat(100*x, 'f', 0, 64) + "%"
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return scalarText(v)
}

// inPolicyText shows the agent's in_policy claim.
func inPolicyText(v any) string {
	switch x := v.(type) {
	case nil:
		return "–"
	case bool:
		if x {
			return "yes"
		}
		return "no"
	}
	return scalarText(v)
}

// ctxField is one field of a request's context, shaped for the page: Text
// for a scalar, Items for a list, Pairs for an object of scalars, JSON for
// anything deeper. Every part is text; the template escapes it.
type ctxField struct {
	Key, Label string
	Text       string
	Items      []ctxItem
	Ordered    bool
	Pairs      []ctxPair
	JSON       string
	Empty      bool
}

type ctxItem struct {
	Text string
	Code bool // JSON of an object
}

type ctxPair struct {
	Key, Value string
	Code       bool
}

// knownContext are the context fields the seed names, in the order a person
// reads them, with their labels.
var knownContext = []struct{ key, label string }{
	{"prompt", "Prompt"}, {"facts", "Facts"}, {"tool_plan", "Tool plan"}, {"side_effects", "Side effects"},
	{"confidence", "Confidence"}, {"in_policy", "In policy"},
}

// contextFields returns the context's fields: the known ones first, in their
// order, then the others by name.
func contextFields(c map[string]any) []ctxField {
	var out []ctxField
	for _, k := range knownContext {
		v, ok := c[k.key]
		if !ok {
			out = append(out, ctxField{Key: k.key, Label: k.label, Empty: true})
			continue
		}
		f := contextField(k.key, k.label, v)
		switch k.key {
		case "confidence":
			f = ctxField{Key: k.key, Label: k.label, Text: confidenceText(v)}
		case "in_policy":
			f = ctxField{Key: k.key, Label: k.label, Text: inPolicyText(v)}
		case "tool_plan":
			f.Ordered = true
		}
		out = append(out, f)
	}
	var rest []string
	for k := range c {
		if !slices.ContainsFunc(knownContext, func(x struct{ key, label string }) bool { return x.key == k }) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, contextField(k, k, c[k]))
	}
	return out
}

func contextField(key, label string, v any) ctxField {
	f := ctxField{Key: key, Label: label}
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			f.Empty = true
		}
		for _, e := range x {
			if isScalar(e) {
				f.Items = append(f.Items, ctxItem{Text: scalarText(e)})
			} else {
				f.Items = append(f.Items, ctxItem{Text: jsonText(e, false), Code: true})
			}
		}
	case map[string]any:
		if len(x) == 0 {
			f.Empty = true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if isScalar(x[k]) {
				f.Pairs = append(f.Pairs, ctxPair{Key: k, Value: scalarText(x[k])})
			} else {
				f.Pairs = append(f.Pairs, ctxPair{Key: k, Value: jsonText(x[k], false), Code: true})
			}
		}
	default:
		if isScalar(v) {
			f.Text = scalarText(v)
		} else {
			f.JSON = jsonText(v, true)
		}
	}
	return f
}

func isScalar(v any) bool {
	switch v.(type) {
	case nil, string, bool, float64, json.Number, int, int64:
		return true
	}
	return false
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return jsonText(v, false)
}

func jsonText(v any, indent bool) string {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return "(not JSON)"
	}
	return string(b)
}

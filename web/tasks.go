package web

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// Task list filters the store cannot apply (outcome, escalation, risk tier) are
// applied here, over the store's pages in order, scanning at most maxScan tasks
// per page view; the next-page link continues the scan where it stopped.
const (
	defaultTaskLimit = 50
	maxTaskLimit     = 500
	scanBatch        = 200
	maxScan          = 5000
)

var taskRanges = []struct{ Key, Text string }{
	{"", "any time"}, {"1h", "last hour"}, {"24h", "last 24 hours"}, {"7d", "last 7 days"}, {"28d", "last 28 days"},
}

type taskFilter struct {
	day2.TaskFilter
	Outcome   string // success, failure, pending
	Escalated string // yes, no
	RiskTier  string
	Range     string
}

type taskListPage struct {
	chrome
	F          taskFilter
	Tasks      []day2.Task
	Services   []string
	Envs       []string
	Versions   []string
	Ranges     []struct{ Key, Text string }
	NextURL    string
	FirstURL   string
	Scanned    int
	Truncated  bool
	InMemory   bool
	SinceText  string
	UntilText  string
	FilterText string
}

func parseTaskFilter(q url.Values, now time.Time) (taskFilter, error) {
	f := taskFilter{
		TaskFilter: day2.TaskFilter{Service: q.Get("service"), Environment: q.Get("env"), Version: q.Get("version"), Cursor: q.Get("cursor"), Limit: defaultTaskLimit},
		Outcome:    q.Get("outcome"), Escalated: q.Get("escalated"), RiskTier: q.Get("risk_tier"), Range: q.Get("range"),
	}
	switch f.Outcome {
	case "", "success", "failure", "pending":
	default:
		return f, day2.Errorf(day2.EInvalid, "outcome=%q is not one of success, failure, pending", f.Outcome)
	}
	switch f.Escalated {
	case "", "yes", "no":
	default:
		return f, day2.Errorf(day2.EInvalid, "escalated=%q is not yes or no", f.Escalated)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTaskLimit {
			return f, day2.Errorf(day2.EInvalid, "limit=%q is not a whole number from 1 to %d", v, maxTaskLimit)
		}
		f.Limit = n
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return f, day2.Errorf(day2.EInvalid, "%s=%q is not an RFC 3339 time; use e.g. 2026-11-26T09:00:00Z", p.name, v)
		}
		*p.dst = t.UTC()
	}
	if f.Range != "" {
		d, err := day2.ParseDuration(f.Range)
		if err != nil || d <= 0 {
			return f, day2.Errorf(day2.EInvalid, "range=%q is not a duration such as 1h, 24h or 7d", f.Range)
		}
		if f.Since.IsZero() {
			f.Since = now.Add(-d)
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, day2.Errorf(day2.EInvalid, "since (%s) must be before until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, nil
}

// inMemory reports whether f has filters the store does not apply.
func (f *taskFilter) inMemory() bool {
	return f.Outcome != "" || f.Escalated != "" || f.RiskTier != ""
}

func (f *taskFilter) matches(t *day2.Task) bool {
	switch f.Outcome {
	case "success":
		if t.Success == nil || !*t.Success {
			return false
		}
	case "failure":
		if t.Success == nil || *t.Success {
			return false
		}
	case "pending":
		if t.Success != nil {
			return false
		}
	}
	switch f.Escalated {
	case "yes":
		if t.Escalated == nil || !*t.Escalated {
			return false
		}
	case "no":
		if t.Escalated == nil || *t.Escalated {
			return false
		}
	}
	return f.RiskTier == "" || t.RiskTier == f.RiskTier
}

// query renders the filter as URL parameters, without the cursor.
func (f *taskFilter) query() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("service", f.Service)
	set("env", f.Environment)
	set("version", f.Version)
	set("outcome", f.Outcome)
	set("escalated", f.Escalated)
	set("risk_tier", f.RiskTier)
	set("range", f.Range)
	if f.Range == "" && !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Limit != defaultTaskLimit {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

// find returns up to f.Limit matching tasks from f.Cursor on, the cursor of the
// next page ("" at the end), and how many tasks it read.
func (u *UI) find(ctx context.Context, f taskFilter) (tasks []day2.Task, next string, scanned int, err error) {
	if !f.inMemory() {
		page, err := u.store.ListTasks(ctx, f.TaskFilter)
		return page.Tasks, page.NextCursor, len(page.Tasks), err
	}
	cursor := f.Cursor
	for scanned < maxScan {
		pf := f.TaskFilter
		pf.Cursor, pf.Limit = cursor, scanBatch
		page, err := u.store.ListTasks(ctx, pf)
		if err != nil {
			return nil, "", scanned, err
		}
		for i := range page.Tasks {
			if !f.matches(&page.Tasks[i]) {
				continue
			}
			tasks = append(tasks, page.Tasks[i])
			if len(tasks) < f.Limit {
				continue
			}
			if i == len(page.Tasks)-1 {
				return tasks, page.NextCursor, scanned + i + 1, nil
			}
			// Stop right after this task: read the page again up to it, so
			// that the store hands out the cursor that follows it.
			pf.Limit = i + 1
			cut, err := u.store.ListTasks(ctx, pf)
			if err != nil {
				return nil, "", scanned, err
			}
			return tasks, cut.NextCursor, scanned + i + 1, nil
		}
		scanned += len(page.Tasks)
		cursor = page.NextCursor
		if cursor == "" {
			return tasks, "", scanned, nil
		}
	}
	return tasks, cursor, scanned, nil
}

func (u *UI) taskList(w http.ResponseWriter, r *http.Request) {
	now := u.engine.Now().UTC()
	f, err := parseTaskFilter(r.URL.Query(), now)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	tasks, next, scanned, err := u.find(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	svcs, err := u.store.ListServices(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := taskListPage{chrome: u.chrome(r, "Tasks", "tasks"), F: f, Tasks: tasks, Ranges: taskRanges, Scanned: scanned, InMemory: f.inMemory()}
	envs, versions := map[string]bool{}, map[string]bool{}
	for _, s := range svcs {
		p.Services = append(p.Services, s.Service)
		for _, v := range s.Versions {
			envs[v.Environment] = true
			if f.Service == "" || s.Service == f.Service {
				versions[v.Version] = true
			}
		}
	}
	p.Envs, p.Versions = keys(envs), keys(versions)
	sort.Slice(p.Versions, func(i, j int) bool { return versionLess(p.Versions[i], p.Versions[j]) })
	q := f.query()
	p.FirstURL = "/tasks?" + q.Encode()
	if next != "" {
		q.Set("cursor", next)
		p.NextURL = "/tasks?" + q.Encode()
		p.Truncated = f.inMemory() && len(tasks) < f.Limit
	}
	if !f.Since.IsZero() {
		p.SinceText = stamp(f.Since)
	}
	if !f.Until.IsZero() {
		p.UntilText = stamp(f.Until)
	}
	u.render(w, http.StatusOK, "tasks.html", p)
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Span roles on the waterfall, following the mapping of day2.Summarize
// (docs/ingest.md): the seed's llm.prompt / llm.completion / llm.tool spans and
// the GenAI conventions' operations.
const (
	roleRoot  = "root"
	roleLLM   = "LLM"
	roleTool  = "tool"
	roleOther = "span"
)

type spanRow struct {
	Span       day2.Span
	Role       string
	Depth      int
	Indent     int // rem, capped so deep trees stay readable
	OffsetPct  float64
	WidthPct   float64
	Duration   string
	Failed     bool
	Retries    int64
	RateLimit  bool
	Tool       string
	Model      string
	Tokens     string
	Markers    []marker
	Attrs      []attrRow
	Events     []eventRow
	StatusText string
}

type marker struct {
	OffsetPct float64
	Label     string
	Outcome   bool
}

type attrRow struct{ Key, Value string }

type eventRow struct {
	Name, Time string
	Attrs      []attrRow
}

type taskPage struct {
	chrome
	Task      day2.Task
	Rows      []spanRow
	Logs      []logRow
	RawPurged bool
	Total     string
	Outcome   *marker
	APIURL    string
	ListURL   string
}

type logRow struct {
	Time, Severity, Event, Body string
	Attrs                       []attrRow
	Outcome                     bool
}

func (u *UI) task(w http.ResponseWriter, r *http.Request) {
	id, err := day2.ParseTraceID(strings.ToLower(r.PathValue("id")))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d, err := u.store.GetTask(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := taskPage{chrome: u.chrome(r, "Task "+d.Task.TaskID[:8], "tasks"), Task: d.Task, RawPurged: d.RawPurged,
		APIURL:  "/api/v1/tasks/" + d.Task.TaskID,
		ListURL: link("/tasks", "service", d.Task.Service, "env", d.Task.Environment)}
	var lo, hi int64
	p.Rows, lo, hi = waterfall(d.Data.Spans)
	logs := append([]day2.LogRecord(nil), d.Data.Logs...)
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].Time < logs[j].Time })
	for _, l := range logs {
		out := l.EventName == "outcome" || l.Attrs.Str("event") == "outcome"
		p.Logs = append(p.Logs, logRow{Time: day2.UnixNano(l.Time).Format("2006-01-02 15:04:05.000"),
			Severity: l.SeverityText, Event: l.EventName, Body: l.Body, Attrs: attrRows(l.Attrs), Outcome: out})
		// An outcome sent as a log record is drawn on the root's row.
		if out && len(p.Rows) > 0 && hi > lo && l.Time >= lo {
			off := min(100, 100*float64(l.Time-lo)/float64(hi-lo))
			p.Rows[0].Markers = append(p.Rows[0].Markers, marker{OffsetPct: round1(off), Label: "outcome (log record)", Outcome: true})
		}
	}
	if hi > lo {
		p.Total = seconds(float64(hi-lo) / 1e6)
	}
	u.render(w, http.StatusOK, "task.html", p)
}

// waterfall orders spans depth-first under their parents and places each on a
// time axis spanning the whole trace, which it returns as [lo, hi).
func waterfall(spans []day2.Span) (rows []spanRow, lo, hi int64) {
	if len(spans) == 0 {
		return nil, 0, 0
	}
	lo, hi = spans[0].Start, spans[0].End
	byID := map[day2.SpanID]bool{}
	children := map[day2.SpanID][]int{}
	for _, s := range spans {
		lo, hi = min(lo, s.Start), max(hi, s.End)
		for _, e := range s.Events {
			hi = max(hi, e.Time)
		}
		byID[s.SpanID] = true
	}
	var roots []int
	for i, s := range spans {
		if !s.ParentSpanID.IsZero() && byID[s.ParentSpanID] && s.ParentSpanID != s.SpanID {
			children[s.ParentSpanID] = append(children[s.ParentSpanID], i)
		} else {
			roots = append(roots, i)
		}
	}
	total := float64(max(hi-lo, 1))
	pos := func(t int64) float64 { return round1(100 * float64(t-lo) / total) }
	seen := map[int]bool{}
	var walk func(idx []int, depth int)
	walk = func(idx []int, depth int) {
		sort.SliceStable(idx, func(a, b int) bool { return spans[idx[a]].Start < spans[idx[b]].Start })
		for _, i := range idx {
			if seen[i] {
				continue
			}
			seen[i] = true
			s := &spans[i]
			row := spanRow{
				Span: *s, Depth: depth, Indent: min(depth, 6),
				OffsetPct: pos(s.Start), WidthPct: max(0.4, round1(100*float64(s.End-s.Start)/total)),
				Duration: seconds(float64(s.End-s.Start) / 1e6), Attrs: attrRows(s.Attrs),
			}
			classify(&row, s)
			for _, e := range s.Events {
				row.Events = append(row.Events, eventRow{Name: e.Name, Time: day2.UnixNano(e.Time).Format("2006-01-02 15:04:05.000"), Attrs: attrRows(e.Attrs)})
				row.Markers = append(row.Markers, marker{OffsetPct: pos(e.Time), Label: e.Name + " event", Outcome: e.Name == "outcome"})
			}
			rows = append(rows, row)
			walk(children[s.SpanID], depth+1)
		}
	}
	walk(roots, 0)
	return rows, lo, hi
}

// classify sets the row's role and its status details.
func classify(row *spanRow, s *day2.Span) {
	a := s.Attrs
	switch {
	case day2.IsLLMSpan(s):
		row.Role = roleLLM
		row.Model = a.Str("gen_ai.request.model", "gen_ai.response.model", "model")
		in, okIn := day2.InputTokens(a)
		out, okOut := day2.OutputTokens(a)
		if okIn || okOut {
			row.Tokens = count(in) + " in / " + count(out) + " out"
		}
	case day2.IsToolSpan(s):
		row.Role = roleTool
		row.Tool = a.Str("gen_ai.tool.name", "tool.name")
		if r, ok := a.Int("retries"); ok {
			row.Retries = r
		}
	case s.ParentSpanID.IsZero():
		row.Role = roleRoot
	default:
		row.Role = roleOther
	}
	// GenAI span names already carry the model or tool ("chat gpt-4o").
	if strings.Contains(s.Name, row.Model) {
		row.Model = ""
	}
	if strings.Contains(s.Name, row.Tool) {
		row.Tool = ""
	}
	if row.Role == roleTool {
		row.Failed = day2.ToolFailed(s)
	} else {
		st := a.Str("status")
		row.Failed = s.StatusCode == day2.StatusError || st == "error" || st == "ERROR"
	}
	row.RateLimit = day2.RateLimited(s)
	switch {
	case row.Failed:
		row.StatusText = "✕ error"
		if s.StatusMessage != "" {
			row.StatusText += ": " + s.StatusMessage
		}
	case s.StatusCode == day2.StatusOK:
		row.StatusText = "✓ ok"
	default:
		row.StatusText = "ok"
	}
}

func attrRows(a day2.Attrs) []attrRow {
	out := make([]attrRow, 0, len(a))
	for _, kv := range a {
		out = append(out, attrRow{Key: kv.Key, Value: kv.Value.String()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

package httpapi

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// taskList is the body of GET /api/v1/tasks.
type taskList struct {
	Tasks      []day2.Task `json:"tasks"`
	NextCursor string      `json:"next_cursor"`
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) {
	f, err := parseTaskFilter(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	page, err := s.store.ListTasks(r.Context(), f)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if page.Tasks == nil {
		page.Tasks = []day2.Task{}
	}
	writeJSON(w, http.StatusOK, taskList{Tasks: page.Tasks, NextCursor: page.NextCursor})
}

func parseTaskFilter(r *http.Request) (day2.TaskFilter, error) {
	q := r.URL.Query()
	f := day2.TaskFilter{
		Service:     q.Get("service"),
		Environment: q.Get("environment"),
		Version:     q.Get("version"),
		Cursor:      q.Get("cursor"),
	}
	var err error
	if f.Since, err = parseTime(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = parseTime(q, "until"); err != nil {
		return f, err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, day2.Errorf(day2.EInvalid, "limit=%q is not a positive whole number", v)
		}
		f.Limit = n
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, day2.Errorf(day2.EInvalid, "since (%s) must be before until (%s)", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339))
	}
	return f, nil
}

// parseTime reads an RFC 3339 time from query parameter name; absent gives zero.
func parseTime(q map[string][]string, name string) (time.Time, error) {
	vs := q[name]
	if len(vs) == 0 || vs[0] == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, vs[0])
	if err != nil {
		return time.Time{}, day2.Errorf(day2.EInvalid, "%s=%q is not an RFC 3339 time; use e.g. 2026-11-26T09:00:00Z", name, vs[0])
	}
	return t, nil
}

// taskDetail is the body of GET /api/v1/tasks/{id}: the task's fields, its span
// tree (children nested under parents; spans whose parent never arrived are
// roots) and the log records of the trace.
type taskDetail struct {
	day2.Task
	RawPurged bool       `json:"raw_purged"`
	SpanTree  []*spanOut `json:"spans"`
	Logs      []logOut   `json:"logs"`
}

type spanOut struct {
	SpanID       string         `json:"span_id"`
	ParentSpanID string         `json:"parent_span_id,omitempty"`
	Name         string         `json:"name"`
	Kind         string         `json:"kind"`
	Service      string         `json:"service,omitempty"`
	StartTime    time.Time      `json:"start_time"`
	EndTime      time.Time      `json:"end_time"`
	DurationMS   float64        `json:"duration_ms"`
	Status       statusOut      `json:"status"`
	Attributes   map[string]any `json:"attributes"`
	Events       []eventOut     `json:"events"`
	Children     []*spanOut     `json:"children"`
}

type statusOut struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

type eventOut struct {
	Name       string         `json:"name"`
	Time       time.Time      `json:"time"`
	Attributes map[string]any `json:"attributes"`
}

type logOut struct {
	Time       time.Time      `json:"time"`
	SpanID     string         `json:"span_id,omitempty"`
	EventName  string         `json:"event_name,omitempty"`
	Severity   string         `json:"severity,omitempty"`
	Body       string         `json:"body,omitempty"`
	Attributes map[string]any `json:"attributes"`
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	id, err := day2.ParseTraceID(strings.ToLower(r.PathValue("id")))
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	d, err := s.store.GetTask(r.Context(), id)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, TaskDetailJSON(d))
}

// TaskDetailJSON renders a task with its span tree in the API's JSON shape.
func TaskDetailJSON(d day2.TaskDetail) any {
	out := taskDetail{Task: d.Task, RawPurged: d.RawPurged, SpanTree: SpanTree(d.Data.Spans), Logs: []logOut{}}
	logs := append([]day2.LogRecord(nil), d.Data.Logs...)
	sort.SliceStable(logs, func(i, j int) bool { return logs[i].Time < logs[j].Time })
	for _, l := range logs {
		out.Logs = append(out.Logs, logOut{
			Time: day2.UnixNano(l.Time), SpanID: l.SpanID.String(), EventName: l.EventName,
			Severity: l.SeverityText, Body: l.Body, Attributes: attrsJSON(l.Attrs),
		})
	}
	return out
}

// SpanTree nests spans under their parents, ordered by start time.
func SpanTree(spans []day2.Span) []*spanOut {
	nodes := make(map[day2.SpanID]*spanOut, len(spans))
	order := make([]*spanOut, 0, len(spans))
	parents := make([]day2.SpanID, 0, len(spans))
	sorted := append([]day2.Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	for i := range sorted {
		sp := &sorted[i]
		n := &spanOut{
			SpanID: sp.SpanID.String(), ParentSpanID: sp.ParentSpanID.String(), Name: sp.Name,
			Kind: kindName(sp.Kind), StartTime: day2.UnixNano(sp.Start), EndTime: day2.UnixNano(sp.End),
			DurationMS: float64(sp.End-sp.Start) / 1e6,
			Status:     statusOut{Code: statusName(sp.StatusCode), Message: sp.StatusMessage},
			Attributes: attrsJSON(sp.Attrs), Events: []eventOut{}, Children: []*spanOut{},
		}
		if sp.Resource != nil {
			n.Service = sp.Resource.Attrs.Str("service.name")
		}
		for _, e := range sp.Events {
			n.Events = append(n.Events, eventOut{Name: e.Name, Time: day2.UnixNano(e.Time), Attributes: attrsJSON(e.Attrs)})
		}
		nodes[sp.SpanID] = n
		order = append(order, n)
		parents = append(parents, sp.ParentSpanID)
	}
	roots := []*spanOut{}
	for i, n := range order {
		if p, ok := nodes[parents[i]]; ok && !parents[i].IsZero() && p != n {
			p.Children = append(p.Children, n)
			continue
		}
		roots = append(roots, n)
	}
	return roots
}

func kindName(k day2.SpanKind) string {
	switch k {
	case day2.SpanKindInternal:
		return "internal"
	case day2.SpanKindServer:
		return "server"
	case day2.SpanKindClient:
		return "client"
	case day2.SpanKindProducer:
		return "producer"
	case day2.SpanKindConsumer:
		return "consumer"
	}
	return "unspecified"
}

func statusName(c day2.StatusCode) string {
	switch c {
	case day2.StatusOK:
		return "ok"
	case day2.StatusError:
		return "error"
	}
	return "unset"
}

func attrsJSON(a day2.Attrs) map[string]any {
	m := make(map[string]any, len(a))
	for _, kv := range a {
		m[kv.Key] = valueJSON(kv.Value)
	}
	return m
}

func valueJSON(v day2.Value) any {
	switch v.Kind {
	case day2.KindString, day2.KindBytes:
		return v.Str
	case day2.KindBool:
		return v.Num != 0
	case day2.KindInt:
		return v.Num
	case day2.KindDouble:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return v.String() // JSON has no NaN or infinity
		}
		return f
	case day2.KindArray:
		out := make([]any, len(v.Arr))
		for i, e := range v.Arr {
			out[i] = valueJSON(e)
		}
		return out
	case day2.KindMap:
		if json.Valid([]byte(v.Str)) {
			return json.RawMessage(v.Str)
		}
		return v.Str
	}
	return nil
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	svcs, err := s.store.ListServices(r.Context())
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if svcs == nil {
		svcs = []day2.ServiceSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"services": svcs})
}

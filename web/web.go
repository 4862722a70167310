// Package web serves day2's dashboard: server-rendered html/template pages embedded
// in the binary, so `go build` needs nothing else.
package web

import (
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configure the UI.
type Options struct {
	Store  day2.TaskStore
	Logger *slog.Logger
}

// UI is the dashboard's HTTP handler.
type UI struct {
	store day2.TaskStore
	log   *slog.Logger
	tmpl  *template.Template
	mux   *http.ServeMux
}

// New parses the embedded templates and returns the UI handler.
func New(opts Options) *UI {
	u := &UI{store: opts.Store, log: opts.Logger, mux: http.NewServeMux()}
	if u.log == nil {
		u.log = slog.Default()
	}
	u.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"ts":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") },
		"boolstr": boolText,
		"ms":      msText,
		"deref":   func(b *bool) bool { return b != nil && *b },
	}).ParseFS(templateFS, "templates/*.html"))
	u.mux.HandleFunc("GET /{$}", u.overview)
	u.mux.HandleFunc("GET /tasks/{id}", u.task)
	return u
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

type overviewPage struct {
	Services []day2.ServiceSummary
	Tasks    []day2.Task
	Service  string
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	svcs, err := u.store.ListServices(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	svc := r.URL.Query().Get("service")
	page, err := u.store.ListTasks(r.Context(), day2.TaskFilter{Service: svc, Limit: 50})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, "overview.html", overviewPage{Services: svcs, Tasks: page.Tasks, Service: svc})
}

type spanRow struct {
	Span       day2.Span
	Depth      int
	OffsetPct  float64
	WidthPct   float64
	DurationMS float64
	Failed     bool
}

type taskPage struct {
	Task      day2.Task
	Rows      []spanRow
	Logs      []day2.LogRecord
	RawPurged bool
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
	u.render(w, "task.html", taskPage{Task: d.Task, Rows: waterfall(d.Data.Spans), Logs: d.Data.Logs, RawPurged: d.RawPurged})
}

// waterfall orders spans depth-first under their parents and places each on a
// time axis spanning the whole trace.
func waterfall(spans []day2.Span) []spanRow {
	if len(spans) == 0 {
		return nil
	}
	lo, hi := spans[0].Start, spans[0].End
	byID := map[day2.SpanID]bool{}
	children := map[day2.SpanID][]int{}
	for _, s := range spans {
		lo, hi = min(lo, s.Start), max(hi, s.End)
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
	var rows []spanRow
	seen := map[int]bool{}
	var walk func(idx []int, depth int)
	walk = func(idx []int, depth int) {
		sortByStart(spans, idx)
		for _, i := range idx {
			if seen[i] {
				continue
			}
			seen[i] = true
			s := spans[i]
			rows = append(rows, spanRow{
				Span: s, Depth: depth,
				OffsetPct:  100 * float64(s.Start-lo) / total,
				WidthPct:   max(0.3, 100*float64(s.End-s.Start)/total),
				DurationMS: float64(s.End-s.Start) / 1e6,
				Failed:     s.StatusCode == day2.StatusError || s.Attrs.Str("status") == "error",
			})
			walk(children[s.SpanID], depth+1)
		}
	}
	walk(roots, 0)
	return rows
}

func sortByStart(spans []day2.Span, idx []int) {
	for i := 1; i < len(idx); i++ {
		for j := i; j > 0 && spans[idx[j]].Start < spans[idx[j-1]].Start; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
}

func (u *UI) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := u.tmpl.ExecuteTemplate(w, name, data); err != nil {
		u.log.Error("render page", "page", name, "err", err)
	}
}

func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch day2.ErrorCode(err) {
	case day2.ENotFound:
		status = http.StatusNotFound
	case day2.EInvalid:
		status = http.StatusBadRequest
	}
	if status >= 500 {
		u.log.Error("page failed", "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = u.tmpl.ExecuteTemplate(w, "error.html", day2.ErrorMessage(err))
}

func boolText(b *bool, yes, no string) string {
	if b == nil {
		return "pending"
	}
	if *b {
		return yes
	}
	return no
}

func msText(p *int64) string {
	if p == nil {
		return "–"
	}
	return (time.Duration(*p) * time.Millisecond).Round(100 * time.Millisecond).String()
}

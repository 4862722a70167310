// Package web serves day2's dashboard: server-rendered html/template pages and
// server-drawn SVG charts, embedded in the binary, with no JavaScript, so `go build`
// needs nothing else and every page works in any browser, a Teams tab included.
//
// The pages are the overview (are we reliable, and what is trending?), the SLO
// list and one page per SLO, the task list and one page per task with its span
// waterfall, the releases (rollouts with the judge's verdicts), the approvals
// queue, the incidents with their timelines, runbooks and levers, the
// postmortem and review pages, and the login page. Every page's state is in
// its URL, so any view can be bookmarked or pinned; actions are plain forms
// (see actions.go). docs/dashboard.md says what each number means and
// how it is computed.
package web

import (
	"embed"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/slo"
)

//go:embed templates/*.html
var templateFS embed.FS

// Options configure the UI. Store and SLO are required.
type Options struct {
	// Store holds the tasks, the services seen and the alert history.
	Store day2.Store
	// SLO evaluates the SLOs shown on the overview and the SLO pages.
	SLO *slo.Engine
	// Rollups is where capacity, cost and release figures are summed from; nil
	// means Store.
	Rollups slo.RowSource
	// Auth checks the token given on the login page; nil means a server without
	// tokens, where the login page only says that none is needed.
	Auth *auth.Authenticator
	// Logger receives rendering and store errors; nil means slog.Default().
	Logger *slog.Logger
	// Releases, Flags, Approvals and Incidents serve the pages of their
	// capabilities; nil leaves those pages out.
	Releases  *release.Service
	Flags     *flags.Service
	Approvals *approval.Service
	Incidents *incident.Service
}

// UI is the dashboard's HTTP handler. The handler itself expects to be mounted
// behind the read scope; Login returns the part that must be reachable without
// a token.
type UI struct {
	store   day2.Store
	engine  *slo.Engine
	rollups slo.RowSource
	auth    *auth.Authenticator
	log     *slog.Logger
	tmpl    *template.Template
	mux     *http.ServeMux
	login   http.Handler

	releases  *release.Service
	flags     *flags.Service
	approvals *approval.Service
	incidents *incident.Service
	// csrf guards the forms that change state (promote, approve, mitigate).
	csrf *http.CrossOriginProtection
}

// New parses the embedded templates and returns the UI handler. It panics when
// Store or SLO is missing, which is a wiring mistake.
func New(opts Options) *UI {
	if opts.Store == nil || opts.SLO == nil {
		panic("web.New: Options.Store and Options.SLO are required")
	}
	u := &UI{store: opts.Store, engine: opts.SLO, rollups: opts.Rollups, auth: opts.Auth, log: opts.Logger, mux: http.NewServeMux(),
		releases: opts.Releases, flags: opts.Flags, approvals: opts.Approvals, incidents: opts.Incidents,
		csrf: http.NewCrossOriginProtection()}
	if u.rollups == nil {
		u.rollups = opts.Store
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	if u.auth == nil {
		u.auth = auth.Open()
	}
	u.tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
	u.mux.HandleFunc("GET /{$}", u.overview)
	u.mux.HandleFunc("GET /slos", u.sloList)
	u.mux.HandleFunc("GET /slos/{service}/{slo}", u.sloPage)
	u.mux.HandleFunc("GET /tasks", u.taskList)
	u.mux.HandleFunc("GET /tasks/{id}", u.task)
	if u.releases != nil {
		u.releaseRoutes()
	}
	if u.approvals != nil {
		u.approvalRoutes()
	}
	if u.incidents != nil {
		u.incidentRoutes()
	}
	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, day2.Errorf(day2.ENotFound, "there is no page at %s; start from the overview", r.URL.Path))
	})
	u.login = u.loginHandler()
	return u
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// Login returns the handler of GET and POST /login and POST /logout, which must
// be mounted where no token is needed: it is how a browser gets one.
func (u *UI) Login() http.Handler { return u.login }

var funcs = template.FuncMap{
	"pct":       pct,
	"pctp":      pctp,
	"count":     count,
	"num":       num,
	"seconds":   seconds,
	"stamp":     stamp,
	"stampSec":  stampSec,
	"human":     human,
	"ms":        msText,
	"yesno":     boolText,
	"add":       func(a, b int) int { return a + b },
	"mul16":     func(a int) int { return 16 * a },
	"deref":     func(b *bool) bool { return b != nil && *b },
	"objective": objective,
	"count64":   func(f float64) string { return count(int64(math.Round(f))) },
	"budgetLeft": func(st *slo.Status) string {
		if st.NoData {
			return "untouched (no events in the window)"
		}
		return budgetText(st) + " left"
	},
	// set returns q with k set to v, encoded for a link.
	"set": func(q url.Values, k, v string) string {
		c := url.Values{}
		for key, vs := range q {
			c[key] = vs
		}
		c.Set(k, v)
		return c.Encode()
	},
}

// chrome is what every page's frame shows: the title, the active section, and
// who is signed in.
type chrome struct {
	Title   string
	Section string // overview, slos, tasks, releases, approvals, incidents
	// Releases, Approvals and Incidents say which capability pages exist,
	// for the navigation.
	Releases, Approvals, Incidents bool
	User                           string // empty when the server runs without tokens
	Refresh                        int    // seconds between automatic reloads; 0 for none
	Now                            time.Time
}

func (u *UI) chrome(r *http.Request, title, section string) chrome {
	c := chrome{Title: title, Section: section, Now: u.engine.Now().UTC(),
		Releases: u.releases != nil, Approvals: u.approvals != nil, Incidents: u.incidents != nil}
	if !u.auth.IsOpen() {
		if id, ok := auth.FromContext(r.Context()); ok {
			c.User = id.Name
		}
	}
	return c
}

// setHeaders sets the headers of every HTML answer: no script may run, and
// forms post only to day2 itself. Frames are allowed, for Teams tabs.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (u *UI) render(w http.ResponseWriter, status int, name string, data any) {
	setHeaders(w)
	w.WriteHeader(status)
	if err := u.tmpl.ExecuteTemplate(w, name, data); err != nil {
		u.log.Error("render page", "page", name, "err", err)
	}
}

type errorPage struct {
	chrome
	Status  int
	Message string
}

func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch day2.ErrorCode(err) {
	case day2.ENotFound:
		status = http.StatusNotFound
	case day2.EInvalid:
		status = http.StatusBadRequest
	case day2.EForbidden:
		status = http.StatusForbidden
	case day2.EUnavailable, day2.EOverloaded:
		status = http.StatusServiceUnavailable
	}
	if status >= 500 {
		u.log.Error("page failed", "path", r.URL.Path, "err", err)
	}
	u.render(w, status, "error.html", errorPage{chrome: u.chrome(r, "Error", ""), Status: status, Message: day2.ErrorMessage(err)})
}

// link returns path with the query of the key/value pairs whose value is set.
func link(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
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
	return seconds(float64(*p))
}

// Package httpapi is day2's REST API: tasks, services, health, metrics, and the
// OTLP/HTTP receivers mounted on the main address. Every route declares the token
// scope it needs; package auth checks it.
package httpapi

import (
	"log/slog"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/slo"
)

// Readiness reports whether ingest currently accepts telemetry.
type Readiness interface {
	Accepting() bool
}

// Options configure a Server. Store, Auth and Logger are required.
type Options struct {
	Store day2.TaskStore
	// Ingest gates /readyz; nil means always accepting.
	Ingest Readiness
	// OTLP handles POST /v1/traces and /v1/logs; nil leaves them unmounted.
	OTLP OTLPHandlers
	Auth *auth.Authenticator
	// Gatherer serves /metrics; nil leaves it unmounted.
	Gatherer prometheus.Gatherer
	// UI serves every path not taken by the API; nil leaves them 404.
	UI http.Handler
	// Login serves the UI's GET and POST /login and POST /logout without a
	// token. When set, a browser loading a UI page without a valid token is
	// sent to /login instead of being answered 401.
	Login  http.Handler
	Logger *slog.Logger
	// SLO serves the SLO, gate and override routes; nil leaves them unmounted.
	SLO *slo.Engine
	// SLOStore is where SLO charts read rollups.
	SLOStore slo.RowSource
	// State keeps overrides, alert history and the audit log.
	State day2.StateStore
}

// OTLPHandlers are the OTLP/HTTP receivers.
type OTLPHandlers interface {
	TracesHandler() http.Handler
	LogsHandler() http.Handler
}

// Server is the HTTP API.
type Server struct {
	store day2.TaskStore
	opts  Options
	log   *slog.Logger
	mux   *http.ServeMux
}

// New returns a Server with its routes registered.
func New(opts Options) *Server {
	s := &Server{store: opts.Store, opts: opts, log: opts.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Handle registers h for pattern, reachable only with a token holding scope.
// Later capabilities (SLOs, releases, approvals) add their routes through it.
func (s *Server) Handle(pattern string, scope auth.Scope, h http.Handler) {
	s.mux.Handle(pattern, s.opts.Auth.Require(scope)(h))
}

// HandleFunc is Handle for a handler function.
func (s *Server) HandleFunc(pattern string, scope auth.Scope, h http.HandlerFunc) {
	s.Handle(pattern, scope, h)
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.ready)

	s.HandleFunc("GET /api/v1/tasks", auth.ScopeRead, s.listTasks)
	s.HandleFunc("GET /api/v1/tasks/{id}", auth.ScopeRead, s.getTask)
	s.HandleFunc("GET /api/v1/services", auth.ScopeRead, s.listServices)
	if s.opts.SLO != nil {
		s.HandleFunc("GET /api/v1/slos", auth.ScopeRead, s.listSLOs)
		s.HandleFunc("GET /api/v1/slos/{service}/{slo}", auth.ScopeRead, s.getSLO)
		s.HandleFunc("GET /api/v1/gate", auth.ScopeRead, s.gate)
		s.HandleFunc("GET /api/v1/overrides", auth.ScopeRead, s.listOverrides)
		s.HandleFunc("POST /api/v1/overrides", auth.ScopeAdmin, s.createOverride)
		s.HandleFunc("GET /api/v1/audit", auth.ScopeRead, s.listAudit)
	}
	s.HandleFunc("/api/", auth.ScopeRead, func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, s.log, day2.Errorf(day2.ENotFound, "no API endpoint %s %s; see docs/api.md", r.Method, r.URL.Path))
	})

	if s.opts.OTLP != nil {
		s.Handle("/v1/traces", auth.ScopeIngest, s.opts.OTLP.TracesHandler())
		s.Handle("/v1/logs", auth.ScopeIngest, s.opts.OTLP.LogsHandler())
	}
	if s.opts.Gatherer != nil {
		s.Handle("GET /metrics", auth.ScopeRead, promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError)}))
	}
	if s.opts.Login != nil {
		s.mux.Handle("/login", s.opts.Login)
		s.mux.Handle("/logout", s.opts.Login)
	}
	if s.opts.UI != nil {
		ui := s.opts.Auth.Require(auth.ScopeRead)(s.opts.UI)
		if s.opts.Login != nil {
			ui = loginRedirect(s.opts.Auth, ui)
		}
		s.mux.Handle("/", ui)
	}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.Warn("readiness: store not reachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unavailable"})
		return
	}
	if s.opts.Ingest != nil && !s.opts.Ingest.Accepting() {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "ingest not accepting (queue full or shutting down)"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// loginRedirect sends a browser that loads a UI page (GET or HEAD, no
// Authorization header) without a valid token cookie to the login page, and
// passes every other request on to next, whose middleware answers it.
func loginRedirect(a *auth.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.IsOpen() && (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Header.Get("Authorization") == "" {
			c, err := r.Cookie(auth.CookieName)
			if err == nil {
				_, err = a.AuthenticateToken(c.Value)
			}
			if err != nil {
				http.Redirect(w, r, "/login?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

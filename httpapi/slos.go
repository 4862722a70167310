package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/slo"
)

// atParam returns the evaluation time: the at= parameter, or now (live).
func (s *Server) atParam(r *http.Request) (at time.Time, live bool, err error) {
	at, err = parseTime(r.URL.Query(), "at")
	if err != nil {
		return at, false, err
	}
	if at.IsZero() {
		return s.opts.SLO.Now().UTC(), true, nil
	}
	return at.UTC(), false, nil
}

func (s *Server) listSLOs(w http.ResponseWriter, r *http.Request) {
	at, live, err := s.atParam(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	sts, err := s.opts.SLO.Status(r.Context(), r.URL.Query().Get("service"), at, live)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	for i := range sts {
		sts[i].Definition = nil
	}
	if sts == nil {
		sts = []slo.Status{}
	}
	evaluated := at
	if len(sts) > 0 {
		evaluated = sts[0].At
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": at, "evaluated_at": evaluated, "slos": sts})
}

func (s *Server) getSLO(w http.ResponseWriter, r *http.Request) {
	at, live, err := s.atParam(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	service, name := r.PathValue("service"), r.PathValue("slo")
	full := service + "/" + name
	defs, err := s.opts.SLO.Definitions(r.Context(), service)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	var def *slo.Definition
	var names []string
	for i := range defs {
		names = append(names, defs[i].Name)
		if defs[i].Name == full {
			def = &defs[i]
		}
	}
	if def == nil {
		WriteError(w, r, s.log, day2.Errorf(day2.ENotFound, "no SLO %q; the SLOs of %s are: %s", full, service, strings.Join(names, ", ")))
		return
	}
	sts, err := s.opts.SLO.Status(r.Context(), service, at, live)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	var st slo.Status
	for _, x := range sts {
		if x.Name == full {
			st = x
		}
	}
	d, err := slo.Load(r.Context(), s.opts.SLOStore, service, def.SeriesIntervals(at), false)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	series := slo.Series(def, d, at, slo.SeriesStep(def.Window.Duration))
	history, err := s.opts.State.AlertHistory(r.Context(), "slo:"+full+":", 50)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if history == nil {
		history = []day2.AlertTransition{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"slo": st, "series": series, "alert_history": history,
		"thresholds": thresholds(def),
	})
}

// thresholds lists the SLO's alert pairs with the burn rates they fire at.
func thresholds(def *slo.Definition) []map[string]any {
	var out []map[string]any
	for _, p := range def.Pairs() {
		out = append(out, map[string]any{
			"severity": p.Severity, "long_window": p.Long.String(), "short_window": p.Short.String(),
			"burn_rate": p.ThresholdFor(def.Window.Duration),
		})
	}
	return out
}

func (s *Server) gate(w http.ResponseWriter, r *http.Request) {
	at, live, err := s.atParam(r)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	q := r.URL.Query()
	service := q.Get("service")
	if service == "" {
		WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "service is required: GET /api/v1/gate?service=NAME[&environment=ENV]"))
		return
	}
	d, err := s.opts.SLO.Gate(r.Context(), service, q.Get("environment"), at, live)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	for i := range d.SLOs {
		d.SLOs[i].Definition = nil
	}
	writeJSON(w, http.StatusOK, d)
}

// overrideRequest is the body of POST /api/v1/overrides.
type overrideRequest struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Reason      string `json:"reason"`
	Duration    string `json:"duration"`
}

// MaxOverride is the longest a freeze override may last.
const MaxOverride = 7 * 24 * time.Hour

func (s *Server) createOverride(w http.ResponseWriter, r *http.Request) {
	var req overrideRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "body is not a valid override request (%v); send {\"service\": \"...\", \"reason\": \"...\", \"duration\": \"2h\"}", err))
		return
	}
	if req.Service == "" || strings.TrimSpace(req.Reason) == "" {
		WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "service and reason are required: an override of a release freeze must say why"))
		return
	}
	if req.Duration == "" {
		req.Duration = "1h"
	}
	d, err := day2.ParseDuration(req.Duration)
	if err != nil || d <= 0 || d > MaxOverride {
		WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "duration %q must be positive and at most 7d", req.Duration))
		return
	}
	id, _ := auth.FromContext(r.Context())
	now := s.opts.SLO.Now().UTC()
	o := day2.Override{Service: req.Service, Environment: req.Environment, Actor: id.Name, Reason: req.Reason, CreatedAt: now, ExpiresAt: now.Add(d)}
	after, _ := json.Marshal(o)
	o, err = s.opts.State.CreateOverride(r.Context(), o, day2.AuditEntry{
		At: now, Actor: id.Name, Action: "policy.override", Target: "service/" + req.Service, Reason: req.Reason, After: after,
	})
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, o)
}

func (s *Server) listOverrides(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	if service == "" {
		WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "service is required: GET /api/v1/overrides?service=NAME"))
		return
	}
	ovs, err := s.opts.State.Overrides(r.Context(), service, s.opts.SLO.Now())
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if ovs == nil {
		ovs = []day2.Override{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"overrides": ovs})
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := day2.AuditFilter{Action: q.Get("action"), Target: q.Get("target")}
	if v := q.Get("after_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "after_id=%q is not a number", v))
			return
		}
		f.AfterID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			WriteError(w, r, s.log, day2.Errorf(day2.EInvalid, "limit=%q is not a number; ask for 1 to 1000 entries", v))
			return
		}
		f.Limit = n
	}
	entries, err := s.opts.State.ListAudit(r.Context(), f)
	if err != nil {
		WriteError(w, r, s.log, err)
		return
	}
	if entries == nil {
		entries = []day2.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries})
}

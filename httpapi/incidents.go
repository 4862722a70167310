package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/incident"
)

// maxAlertmanagerBody bounds an Alertmanager notification; a group of
// thousands of alerts stays well under it.
const maxAlertmanagerBody = 4 << 20

// RegisterIncidents adds the incident routes to s:
//
//	GET  /api/v1/incidents                      read     ?state=open|triggered|...&service=&limit=
//	GET  /api/v1/incidents/{id}                 read     with timeline, triage and runbook name
//	POST /api/v1/incidents/{id}/ack             operate  {"reason"}
//	POST /api/v1/incidents/{id}/mitigate        operate  {"lever", "flag", "on", "name", "value", "reason"}; without lever only the state
//	POST /api/v1/incidents/{id}/resolve         operate  {"reason"}
//	POST /api/v1/incidents/{id}/note            operate  {"text"}
//	POST /api/v1/incidents/{id}/review          operate  {"url", "notes"}
//	POST /api/v1/incidents/{id}/triage          operate  computes the triage summary again
//	GET  /api/v1/incidents/{id}/runbook         read     text/markdown
//	GET  /api/v1/incidents/{id}/postmortem      read     text/markdown
//	POST /api/v1/alerts/alertmanager            ingest or operate: an Alertmanager webhook (version 4)
//	GET  /api/v1/review?period=day|week         read     the daily digest or weekly review, text/markdown
func RegisterIncidents(s *Server, svc *incident.Service) {
	h := &incidentHandlers{s: s, svc: svc}
	s.HandleFunc("GET /api/v1/incidents", auth.ScopeRead, h.list)
	s.HandleFunc("GET /api/v1/incidents/{id}", auth.ScopeRead, h.get)
	s.HandleFunc("POST /api/v1/incidents/{id}/ack", auth.ScopeOperate, h.ack)
	s.HandleFunc("POST /api/v1/incidents/{id}/mitigate", auth.ScopeOperate, h.mitigate)
	s.HandleFunc("POST /api/v1/incidents/{id}/resolve", auth.ScopeOperate, h.resolve)
	s.HandleFunc("POST /api/v1/incidents/{id}/note", auth.ScopeOperate, h.note)
	s.HandleFunc("POST /api/v1/incidents/{id}/review", auth.ScopeOperate, h.review)
	s.HandleFunc("POST /api/v1/incidents/{id}/triage", auth.ScopeOperate, h.triage)
	s.HandleFunc("GET /api/v1/incidents/{id}/runbook", auth.ScopeRead, h.runbook)
	s.HandleFunc("GET /api/v1/incidents/{id}/postmortem", auth.ScopeRead, h.postmortem)
	s.Handle("POST /api/v1/alerts/alertmanager", "", auth.RequireAny(auth.ScopeIngest, auth.ScopeOperate)(http.HandlerFunc(h.alertmanager)))
	s.HandleFunc("GET /api/v1/review", auth.ScopeRead, h.reviewDoc)
}

type incidentHandlers struct {
	s   *Server
	svc *incident.Service
}

func (h *incidentHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, h.s.log, err)
}

func (h *incidentHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := incident.Filter{State: q.Get("state"), Service: q.Get("service")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			h.fail(w, r, day2.Errorf(day2.EInvalid, "limit=%q must be a whole number from 1 to 1000", v))
			return
		}
		f.Limit = n
	}
	incs, err := h.svc.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// The list is a summary: the timeline and the triage are in GET /{id}.
	for i := range incs {
		incs[i].Timeline, incs[i].Triage = nil, nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": incs})
}

func (h *incidentHandlers) get(w http.ResponseWriter, r *http.Request) {
	inc, err := h.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// incidentActor returns the name of the caller, recorded on the timeline and in the
// audit log.
func incidentActor(r *http.Request) string {
	id, _ := auth.FromContext(r.Context())
	return id.Name
}

// decodeIncidentBody reads the JSON body of r into v; an empty body leaves v as it is.
func decodeIncidentBody(w http.ResponseWriter, r *http.Request, v any, example string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return day2.Errorf(day2.ETooLarge, "the body is over %d bytes", mb.Limit)
		}
		return day2.Errorf(day2.EInvalid, "the body is not valid (%v); send %s", err, example)
	}
	return nil
}

// incidentReason is the body of ack and resolve.
type incidentReason struct {
	Reason string `json:"reason"`
}

func (h *incidentHandlers) ack(w http.ResponseWriter, r *http.Request) {
	var b incidentReason
	if err := decodeIncidentBody(w, r, &b, `{"reason": "..."} or nothing`); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answer(w, r)(h.svc.Ack(r.Context(), incidentActor(r), r.PathValue("id"), b.Reason))
}

func (h *incidentHandlers) resolve(w http.ResponseWriter, r *http.Request) {
	var b incidentReason
	if err := decodeIncidentBody(w, r, &b, `{"reason": "..."} or nothing`); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answer(w, r)(h.svc.Resolve(r.Context(), incidentActor(r), r.PathValue("id"), b.Reason))
}

func (h *incidentHandlers) mitigate(w http.ResponseWriter, r *http.Request) {
	var b incident.LeverRequest
	if err := decodeIncidentBody(w, r, &b, `{"lever": "canary_to_zero", "reason": "..."}, or {"reason": "..."} to mark the incident mitigated`); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answer(w, r)(h.svc.Mitigate(r.Context(), incidentActor(r), r.PathValue("id"), b))
}

func (h *incidentHandlers) note(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Text string `json:"text"`
	}
	if err := decodeIncidentBody(w, r, &b, `{"text": "..."}`); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answer(w, r)(h.svc.Note(r.Context(), incidentActor(r), r.PathValue("id"), b.Text))
}

func (h *incidentHandlers) review(w http.ResponseWriter, r *http.Request) {
	var b struct {
		URL   string `json:"url"`
		Notes string `json:"notes"`
	}
	if err := decodeIncidentBody(w, r, &b, `{"url": "https://...", "notes": "..."}`); err != nil {
		h.fail(w, r, err)
		return
	}
	h.answer(w, r)(h.svc.RecordReview(r.Context(), incidentActor(r), r.PathValue("id"), b.URL, b.Notes))
}

func (h *incidentHandlers) triage(w http.ResponseWriter, r *http.Request) {
	h.answer(w, r)(h.svc.RefreshTriage(r.Context(), incidentActor(r), r.PathValue("id")))
}

// answer returns a function writing an action's outcome: the incident, or
// the error. A lever that failed after being recorded is answered with its
// error; the incident shows the failure on its timeline.
func (h *incidentHandlers) answer(w http.ResponseWriter, r *http.Request) func(incident.Incident, error) {
	return func(inc incident.Incident, err error) {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, inc)
	}
}

func writeIncidentMarkdown(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, text)
}

func (h *incidentHandlers) runbook(w http.ResponseWriter, r *http.Request) {
	text, err := h.svc.Runbook(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeIncidentMarkdown(w, text)
}

func (h *incidentHandlers) postmortem(w http.ResponseWriter, r *http.Request) {
	text, err := h.svc.Postmortem(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeIncidentMarkdown(w, text)
}

func (h *incidentHandlers) alertmanager(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlertmanagerBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			h.fail(w, r, day2.Errorf(day2.ETooLarge, "the Alertmanager notification is over %d bytes; lower max_alerts in its webhook_config", mb.Limit))
			return
		}
		h.fail(w, r, day2.Errorf(day2.EInvalid, "reading the notification failed: %v", err))
		return
	}
	alerts, err := incident.ParseAlertmanager(body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.svc.Ingest(r.Context(), alerts); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": len(alerts)})
}

func (h *incidentHandlers) reviewDoc(w http.ResponseWriter, r *http.Request) {
	var (
		text string
		err  error
	)
	now := h.svc.Now()
	switch p := r.URL.Query().Get("period"); p {
	case "", "day":
		text, err = h.svc.Digest(r.Context(), now)
	case "week":
		text, err = h.svc.WeeklyReview(r.Context(), now)
	default:
		err = day2.Errorf(day2.EInvalid, "period=%q is unknown; use day (the daily digest) or week (the weekly review)", p)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeIncidentMarkdown(w, text)
}

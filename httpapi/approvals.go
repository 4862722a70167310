package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/auth"
)

// maxApprovalBody caps the body of a new approval request: its context carries
// the prompt, facts and tool plan a person needs, but not documents.
const maxApprovalBody = 1 << 20

// RegisterApprovals adds the approval routes to s:
//
//	POST /api/v1/approvals                        ingest or operate: ask (201 new, 200 idempotent repeat)
//	GET  /api/v1/approvals                        read: list (service, state, limit)
//	GET  /api/v1/approvals/stats                  read: counts and latency (service, since)
//	GET  /api/v1/approvals/switches               read: force-manual switches
//	GET  /api/v1/approvals/{id}?wait=55s          read or ingest: one request, long-polling until final
//	POST /api/v1/approvals/{id}/decision          approve: {decision: approve|reject, comment}
//	POST /api/v1/services/{service}/force-manual  operate: {on, reason}
func RegisterApprovals(s *Server, svc *approval.Service) {
	h := &approvalRoutes{s: s, svc: svc}
	s.Handle("POST /api/v1/approvals", "", auth.RequireAny(auth.ScopeIngest, auth.ScopeOperate)(http.HandlerFunc(h.create)))
	s.HandleFunc("GET /api/v1/approvals", auth.ScopeRead, h.list)
	s.HandleFunc("GET /api/v1/approvals/stats", auth.ScopeRead, h.stats)
	s.HandleFunc("GET /api/v1/approvals/switches", auth.ScopeRead, h.switches)
	s.Handle("GET /api/v1/approvals/{id}", "", auth.RequireAny(auth.ScopeRead, auth.ScopeIngest)(http.HandlerFunc(h.get)))
	s.HandleFunc("POST /api/v1/approvals/{id}/decision", auth.ScopeApprove, h.decide)
	s.HandleFunc("POST /api/v1/services/{service}/force-manual", auth.ScopeOperate, h.forceManual)
}

type approvalRoutes struct {
	s   *Server
	svc *approval.Service
}

// decodeApprovalBody reads a JSON body of at most limit bytes into v, refusing unknown
// fields so that a misspelt field is an error rather than silently ignored.
func decodeApprovalBody(w http.ResponseWriter, r *http.Request, limit int64, v any, example string) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return day2.Errorf(day2.ETooLarge, "the body is over %d bytes; send less context", limit)
		}
		if errors.Is(err, io.EOF) {
			return day2.Errorf(day2.EInvalid, "the body is empty; send %s", example)
		}
		return day2.Errorf(day2.EInvalid, "the body is not valid (%v); send %s", err, example)
	}
	if dec.More() {
		return day2.Errorf(day2.EInvalid, "the body has more than one JSON document; send %s", example)
	}
	return nil
}

const approvalExample = `{"service": "invoice-agent", "action": "pay_invoice", "amount": 900, "context": {"prompt": "...", "confidence": 0.8, "in_policy": true}, "idempotency_key": "..."}`

func (h *approvalRoutes) create(w http.ResponseWriter, r *http.Request) {
	var in approval.CreateInput
	if err := decodeApprovalBody(w, r, maxApprovalBody, &in, approvalExample); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	id, _ := auth.FromContext(r.Context())
	req, existing, err := h.svc.Create(r.Context(), id, in)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	status := http.StatusCreated
	if existing {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/api/v1/approvals/"+req.ID)
	writeJSON(w, status, req)
}

func (h *approvalRoutes) get(w http.ResponseWriter, r *http.Request) {
	var wait time.Duration
	if v := r.URL.Query().Get("wait"); v != "" {
		d, err := day2.ParseDuration(v)
		if err != nil || d < 0 {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "wait=%q is not a duration; write e.g. wait=55s (at most 55s)", v))
			return
		}
		wait = min(d, approval.MaxWait)
	}
	var req approval.Request
	var err error
	if wait > 0 {
		req, err = h.svc.Wait(r.Context(), r.PathValue("id"), wait)
	} else {
		req, err = h.svc.Get(r.Context(), r.PathValue("id"))
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the client left
		}
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (h *approvalRoutes) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := approval.Filter{Service: q.Get("service"), State: q.Get("state")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "limit=%q: use a number from 1 to 1000", v))
			return
		}
		f.Limit = n
	}
	reqs, err := h.svc.List(r.Context(), f)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": reqs})
}

func (h *approvalRoutes) decide(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Decision string `json:"decision"`
		Comment  string `json:"comment"`
	}
	if err := decodeApprovalBody(w, r, 1<<16, &body, `{"decision": "approve", "comment": "checked the invoice"}`); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	id, _ := auth.FromContext(r.Context())
	req, err := h.svc.Decide(r.Context(), id, r.PathValue("id"), body.Decision, body.Comment)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, req)
}

func (h *approvalRoutes) stats(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	window := 24 * time.Hour
	if v := q.Get("since"); v != "" {
		d, err := day2.ParseDuration(v)
		if err != nil || d <= 0 {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "since=%q: write how far back to count, e.g. since=24h or since=7d", v))
			return
		}
		window = d
	}
	st, err := h.svc.Stats(r.Context(), q.Get("service"), h.svc.Now().Add(-window))
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *approvalRoutes) switches(w http.ResponseWriter, r *http.Request) {
	sws, err := h.svc.Switches(r.Context())
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"switches": sws})
}

func (h *approvalRoutes) forceManual(w http.ResponseWriter, r *http.Request) {
	var body struct {
		On     *bool  `json:"on"`
		Reason string `json:"reason"`
	}
	const example = `{"on": true, "reason": "incident INC-42: wrong payouts"}`
	if err := decodeApprovalBody(w, r, 1<<16, &body, example); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	if body.On == nil {
		WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "on is missing; send %s", example))
		return
	}
	id, _ := auth.FromContext(r.Context())
	service := r.PathValue("service")
	if err := h.svc.SetForceManual(r.Context(), id.Name, service, *body.On, body.Reason); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	sw, err := h.svc.Switch(r.Context(), service)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, sw)
}

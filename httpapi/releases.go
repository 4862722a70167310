package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/release"
)

// maxRolloutBody caps the body of a rollout request or action.
const maxRolloutBody = 1 << 20

// RegisterReleases adds the version and rollout routes to s:
//
//	POST /api/v1/services/{service}/versions            operate: register {version, bundle, reason} (201 new, 200 same content again)
//	GET  /api/v1/services/{service}/versions            read: {"versions": [...]}, newest first
//	GET  /api/v1/services/{service}/versions/{version}  read: one version; ?diff=OTHER: the diff from OTHER to it
//	POST /api/v1/rollouts                               operate: start (201)
//	GET  /api/v1/rollouts                               read: list (service, environment, state, limit)
//	GET  /api/v1/rollouts/{id}                          read: one rollout
//	POST /api/v1/rollouts/{id}/{action}                 operate: pause, resume, promote, rollback {reason}; weight {weight, reason}
//	GET  /api/v1/assign?service=S&environment=E&key=K   read or ingest: the version K gets; other parameters are ring attributes
func RegisterReleases(s *Server, svc *release.Service) {
	h := &releaseRoutes{s: s, svc: svc}
	s.HandleFunc("POST /api/v1/services/{service}/versions", auth.ScopeOperate, h.registerVersion)
	s.HandleFunc("GET /api/v1/services/{service}/versions", auth.ScopeRead, h.listVersions)
	s.HandleFunc("GET /api/v1/services/{service}/versions/{version}", auth.ScopeRead, h.getVersion)
	s.HandleFunc("POST /api/v1/rollouts", auth.ScopeOperate, h.start)
	s.HandleFunc("GET /api/v1/rollouts", auth.ScopeRead, h.list)
	s.HandleFunc("GET /api/v1/rollouts/{id}", auth.ScopeRead, h.get)
	s.HandleFunc("POST /api/v1/rollouts/{id}/{action}", auth.ScopeOperate, h.act)
	s.Handle("GET /api/v1/assign", "", auth.RequireAny(auth.ScopeRead, auth.ScopeIngest)(http.HandlerFunc(h.assign)))
}

type releaseRoutes struct {
	s   *Server
	svc *release.Service
}

func releaseActor(r *http.Request) string {
	id, _ := auth.FromContext(r.Context())
	return id.Name
}

// versionRequest is the body of POST /api/v1/services/{service}/versions.
type versionRequest struct {
	Version string `json:"version"`
	// Bundle is a JSON object, or a string holding the YAML or JSON document.
	Bundle json.RawMessage `json:"bundle"`
	Reason string          `json:"reason"`
}

const versionExample = `{"version": "2.4.0", "bundle": {"model": "gpt-4o", "prompt": "...", "tools": ["erp.lookup"]}, "reason": "..."}`

func (h *releaseRoutes) registerVersion(w http.ResponseWriter, r *http.Request) {
	var req versionRequest
	if err := decodeReleaseBody(w, r, 2*release.MaxBundleBytes, &req, versionExample); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	doc := []byte(req.Bundle)
	if len(bytes.TrimSpace(doc)) == 0 || string(doc) == "null" {
		WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "bundle is required; send %s", versionExample))
		return
	}
	if doc[0] == '"' {
		var text string
		if err := json.Unmarshal(doc, &text); err != nil {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "bundle is not a valid JSON string: %v", err))
			return
		}
		doc = []byte(text)
	}
	v, created, err := h.svc.RegisterVersionWithReason(r.Context(), releaseActor(r), r.PathValue("service"), req.Version, req.Reason, doc)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
}

func (h *releaseRoutes) listVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := h.svc.Versions(r.Context(), r.PathValue("service"))
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

func (h *releaseRoutes) getVersion(w http.ResponseWriter, r *http.Request) {
	service, version := r.PathValue("service"), r.PathValue("version")
	if other := r.URL.Query().Get("diff"); other != "" {
		d, err := h.svc.Diff(r.Context(), service, other, version)
		if err != nil {
			WriteError(w, r, h.s.log, err)
			return
		}
		writeJSON(w, http.StatusOK, d)
		return
	}
	v, err := h.svc.GetVersion(r.Context(), service, version)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *releaseRoutes) start(w http.ResponseWriter, r *http.Request) {
	raw, err := readReleaseBody(w, r, maxRolloutBody)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	req, err := release.ParseStartRequest(raw)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	ro, err := h.svc.StartRollout(r.Context(), releaseActor(r), req)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusCreated, ro)
}

func (h *releaseRoutes) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := release.RolloutFilter{Service: q.Get("service"), Environment: q.Get("environment")}
	for _, v := range q["state"] {
		for st := range strings.SplitSeq(v, ",") {
			if st = strings.TrimSpace(st); st != "" {
				f.States = append(f.States, st)
			}
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "limit=%q must be a number from 1 to 1000", v))
			return
		}
		f.Limit = n
	}
	ros, err := h.svc.Rollouts(r.Context(), f)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rollouts": ros})
}

func (h *releaseRoutes) get(w http.ResponseWriter, r *http.Request) {
	ro, err := h.svc.Rollout(r.Context(), r.PathValue("id"))
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ro)
}

// rolloutActionRequest is the optional body of POST /api/v1/rollouts/{id}/{action}.
type rolloutActionRequest struct {
	Reason string `json:"reason"`
	// Weight is the candidate's new weight (action weight only).
	Weight *int `json:"weight"`
}

func (h *releaseRoutes) act(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	switch action {
	case release.ActionPause, release.ActionResume, release.ActionPromote, release.ActionRollback, "weight":
	default:
		WriteError(w, r, h.s.log, day2.Errorf(day2.ENotFound, "no rollout action %q; use pause, resume, promote, rollback or weight", action))
		return
	}
	raw, err := readReleaseBody(w, r, maxRolloutBody)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	var req rolloutActionRequest
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := unmarshalReleaseBody(raw, &req, `{"reason": "..."}, or {"weight": 0, "reason": "..."} for weight`); err != nil {
			WriteError(w, r, h.s.log, err)
			return
		}
	}
	var ro release.Rollout
	if action == "weight" {
		if req.Weight == nil {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "weight is required: send {\"weight\": 0, \"reason\": \"...\"} (0 rolls back, 100 promotes)"))
			return
		}
		ro, err = h.svc.SetCandidateWeight(r.Context(), releaseActor(r), r.PathValue("id"), *req.Weight, req.Reason)
	} else {
		if req.Weight != nil {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "weight belongs to POST /api/v1/rollouts/{id}/weight, not %s", action))
			return
		}
		ro, err = h.svc.Act(r.Context(), releaseActor(r), r.PathValue("id"), action, req.Reason)
	}
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, ro)
}

func (h *releaseRoutes) assign(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	service, key := q.Get("service"), q.Get("key")
	if service == "" || key == "" {
		WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "service and key are required: GET /api/v1/assign?service=S&environment=prod&key=USER[&tenant=...]"))
		return
	}
	var attrs map[string]string
	for k, vs := range q {
		switch k {
		case "service", "environment", "key":
			continue
		}
		if attrs == nil {
			attrs = make(map[string]string, len(q))
		}
		attrs[k] = vs[0]
	}
	a, err := h.svc.Assign(r.Context(), service, q.Get("environment"), key, attrs)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// readReleaseBody reads a request body of at most limit bytes.
func readReleaseBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, day2.Errorf(day2.ETooLarge, "the body is over %d bytes", limit)
		}
		return nil, day2.Errorf(day2.EInvalid, "read the body: %v", err)
	}
	return raw, nil
}

// decodeReleaseBody reads a JSON body of at most limit bytes into v; see
// unmarshalReleaseBody.
func decodeReleaseBody(w http.ResponseWriter, r *http.Request, limit int64, v any, example string) error {
	raw, err := readReleaseBody(w, r, limit)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return day2.Errorf(day2.EInvalid, "the body is empty; send %s", example)
	}
	return unmarshalReleaseBody(raw, v, example)
}

// unmarshalReleaseBody decodes one JSON document into v, refusing unknown fields so
// that a misspelt field is an error rather than silently ignored.
func unmarshalReleaseBody(raw []byte, v any, example string) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return day2.Errorf(day2.EInvalid, "the body is not valid (%v); send %s", err, example)
	}
	if dec.More() {
		return day2.Errorf(day2.EInvalid, "the body has more than one JSON document; send %s", example)
	}
	return nil
}

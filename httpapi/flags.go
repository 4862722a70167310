package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/flags"
)

// maxFlagBody caps the body of a flag change.
const maxFlagBody = 256 << 10

// RegisterFlags adds the routes that list and change feature flags:
//
//	GET    /api/v1/flags        read: every flag with its source and last change
//	GET    /api/v1/flags/{key}  read: one flag
//	PUT    /api/v1/flags/{key}  operate: create or replace (a flagd flag plus "reason")
//	PATCH  /api/v1/flags/{key}  operate: {state, defaultVariant, variants, targeting, reason}
//	DELETE /api/v1/flags/{key}  operate: remove the run-time change (?reason=...)
//
// Every change is audited with the caller's identity and reason.
func RegisterFlags(s *Server, svc *flags.Service) {
	h := &flagRoutes{s: s, svc: svc}
	s.HandleFunc("GET /api/v1/flags", auth.ScopeRead, h.list)
	s.HandleFunc("GET /api/v1/flags/{key}", auth.ScopeRead, h.get)
	s.HandleFunc("PUT /api/v1/flags/{key}", auth.ScopeOperate, h.put)
	s.HandleFunc("PATCH /api/v1/flags/{key}", auth.ScopeOperate, h.patch)
	s.HandleFunc("DELETE /api/v1/flags/{key}", auth.ScopeOperate, h.delete)
}

type flagRoutes struct {
	s   *Server
	svc *flags.Service
}

func (h *flagRoutes) list(w http.ResponseWriter, r *http.Request) {
	views, err := h.svc.List(r.Context())
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"flags": views})
}

func (h *flagRoutes) get(w http.ResponseWriter, r *http.Request) {
	v, err := h.svc.Get(r.Context(), r.PathValue("key"))
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *flagRoutes) put(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	data, err := readFlagBody(w, r)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, `the body is not a JSON object; send a flagd flag plus a reason: {"state": "ENABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "reason": "..."}`))
		return
	}
	var reason string
	if raw, ok := fields["reason"]; ok {
		if err := json.Unmarshal(raw, &reason); err != nil {
			WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "reason must be a string"))
			return
		}
		delete(fields, "reason")
	}
	rest, _ := json.Marshal(fields)
	f, err := flags.ParseFlag(rest)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	if f.Key != "" && f.Key != key {
		WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, "the body names flag %q but the path %q; leave key out or make them match", f.Key, key))
		return
	}
	f.Key = key
	if _, err := h.svc.Put(r.Context(), flagActor(r), f, reason); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	h.respondView(w, r, key)
}

// flagPatchRequest is the body of PATCH /api/v1/flags/{key}.
type flagPatchRequest struct {
	flags.Patch
	Reason string `json:"reason"`
}

func (h *flagRoutes) patch(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	data, err := readFlagBody(w, r)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	var req flagPatchRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, `the body is not a flag patch (%s); send e.g. {"state": "DISABLED", "reason": "incident 42"} with any of state, defaultVariant, variants, targeting`,
			strings.TrimPrefix(err.Error(), "json: ")))
		return
	}
	if _, err := h.svc.Patch(r.Context(), flagActor(r), key, req.Patch, req.Reason); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	h.respondView(w, r, key)
}

func (h *flagRoutes) delete(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	reason := r.URL.Query().Get("reason")
	if reason == "" {
		data, err := readFlagBody(w, r)
		if err != nil {
			WriteError(w, r, h.s.log, err)
			return
		}
		if len(bytes.TrimSpace(data)) > 0 {
			var req struct {
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(data, &req); err != nil {
				WriteError(w, r, h.s.log, day2.Errorf(day2.EInvalid, `the body is not {"reason": "..."}; or pass ?reason=...`))
				return
			}
			reason = req.Reason
		}
	}
	if err := h.svc.Delete(r.Context(), flagActor(r), key, reason); err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	// The configuration's definition may apply again: show it.
	v, err := h.svc.Get(r.Context(), key)
	if day2.ErrorCode(err) == day2.ENotFound {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// respondView answers with the flag as GET shows it, after a change.
func (h *flagRoutes) respondView(w http.ResponseWriter, r *http.Request, key string) {
	v, err := h.svc.Get(r.Context(), key)
	if err != nil {
		WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func readFlagBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFlagBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, day2.Errorf(day2.ETooLarge, "the body is over %d KiB", maxFlagBody>>10)
		}
		return nil, day2.Errorf(day2.EInvalid, "the body could not be read")
	}
	return data, nil
}

// flagActor is the name of the caller, recorded in the audit log.
func flagActor(r *http.Request) string {
	id, _ := auth.FromContext(r.Context())
	return id.Name
}

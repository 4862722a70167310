package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/flags"
)

// MaxOFREPBody caps the body of an OFREP request; a larger one is answered 400
// PARSE_ERROR.
const MaxOFREPBody = 64 << 10

// RegisterOFREP adds the OpenFeature Remote Evaluation Protocol (OFREP 0.3)
// routes, through which any OpenFeature SDK with an OFREP provider evaluates
// day2's flags:
//
//	POST /ofrep/v1/evaluate/flags/{key}  one flag: 200, 400, 404
//	POST /ofrep/v1/evaluate/flags        every flag, with an ETag; 304 on If-None-Match
//
// A token with the read or the ingest scope may evaluate (agents use the
// ingest tokens they already have), sent as "Authorization: Bearer <token>" or
// "X-API-Key: <token>". As OFREP specifies, 401 and 403 have no body.
func RegisterOFREP(s *Server, svc *flags.Service) {
	h := &ofrepRoutes{s: s, svc: svc}
	guard := func(next http.HandlerFunc) http.Handler {
		return bodilessAuthErrors(auth.AcceptAPIKey(
			s.opts.Auth.Require("")(auth.RequireAny(auth.ScopeRead, auth.ScopeIngest)(next))))
	}
	s.mux.Handle("POST /ofrep/v1/evaluate/flags/{key}", guard(h.single))
	s.mux.Handle("POST /ofrep/v1/evaluate/flags", guard(h.bulk))
}

type ofrepRoutes struct {
	s   *Server
	svc *flags.Service
}

// ofrepFailure is OFREP's evaluationFailure and flagNotFound; without Key, its
// bulkEvaluationFailure.
type ofrepFailure struct {
	Key          string `json:"key,omitempty"`
	ErrorCode    string `json:"errorCode"`
	ErrorDetails string `json:"errorDetails,omitempty"`
}

// ofrepGeneralError is OFREP's generalErrorResponse, for 500.
type ofrepGeneralError struct {
	ErrorDetails string `json:"errorDetails"`
}

func (h *ofrepRoutes) single(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	ec, fail := readOFREPContext(w, r)
	if fail != nil {
		fail.Key = key
		writeJSON(w, http.StatusBadRequest, fail)
		return
	}
	res, err := h.svc.Evaluate(r.Context(), key, ec)
	switch {
	case day2.ErrorCode(err) == day2.ENotFound:
		writeJSON(w, http.StatusNotFound, ofrepFailure{Key: key, ErrorCode: flags.CodeFlagNotFound, ErrorDetails: day2.ErrorMessage(err)})
	case err != nil:
		h.internal(w, r, err)
	case res.ErrorCode == flags.CodeFlagNotFound:
		writeJSON(w, http.StatusNotFound, ofrepFailure{Key: key, ErrorCode: res.ErrorCode, ErrorDetails: res.ErrorDetails})
	case res.Failed():
		writeJSON(w, http.StatusBadRequest, ofrepFailure{Key: key, ErrorCode: res.ErrorCode, ErrorDetails: res.ErrorDetails})
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (h *ofrepRoutes) bulk(w http.ResponseWriter, r *http.Request) {
	ec, fail := readOFREPContext(w, r)
	if fail != nil {
		writeJSON(w, http.StatusBadRequest, fail)
		return
	}
	results, err := h.svc.EvaluateAll(r.Context(), ec)
	if err != nil {
		h.internal(w, r, err)
		return
	}
	out := make([]any, len(results))
	for i, res := range results {
		if res.Failed() {
			out[i] = ofrepFailure{Key: res.Key, ErrorCode: res.ErrorCode, ErrorDetails: res.ErrorDetails}
		} else {
			out[i] = res
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"flags": out}); err != nil {
		h.internal(w, r, err)
		return
	}
	sum := sha256.Sum256(buf.Bytes())
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	w.Header().Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// internal answers 500 with OFREP's generalErrorResponse; the SDK then returns
// the caller's default.
func (h *ofrepRoutes) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.s.log.Error("flag evaluation failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, ofrepGeneralError{ErrorDetails: day2.ErrorMessage(err)})
}

// readOFREPContext reads the body {"context": {...}}. An empty body or a
// missing context is an empty context.
func readOFREPContext(w http.ResponseWriter, r *http.Request) (flags.EvalContext, *ofrepFailure) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxOFREPBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &ofrepFailure{ErrorCode: flags.CodeParseError, ErrorDetails: "the request body is over 64 KiB; send a smaller evaluation context"}
		}
		return nil, &ofrepFailure{ErrorCode: flags.CodeParseError, ErrorDetails: "the request body could not be read"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return flags.EvalContext{}, nil
	}
	var req struct {
		Context any `json:"context"`
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return nil, &ofrepFailure{ErrorCode: flags.CodeParseError,
			ErrorDetails: `the request body is not {"context": {...}} in JSON: ` + strings.TrimPrefix(err.Error(), "json: ")}
	}
	switch c := req.Context.(type) {
	case nil:
		return flags.EvalContext{}, nil
	case map[string]any:
		return flags.EvalContext(c), nil
	}
	return nil, &ofrepFailure{ErrorCode: flags.CodeInvalidContext, ErrorDetails: "context must be a JSON object of attributes, e.g. {\"targetingKey\": \"user-1\"}"}
}

// etagMatches reports whether an If-None-Match header lists etag (weak
// comparison, as RFC 9110 asks for If-None-Match) or is "*".
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// bodilessAuthErrors drops the body of 401 and 403 answers, which OFREP
// specifies without one.
func bodilessAuthErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&authStatusWriter{ResponseWriter: w}, r)
	})
}

type authStatusWriter struct {
	http.ResponseWriter
	drop bool
}

func (w *authStatusWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		w.drop = true
		h := w.Header()
		h.Del("Content-Type")
		h.Set("Content-Length", "0")
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *authStatusWriter) Write(b []byte) (int, error) {
	if w.drop {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

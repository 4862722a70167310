package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/day2ops/day2"
)

// statusOf maps day2 error codes to HTTP statuses; it is the one table of that mapping.
var statusOf = map[string]int{
	day2.EInvalid:       http.StatusBadRequest,
	day2.EUnauthorized:  http.StatusUnauthorized,
	day2.EForbidden:     http.StatusForbidden,
	day2.ENotFound:      http.StatusNotFound,
	day2.EConflict:      http.StatusConflict,
	day2.ETooLarge:      http.StatusRequestEntityTooLarge,
	day2.EOverloaded:    http.StatusTooManyRequests,
	day2.EUnavailable:   http.StatusServiceUnavailable,
	day2.EInternal:      http.StatusInternalServerError,
	day2.EUnsupported:   http.StatusUnsupportedMediaType,
	day2.EMethodInvalid: http.StatusMethodNotAllowed,
}

// StatusOf returns the HTTP status for err's day2 error code.
func StatusOf(err error) int {
	if s, ok := statusOf[day2.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// WriteError answers with err as JSON: the status from its code and a message for
// the user. Internal errors are logged with their details and shown generically.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := StatusOf(err)
	if status >= 500 && log != nil {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var body ErrorBody
	body.Error.Code = day2.ErrorCode(err)
	body.Error.Message = day2.ErrorMessage(err)
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

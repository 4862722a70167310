package day2

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in package httpapi.
const (
	EInvalid       = "invalid"        // the caller sent something wrong: 400
	EUnauthorized  = "unauthorized"   // no or unknown token: 401
	EForbidden     = "forbidden"      // token lacks the scope or right: 403
	ENotFound      = "not_found"      // 404
	EConflict      = "conflict"       // state does not allow it: 409
	ETooLarge      = "too_large"      // request body over the limit: 413
	EOverloaded    = "overloaded"     // ingest queue full, retry later: 429
	EUnavailable   = "unavailable"    // store not ready or shutting down: 503
	EInternal      = "internal"       // a bug or an I/O failure: 500
	EUnsupported   = "unsupported"    // media type not supported: 415
	EMethodInvalid = "method_invalid" // 405
)

// Error is day2's coded error: Code says what kind of failure it is and Message is
// written for the user (what is wrong and how to fix it). Internal details stay in
// the wrapped Err and are logged, never shown.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Message == "" {
			return e.Err.Error()
		}
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a coded error with a formatted user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for any
// other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err: the message of a coded error,
// and a generic text for internal errors so that internals are not leaked.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != EInternal {
		return e.Message
	}
	return "internal error; the server log has the details"
}

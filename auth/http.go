package auth

import (
	"encoding/json"
	"net/http"

	"github.com/day2ops/day2"
)

// CookieName is the cookie the web UI keeps its token in (HttpOnly). Requests
// without an Authorization header are authenticated with it.
const CookieName = "day2_token"

// Middleware returns HTTP middleware that authenticates every request and checks
// the scope scopeFor returns for it: suited to a mux whose routes need different
// scopes. An empty scope (or a nil scopeFor) means any valid token will do; routes
// that need no token at all (health checks) belong outside the middleware.
//
// The token comes from the Authorization header, or from the day2_token cookie when
// there is no such header. A request without a valid token is answered 401 with
// "WWW-Authenticate: Bearer realm="day2"", one lacking the scope 403, both with the
// JSON body {"error": {"code": ..., "message": ...}}. Otherwise the handler runs
// with the Identity in the request context (see FromContext).
//
// Browsers attach cookies to cross-site form posts, and anyone's browser can reach a
// loopback server, so unsafe-method (POST, PUT, DELETE ...) requests authenticated
// by the cookie, and those to an Open authenticator on routes other than ingest, are
// refused 403 when the browser marks them cross-origin (http.CrossOriginProtection).
// Requests with an Authorization header to a server with an auth file, and clients
// other than browsers (the CLI, OTLP exporters), are not affected.
func (a *Authenticator) Middleware(scopeFor func(*http.Request) Scope) func(http.Handler) http.Handler {
	csrf := http.NewCrossOriginProtection()
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var scope Scope
			if scopeFor != nil {
				scope = scopeFor(r)
			}
			id, viaCookie, err := a.authenticateRequest(r)
			if err == nil && (viaCookie || (a.open && scope != ScopeIngest)) && csrf.Check(r) != nil {
				err = day2.Errorf(day2.EForbidden, "cross-origin %s request refused: a browser may change day2 only from day2's own pages", r.Method)
			}
			if err == nil && scope != "" {
				err = id.Require(scope)
			}
			if err != nil {
				writeError(w, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

// Require returns HTTP middleware that lets only requests whose token holds scope
// through, for wrapping single routes: mux.Handle("POST /api/flags",
// a.Require(auth.ScopeOperate)(h)). It behaves like Middleware.
func (a *Authenticator) Require(scope Scope) func(http.Handler) http.Handler {
	return a.Middleware(func(*http.Request) Scope { return scope })
}

// authenticateRequest finds the request's token and returns its identity, and
// whether the token came from the cookie.
func (a *Authenticator) authenticateRequest(r *http.Request) (Identity, bool, error) {
	if a.open {
		return anonymous(), false, nil
	}
	switch h := r.Header.Values("Authorization"); len(h) {
	case 0:
	case 1:
		id, err := a.Authenticate(h[0])
		return id, false, err
	default:
		return Identity{}, false, day2.Errorf(day2.EUnauthorized, "the request has %d Authorization headers; send exactly one", len(h))
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		_, err := a.Authenticate("")
		return Identity{}, false, err
	}
	id, err := a.AuthenticateToken(c.Value)
	if err != nil {
		return Identity{}, true, day2.Errorf(day2.EUnauthorized, "the %s cookie holds no valid token; log in again", CookieName)
	}
	return id, true, nil
}

// writeError answers with the status of err's code and day2's JSON error body.
func writeError(w http.ResponseWriter, err error) {
	code := day2.ErrorCode(err)
	status := http.StatusForbidden
	h := w.Header()
	if code == day2.EUnauthorized {
		status = http.StatusUnauthorized
		h.Set("WWW-Authenticate", `Bearer realm="day2"`)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code = code
	body.Error.Message = day2.ErrorMessage(err)
	_ = json.NewEncoder(w).Encode(body)
}

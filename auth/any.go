package auth

import (
	"net/http"
	"strings"

	"github.com/day2ops/day2"
)

// RequireAny returns HTTP middleware that lets a request through only if its
// identity holds at least one of scopes (admin counting for read, operate and
// approve, as in Identity.Has): for routes that people and machines both call,
// such as one an agent's ingest token and an operator's token may use. It reads
// the identity that Require or Middleware put in the context, so it goes behind
// one of them, e.g. s.Handle(pattern, "", auth.RequireAny(auth.ScopeRead,
// auth.ScopeIngest)(h)); a request without an identity is answered 401.
func RequireAny(scopes ...Scope) func(http.Handler) http.Handler {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	list := strings.Join(names, ", ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, ok := FromContext(r.Context())
			if !ok {
				writeError(w, day2.Errorf(day2.EUnauthorized,
					`this request needs a token: send the header "Authorization: Bearer <token>" with a token from the server's auth file`))
				return
			}
			for _, s := range scopes {
				if id.Has(s) {
					next.ServeHTTP(w, r)
					return
				}
			}
			writeError(w, day2.Errorf(day2.EForbidden,
				"token %q lacks the scope this request needs, one of %s; add one of them to its scopes in the auth file", id.Name, list))
		})
	}
}

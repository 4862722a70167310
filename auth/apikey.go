package auth

import (
	"net/http"
	"strings"

	"github.com/day2ops/day2"
)

// APIKeyHeader is the header OpenFeature's OFREP providers send a bare token in
// ("X-API-Key: <token>") when configured with an API key.
const APIKeyHeader = "X-API-Key"

// AcceptAPIKey returns next wrapped so that a request with its token in the
// X-API-Key header and no Authorization header is authenticated as if it had
// sent "Authorization: Bearer <token>". It goes in front of Require or
// Middleware, on the routes that OFREP clients call; every other route keeps
// accepting only the Authorization header and the cookie. A request with more
// than one X-API-Key header, or an empty one, is answered 401.
func AcceptAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys := r.Header.Values(APIKeyHeader)
		if len(keys) == 0 || len(r.Header.Values("Authorization")) > 0 {
			next.ServeHTTP(w, r)
			return
		}
		if len(keys) > 1 {
			writeError(w, day2.Errorf(day2.EUnauthorized, "the request has %d %s headers; send exactly one", len(keys), APIKeyHeader))
			return
		}
		key := strings.TrimSpace(keys[0])
		if key == "" || strings.ContainsAny(key, " \t") {
			writeError(w, day2.Errorf(day2.EUnauthorized, "the %s header holds no token; send a token from the server's auth file", APIKeyHeader))
			return
		}
		r2 := *r
		r2.Header = r.Header.Clone()
		r2.Header.Del(APIKeyHeader)
		r2.Header.Set("Authorization", "Bearer "+key)
		next.ServeHTTP(w, &r2)
	})
}

package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRequireAny(t *testing.T) {
	a, err := Parse([]byte(`tokens:
  - {name: agent, token: "agent-token-0123456789", scopes: [ingest]}
  - {name: reader, token: "reader-token-0123456789", scopes: [read]}
  - {name: boss, token: "admin-token-0123456789", scopes: [admin]}
  - {name: operator, token: "operate-token-0123456789", scopes: [operate]}
`), "auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := a.Require("")(RequireAny(ScopeRead, ScopeIngest)(ok))
	for _, tc := range []struct {
		name, token string
		status      int
		body        string
	}{
		{"the first scope lets through", "reader-token-0123456789", http.StatusNoContent, ""},
		{"the second scope lets through", "agent-token-0123456789", http.StatusNoContent, ""},
		{"admin counts as read", "admin-token-0123456789", http.StatusNoContent, ""},
		{"neither scope is refused with both named", "operate-token-0123456789", http.StatusForbidden, `token \"operator\" lacks the scope this request needs, one of read, ingest`},
		{"no token is refused", "", http.StatusUnauthorized, "needs a token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("status %d body %s, want %d containing %q", rec.Code, rec.Body, tc.status, tc.body)
			}
		})
	}

	// Without the authenticator in front there is no identity: 401, not a pass.
	rec := httptest.NewRecorder()
	RequireAny(ScopeRead)(ok).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("a request without an identity got %d, want 401", rec.Code)
	}
}

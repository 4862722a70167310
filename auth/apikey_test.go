package auth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAcceptAPIKey(t *testing.T) {
	a, err := Parse([]byte(`tokens:
  - {name: agent, token: "agent-token-0123456789", scopes: [ingest]}
  - {name: reader, token: "reader-token-0123456789", scopes: [read]}
`), "auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := FromContext(r.Context())
		io.WriteString(w, id.Name)
	})
	guarded := a.Require("")(RequireAny(ScopeRead, ScopeIngest)(whoami))
	mux := http.NewServeMux()
	mux.Handle("/ofrep", AcceptAPIKey(guarded))
	mux.Handle("/api", guarded)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tests := []struct {
		name   string
		path   string
		header http.Header
		status int
		body   string
	}{
		{"an API key authenticates", "/ofrep", http.Header{"X-Api-Key": {"agent-token-0123456789"}}, 200, "agent"},
		{"surrounding spaces are ignored", "/ofrep", http.Header{"X-Api-Key": {" reader-token-0123456789 "}}, 200, "reader"},
		{"the Authorization header wins", "/ofrep", http.Header{"X-Api-Key": {"agent-token-0123456789"}, "Authorization": {"Bearer reader-token-0123456789"}}, 200, "reader"},
		{"bearer tokens still work", "/ofrep", http.Header{"Authorization": {"Bearer agent-token-0123456789"}}, 200, "agent"},
		{"an unknown API key is refused", "/ofrep", http.Header{"X-Api-Key": {"wrong-token-0123456789"}}, 401, ""},
		{"two API keys are refused", "/ofrep", http.Header{"X-Api-Key": {"agent-token-0123456789", "reader-token-0123456789"}}, 401, ""},
		{"an empty API key is refused", "/ofrep", http.Header{"X-Api-Key": {" "}}, 401, ""},
		{"no token is refused", "/ofrep", nil, 401, ""},
		{"routes without AcceptAPIKey ignore the header", "/api", http.Header{"X-Api-Key": {"agent-token-0123456789"}}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+tt.path, nil)
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status == 200 && string(body) != tt.body {
				t.Errorf("identity %q, want %q", body, tt.body)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

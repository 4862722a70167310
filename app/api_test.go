package app_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/day2ops/day2/app"
)

// Tokens of auth/testdata/auth.yaml.
const (
	aliceToken  = "alice-token-0123456789abcdef"  // read, operate, approve
	ingestToken = "ingest-token-0123456789abcdef" // ingest
	bobToken    = "bob-token-0123456789abcdef"    // read
)

// TestAPIScenarios drives the API over real HTTP with authentication on: each
// row is a request and what a user must get back.
func TestAPIScenarios(t *testing.T) {
	authFile, _ := filepath.Abs("../auth/testdata/auth.yaml")
	a := startApp(t, app.Options{AuthFile: authFile})
	const taskID = "5b8efff798038103d269b633813fc60c"

	tests := []struct {
		name, method, path, token, contentType, body string
		status                                       int
		contains                                     string
	}{
		{"health needs no token", "GET", "/healthz", "", "", "", 200, `"ok"`},
		{"readiness needs no token", "GET", "/readyz", "", "", "", 200, `"ready"`},
		{"tasks without a token are refused", "GET", "/api/v1/tasks", "", "", "", 401, "unauthorized"},
		{"an unknown token is refused", "GET", "/api/v1/tasks", "not-a-real-token-at-all", "", "", 401, "unauthorized"},
		{"an ingest token cannot read", "GET", "/api/v1/tasks", ingestToken, "", "", 403, "read"},
		{"a read token cannot ingest", "POST", "/v1/traces", bobToken, "application/json", string(handJSON(taskID)), 403, "ingest"},
		{"an ingest token ingests", "POST", "/v1/traces", ingestToken, "application/json", string(handJSON(taskID)), 200, ""},
		{"a read token lists tasks", "GET", "/api/v1/tasks?service=invoice-agent", bobToken, "", "", 200, taskID},
		{"a task by id", "GET", "/api/v1/tasks/" + taskID, aliceToken, "", "", 200, `"children"`},
		{"task ids are case-insensitive", "GET", "/api/v1/tasks/" + strings.ToUpper(taskID), aliceToken, "", "", 200, taskID},
		{"an unknown task is 404", "GET", "/api/v1/tasks/00000000000000000000000000000001", bobToken, "", "", 404, "not_found"},
		{"a malformed task id is 400", "GET", "/api/v1/tasks/xyz", bobToken, "", "", 400, "32 hex"},
		{"a bad since is 400 with an example", "GET", "/api/v1/tasks?since=yesterday", bobToken, "", "", 400, "RFC 3339"},
		{"a negative limit is 400", "GET", "/api/v1/tasks?limit=-1", bobToken, "", "", 400, "positive"},
		{"a limit over the maximum is 400", "GET", "/api/v1/tasks?limit=5000", bobToken, "", "", 400, "1000"},
		{"a forged cursor is 400", "GET", "/api/v1/tasks?cursor=Zm9v", bobToken, "", "", 400, "cursor"},
		{"since after until is 400", "GET", "/api/v1/tasks?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", bobToken, "", "", 400, "before"},
		{"services", "GET", "/api/v1/services", bobToken, "", "", 200, `"invoice-agent"`},
		{"metrics", "GET", "/metrics", bobToken, "", "", 200, "day2_ingest_stored_total"},
		{"an unknown API path is 404 JSON", "GET", "/api/v1/nope", bobToken, "", "", 404, "no API endpoint"},
		{"OTLP with a wrong content type is 415", "POST", "/v1/traces", ingestToken, "text/plain", "hello", 415, ""},
		{"OTLP garbage is 400", "POST", "/v1/traces", ingestToken, "application/json", "{not json", 400, ""},
		{"the dashboard needs a read token", "GET", "/", "", "", "", 401, ""},
		{"the dashboard with a token", "GET", "/", bobToken, "", "", 200, "invoice-agent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, a.HTTPURL()+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", tt.method, tt.path, resp.StatusCode, tt.status, body)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Fatalf("%s %s: body does not contain %q: %s", tt.method, tt.path, tt.contains, body)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

// TestNonLoopbackNeedsAuth checks the secure default: no tokens, no exposure.
func TestNonLoopbackNeedsAuth(t *testing.T) {
	_, err := app.New(t.Context(), app.Options{HTTPAddr: "0.0.0.0:0", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--auth-file") {
		t.Fatalf("app.New on 0.0.0.0 without auth: err = %v, want a refusal naming --auth-file", err)
	}
}

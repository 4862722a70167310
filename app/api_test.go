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
		{"the dashboard sends a browser without a token to the login page", "GET", "/", "", "", "", 200, "Log in"},
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

const adminToken = "admin-token-0123456789abcdef" // admin

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOverrideLiftsAFreezeAndIsAudited freezes a service with failing tasks,
// then checks that only an admin can override the freeze, with a reason, and that
// the override shows in the gate and in the audit log.
func TestOverrideLiftsAFreezeAndIsAudited(t *testing.T) {
	authFile, _ := filepath.Abs("../auth/testdata/auth.yaml")
	a := startApp(t, app.Options{AuthFile: authFile})
	const tid = "00000000000000000000000000000abc"
	body := strings.ReplaceAll(string(handJSON(tid)), `{"stringValue":"true"}},{"key":"escalation"`, `{"stringValue":"false"}},{"key":"escalation"`)
	if code, b := call(t, "POST", a.OTLPHTTPURL()+"/v1/traces", ingestToken, body); code != 200 {
		t.Fatalf("ingest: %d %s", code, b)
	}
	gate := a.HTTPURL() + "/api/v1/gate?service=invoice-agent"
	if code, b := call(t, "GET", gate, bobToken, ""); code != 200 || !strings.Contains(b, `"allowed":false`) || !strings.Contains(b, `"policy":"frozen"`) {
		t.Fatalf("gate before override: %d %s", code, b)
	}
	ov := a.HTTPURL() + "/api/v1/overrides"
	req := `{"service": "invoice-agent", "reason": "security fix for CVE-2026-0001", "duration": "2h"}`
	if code, b := call(t, "POST", ov, aliceToken, req); code != 403 {
		t.Fatalf("override by a non-admin: %d %s, want 403", code, b)
	}
	if code, b := call(t, "POST", ov, adminToken, `{"service": "invoice-agent", "duration": "2h"}`); code != 400 || !strings.Contains(b, "reason") {
		t.Fatalf("override without a reason: %d %s, want 400 naming the reason", code, b)
	}
	if code, b := call(t, "POST", ov, adminToken, `{"service": "invoice-agent", "reason": "x", "duration": "30d"}`); code != 400 || !strings.Contains(b, "7d") {
		t.Fatalf("override for 30 days: %d %s, want 400", code, b)
	}
	if code, b := call(t, "POST", ov, adminToken, req); code != 201 || !strings.Contains(b, `"actor":"root"`) {
		t.Fatalf("override by admin: %d %s, want 201", code, b)
	}
	if code, b := call(t, "GET", gate, bobToken, ""); code != 200 || !strings.Contains(b, `"allowed":true`) ||
		!strings.Contains(b, `"policy":"frozen"`) || !strings.Contains(b, "freeze overridden by root") {
		t.Fatalf("gate after override: %d %s", code, b)
	}
	code, b := call(t, "GET", a.HTTPURL()+"/api/v1/audit?action=policy.override", bobToken, "")
	if code != 200 || !strings.Contains(b, `"actor":"root"`) || !strings.Contains(b, "CVE-2026-0001") || !strings.Contains(b, `"hash":"`) {
		t.Fatalf("audit: %d %s", code, b)
	}
}

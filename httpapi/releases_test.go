package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/sqlite"
)

const releaseAuthFile = `
tokens:
  - name: alice
    token: "alice-token-0123456789"
    scopes: [read, operate]
  - name: viewer
    token: "viewer-token-0123456789"
    scopes: [read]
  - name: agent
    token: "agent-token-0123456789"
    scopes: [ingest]
`

// releaseServer starts the API with the release routes on a real SQLite store
// and returns its URL, the service behind it and its fake clock's setter.
func releaseServer(t testing.TB) (string, *release.Service, func(time.Time)) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.Parse([]byte(releaseAuthFile), "auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	set := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	svc, err := release.NewService(release.Options{Records: st, Tasks: st, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httpapi.New(httpapi.Options{Store: st, Auth: a, Logger: log})
	httpapi.RegisterReleases(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, svc, set
}

// releaseCall sends one request and returns the status and decoded JSON body.
func releaseCall(t testing.TB, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s answered %d with non-JSON %q", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

const (
	relAlice  = "alice-token-0123456789"
	relViewer = "viewer-token-0123456789"
	relAgent  = "agent-token-0123456789"
)

func TestReleaseRoutes(t *testing.T) {
	base, svc, setClock := releaseServer(t)
	v1 := `{"version": "2.3.1", "bundle": {"model": "gpt-4o", "prompt": "Approve invoices.\nEscalate above 10k.\n", "tools": ["erp.lookup"]}, "reason": "baseline"}`
	v2 := `{"version": "2.4.0", "bundle": "model: gpt-4o\nprompt: |\n  Approve invoices.\n  Escalate above 5k.\ntools: [erp.lookup]\n"}`
	start := `{"service": "invoice-agent", "environment": "prod", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "canary", "steps": [5, 25, 50, 100], "step_duration": "10m", "min_samples": 200},
		"judge": {"interval": "1m"}, "reason": "stricter escalation"}`

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		contains                        string // in the error message or the body's JSON
	}{
		{"register a version", "POST", "/api/v1/services/invoice-agent/versions", relAlice, v1, 201, `"hash":"sha256:`},
		{"register the same content again", "POST", "/api/v1/services/invoice-agent/versions", relAlice, v1, 200, `"created_by":"alice"`},
		{"register a bundle given as YAML text", "POST", "/api/v1/services/invoice-agent/versions", relAlice, v2, 201, `"version":"2.4.0"`},
		{"change a registered version", "POST", "/api/v1/services/invoice-agent/versions", relAlice,
			`{"version": "2.3.1", "bundle": {"model": "gpt-4o-mini"}}`, 409, "versions are immutable; register 2.3.2"},
		{"a version that is not semver", "POST", "/api/v1/services/invoice-agent/versions", relAlice,
			`{"version": "v2", "bundle": {"model": "x"}}`, 400, "MAJOR.MINOR.PATCH"},
		{"a version without bundle", "POST", "/api/v1/services/invoice-agent/versions", relAlice, `{"version": "2.5.0"}`, 400, "bundle is required"},
		{"a misspelt field", "POST", "/api/v1/services/invoice-agent/versions", relAlice, `{"versoin": "2.5.0"}`, 400, "unknown field"},
		{"read scope cannot register", "POST", "/api/v1/services/invoice-agent/versions", relViewer, v1, 403, "operate"},
		{"list versions", "GET", "/api/v1/services/invoice-agent/versions", relViewer, "", 200, `"versions":[{"service":"invoice-agent","version":"2.4.0"`},
		{"one version", "GET", "/api/v1/services/invoice-agent/versions/2.3.1", relViewer, "", 200, `"model":"gpt-4o"`},
		{"an unknown version", "GET", "/api/v1/services/invoice-agent/versions/9.9.9", relViewer, "", 404, "not registered"},
		{"diff two versions", "GET", "/api/v1/services/invoice-agent/versions/2.4.0?diff=2.3.1", relViewer, "", 200, `-Escalate above 10k.\n+Escalate above 5k.`},
		{"start a rollout", "POST", "/api/v1/rollouts", relAlice, start, 201, `"state":"running"`},
		{"a second active rollout", "POST", "/api/v1/rollouts", relAlice, start, 409, "already has an active rollout"},
		{"steps that go down", "POST", "/api/v1/rollouts", relAlice, strings.Replace(start, "[5, 25, 50, 100]", "[50, 25]", 1), 400, "increase strictly"},
		{"an unknown strategy field", "POST", "/api/v1/rollouts", relAlice, strings.Replace(start, `"steps"`, `"stepz"`, 1), 400, "unknown field"},
		{"an unknown rollout", "GET", "/api/v1/rollouts/ro_missing", relViewer, "", 404, "no rollout"},
		{"assign without a key", "GET", "/api/v1/assign?service=invoice-agent", relAgent, "", 400, "key are required"},
		{"assign an unknown service", "GET", "/api/v1/assign?service=nobody&key=u1", relAgent, "", 404, "no version of nobody"},
		{"assign needs a token", "GET", "/api/v1/assign?service=invoice-agent&key=u1", "", "", 401, ""},
		{"an unknown action", "POST", "/api/v1/rollouts/ro_missing/explode", relAlice, "", 404, "no rollout action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, raw)
			}
			// Compare against the JSON with its escapes as sent.
			if !strings.Contains(string(raw), tc.contains) {
				t.Fatalf("body %s does not contain %q", raw, tc.contains)
			}
		})
	}

	// The rollout's contract shape.
	status, list := releaseCall(t, "GET", base+"/api/v1/rollouts?service=invoice-agent&state=running,paused", relViewer, "")
	ros, _ := list["rollouts"].([]any)
	if status != 200 || len(ros) != 1 {
		t.Fatalf("list: %d %v", status, list)
	}
	id := ros[0].(map[string]any)["id"].(string)
	setClock(time.Date(2026, 11, 2, 9, 1, 0, 0, time.UTC))
	if err := svc.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	status, ro := releaseCall(t, "GET", base+"/api/v1/rollouts/"+id, relViewer, "")
	if status != 200 {
		t.Fatalf("get: %d %v", status, ro)
	}
	for _, field := range []string{"id", "service", "environment", "baseline", "candidate", "strategy", "judge", "state", "step",
		"weights", "verdicts", "step_started_at", "created_at", "created_by", "history"} {
		if _, ok := ro[field]; !ok {
			t.Errorf("rollout JSON lacks %q: %v", field, ro)
		}
	}
	if ro["state"] != "running" || ro["step"] != 0.0 || fmt.Sprint(ro["weights"]) != "map[baseline:95 candidate:5]" || ro["created_by"] != "alice" {
		t.Fatalf("rollout %v", ro)
	}
	verdicts := ro["verdicts"].([]any)
	if len(verdicts) != 1 {
		t.Fatalf("verdicts after one look: %v", verdicts)
	}
	if v := verdicts[0].(map[string]any); v["verdict"] != "inconclusive" || v["step"] != 0.0 || v["look"] != 1.0 || v["at"] != "2026-11-02T09:01:00Z" {
		t.Fatalf("verdict %v (no tasks: inconclusive)", v)
	}
	if judge := ro["judge"].(map[string]any); judge["interval"] != "1m0s" {
		t.Errorf("judge %v", judge)
	}

	// Assignment: exactly the four fields, for read and ingest tokens alike.
	for _, tok := range []string{relAgent, relViewer} {
		status, as := releaseCall(t, "GET", base+"/api/v1/assign?service=invoice-agent&environment=prod&key=u1&tenant=contoso", tok, "")
		var keys []string
		for k := range as {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if status != 200 || !slices.Equal(keys, []string{"arm", "rollout", "step", "version"}) || as["rollout"] != id {
			t.Fatalf("assign: %d %v", status, as)
		}
	}

	// Actions.
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/resume", relAlice, ""); status != 409 || !strings.Contains(fmt.Sprint(body), "is running") {
		t.Fatalf("resume while running: %d %v", status, body)
	}
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/pause", relViewer, ""); status != 403 {
		t.Fatalf("pause with read scope: %d %v", status, body)
	}
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/pause", relAlice, `{"reason": "check the dashboards"}`); status != 200 || body["state"] != "paused" {
		t.Fatalf("pause: %d %v", status, body)
	}
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/weight", relAlice, `{"weight": 2, "reason": "incident"}`); status != 200 || fmt.Sprint(body["weights"]) != "map[baseline:98 candidate:2]" {
		t.Fatalf("weight: %d %v", status, body)
	}
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/rollback", relAlice, `{"reason": "pager"}`); status != 200 ||
		body["state"] != "rolled_back" || fmt.Sprint(body["weights"]) != "map[baseline:100 candidate:0]" || body["reason"] != "pager" {
		t.Fatalf("rollback: %d %v", status, body)
	}
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/promote", relAlice, ""); status != 409 || !strings.Contains(fmt.Sprint(body), "is rolled_back") {
		t.Fatalf("promote after rollback: %d %v", status, body)
	}
	if status, body := releaseCall(t, "POST", base+"/api/v1/rollouts/"+id+"/rollback", relAlice, `{"reasn": "x"}`); status != 400 {
		t.Fatalf("misspelt action body: %d %v", status, body)
	}
	status, as := releaseCall(t, "GET", base+"/api/v1/assign?service=invoice-agent&key=u1", relAgent, "")
	if status != 200 || as["version"] != "2.3.1" || as["arm"] != "baseline" || as["rollout"] != "" {
		t.Fatalf("assign after the rollback: %d %v", status, as)
	}
	status, list = releaseCall(t, "GET", base+"/api/v1/rollouts?state=rolled_back", relViewer, "")
	if ros, _ := list["rollouts"].([]any); status != 200 || len(ros) != 1 {
		t.Fatalf("list rolled back: %d %v", status, list)
	}
	if status, _ := releaseCall(t, "GET", base+"/api/v1/rollouts?state=done", relViewer, ""); status != 400 {
		t.Fatalf("unknown state filter: %d", status)
	}
}

func TestAssignRings(t *testing.T) {
	base, _, _ := releaseServer(t)
	start := `{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.4.0", "strategy": {"type": "rings",
		"rings": [{"name": "internal", "match": {"tenant": ["contoso-it"]}}, {"name": "pilot", "match": {"business_unit": ["finance"]}}, {"name": "org", "match": {}}]}}`
	status, ro := releaseCall(t, "POST", base+"/api/v1/rollouts", relAlice, start)
	if status != 201 || ro["ring"] != "internal" {
		t.Fatalf("start rings: %d %v", status, ro)
	}
	for q, want := range map[string]string{
		"&tenant=contoso-it":        "candidate",
		"&tenant=contoso":           "baseline",
		"&business_unit=finance":    "baseline", // pilot is not reached yet
		"&tenant=contoso-it&x=1&y=": "candidate",
	} {
		status, as := releaseCall(t, "GET", base+"/api/v1/assign?service=invoice-agent&key=u1"+q, relAgent, "")
		if status != 200 || as["arm"] != want {
			t.Errorf("assign %s: %d %v, want arm %s", q, status, as, want)
		}
	}
}

// BenchmarkAssign measures GET /api/v1/assign through real HTTP with a running
// canary, as agents call it (run with -cpu 2 to match the target machine).
func BenchmarkAssign(b *testing.B) {
	base, _, _ := releaseServer(b)
	start := `{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.4.0", "strategy": {"steps": [25, 100]}}`
	if status, ro := releaseCall(b, "POST", base+"/api/v1/rollouts", relAlice, start); status != 201 {
		b.Fatalf("start: %d %v", status, ro)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	b.SetParallelism(8)
	b.ReportAllocs()
	var n sync.Mutex
	seq := 0
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		n.Lock()
		seq++
		worker := seq
		n.Unlock()
		i := 0
		for pb.Next() {
			i++
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/assign?service=invoice-agent&environment=prod&key=user-%d-%d", base, worker, i), nil)
			req.Header.Set("Authorization", "Bearer "+relAgent)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/sqlite"
)

const incidentAuthFile = `
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

const (
	aliceToken  = "alice-token-0123456789"
	viewerToken = "viewer-token-0123456789"
	agentToken  = "agent-token-0123456789"
)

// incidentLevers records the levers the API pulls.
type incidentLevers struct {
	mu    sync.Mutex
	calls []string
}

func (l *incidentLevers) add(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	return nil
}

func (l *incidentLevers) SetCandidateWeight(_ context.Context, actor, service, env string, w int, _ string) error {
	return l.add(fmt.Sprintf("weight %s %s %s %d", actor, service, env, w))
}
func (l *incidentLevers) SetFlag(_ context.Context, actor, key string, on bool, _ string) error {
	return l.add(fmt.Sprintf("flag %s %s %v", actor, key, on))
}
func (l *incidentLevers) ForceManual(_ context.Context, actor, service string, on bool, _ string) error {
	return l.add(fmt.Sprintf("manual %s %s %v", actor, service, on))
}
func (l *incidentLevers) SetOverride(_ context.Context, actor, service, name string, v any, _ string) error {
	return l.add(fmt.Sprintf("override %s %s %s %v", actor, service, name, v))
}
func (l *incidentLevers) RolloutWeight(context.Context, string, string) (int, string, bool) {
	return 0, "", false
}

// incidentServer starts the API with the incident routes on a real SQLite store.
func incidentServer(t *testing.T) (string, *incidentLevers) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a, err := auth.Parse([]byte(incidentAuthFile), "auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	lv := &incidentLevers{}
	svc, err := incident.NewService(incident.Options{Records: st, Audit: st.ListAudit, Tasks: st, Rollups: st, Levers: lv,
		Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Store: st, Auth: a, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	httpapi.RegisterIncidents(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL, lv
}

// incidentCall sends one request and returns the status, the content type
// and the body.
func incidentCall(t *testing.T, method, url, token, body string) (int, string, []byte) {
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
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// incidentJSON is incidentCall expecting status want and a JSON answer.
func incidentJSON(t *testing.T, method, url, token, body string, want int) map[string]any {
	t.Helper()
	status, ct, b := incidentCall(t, method, url, token, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, url, status, want, b)
	}
	if !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: content type %q", method, url, ct)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
	return m
}

// incidentMarkdown is incidentCall expecting 200 and Markdown.
func incidentMarkdown(t *testing.T, url string) string {
	t.Helper()
	status, ct, b := incidentCall(t, http.MethodGet, url, viewerToken, "")
	if status != http.StatusOK || ct != "text/markdown; charset=utf-8" {
		t.Fatalf("GET %s: status %d, content type %q: %s", url, status, ct, b)
	}
	return string(b)
}

func TestIncidentAPI(t *testing.T) {
	base, lv := incidentServer(t)
	am, err := os.ReadFile(filepath.Join("..", "incident", "testdata", "alertmanager-v4.json"))
	if err != nil {
		t.Fatal(err)
	}
	api := base + "/api/v1"

	// Alertmanager: an ingest or operate token; malformed payloads are 400.
	if status, _, _ := incidentCall(t, http.MethodPost, api+"/alerts/alertmanager", viewerToken, string(am)); status != http.StatusForbidden {
		t.Fatalf("a read token posted alerts: status %d", status)
	}
	if got := incidentJSON(t, http.MethodPost, api+"/alerts/alertmanager", agentToken, string(am), http.StatusOK); got["alerts"] != 2.0 {
		t.Fatalf("answer %v, want 2 alerts", got)
	}
	for body, want := range map[string]string{
		`{"version":"4","alerts":[]}`: "lists no alerts",
		`not json`:                    "not valid JSON",
		`{"alerts":[{"status":"open","labels":{"service":"s"},"startsAt":"2026-11-02T09:00:00Z"}]}`: `status "open"`,
	} {
		got := incidentJSON(t, http.MethodPost, api+"/alerts/alertmanager", aliceToken, body, http.StatusBadRequest)
		if msg := got["error"].(map[string]any)["message"].(string); !strings.Contains(msg, want) {
			t.Errorf("malformed %s: message %q does not say %q", body, msg, want)
		}
	}

	// List and get.
	list := incidentJSON(t, http.MethodGet, api+"/incidents?state=open&service=support-triage", viewerToken, "", http.StatusOK)
	incs := list["incidents"].([]any)
	if len(incs) != 1 {
		t.Fatalf("incidents %v, want 1", list)
	}
	first := incs[0].(map[string]any)
	id := first["id"].(string)
	if first["state"] != "triggered" || first["severity"] != "page" || first["environment"] != "prod" || first["timeline"] != nil {
		t.Fatalf("listed incident %v: want a triggered prod page, without its timeline", first)
	}
	got := incidentJSON(t, http.MethodGet, api+"/incidents/"+id, viewerToken, "", http.StatusOK)
	if got["runbook"] != "default" || got["runbook_url"] != "https://runbooks.example.com/crm-errors" || got["triage"] == nil || len(got["timeline"].([]any)) < 2 {
		t.Fatalf("incident %v: want the runbook, triage and timeline", got)
	}
	incidentJSON(t, http.MethodGet, api+"/incidents/in_missing", viewerToken, "", http.StatusNotFound)
	incidentJSON(t, http.MethodGet, api+"/incidents?state=burning", viewerToken, "", http.StatusBadRequest)
	incidentJSON(t, http.MethodGet, api+"/incidents?limit=0", viewerToken, "", http.StatusBadRequest)

	// Acting needs operate.
	incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/ack", viewerToken, "", http.StatusForbidden)
	got = incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/ack", aliceToken, `{"reason":"on it"}`, http.StatusOK)
	if got["state"] != "acknowledged" {
		t.Fatalf("after ack: %v", got["state"])
	}
	incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/ack", aliceToken, "", http.StatusConflict)

	incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/mitigate", aliceToken, `{"lever":"override","nmae":"x"}`, http.StatusBadRequest)
	incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/mitigate", aliceToken, `{"lever":"override","name":"timeout_ms","value":30000}`, http.StatusBadRequest)
	got = incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/mitigate", aliceToken,
		`{"lever":"override","name":"timeout_ms","value":30000,"reason":"the CRM is slow"}`, http.StatusOK)
	if got["state"] != "mitigated" {
		t.Fatalf("after a lever: %v", got["state"])
	}
	got = incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/mitigate", aliceToken,
		`{"lever":"flag","flag":"crm_writes","on":false,"reason":"stop writes"}`, http.StatusOK)
	lv.mu.Lock()
	calls := strings.Join(lv.calls, "; ")
	lv.mu.Unlock()
	if calls != "override alice support-triage timeout_ms 30000; flag alice crm_writes false" {
		t.Fatalf("levers pulled: %q", calls)
	}
	got = incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/note", aliceToken, `{"text":"impact: 40 tickets by hand"}`, http.StatusOK)
	tl := got["timeline"].([]any)
	if last := tl[len(tl)-1].(map[string]any); last["type"] != "note" || last["actor"] != "alice" {
		t.Fatalf("last timeline entry %v, want alice's note", last)
	}
	incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/note", aliceToken, `{"text":""}`, http.StatusBadRequest)
	incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/triage", aliceToken, "", http.StatusOK)

	rb := incidentMarkdown(t, api+"/incidents/"+id+"/runbook")
	for _, want := range []string{"# Runbook: CRM gateway answers 5xx", "## Mitigation levers", "https://runbooks.example.com/crm-errors"} {
		if !strings.Contains(rb, want) {
			t.Errorf("runbook lacks %q", want)
		}
	}

	got = incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/resolve", aliceToken, `{"reason":"CRM recovered"}`, http.StatusOK)
	if got["state"] != "resolved" {
		t.Fatalf("after resolve: %v", got["state"])
	}
	pm := incidentMarkdown(t, api+"/incidents/"+id+"/postmortem")
	for _, want := range []string{"# Postmortem: CRM gateway answers 5xx", "## Timeline", "acknowledged by alice: on it",
		"override timeout_ms of support-triage set to 30000 by alice: the CRM is slow", "resolved by alice: CRM recovered"} {
		if !strings.Contains(pm, want) {
			t.Errorf("postmortem lacks %q", want)
		}
	}
	got = incidentJSON(t, http.MethodPost, api+"/incidents/"+id+"/review", aliceToken, `{"url":"https://wiki/pm/7"}`, http.StatusOK)
	if got["review"].(map[string]any)["url"] != "https://wiki/pm/7" {
		t.Fatalf("review %v", got["review"])
	}

	if day := incidentMarkdown(t, api+"/review"); !strings.HasPrefix(day, "# Daily reliability digest") {
		t.Errorf("daily review starts %q", day[:min(len(day), 60)])
	}
	if week := incidentMarkdown(t, api+"/review?period=week"); !strings.HasPrefix(week, "# Weekly reliability review") || !strings.Contains(week, id) {
		t.Errorf("weekly review %q", week)
	}
	incidentJSON(t, http.MethodGet, api+"/review?period=month", viewerToken, "", http.StatusBadRequest)
}

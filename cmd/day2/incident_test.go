package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/sqlite"
)

// cliLevers records the levers the CLI pulls through the API.
type cliLevers struct {
	mu    sync.Mutex
	calls []string
}

func (l *cliLevers) add(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	return nil
}
func (l *cliLevers) SetCandidateWeight(_ context.Context, _, service, env string, w int, _ string) error {
	return l.add(fmt.Sprintf("weight %s %s %d", service, env, w))
}
func (l *cliLevers) SetFlag(_ context.Context, _, key string, on bool, _ string) error {
	return l.add(fmt.Sprintf("flag %s %v", key, on))
}
func (l *cliLevers) ForceManual(_ context.Context, _, service string, on bool, _ string) error {
	return l.add(fmt.Sprintf("manual %s %v", service, on))
}
func (l *cliLevers) SetOverride(_ context.Context, _, service, name string, v any, _ string) error {
	return l.add(fmt.Sprintf("override %s %s %v", service, name, v))
}
func (l *cliLevers) RolloutWeight(context.Context, string, string) (int, string, bool) {
	return 0, "", false
}

func runIncidentCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestIncidentCommands(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	lv := &cliLevers{}
	svc, err := incident.NewService(incident.Options{Records: st, Audit: st.ListAudit, Tasks: st, Rollups: st, Levers: lv})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Store: st, Auth: auth.Open(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	httpapi.RegisterIncidents(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	url := ts.URL

	if err := svc.Ingest(context.Background(), []incident.Alert{{Source: incident.SourceRule, Key: "rule:triage-success-drop",
		Status: incident.StatusFiring, Service: "support-triage", Environment: "prod", Severity: incident.SeverityPage,
		Summary: "task_success of support-triage (prod) is 70%", StartsAt: time.Now().Add(-time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	out, err := runIncidentCmd(t, newIncidentCmd(), "list", "--server", url, "--state", "open")
	if err != nil || !strings.Contains(out, "SEVERITY") || !strings.Contains(out, "support-triage") || !strings.Contains(out, "1/1") {
		t.Fatalf("incident list: %q %v", out, err)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"ack", id, "--reason", "on it"}, id + " is acknowledged"},
		{[]string{"mitigate", id, "--lever", "flag", "--flag", "crm_writes", "--off", "--reason", "stop writes"}, "mitigated by anonymous: flag crm_writes turned off"},
		{[]string{"mitigate", id, "--lever", "override", "--name", "tool_allowlist", "--value", "kb.search,crm.lookup", "--reason", "narrow"}, "override tool_allowlist"},
		{[]string{"mitigate", id, "--lever", "override", "--name", "retry_budget", "--value", "1", "--reason", "fewer retries"}, "override retry_budget of support-triage set to 1"},
		{[]string{"note", id, "impact:", "40", "tickets"}, "note: impact: 40 tickets"},
		{[]string{"show", id}, "Timeline (UTC):"},
		{[]string{"runbook", id}, "## Mitigation levers"},
		{[]string{"resolve", id, "--reason", "recovered"}, id + " is resolved"},
		{[]string{"postmortem", id}, "## Action Items"},
		{[]string{"review", id, "--url", "https://wiki/pm/1"}, "post-incident review recorded"},
	}
	for _, s := range steps {
		args := append([]string{s.args[0], "--server", url}, s.args[1:]...)
		out, err := runIncidentCmd(t, newIncidentCmd(), args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("incident %s: %q %v; want %q", strings.Join(s.args, " "), out, err, s.want)
		}
	}
	lv.mu.Lock()
	calls := strings.Join(lv.calls, "; ")
	lv.mu.Unlock()
	if calls != "flag crm_writes false; override support-triage tool_allowlist [kb.search crm.lookup]; override support-triage retry_budget 1" {
		t.Fatalf("levers: %q", calls)
	}

	_, err = runIncidentCmd(t, newIncidentCmd(), "mitigate", "--server", url, id, "--lever", "canary_to_zero")
	if err == nil || !strings.Contains(err.Error(), "--reason is required") {
		t.Fatalf("a lever without a reason: %v", err)
	}
	_, err = runIncidentCmd(t, newIncidentCmd(), "ack", "--server", url, id)
	if err == nil || !strings.Contains(err.Error(), "resolved, which is final") {
		t.Fatalf("ack of a resolved incident: %v", err)
	}

	out, err = runIncidentCmd(t, newReviewCmd(), "--server", url, "--week")
	if err != nil || !strings.HasPrefix(out, "# Weekly reliability review") {
		t.Fatalf("review --week: %q %v", out, err)
	}
	out, err = runIncidentCmd(t, newReviewCmd(), "--server", url)
	if err != nil || !strings.HasPrefix(out, "# Daily reliability digest") {
		t.Fatalf("review: %q %v", out, err)
	}
}

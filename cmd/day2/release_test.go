package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/sqlite"
)

// releaseAPI serves the release routes on a real SQLite store.
func releaseAPI(t *testing.T) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := release.NewService(release.Options{Records: st, Tasks: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httpapi.New(httpapi.Options{Store: st, Auth: auth.Open(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	httpapi.RegisterReleases(srv, svc)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestVersionAndRolloutCommands(t *testing.T) {
	url := releaseAPI(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v1 := write("v1.yaml", "model: gpt-4o\nprompt: |\n  Approve invoices.\n  Escalate above 10k.\ntools: [erp.lookup]\n")
	v2 := write("v2.yaml", "model: gpt-4o\nprompt: |\n  Approve invoices.\n  Escalate above 5k.\ntools: [erp.lookup, erp.approve]\n")
	for _, f := range []struct{ v, file string }{{"2.3.1", v1}, {"2.4.0", v2}} {
		out, err := runCmd(t, newVersionCmd(), "register", "--server", url, "--service", "invoice-agent", "--version", f.v, "--file", f.file, "--reason", "test")
		if err != nil || !strings.Contains(out, "invoice-agent "+f.v+" registered (sha256:") {
			t.Fatalf("version register %s: %q %v", f.v, out, err)
		}
	}
	if _, err := runCmd(t, newVersionCmd(), "register", "--server", url, "--service", "invoice-agent", "--version", "2.3.1", "--file", v2); err == nil ||
		!strings.Contains(err.Error(), "versions are immutable") {
		t.Fatalf("re-registering changed content: %v", err)
	}
	out, err := runCmd(t, newVersionCmd(), "list", "--server", url, "--service", "invoice-agent")
	if err != nil || strings.Index(out, "2.4.0") > strings.Index(out, "2.3.1") || !strings.Contains(out, "VERSION") {
		t.Fatalf("version list: %q %v", out, err)
	}
	out, err = runCmd(t, newVersionCmd(), "diff", "--server", url, "--service", "invoice-agent", "2.3.1", "2.4.0")
	if err != nil || !strings.Contains(out, "tools: changed, added erp.approve") || !strings.Contains(out, "-Escalate above 10k.\n+Escalate above 5k.\n") {
		t.Fatalf("version diff: %q %v", out, err)
	}

	out, err = runCmd(t, newRolloutCmd(), "start", "--server", url, "--service", "invoice-agent", "--environment", "prod",
		"--baseline", "2.3.1", "--candidate", "2.4.0", "--strategy", "canary", "--steps", "5,25,50,100",
		"--step-duration", "10m", "--min-samples", "200", "--interval", "1m", "--output", "json")
	if err != nil {
		t.Fatalf("rollout start: %v", err)
	}
	var ro release.Rollout
	if err := json.Unmarshal([]byte(out), &ro); err != nil || ro.ID == "" || ro.Strategy.MinSamples != 200 || ro.Weights.Candidate != 5 {
		t.Fatalf("rollout start answered %s (%v)", out, err)
	}
	out, err = runCmd(t, newRolloutCmd(), "status", "--server", url, ro.ID)
	if err != nil || !strings.Contains(out, "state running, step 1/4 (5%), weights baseline 95% candidate 5%") {
		t.Fatalf("rollout status: %q %v", out, err)
	}
	out, err = runCmd(t, newRolloutCmd(), "status", "--server", url, "--service", "invoice-agent")
	if err != nil || !strings.Contains(out, ro.ID) || !strings.Contains(out, "CANDIDATE %") {
		t.Fatalf("rollout status --service: %q %v", out, err)
	}
	if _, err := runCmd(t, newRolloutCmd(), "resume", "--server", url, ro.ID); err == nil || !strings.Contains(err.Error(), "is running") {
		t.Fatalf("resume while running: %v", err)
	}
	out, err = runCmd(t, newRolloutCmd(), "rollback", "--server", url, ro.ID, "--reason", "pager")
	if err != nil || !strings.Contains(out, "state rolled_back") || !strings.Contains(out, "ended") || !strings.Contains(out, "pager") {
		t.Fatalf("rollout rollback: %q %v", out, err)
	}

	rings := write("rollout.json", `{"service": "invoice-agent", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "rings", "rings": [{"name": "internal", "match": {"tenant": ["contoso-it"]}}, {"name": "org", "match": {}}]}}`)
	out, err = runCmd(t, newRolloutCmd(), "start", "--server", url, "--file", rings, "--reason", "from a file")
	if err != nil || !strings.Contains(out, "ring internal (1/2)") || !strings.Contains(out, "from a file") {
		t.Fatalf("rollout start --file: %q %v", out, err)
	}
}

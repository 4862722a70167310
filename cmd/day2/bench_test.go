package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/loadgen"
)

func TestBenchApprovals(t *testing.T) {
	dir := t.TempDir()
	policy := fmt.Sprintf(benchPolicy, yamlString("bench-agent"), yamlString("lookup_vendor"))
	if err := os.WriteFile(filepath.Join(dir, "bench.yaml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	a := serveApp(t, app.Options{DataDir: t.TempDir(), ConfigDir: dir})

	out, code := runCLI(t, "bench", "approvals", "--server", a.HTTPURL(), "--rate", "200", "--duration", "2s", "--warmup", "500ms", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var rep loadgen.ApprovalsReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("the output is not a JSON report: %v\n%s", err, out)
	}
	if rep.Approved == 0 || rep.Approved != rep.Requests || rep.Errors != 0 || rep.WarmupErrors != 0 || rep.OfferedPerSecond != 200 {
		t.Fatalf("report: %d approved of %d, %d errors (%d in the warmup) at %.0f/s; first error %q",
			rep.Approved, rep.Requests, rep.Errors, rep.WarmupErrors, rep.OfferedPerSecond, rep.FirstError)
	}

	// day2 stored every request as an approved Tier 0 approval.
	resp, err := http.Get(a.HTTPURL() + "/api/v1/approvals?service=bench-agent&limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Approvals []struct {
			State string `json:"state"`
			Tier  int    `json:"tier"`
		} `json:"approvals"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("list approvals: HTTP %d, %v", resp.StatusCode, err)
	}
	if int64(len(list.Approvals)) < rep.Requests+rep.WarmupRequests {
		t.Errorf("day2 holds %d approvals, the report counts %d requests sent", len(list.Approvals), rep.Requests+rep.WarmupRequests)
	}
	for _, ap := range list.Approvals {
		if ap.State != "approved" || ap.Tier != 0 {
			t.Fatalf("an approval is %s at Tier %d", ap.State, ap.Tier)
		}
	}
}

func TestBenchApprovalsFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"a zero rate", []string{"--rate", "0"}, "--rate 0"},
		{"no measured window", []string{"--duration", "5s", "--warmup", "5s"}, "--duration 5s must be longer than warmup 5s"},
		{"no connection", []string{"--connections", "0"}, "--connections 0"},
		{"an unknown output", []string{"--output", "xml"}, `--output "xml"`},
		{"a malformed duration", []string{"--duration", "soon"}, "--duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The server is never reached: flags are checked first.
			args := append([]string{"bench", "approvals", "--server", "http://127.0.0.1:1"}, tt.args...)
			out, code := runCLI(t, args...)
			if code != 2 || !strings.Contains(out, tt.want) {
				t.Errorf("exit %d, want 2 with %q:\n%s", code, tt.want, out)
			}
		})
	}
	// An unreachable server is a failed run.
	out, code := runCLI(t, "bench", "approvals", "--server", "http://127.0.0.1:1", "--duration", "2s", "--warmup", "1s")
	if code != 1 || !strings.Contains(out, "cannot reach") {
		t.Errorf("exit %d, want 1 with cannot reach:\n%s", code, out)
	}
}

package app_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// buildDay2 compiles cmd/day2 once per test binary.
var buildDay2 = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "day2-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "day2")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/day2").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// day2Binary returns the day2 binary for tests that run it, and skips them
// in -short mode.
func day2Binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the day2 binary")
	}
	bin, err := buildDay2()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

type serveProc struct {
	cmd *exec.Cmd
	url string
	log *bytes.Buffer
}

// batch builds an OTLP protobuf request of tasks with distinct trace ids derived
// from seq, each with a root and two children.
func batch(seq, tasks int) ([]byte, [][16]byte) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "crash-agent")
	ss := rs.ScopeSpans().AppendEmpty()
	now := time.Now()
	var ids [][16]byte
	for i := 0; i < tasks; i++ {
		var tid [16]byte
		binary.BigEndian.PutUint64(tid[:8], uint64(seq)+1)
		binary.BigEndian.PutUint64(tid[8:], uint64(i)+1)
		ids = append(ids, tid)
		for s := 1; s <= 3; s++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetTraceID(pcommon.TraceID(tid))
			sp.SetSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, byte(s)})
			if s > 1 {
				sp.SetParentSpanID(pcommon.SpanID{0, 0, 0, 0, 0, 0, 0, 1})
				sp.SetName("llm.tool")
				sp.Attributes().PutStr("status", "ok")
			} else {
				sp.SetName("crash task")
			}
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Second)))
		}
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		panic(err)
	}
	return body, ids
}

// TestKillNineLosesNothingAcknowledged kills a real `day2 serve` with SIGKILL while
// senders are posting, restarts it on the same data directory, and checks that
// every span acknowledged with a 200 is there.
func TestKillNineLosesNothingAcknowledged(t *testing.T) {
	bin := day2Binary(t)
	dataDir := t.TempDir()
	srv := startServeWith(t, bin, "--data", dataDir)

	// Let the senders get going, then kill the server mid-stream.
	ids := sendUntilKilled(t, srv, 2000, func(client *http.Client, w, n int) [][16]byte {
		body, ids := batch((n*4+w+1)*1000, 50)
		resp, err := client.Post(srv.url+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			return nil // the server is gone: this batch was never acknowledged
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil
		}
		return ids
	})
	t.Logf("%d tasks (%d spans) acknowledged before SIGKILL", len(ids), 3*len(ids))

	again := startServeWith(t, bin, "--data", dataDir)
	missing := 0
	for _, id := range ids {
		var task struct {
			SpanCount int `json:"span_count"`
		}
		resp, err := http.Get(fmt.Sprintf("%s/api/v1/tasks/%x", again.url, id))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			missing++
			resp.Body.Close()
			continue
		}
		decodeJSON(t, resp, &task)
		if task.SpanCount != 3 {
			t.Errorf("task %x has %d spans after restart, want 3", id, task.SpanCount)
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged tasks are missing after kill -9", missing, len(ids))
	}
}

// sendUntilKilled runs four senders against srv until it has acknowledged
// want items (or 30 s have passed), kills it with SIGKILL mid-stream, and
// returns every item acknowledged before the kill, at least one. send makes
// sender w's n-th request and returns what its answer acknowledged, nothing
// when there was no answer or a refusal.
func sendUntilKilled[T any](t *testing.T, srv *serveProc, want int, send func(client *http.Client, w, n int) []T) []T {
	t.Helper()
	var (
		mu    sync.Mutex
		acked []T
	)
	ctx, cancel := context.WithCancel(context.Background())
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				if got := send(client, w, n); len(got) > 0 {
					mu.Lock()
					acked = append(acked, got...)
					mu.Unlock()
				}
			}
		})
	}
	enough := func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= want }
	for deadline := time.Now().Add(30 * time.Second); !enough() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	killNine(t, srv)
	cancel()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatalf("nothing was acknowledged before the kill; log:\n%s", srv.log)
	}
	return acked
}

// killNine kills srv with SIGKILL and waits for it to exit.
func killNine(t *testing.T, srv *serveProc) {
	t.Helper()
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait()
}

func hexID(id [16]byte) string { return fmt.Sprintf("%x", id) }

// TestKillNineLosesNoApproval kills a real `day2 serve` with SIGKILL while
// agents ask for Tier 0 and Tier 1 approvals, restarts it on the same data
// directory, and checks that every request answered before the kill is there
// in the state it was answered with, with its audit entry.
func TestKillNineLosesNoApproval(t *testing.T) {
	bin := day2Binary(t)
	dataDir, configDir := t.TempDir(), t.TempDir()
	policy := `apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: crash}
spec:
  service: crash-agent
  rules:
    - {action: lookup_vendor, tier: 0}
    - {action: pay_invoice, tier: 1}
  approvers:
    tier1: {groups: [ops]}
    tier2: {groups: [manager]}
`
	if err := os.WriteFile(filepath.Join(configDir, "policy.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeWith(t, bin, "--data", dataDir, "--config", configDir)

	type answered struct{ id, state string }
	all := sendUntilKilled(t, srv, 1000, func(client *http.Client, w, n int) []answered {
		action := "lookup_vendor"
		if n%4 == 3 {
			action = "pay_invoice"
		}
		body := fmt.Sprintf(`{"service": "crash-agent", "environment": "prod", "action": %q,
			"context": {"confidence": 0.5}, "idempotency_key": "crash-%d-%d"}`, action, w, n)
		resp, err := client.Post(srv.url+"/api/v1/approvals", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			return nil // the server is gone: this request was never answered
		}
		defer resp.Body.Close()
		var got struct{ ID, State string }
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&got) != nil {
			return nil
		}
		return []answered{{got.ID, got.State}}
	})
	t.Logf("%d approval requests answered before SIGKILL", len(all))

	again := startServeWith(t, bin, "--data", dataDir, "--config", configDir)
	states := map[string]int{}
	for _, a := range all {
		states[a.state]++
		resp, err := http.Get(again.url + "/api/v1/approvals/" + a.id)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ State string }
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			t.Fatalf("approval %s (answered %s) is missing after kill -9: %s", a.id, a.state, resp.Status)
		}
		decodeJSON(t, resp, &got)
		if got.State != a.state {
			t.Errorf("approval %s was answered %s, and is %s after kill -9", a.id, a.state, got.State)
		}
		resp, err = http.Get(again.url + "/api/v1/audit?action=approval.request&target=approval/" + a.id)
		if err != nil {
			t.Fatal(err)
		}
		var audit struct{ Entries []struct{ Target string } }
		decodeJSON(t, resp, &audit)
		if len(audit.Entries) != 1 {
			t.Errorf("approval %s has %d approval.request audit entries after kill -9, want 1", a.id, len(audit.Entries))
		}
	}
	if states["approved"] == 0 || states["pending"] == 0 {
		t.Errorf("answers before the kill: %v; want both approved (Tier 0) and pending (Tier 1)", states)
	}
}

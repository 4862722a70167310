package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/day2ops/day2/app"
)

// postTasks posts n tasks of service ending in the last hour, failing ones first.
func postTasks(t *testing.T, url, service string, n, failing int) {
	t.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	rs.Resource().Attributes().PutStr("deployment.environment.name", "prod")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	now := time.Now().Add(-30 * time.Minute)
	for i := 0; i < n; i++ {
		sp := spans.AppendEmpty()
		var tid [16]byte
		copy(tid[:], service)
		tid[14], tid[15] = byte(i>>8), byte(i)
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID{1})
		sp.SetName("task")
		start := now.Add(time.Duration(i) * time.Second)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
		ev := sp.Events().AppendEmpty()
		ev.SetName("outcome")
		ev.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
		ev.Attributes().PutBool("success", i >= failing)
	}
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	resp, err := http.Post(url+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post tasks: %v %v", err, resp)
	}
	resp.Body.Close()
}

func runCLI(t *testing.T, args ...string) (stdout string, code int) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	if err == nil {
		return out.String(), 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return out.String() + err.Error(), ee.code
	}
	return out.String() + err.Error(), 2
}

// serveApp starts day2 with opts on a free port, with EvalInterval an hour
// unless set, and stops it when t ends.
func serveApp(t *testing.T, opts app.Options) *app.App {
	t.Helper()
	opts.HTTPAddr = "127.0.0.1:0"
	if opts.EvalInterval == 0 {
		opts.EvalInterval = time.Hour
	}
	a, err := app.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return a
}

func TestGateExitCodes(t *testing.T) {
	a := serveApp(t, app.Options{DataDir: t.TempDir()})

	postTasks(t, a.HTTPURL(), "healthy-agent", 100, 0)
	postTasks(t, a.HTTPURL(), "broken-agent", 100, 60)
	summary := filepath.Join(t.TempDir(), "summary.md")
	t.Setenv("GITHUB_STEP_SUMMARY", summary)

	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"a healthy service may release", []string{"gate", "--server", a.HTTPURL(), "--service", "healthy-agent"}, 0, "releases ALLOWED (error budget policy: healthy)"},
		{"an exhausted budget blocks", []string{"gate", "--server", a.HTTPURL(), "--service", "broken-agent"}, 1, "releases BLOCKED (error budget policy: frozen)"},
		{"json output", []string{"gate", "--server", a.HTTPURL(), "--service", "broken-agent", "--output", "json"}, 1, `"allowed":false`},
		{"an unknown service is an error", []string{"gate", "--server", a.HTTPURL(), "--service", "nobody"}, 2, `no service "nobody"`},
		{"an unreachable server is an error", []string{"gate", "--server", "http://127.0.0.1:1", "--service", "x"}, 2, "cannot reach day2"},
		{"--service is required", []string{"gate", "--server", a.HTTPURL()}, 2, "--service is required"},
		{"slo status lists the SLOs", []string{"slo", "status", "--server", a.HTTPURL(), "--service", "broken-agent"}, 0, "broken-agent/task-success"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Fatalf("exit %d, want %d; output does not contain %q:\n%s", code, tt.code, tt.out, out)
			}
		})
	}
	md, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(md), "day2 release gate: broken-agent blocked") || !strings.Contains(string(md), "| broken-agent/task-success |") {
		t.Fatalf("GitHub step summary = %q, %v", md, err)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/sqlite"
)

// runFlagsCLI runs `day2 flags ARGS...` and returns its output and exit code.
func runFlagsCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newFlagsCmd()
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

func TestFlagsCLI(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const opToken, agentToken = "cli-operator-token-0123456789", "cli-agent-token-0123456789"
	a, err := auth.Parse([]byte("tokens:\n  - {name: oncall, token: \""+opToken+"\", scopes: [read, operate]}\n  - {name: agent, token: \""+agentToken+"\", scopes: [ingest]}\n"), "auth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs, err := flags.ParseFlagSet([]byte(`flags:
  new-planner:
    state: ENABLED
    variants: {on: true, off: false}
    defaultVariant: off
    targeting: {if: [{ends_with: [{var: email}, "@day2.dev"]}, "on", null]}
  canary:
    state: ENABLED
    variants: {on: true, off: false}
    defaultVariant: off
    targeting: {fractional: [["on", 50], ["off", 50]]}
`))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := flags.NewService(st, fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := httpapi.New(httpapi.Options{Store: st, Auth: a, Logger: slog.New(slog.DiscardHandler)})
	httpapi.RegisterOFREP(s, svc)
	httpapi.RegisterFlags(s, svc)
	srv := httptest.NewServer(s)
	defer srv.Close()

	flagFile := filepath.Join(t.TempDir(), "max-tool-calls.yaml")
	if err := os.WriteFile(flagFile, []byte("state: ENABLED\nvariants: {low: 5, high: 50}\ndefaultVariant: low\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	op := []string{"--server", srv.URL, "--token", opToken}
	agent := []string{"--server", srv.URL, "--token", agentToken}
	with := func(base []string, args ...string) []string { return append(args, base...) }
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"list shows the configured flags", with(op, "list"), 0, "new-planner  ENABLED  off      off,on    yes        config"},
		{"eval with attributes", with(agent, "eval", "new-planner", "--attr", "email=ana@day2.dev"), 0, "new-planner = true (variant on, reason TARGETING_MATCH)"},
		{"eval without a match", with(agent, "eval", "new-planner", "--key", "u1", "--attr", "email=bob@x.com"), 0, "new-planner = false (variant off, reason DEFAULT)"},
		{"eval a split", with(agent, "eval", "canary", "--key", "user-42"), 0, "reason SPLIT"},
		{"eval a split without a key fails", with(agent, "eval", "canary"), 2, "TARGETING_KEY_MISSING"},
		{"eval an unknown flag", with(agent, "eval", "nope"), 2, "FLAG_NOT_FOUND"},
		{"eval without a token", []string{"eval", "canary", "--server", srv.URL}, 2, "pass --token"},
		{"set needs a reason", with(op, "set", "new-planner", "--state", "off"), 2, "--reason is required"},
		{"set needs a change", with(op, "set", "new-planner", "--reason", "x"), 2, "nothing to change"},
		{"set rejects a bad state", with(op, "set", "new-planner", "--state", "maybe", "--reason", "x"), 2, `--state "maybe"`},
		{"an agent token cannot change flags", with(agent, "set", "new-planner", "--state", "off", "--reason", "x"), 2, "lacks the \"operate\" scope"},
		{"the kill switch", with(op, "set", "new-planner", "--state", "off", "--reason", "incident 42"), 0, "new-planner: runtime (overrides config)\nlast changed by oncall"},
		{"eval of a disabled flag", with(agent, "eval", "new-planner", "--attr", "email=ana@day2.dev"), 0, "new-planner is disabled: SDKs use their code default"},
		{"get shows the change", with(op, "get", "new-planner"), 0, `"state": "DISABLED"`},
		{"list shows who changed it", with(op, "list"), 0, "runtime (overrides config)  oncall"},
		{"reset brings the config back", with(op, "reset", "new-planner", "--reason", "fixed"), 0, "run-time change removed; now in force:\nnew-planner: config"},
		{"put creates a flag", with(op, "put", "max-tool-calls", "--file", flagFile, "--reason", "cap loops"), 0, "max-tool-calls: runtime"},
		{"eval a number flag", with(agent, "eval", "max-tool-calls", "--output", "json"), 0, `"value":5`},
		{"reset a run-time flag removes it", with(op, "reset", "max-tool-calls", "--reason", "done"), 0, "max-tool-calls removed"},
		{"get an unknown flag", with(op, "get", "max-tool-calls"), 2, `no flag "max-tool-calls"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runFlagsCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.out) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d containing %q", code, out, tt.code, tt.out)
			}
		})
	}
	entries, err := st.ListAudit(ctx, day2.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action+" "+e.Target+" by "+e.Actor+": "+e.Reason)
	}
	want := "flag.patch flag/new-planner by oncall: incident 42|flag.delete flag/new-planner by oncall: fixed|flag.put flag/max-tool-calls by oncall: cap loops|flag.delete flag/max-tool-calls by oncall: done"
	if strings.Join(actions, "|") != want {
		t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(actions, "\n"), strings.ReplaceAll(want, "|", "\n"))
	}
}

func TestFlagAttrValue(t *testing.T) {
	tests := map[string]any{"2.1.0": "2.1.0", "42": 42.0, "true": true, `"01234"`: "01234", "ana@x.com": "ana@x.com", `["a"]`: []any{"a"}, "": ""}
	for in, want := range tests {
		got := flagAttrValue(in)
		if g, ok := got.([]any); ok {
			if len(g) != 1 || g[0] != "a" {
				t.Errorf("flagAttrValue(%q) = %#v", in, got)
			}
			continue
		}
		if got != want {
			t.Errorf("flagAttrValue(%q) = %#v, want %#v", in, got, want)
		}
	}
}

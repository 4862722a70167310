package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	valid := filepath.Join("..", "..", "config", "testdata", "valid")
	invalid := filepath.Join("..", "..", "config", "testdata", "invalid")
	cases := []struct {
		name   string
		args   []string
		code   int      // 0: success
		stdout []string // fragments, in order
		stderr []string // lines, exactly
	}{
		{"a valid directory prints a summary", []string{"--config", valid}, 0,
			[]string{"config OK: 7 files, 4 SLOs (checkout-agent/refunds-fast-most-within-a-minute", "2 services\ndefaults: task-success at least 98% over 28d;", "budget policy: at risk below 30%"}, nil},
		{"an invalid directory lists every problem with file and line", []string{"--config", invalid}, 1, nil, []string{
			filepath.Join(invalid, "day2.yaml") + ":8: escalation_rate is bounded by the share of tasks escalated to a person, so write the most it may be: max_rate: 0.05 (at most 5%), not target",
			filepath.Join(invalid, "day2.yaml") + `:11: unknown kind "Flag" for apiVersion day2/v1; feature flags are kind: FeatureFlags, with a flagd flag set as spec; valid kinds are AlertRule, ApprovalPolicy, BudgetPolicy, FeatureFlags, IncidentSettings, Notifier, SLODefaults`,
			filepath.Join(invalid, "slos.yaml") + `:10: duration "28D" uses "D"; units are case-sensitive: write 28d (M is months, m is minutes)`,
			filepath.Join(invalid, "slos.yaml") + ":14: target must be a fraction like 0.999; did you mean targetPercent: 99.9?",
		}},
		{"a missing directory", []string{"--config", filepath.Join(invalid, "nope")}, 1, nil, []string{
			filepath.Join(invalid, "nope") + ": config directory does not exist; check --config (it names a directory of OpenSLO and day2 YAML files)",
		}},
		{"--config is required", nil, 2, nil, nil},
		{"an unknown output format", []string{"--config", valid, "--output", "xml"}, 2, nil, nil},
		{"a positional directory", []string{valid}, 2, nil, nil},
		{"json output for a valid directory", []string{"--config", valid, "--output", "json"}, 0,
			[]string{`"valid": true`, `"checkout-agent/prod-success"`, `"summary": "config OK: 7 files`}, nil},
		{"json output for an invalid directory", []string{"--config", invalid, "--output", "json"}, 1,
			[]string{`"valid": false`, `"line": 8`, `"message": "duration \"28D\" uses \"D\"`}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := newValidateCmd()
			var stdout, stderr bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cmd.SetArgs(tc.args)
			err := cmd.Execute()
			code := 0
			if err != nil {
				var ee *exitError
				if !errors.As(err, &ee) {
					t.Fatalf("error %v is not an exitError", err)
				}
				code = ee.code
			}
			if code != tc.code {
				t.Fatalf("exit code %d (%v), want %d; stderr:\n%s", code, err, tc.code, stderr.String())
			}
			rest := stdout.String()
			for _, frag := range tc.stdout {
				i := strings.Index(rest, frag)
				if i < 0 {
					t.Fatalf("stdout lacks %q (in order):\n%s", frag, stdout.String())
				}
				rest = rest[i+len(frag):]
			}
			if tc.stderr != nil {
				if got := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tc.stderr, "\n") {
					t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), strings.Join(tc.stderr, "\n"))
				}
			}
			if strings.Contains(strings.Join(tc.args, " "), "json") && !json.Valid(stdout.Bytes()) {
				t.Errorf("stdout is not JSON:\n%s", stdout.String())
			}
		})
	}
}

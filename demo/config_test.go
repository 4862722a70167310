package demo

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/day2ops/day2/config"
	"github.com/day2ops/day2/slo"
)

func TestWriteConfigIsValidDay2Config(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "config")
	opts := ConfigOptions{WebhookURL: "http://127.0.0.1:9/day2", WebhookSecret: "s3cr3t", ApprovalTimeout: 90 * time.Second, RuleWindow: 3 * time.Minute}
	// Writing twice replaces the files, as a second `day2 demo --data DIR` would.
	for range 2 {
		if err := WriteConfig(dir, opts); err != nil {
			t.Fatalf("WriteConfig: %v", err)
		}
	}
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"alert-rules.yaml", "approvals.yaml", "budget-policy.yaml", "flags.yaml", "invoices-slo.yaml",
		"notifier.yaml", "runbooks/tool-failure.md", "slo-defaults.yaml"}
	if !slices.Equal(names, wantNames) {
		t.Errorf("WriteConfig wrote %v, want %v", names, wantNames)
	}

	cfg, err := config.LoadDir(dir)
	if err != nil {
		t.Fatalf("config.LoadDir refuses the demo config:\n%v", err)
	}
	t.Logf("%s", cfg.Summary())

	if len(cfg.SLOs) != 1 {
		t.Fatalf("custom SLOs %+v, want exactly one", cfg.SLOs)
	}
	got := cfg.SLOs[0]
	filter := slo.Filter{Environment: "prod", RiskTier: "2"}
	want := struct {
		Name, Service string
		Objective     float64
		Window        slo.TimeWindow
		Method        slo.BudgetingMethod
		Indicator     slo.Indicator
		Builtin       bool
	}{
		Name: "invoice-agent/high-risk-success", Service: "invoice-agent", Objective: 0.95,
		Window: slo.TimeWindow{Duration: 7 * 24 * time.Hour, Rolling: true, Text: "7d"},
		Method: slo.Occurrences,
		Indicator: slo.Indicator{
			Good:  &slo.Selector{Event: slo.EventTaskSuccess, Filter: filter},
			Total: slo.Selector{Event: slo.EventTasks, Filter: filter},
		},
	}
	if got.Name != want.Name || got.Service != want.Service || got.Objective != want.Objective ||
		!reflect.DeepEqual(got.Window, want.Window) || got.Method != want.Method ||
		!reflect.DeepEqual(got.Indicator, want.Indicator) || got.Builtin != want.Builtin {
		t.Errorf("custom SLO\n got %+v\nwant %+v", got, want)
	}
	if len(cfg.Services) != 1 || cfg.Services[0].Name != "invoice-agent" {
		t.Errorf("services %+v, want invoice-agent", cfg.Services)
	}
	if len(cfg.Alerting) != 0 {
		t.Errorf("alerting %+v, want none: the custom SLO uses the default burn-rate pairs", cfg.Alerting)
	}

	// The defaults are spelt out with the built-in values: the same four SLOs
	// as without a config.
	if cfg.Defaults.Disabled {
		t.Fatal("the demo config disables the built-in SLOs")
	}
	builtins := slo.Defaults(outageService, slo.DefaultsSettings{})
	configured := slo.Defaults(outageService, cfg.Defaults)
	if len(configured) != 4 {
		t.Fatalf("the demo config keeps %d built-in SLOs, want 4", len(configured))
	}
	for i, b := range builtins {
		c := configured[i]
		if c.Name != b.Name || c.Objective != b.Objective || !reflect.DeepEqual(c.Window, b.Window) ||
			!reflect.DeepEqual(c.Indicator, b.Indicator) || c.BusinessHours != nil || c.Description != b.Description {
			t.Errorf("built-in %s\n got %+v\nwant %+v", b.Name, c, b)
		}
	}
	if cfg.Policy.AtRiskBelow != 0.25 {
		t.Errorf("at_risk_below %v, want 0.25", cfg.Policy.AtRiskBelow)
	}

	// What the operations story needs, with the options written in.
	if len(cfg.ApprovalPolicies) != 1 {
		t.Fatalf("approval policies %+v, want one", cfg.ApprovalPolicies)
	}
	if p := cfg.ApprovalPolicies[0]; p.Service != "invoice-agent" || p.Timeout.D() != 90*time.Second || len(p.Rules) != 3 ||
		p.AutoApprove == nil || p.AutoApprove.MinConfidence != 0.9 {
		t.Errorf("approval policy %+v, want invoice-agent's three rules, timeout 90s and auto-approval at 0.9", p)
	}
	if len(cfg.AlertRules) != 1 {
		t.Fatalf("alert rules %+v, want one", cfg.AlertRules)
	}
	if r := cfg.AlertRules[0]; r.Service != accountService || r.SLI != "tool_failure" || r.Window.D() != 3*time.Minute || r.Runbook != "tool-failure" {
		t.Errorf("alert rule %+v, want account-agent's tool_failure over 3m with runbook tool-failure", r)
	}
	if _, ok := cfg.Runbooks["tool-failure"]; !ok {
		t.Errorf("runbooks %v lack tool-failure", slices.Collect(maps.Keys(cfg.Runbooks)))
	}
	for _, key := range []string{crmKillSwitch, accountRetryFlag} {
		if _, ok := cfg.Flags[key]; !ok {
			t.Errorf("flag %s is not configured", key)
		}
	}
	if len(cfg.Notifiers) != 1 || cfg.Notifiers[0].URL != opts.WebhookURL || cfg.Notifiers[0].Secret != opts.WebhookSecret {
		t.Errorf("notifiers %+v, want the webhook at %s with its secret", cfg.Notifiers, opts.WebhookURL)
	}
	if fi, err := os.Stat(filepath.Join(dir, "notifier.yaml")); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("notifier.yaml holds the secret but is readable by others: %v %v", fi.Mode(), err)
	}

	// Without a webhook there is no notifier, and the rest still loads.
	bare := filepath.Join(t.TempDir(), "bare")
	if err := WriteConfig(bare, ConfigOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.LoadDir(bare)
	if err != nil {
		t.Fatalf("config.LoadDir refuses the demo config without a webhook:\n%v", err)
	}
	if len(cfg.Notifiers) != 0 || len(cfg.AlertRules) != 1 || cfg.ApprovalPolicies[0].Timeout.D() != 2*time.Minute {
		t.Errorf("without options: notifiers %+v, rules %d, approval timeout %s; want none, 1, 2m",
			cfg.Notifiers, len(cfg.AlertRules), cfg.ApprovalPolicies[0].Timeout)
	}
}

func TestWriteConfigRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string]ConfigOptions{
		"a rule window that is not whole minutes": {RuleWindow: 90 * time.Second},
		"a negative approval timeout":             {ApprovalTimeout: -time.Second},
		"a webhook without a secret":              {WebhookURL: "http://127.0.0.1:9/day2"},
	} {
		if err := WriteConfig(t.TempDir(), opts); err == nil {
			t.Errorf("%s: WriteConfig accepted %+v", name, opts)
		}
	}
}

// The custom SLO must suit the simulated invoice agent: high-risk invoices
// succeed comfortably above its objective, so it spends part of its budget but
// neither exhausts it nor puts the agent at risk.
func TestHighRiskInvoicesMeetTheCustomSLO(t *testing.T) {
	const objective = 0.95
	for _, s := range []Stream{{"invoice-agent", "2.3.1", "prod"}, {"invoice-agent", "2.4.0", "prod"}} {
		g, err := NewGenerator(s, 11)
		if err != nil {
			t.Fatal(err)
		}
		var tasks, good int
		for i := range 60000 {
			p := g.Next(tuesdayMorning.Add(time.Duration(i) * 7 * time.Second))
			if attrMap(p.Root.Attrs)["risk_tier"].AsInt64() != 2 {
				continue
			}
			tasks++
			if p.Outcome.Success {
				good++
			}
		}
		burn, _ := slo.BurnRate(objective, slo.Counts{Good: float64(good), Total: float64(tasks)})
		t.Logf("%s: %d of %d high-risk invoices succeeded, burn rate %.2f", s, good, tasks, burn)
		if tasks < 300 || burn > 0.8 || burn < 0.2 {
			t.Errorf("%s: %d high-risk invoices burn the SLO's budget at %.2f, want hundreds at 0.2 to 0.8", s, tasks, burn)
		}
	}
}

package demo

import (
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
	// Writing twice replaces the files, as a second `day2 demo --data DIR` would.
	for range 2 {
		if err := WriteConfig(dir); err != nil {
			t.Fatalf("WriteConfig: %v", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"budget-policy.yaml", "invoices-slo.yaml", "slo-defaults.yaml"}; !slices.Equal(names, want) {
		t.Errorf("WriteConfig wrote %v, want %v", names, want)
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

package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2/slo"
)

const day = 24 * time.Hour

// strip returns d without its time zones and with the zones' names, so that
// definitions compare with reflect.DeepEqual.
func strip(d slo.Definition) (slo.Definition, string) {
	zone := ""
	if d.Window.Location != nil {
		zone = d.Window.Location.String()
		d.Window.Location = nil
	}
	if !d.Window.CalendarStart.IsZero() {
		d.Window.CalendarStart = d.Window.CalendarStart.UTC()
	}
	return d, zone
}

func TestLoadDirReadsTheExampleDirectory(t *testing.T) {
	cfg, err := LoadDir("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "valid")
	wantFiles := []string{
		filepath.Join(dir, "alerting.yaml"), filepath.Join(dir, "day2.yml"), filepath.Join(dir, "services.yaml"),
		filepath.Join(dir, "slis.yaml"), filepath.Join(dir, "slos", "calendar.yaml"),
		filepath.Join(dir, "slos", "checkout.yaml"), filepath.Join(dir, "slos", "timeslices.yaml"),
	}
	if !reflect.DeepEqual(cfg.Files, wantFiles) {
		t.Errorf("files %v, want %v (hidden directories and other extensions skipped)", cfg.Files, wantFiles)
	}

	refunds := slo.Indicator{
		Good:  &slo.Selector{Event: "tasks", Filter: slo.Filter{RiskTier: "high", BusinessProcess: "refunds"}, CycleTimeLTE: 60000},
		Total: slo.Selector{Event: "tasks", Filter: slo.Filter{RiskTier: "high", BusinessProcess: "refunds"}},
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	month := slo.TimeWindow{Duration: 30 * day, CalendarStart: time.Date(2026, 1, 1, 0, 0, 0, 0, berlin).UTC(),
		CalendarUnit: "M", CalendarCount: 1, Text: "1M"}
	slowBurn := slo.WindowPair{Severity: slo.Ticket, Long: 3 * day, Short: 6 * time.Hour, Threshold: 1}
	fastBurn := slo.WindowPair{Severity: slo.Page, Long: time.Hour, Short: 5 * time.Minute, Threshold: 14.4}
	want := []struct {
		def  slo.Definition
		zone string
	}{
		{slo.Definition{
			Name: "checkout-agent/refunds-fast-most-within-a-minute", Service: "checkout-agent", Objective: 0.9,
			Window: month, Method: slo.Occurrences, Indicator: refunds,
			AlertPairs: []slo.WindowPair{slowBurn}, MinEvents: 10, Source: filepath.Join(dir, "slos", "calendar.yaml") + ":2",
		}, "Europe/Berlin"},
		{slo.Definition{
			Name: "checkout-agent/refunds-fast-nearly-all-within-a-minute", Service: "checkout-agent", Objective: 0.8,
			Window: month, Method: slo.Occurrences, Indicator: refunds,
			AlertPairs: []slo.WindowPair{slowBurn}, MinEvents: 10, Source: filepath.Join(dir, "slos", "calendar.yaml") + ":2",
		}, "Europe/Berlin"},
		{slo.Definition{
			Name: "checkout-agent/prod-success", Service: "checkout-agent", Description: "Checkout tasks in production succeed.",
			Objective: 0.995, Window: slo.TimeWindow{Duration: 28 * day, Rolling: true, Text: "28d"}, Method: slo.Occurrences,
			Indicator: slo.Indicator{
				Good:  &slo.Selector{Event: "task_success", Filter: slo.Filter{Environment: "prod", Version: "v2"}},
				Total: slo.Selector{Event: "tasks", Filter: slo.Filter{Environment: "prod", Version: "v2"}},
			},
			AlertPairs: []slo.WindowPair{fastBurn, slowBurn}, MinEvents: 20, Source: filepath.Join(dir, "slos", "checkout.yaml") + ":2",
		}, ""},
		{slo.Definition{
			Name: "support-agent/tool-slices", Service: "support-agent", Objective: 0.99,
			Window: slo.TimeWindow{Duration: 7 * day, Rolling: true, Text: "1w"}, Method: slo.Timeslices,
			TimesliceTarget: 0.95, TimesliceWindow: 5 * time.Minute,
			Indicator: slo.Indicator{
				Bad:   &slo.Selector{Event: "tool_failures", Filter: slo.Filter{Environment: "prod"}},
				Total: slo.Selector{Event: "tool_calls", Filter: slo.Filter{Environment: "prod"}},
			},
			MinEvents: 10, Source: filepath.Join(dir, "slos", "timeslices.yaml") + ":2",
		}, ""},
	}
	if len(cfg.SLOs) != len(want) {
		t.Fatalf("%d SLOs, want %d: %+v", len(cfg.SLOs), len(want), cfg.SLOs)
	}
	for i, w := range want {
		got, zone := strip(cfg.SLOs[i])
		if !reflect.DeepEqual(got, w.def) || zone != w.zone {
			t.Errorf("SLO %d:\n got %+v (zone %q)\nwant %+v (zone %q)", i, got, zone, w.def, w.zone)
		}
	}

	wantServices := []Service{
		{Name: "checkout-agent", DisplayName: "Checkout agent", Description: "Handles refunds and order changes for the web shop.", Source: filepath.Join(dir, "services.yaml") + ":2"},
		{Name: "support-agent", Source: filepath.Join(dir, "services.yaml") + ":10"},
	}
	if !reflect.DeepEqual(cfg.Services, wantServices) {
		t.Errorf("services %+v, want %+v", cfg.Services, wantServices)
	}

	alerting := filepath.Join(dir, "alerting.yaml")
	wantAlerting := map[string]Alerting{
		"checkout-agent/prod-success": {
			Policies: []string{"checkout-burn"},
			Conditions: []AlertCondition{
				{Name: "fast-burn", Pair: fastBurn, Op: "gte", AlertAfter: 2 * time.Minute, Source: alerting + ":11"},
				{Name: "slow-burn", Pair: slowBurn, Op: "gte", Source: alerting + ":28"},
			},
			NotificationTargets: []string{"on-call"},
		},
		"checkout-agent/refunds-fast-most-within-a-minute": {
			Policies:            []string{"refunds-slow-burn"},
			Conditions:          []AlertCondition{{Name: "slow-burn", Pair: slowBurn, Op: "gte", Source: alerting + ":28"}},
			NotificationTargets: []string{"refunds-team"},
		},
		"checkout-agent/refunds-fast-nearly-all-within-a-minute": {
			Policies:            []string{"refunds-slow-burn"},
			Conditions:          []AlertCondition{{Name: "slow-burn", Pair: slowBurn, Op: "gte", Source: alerting + ":28"}},
			NotificationTargets: []string{"refunds-team"},
		},
	}
	if !reflect.DeepEqual(cfg.Alerting, wantAlerting) {
		t.Errorf("alerting\n got %+v\nwant %+v", cfg.Alerting, wantAlerting)
	}
	wantTargets := []NotificationTarget{{Name: "on-call", Target: "pagerduty", Description: "The checkout on-call rotation.", Source: alerting + ":42"}}
	if !reflect.DeepEqual(cfg.NotificationTargets, wantTargets) {
		t.Errorf("notification targets %+v, want %+v", cfg.NotificationTargets, wantTargets)
	}

	// The four built-ins, overridden; compared as JSON since time zones are not.
	d := cfg.Defaults
	if d.CycleTime == nil || d.CycleTime.BusinessHours == nil || d.CycleTime.BusinessHours.Location.String() != "Europe/Berlin" ||
		d.CycleTime.Window == nil || d.CycleTime.Window.Location.String() != "UTC" {
		t.Fatalf("cycle-time defaults lack their time zones: %+v", d.CycleTime)
	}
	gotDefaults, _ := json.Marshal(d)
	wantDefaults := `{"disabled":false,` +
		`"task_success":{"disabled":false,"objective":0.98,"window":{"duration":2419200000000000,"rolling":true,"text":"28d"}},` +
		`"escalation_rate":{"disabled":false,"objective":0.97,"window":{"duration":1209600000000000,"rolling":true,"text":"14d"}},` +
		`"cycle_time":{"disabled":false,"objective":0.9,"window":{"duration":2592000000000000,"rolling":false,"calendar_start":"2026-01-01T00:00:00Z","calendar_unit":"M","calendar_count":1,"text":"1M"},` +
		`"cycle_time_ms":90000,"business_hours":{"days":[1,2,3,4,5],"start":32400000000000,"end":61200000000000,"text":"mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin"}},` +
		`"tool_failure":{"disabled":true}}`
	if string(gotDefaults) != wantDefaults {
		t.Errorf("defaults\n got %s\nwant %s", gotDefaults, wantDefaults)
	}
	if cfg.Policy.AtRiskBelow != 0.3 {
		t.Errorf("at_risk_below %v, want 0.3", cfg.Policy.AtRiskBelow)
	}

	wantSummary := "config OK: 7 files, 4 SLOs (checkout-agent/refunds-fast-most-within-a-minute, checkout-agent/refunds-fast-nearly-all-within-a-minute, checkout-agent/prod-success, support-agent/tool-slices), 2 services\n" +
		"defaults: task-success at least 98% over 28d; escalation-rate at most 3% over 14d; cycle-time at least 90% within 1m30s over 1M in business hours mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin; tool-failure off\n" +
		"budget policy: at risk below 30% of the error budget left"
	if s := cfg.Summary(); s != wantSummary {
		t.Errorf("summary\n got %s\nwant %s", s, wantSummary)
	}
}

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{"an empty file", "", func(t *testing.T, c *Config) {
			if len(c.SLOs) != 0 || c.Policy.AtRiskBelow != DefaultAtRiskBelow || c.Defaults != (slo.DefaultsSettings{}) {
				t.Errorf("not empty: %+v", c)
			}
		}},
		{"comments and empty documents", "# nothing yet\n---\n---\n# still nothing\n", func(t *testing.T, c *Config) {
			if len(c.SLOs)+len(c.Services) != 0 {
				t.Errorf("not empty: %+v", c)
			}
		}},
		{"targetPercent becomes an exact fraction", edit(sloDoc, "target: 0.99", "targetPercent: 99.9"), func(t *testing.T, c *Config) {
			if c.SLOs[0].Objective != 0.999 {
				t.Errorf("objective %v, want 0.999", c.SLOs[0].Objective)
			}
		}},
		{"a target of 0 is a valid if lax objective", edit(sloDoc, "target: 0.99", "target: 0"), func(t *testing.T, c *Config) {
			if c.SLOs[0].Objective != 0 {
				t.Errorf("objective %v, want 0", c.SLOs[0].Objective)
			}
		}},
		{"1m is a minute", edit(sloDoc, "duration: 28d", "duration: 1m"), func(t *testing.T, c *Config) {
			if w := c.SLOs[0].Window; w.Duration != time.Minute || !w.Rolling || w.Text != "1m" {
				t.Errorf("window %+v, want one rolling minute", w)
			}
		}},
		{"1M is a month of 30 days", edit(sloDoc, "duration: 28d", "duration: 1M"), func(t *testing.T, c *Config) {
			if w := c.SLOs[0].Window; w.Duration != 30*day || !w.Rolling {
				t.Errorf("window %+v, want 30 rolling days", w)
			}
		}},
		{"a quarter is 90 days", edit(sloDoc, "duration: 28d", "duration: 1Q"), func(t *testing.T, c *Config) {
			if w := c.SLOs[0].Window; w.Duration != 90*day {
				t.Errorf("window %+v, want 90 days", w)
			}
		}},
		{"a year is 365 days", edit(sloDoc, "duration: 28d", "duration: 1Y"), func(t *testing.T, c *Config) {
			if w := c.SLOs[0].Window; w.Duration != 365*day {
				t.Errorf("window %+v, want 365 days", w)
			}
		}},
		{"a calendar week from a date", edit(sloDoc, "duration: 28d\n      isRolling: true\n", "duration: 2w\n      isRolling: false\n      calendar: {startTime: 2026-03-02, timeZone: America/New_York}\n"), func(t *testing.T, c *Config) {
			w := c.SLOs[0].Window
			ny, _ := time.LoadLocation("America/New_York")
			if w.Rolling || w.Duration != 14*day || w.CalendarUnit != "w" || w.CalendarCount != 2 ||
				!w.CalendarStart.Equal(time.Date(2026, 3, 2, 0, 0, 0, 0, ny)) || w.Location.String() != "America/New_York" {
				t.Errorf("window %+v", w)
			}
		}},
		{"a calendar window may leave out isRolling", edit(sloDoc, "      isRolling: true\n", "      calendar: {startTime: \"2026-01-01 00:00:00\", timeZone: UTC}\n"), func(t *testing.T, c *Config) {
			if c.SLOs[0].Window.Rolling {
				t.Errorf("window %+v is rolling", c.SLOs[0].Window)
			}
		}},
		{"objectives without displayName are numbered", edit(sloDoc, "    - target: 0.99\n", "    - target: 0.99\n    - target: 0.9\n"), func(t *testing.T, c *Config) {
			if len(c.SLOs) != 2 || c.SLOs[0].Name != "checkout-agent/checkout-1" || c.SLOs[1].Name != "checkout-agent/checkout-2" || c.SLOs[1].Objective != 0.9 {
				t.Errorf("SLOs %+v", c.SLOs)
			}
		}},
		{"an SLO without alert policies uses the engine's pairs", sloDoc, func(t *testing.T, c *Config) {
			d := c.SLOs[0]
			if d.AlertPairs != nil || d.MinEvents != DefaultMinEvents || len(c.Alerting) != 0 || d.Source != "t.yaml:14" || d.Builtin {
				t.Errorf("definition %+v, alerting %+v", d, c.Alerting)
			}
		}},
		{"severities map to page and ticket", edit(alertDoc, "severity: page", "severity: warning"), func(t *testing.T, c *Config) {
			if p := c.SLOs[0].AlertPairs; len(p) != 1 || p[0].Severity != slo.Ticket {
				t.Errorf("pairs %+v", p)
			}
		}},
		{"the short window defaults to a twelfth of the long one", edit(alertDoc, "lookbackWindow: 1h", "lookbackWindow: 6h"), func(t *testing.T, c *Config) {
			if p := c.SLOs[0].AlertPairs[0]; p.Long != 6*time.Hour || p.Short != 30*time.Minute || p.Threshold != 14.4 {
				t.Errorf("pair %+v", p)
			}
		}},
		{"the default short window is at least a minute", edit(alertDoc, "lookbackWindow: 1h", "lookbackWindow: 5m"), func(t *testing.T, c *Config) {
			if p := c.SLOs[0].AlertPairs[0]; p.Short != time.Minute {
				t.Errorf("pair %+v", p)
			}
		}},
		{"op gt and the day2 extension", edit(alertDoc, "kind: burnrate\n", "kind: burnrate\n    op: gt\n", "alertAfter: 5m\n", "alertAfter: 5m\n    day2: {shortWindow: 10m, minEvents: 50}\n"), func(t *testing.T, c *Config) {
			a := c.Alerting["checkout-agent/checkout"]
			if p := c.SLOs[0].AlertPairs[0]; p.Short != 10*time.Minute || c.SLOs[0].MinEvents != 50 || len(a.Conditions) != 1 || a.Conditions[0].Op != "gt" || a.Conditions[0].AlertAfter != 5*time.Minute {
				t.Errorf("pair %+v, min events %d, alerting %+v", p, c.SLOs[0].MinEvents, a)
			}
		}},
		{"inline conditions without a name are named after the policy", edit(alertDoc, "    - conditionRef: fast\n", "    - conditionRef: fast\n    - spec: {severity: high, condition: {threshold: 6, lookbackWindow: 6h}}\n"), func(t *testing.T, c *Config) {
			a := c.Alerting["checkout-agent/checkout"]
			if len(a.Conditions) != 2 || a.Conditions[1].Name != "burn-2" || a.Conditions[1].Pair.Severity != slo.Page || a.Conditions[1].Source != "t.yaml:37" {
				t.Errorf("alerting %+v", a)
			}
		}},
		{"timeSliceWindow as a number of minutes", edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: Timeslices", "target: 0.99", "target: 0.99\n      timeSliceTarget: 1\n      timeSliceWindow: 10"), func(t *testing.T, c *Config) {
			if d := c.SLOs[0]; d.TimesliceWindow != 10*time.Minute || d.TimesliceTarget != 1 || d.Method != slo.Timeslices {
				t.Errorf("definition %+v", d)
			}
		}},
		{"a built-in's name is free once the built-in is off", edit(sloDoc, "name: checkout", "name: task-success") +
			"---\napiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: defaults}\nspec: {task_success: {disabled: true}}\n", func(t *testing.T, c *Config) {
			if c.SLOs[0].Name != "checkout-agent/task-success" || !c.Defaults.TaskSuccess.Disabled {
				t.Errorf("config %+v", c)
			}
		}},
		{"anchors share a metric source spec", "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: a}\nspec:\n  ratioMetric:\n    good: {metricSource: {type: day2, spec: {event: task_success, environment: &env prod}}}\n    total: {metricSource: {type: day2, spec: {event: tasks, environment: *env}}}\n", func(t *testing.T, c *Config) {}},
		{"metadata labels and annotations, a Service without spec, a DataSource", "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: a\n  labels: {team: payments, tags: [x, y]}\n  annotations: {example.com/owner: b}\n---\napiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: prom}\nspec: {type: Prometheus, connectionDetails: {anything: [1, 2]}}\n", func(t *testing.T, c *Config) {
			if len(c.Services) != 1 || c.Services[0].Name != "a" {
				t.Errorf("services %+v", c.Services)
			}
		}},
		{"all built-ins off, a rolling default window in months", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  disabled: true\n  task_success: {window: 1M}\n", func(t *testing.T, c *Config) {
			if !c.Defaults.Disabled || c.Defaults.TaskSuccess.Window.Duration != 30*day || !c.Defaults.TaskSuccess.Window.Rolling {
				t.Errorf("defaults %+v", c.Defaults)
			}
		}},
		{"plain policy names and inline notification targets", edit(alertDoc, "    - conditionRef: fast\n", "    - fast\n  notificationTargets:\n    - team-a\n    - {kind: AlertNotificationTarget, metadata: {name: team-b}, spec: {target: email}}\n    - targetRef: team-a\n"), func(t *testing.T, c *Config) {
			if a := c.Alerting["checkout-agent/checkout"]; !reflect.DeepEqual(a.NotificationTargets, []string{"team-a", "team-b"}) {
				t.Errorf("alerting %+v", a)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, cfg)
		})
	}
}

// writeDir writes files (relative path -> contents) under a new temporary
// directory and returns it.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadDir(t *testing.T) {
	t.Run("no directory given is an empty config", func(t *testing.T) {
		cfg, err := LoadDir("")
		if err != nil || len(cfg.SLOs) != 0 || cfg.Policy.AtRiskBelow != DefaultAtRiskBelow {
			t.Fatalf("LoadDir(\"\") = %+v, %v", cfg, err)
		}
	})
	t.Run("an empty directory is an empty config", func(t *testing.T) {
		cfg, err := LoadDir(t.TempDir())
		if err != nil || len(cfg.Files) != 0 || len(cfg.SLOs) != 0 {
			t.Fatalf("got %+v, %v", cfg, err)
		}
	})
	t.Run("a directory that does not exist says so", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "nope")
		_, err := LoadDir(dir)
		ps := problemsOf(t, err)
		if len(ps) != 1 || ps[0].File != dir || !strings.Contains(ps[0].Message, "config directory does not exist") {
			t.Fatalf("problems %v", ps)
		}
	})
	t.Run("a file instead of a directory is read alone", func(t *testing.T) {
		cfg, err := LoadDir(filepath.Join("testdata", "valid", "day2.yml"))
		if err != nil || len(cfg.Files) != 1 || cfg.Policy.AtRiskBelow != 0.3 {
			t.Fatalf("got %+v, %v", cfg, err)
		}
	})
	t.Run("references resolve across files and problems are collected from all", func(t *testing.T) {
		dir := writeDir(t, map[string]string{
			"a/slis.yaml": sli,
			"b/slo.yaml":  edit(sloDoc[len(sli)+len("---\n"):], "target: 0.99", "target: 99"),
			"c.yml":       "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: success}\nspec: {}\n",
			"d.yaml":      "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: {service: s, indicatorRef: missing, timeWindow: [{duration: 7d, isRolling: true}], budgetingMethod: Occurrences, objectives: [{target: 0.9}]}\n",
			"e.yaml":      "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: y}\nspec: {service: s, indicatorRef: success, timeWindow: [{duration: 7d, isRolling: true}], budgetingMethod: Occurrences, objectives: [{target: 0.9}]}\n",
			".git/x.yaml": "broken: [\n",
			"notes.txt":   "not config",
		})
		_, err := LoadDir(dir)
		ps := problemsOf(t, err)
		want := []Problem{
			{filepath.Join(dir, "b", "slo.yaml"), 13, "target must be a fraction like 0.999; did you mean targetPercent: 99?"},
			{filepath.Join(dir, "c.yml"), 1, `there is already an SLI named "success" at ` + filepath.Join(dir, "a", "slis.yaml") + ":1; names must be unique per kind"},
			{filepath.Join(dir, "c.yml"), 4, "the SLI spec needs ratioMetric"},
			{filepath.Join(dir, "d.yaml"), 4, `indicatorRef "missing" names no SLI; the SLI documents are success`},
		}
		if len(ps) != len(want) {
			t.Fatalf("problems:\n%v\nwant %v", ps, want)
		}
		for i, w := range want {
			if ps[i].File != w.File || ps[i].Line != w.Line || !strings.Contains(ps[i].Message, w.Message) {
				t.Errorf("problem %d: %v, want %v", i, ps[i], w)
			}
		}
	})
	t.Run("symbolic links to files are read, as in a Kubernetes ConfigMap volume", func(t *testing.T) {
		dir := writeDir(t, map[string]string{"..2026_01_01/slos.yaml": sloDoc})
		if err := os.Symlink("..2026_01_01", filepath.Join(dir, "..data")); err != nil {
			t.Skip("no symbolic links here:", err)
		}
		if err := os.Symlink(filepath.Join("..data", "slos.yaml"), filepath.Join(dir, "slos.yaml")); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadDir(dir)
		if err != nil || len(cfg.SLOs) != 1 || len(cfg.Files) != 1 {
			t.Fatalf("got %+v, %v", cfg, err)
		}
	})
	t.Run("at most MaxProblems problems are listed", func(t *testing.T) {
		var b strings.Builder
		for i := range 150 {
			fmt.Fprintf(&b, "---\napiVersion: openslo/v1\nkind: Service\nmetadata: {name: S%d}\n", i)
		}
		dir := writeDir(t, map[string]string{"many.yaml": b.String()})
		_, err := LoadDir(dir)
		ps := problemsOf(t, err)
		if len(ps) != MaxProblems+1 || ps[MaxProblems].Message != "... and 50 more problems; fix these and run again" || ps[0].Line != 4 || ps[1].Line != 8 {
			t.Fatalf("%d problems, first %v, last %v", len(ps), ps[0], ps[len(ps)-1])
		}
	})
}

func TestProblemsError(t *testing.T) {
	ps := Problems{{File: "a.yaml", Line: 3, Message: "x is wrong"}, {File: "dir", Message: "does not exist"}, {Message: "and more"}}
	want := "a.yaml:3: x is wrong\ndir: does not exist\nand more"
	if ps.Error() != want {
		t.Errorf("Error() = %q, want %q", ps.Error(), want)
	}
}

func TestParseShorthand(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		msg  string
	}{
		{"5m", 5 * time.Minute, ""},
		{"1h", time.Hour, ""},
		{"28d", 28 * day, ""},
		{"4w", 28 * day, ""},
		{"1M", 30 * day, ""},
		{"1Q", 90 * day, ""},
		{"2Y", 730 * day, ""},
		{"0m", 0, "must be longer than zero"},
		{"", 0, "is empty"},
		{"d", 0, "must start with a whole number"},
		{"-5m", 0, "must start with a whole number"},
		{"5", 0, "has no unit"},
		{"5 m", 0, "one word"},
		{"5s", 0, "uses seconds"},
		{"5H", 0, "write 5h"},
		{"5x", 0, `unknown unit "x"`},
		{"5min", 0, `unknown unit "min"`},
		{"1h30m", 0, "such as 90m instead of 1h30m"},
		{"2.5h", 0, "whole number"},
		{"99999999999Y", 0, "is too long"},
	}
	for _, tc := range cases {
		got, msg := parseShorthand(tc.in, false)
		if got.d != tc.want || !strings.Contains(msg, tc.msg) || (tc.msg == "") != (msg == "") {
			t.Errorf("parseShorthand(%q) = %v, %q; want %v, %q", tc.in, got.d, msg, tc.want, tc.msg)
		}
	}
}

func TestParseHours(t *testing.T) {
	cases := []struct {
		in         string
		start, end time.Duration
		ok         bool
	}{
		{"09:00-17:00", 9 * time.Hour, 17 * time.Hour, true},
		{"8:30 - 16:45", 8*time.Hour + 30*time.Minute, 16*time.Hour + 45*time.Minute, true},
		{"00:00-24:00", 0, 24 * time.Hour, true},
		{"17:00-09:00", 0, 0, false},
		{"09:00-09:00", 0, 0, false},
		{"9-17", 0, 0, false},
		{"09:00-24:30", 0, 0, false},
		{"09:60-10:00", 0, 0, false},
		{"09:00", 0, 0, false},
	}
	for _, tc := range cases {
		start, end, msg := parseHours(tc.in)
		if (msg == "") != tc.ok || start != tc.start || end != tc.end {
			t.Errorf("parseHours(%q) = %v, %v, %q", tc.in, start, end, msg)
		}
	}
}

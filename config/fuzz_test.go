package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/day2ops/day2/slo"
)

// FuzzParse checks that Parse never panics, that a file it accepts yields SLOs
// the engine can compute (objectives in [0, 1), positive windows, known events,
// usable alert pairs), and that a file it rejects gets problems with lines.
func FuzzParse(f *testing.F) {
	err := filepath.WalkDir("testdata", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		f.Add(data)
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"", "---\n---\n", sloDoc, alertDoc,
		edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: Timeslices", "target: 0.99", "target: 0.99\n      timeSliceTarget: 0.9\n      timeSliceWindow: 5m"),
		edit(sloDoc, "      isRolling: true\n", "      calendar: {startTime: 2026-01-01, timeZone: Europe/Berlin}\n"),
		"a: &a [*a, *a]\nb: &b [*a, *a]\nc: &c [*b, *b]\n",
		"apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec: {cycle_time: {target: 0.9, threshold: 2m, business_hours: {time_zone: UTC, days: [mon], hours: \"09:00-17:00\"}}}\n",
		"apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  <<: {service: x}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			checkRejected(t, data, cfg, err)
			return
		}
		checkAccepted(t, cfg)
	})
}

func checkRejected(t *testing.T, data []byte, cfg *Config, err error) {
	if cfg != nil {
		t.Fatal("Parse returned a config with its error")
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v is not Problems", err)
	}
	if len(ps) == 0 || len(ps) > MaxProblems+1 {
		t.Fatalf("%d problems", len(ps))
	}
	lines := bytes.Count(data, []byte("\n")) + 1
	for i, p := range ps {
		if i == MaxProblems {
			break // the "and N more" note
		}
		if p.File != "fuzz.yaml" || p.Line < 1 || p.Line > lines || strings.TrimSpace(p.Message) == "" {
			t.Fatalf("problem %+v (file has %d lines)", p, lines)
		}
	}
}

func checkAccepted(t *testing.T, cfg *Config) {
	if cfg == nil {
		t.Fatal("Parse returned neither a config nor an error")
	}
	names := map[string]bool{}
	for _, d := range cfg.SLOs {
		if names[d.Name] || !strings.HasPrefix(d.Name, d.Service+"/") || d.Service == "" {
			t.Fatalf("bad or repeated name %q (service %q)", d.Name, d.Service)
		}
		names[d.Name] = true
		if !(d.Objective >= 0 && d.Objective < 1) {
			t.Fatalf("%s: objective %v outside [0, 1)", d.Name, d.Objective)
		}
		checkWindow(t, d.Name, d.Window)
		switch d.Method {
		case slo.Occurrences:
			if d.TimesliceWindow != 0 || d.TimesliceTarget != 0 {
				t.Fatalf("%s: timeslice settings with Occurrences", d.Name)
			}
		case slo.Timeslices:
			if d.TimesliceWindow <= 0 || d.TimesliceWindow >= d.Window.Duration || !(d.TimesliceTarget > 0 && d.TimesliceTarget <= 1) {
				t.Fatalf("%s: timeslice window %v target %v", d.Name, d.TimesliceWindow, d.TimesliceTarget)
			}
		default:
			t.Fatalf("%s: budgeting method %q", d.Name, d.Method)
		}
		ind := d.Indicator
		if (ind.Good == nil) == (ind.Bad == nil) {
			t.Fatalf("%s: indicator needs exactly one of good and bad: %+v", d.Name, ind)
		}
		for _, s := range []*slo.Selector{ind.Good, ind.Bad, &ind.Total} {
			if s != nil && (!slices.Contains(slo.Events, s.Event) || s.CycleTimeLTE < 0) {
				t.Fatalf("%s: selector %+v", d.Name, s)
			}
		}
		if d.MinEvents < 1 {
			t.Fatalf("%s: min events %d", d.Name, d.MinEvents)
		}
		for _, p := range d.AlertPairs {
			if p.Long <= 0 || p.Short <= 0 || p.Short > p.Long || p.Long >= d.Window.Duration || !(p.Threshold > 0) ||
				(p.Severity != slo.Page && p.Severity != slo.Ticket) || p.Threshold > 1/(1-d.Objective)*(1+1e-9) {
				t.Fatalf("%s: alert pair %+v", d.Name, p)
			}
		}
		if a, ok := cfg.Alerting[d.Name]; ok != (len(d.AlertPairs) > 0 || len(a.Policies) > 0) || len(a.Conditions) != len(d.AlertPairs) {
			t.Fatalf("%s: alerting %+v for pairs %+v", d.Name, a, d.AlertPairs)
		}
	}
	for _, b := range builtins {
		s := *b.slot(&cfg.Defaults)
		if s == nil {
			continue
		}
		if s.Objective != 0 && !(s.Objective > 0 && s.Objective < 1) {
			t.Fatalf("%s: objective %v", b.name, s.Objective)
		}
		if s.Window != nil {
			checkWindow(t, b.name, *s.Window)
		}
		if s.CycleTimeMS < 0 || (s.CycleTimeMS > 0 || s.BusinessHours != nil) && !b.cycle {
			t.Fatalf("%s: cycle time %d, business hours %+v", b.name, s.CycleTimeMS, s.BusinessHours)
		}
		if h := s.BusinessHours; h != nil && (h.Location == nil || len(h.Days) == 0 || h.Start < 0 || h.Start >= h.End || h.End > 24*60*60*1e9) {
			t.Fatalf("%s: business hours %+v", b.name, h)
		}
	}
	if p := cfg.Policy.AtRiskBelow; !(p >= 0 && p <= 1) {
		t.Fatalf("at_risk_below %v", p)
	}
}

func checkWindow(t *testing.T, name string, w slo.TimeWindow) {
	if w.Duration <= 0 || w.Text == "" {
		t.Fatalf("%s: window %+v", name, w)
	}
	if !w.Rolling && (w.Location == nil || w.CalendarCount <= 0 || !strings.Contains("dwMQY", w.CalendarUnit) || w.CalendarUnit == "" || w.CalendarStart.IsZero()) {
		t.Fatalf("%s: calendar window %+v", name, w)
	}
}

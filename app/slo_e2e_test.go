package app_test

import (
	"context"
	"fmt"
	"github.com/day2ops/day2/internal/testclock"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/day2ops/day2/app"
)

// sendBackdated exports, through the OTel SDK, perMinute tasks a minute for the
// given minutes from t0; tasks in minutes where bad(m) is true fail.
func sendBackdated(t *testing.T, endpoint, service string, t0 time.Time, minutes, perMinute int, bad func(m int) bool) {
	t.Helper()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint+"/v1/traces"))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxQueueSize(1<<16), sdktrace.WithBlocking()),
		sdktrace.WithResource(res(service, "1.0.0", "prod")))
	tr := tp.Tracer("slo-e2e")
	for m := 0; m < minutes; m++ {
		for i := 0; i < perMinute; i++ {
			start := t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second)
			_, root := tr.Start(ctx, "triage ticket", trace.WithTimestamp(start))
			root.AddEvent("outcome", trace.WithTimestamp(start.Add(20*time.Second)), trace.WithAttributes(
				attribute.Bool("success", !bad(m)), attribute.Bool("escalation", false)))
			root.End(trace.WithTimestamp(start.Add(20 * time.Second)))
		}
	}
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("export: %v", err)
	}
}

type sloAnswer struct {
	SLOs []struct {
		Name        string              `json:"name"`
		SLI         *float64            `json:"sli"`
		Objective   float64             `json:"objective"`
		Window      string              `json:"window"`
		Status      string              `json:"status"`
		BurnRates   map[string]*float64 `json:"burn_rates"`
		ErrorBudget struct {
			Total, Consumed, Remaining float64
			RemainingFraction          float64 `json:"remaining_fraction"`
		} `json:"error_budget"`
		Alerts []struct {
			Severity, State string
			Since           time.Time
		} `json:"alerts"`
	} `json:"slos"`
}

// TestPageAlertThroughOTLPToTheMinute sends three hours of backdated tasks, ten
// a minute, with a 30-minute total outage after two clean hours, and asks the
// API as of several times when the task-success page alert fires. With the 28-day
// SLO's thresholds (13.44 on 1h/5m, 5.6 on 6h/30m) it must start 25 minutes into
// the outage (25 bad minutes of 60 = 0.417 > 0.403) and stop 55 minutes in, when
// the 30-minute window has only 5 bad minutes left (0.167 < 0.168).
func TestPageAlertThroughOTLPToTheMinute(t *testing.T) {
	a := startApp(t, app.Options{})
	t0 := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Hour)
	outage := t0.Add(2 * time.Hour)
	sendBackdated(t, a.OTLPHTTPURL(), "triage", t0, 180, 10, func(m int) bool { return m >= 120 && m < 150 })

	tests := []struct {
		after time.Duration
		page  string
		since time.Duration
	}{
		{-time.Minute, "inactive", 0},
		{24 * time.Minute, "inactive", 0},
		{25 * time.Minute, "firing", 25 * time.Minute},
		{54 * time.Minute, "firing", 25 * time.Minute},
		{55 * time.Minute, "inactive", 0},
	}
	for _, tt := range tests {
		at := outage.Add(tt.after)
		var ans sloAnswer
		getJSON(t, a.HTTPURL()+"/api/v1/slos?"+url.Values{"service": {"triage"}, "at": {at.Format(time.RFC3339)}}.Encode(), &ans)
		var found bool
		for _, s := range ans.SLOs {
			if s.Name != "triage/task-success" {
				continue
			}
			found = true
			page := s.Alerts[0]
			if page.Severity != "page" || page.State != tt.page {
				t.Errorf("outage%+v: page alert %s, want %s (burn 1h %v, 5m %v)", tt.after, page.State, tt.page, fmtRate(s.BurnRates["1h"]), fmtRate(s.BurnRates["5m"]))
			}
			if tt.page == "firing" && !page.Since.Equal(outage.Add(tt.since)) {
				t.Errorf("outage%+v: firing since %s, want outage+%s", tt.after, page.Since.Sub(outage), tt.since)
			}
		}
		if !found {
			t.Fatalf("no triage/task-success SLO in %+v", ans.SLOs)
		}
	}

	// After the outage: 300 failures of 1,800 tasks against a 3% budget of 54.
	var ans sloAnswer
	getJSON(t, a.HTTPURL()+"/api/v1/slos?service=triage&at="+url.QueryEscape(t0.Add(3*time.Hour).Format(time.RFC3339)), &ans)
	for _, s := range ans.SLOs {
		if s.Name != "triage/task-success" {
			continue
		}
		if s.SLI == nil || fmt.Sprintf("%.6f", *s.SLI) != fmt.Sprintf("%.6f", 1500.0/1800) {
			t.Errorf("SLI = %v, want %v", s.SLI, 1500.0/1800)
		}
		if fmt.Sprintf("%.4f", s.ErrorBudget.Total) != "54.0000" || s.ErrorBudget.Consumed != 300 ||
			fmt.Sprintf("%.4f", s.ErrorBudget.RemainingFraction) != fmt.Sprintf("%.4f", (0.03-300.0/1800)/0.03) {
			t.Errorf("budget = %+v, want total 54, consumed 300, remaining fraction %.4f", s.ErrorBudget, (0.03-300.0/1800)/0.03)
		}
		if s.Status != "exhausted" {
			t.Errorf("status = %s, want exhausted", s.Status)
		}
	}
	var gate struct {
		Allowed bool
		Policy  string
		Reasons []string
	}
	getJSON(t, a.HTTPURL()+"/api/v1/gate?service=triage&at="+url.QueryEscape(t0.Add(3*time.Hour).Format(time.RFC3339)), &gate)
	if gate.Allowed || gate.Policy != "frozen" {
		t.Errorf("gate after the outage = %+v, want blocked and frozen", gate)
	}
	getJSON(t, a.HTTPURL()+"/api/v1/gate?service=triage&at="+url.QueryEscape(t0.Add(90*time.Minute).Format(time.RFC3339)), &gate)
	if !gate.Allowed || gate.Policy != "healthy" {
		t.Errorf("gate before the outage = %+v, want allowed and healthy", gate)
	}
}

func fmtRate(p *float64) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%.3f", *p)
}

// TestAlertHistoryIsPersisted moves the engine's clock through an outage and
// checks that each evaluation tick records the page alert's transitions, with
// the firing start to the minute, and that they survive in the SLO's history.
func TestAlertHistoryIsPersisted(t *testing.T) {
	t0 := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Hour)
	// The clock is shared with the app's background loops: a testclock, not
	// a plain variable. It starts before any telemetry, so the ticks of the
	// loops see nothing until the test moves it.
	clk := testclock.New(t0)
	a := startApp(t, app.Options{Now: clk.Now, EvalInterval: time.Hour})
	outage := t0.Add(2 * time.Hour)
	sendBackdated(t, a.OTLPHTTPURL(), "triage", t0, 180, 10, func(m int) bool { return m >= 120 && m < 150 })

	for _, step := range []struct {
		at   time.Duration
		want string
	}{{30 * time.Minute, "firing"}, {40 * time.Minute, "firing"}, {70 * time.Minute, "resolved"}} {
		clk.Set(outage.Add(step.at))
		if _, err := a.SLO.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		var ans sloAnswer
		getJSON(t, a.HTTPURL()+"/api/v1/slos?service=triage", &ans)
		for _, s := range ans.SLOs {
			if s.Name == "triage/task-success" && s.Alerts[0].State != step.want {
				t.Errorf("outage+%v: page alert %s, want %s", step.at, s.Alerts[0].State, step.want)
			}
		}
	}
	var detail struct {
		History []struct {
			Severity, From, To string
			At                 time.Time
		} `json:"alert_history"`
		Series []struct {
			SLI *float64 `json:"sli"`
		} `json:"series"`
	}
	getJSON(t, a.HTTPURL()+"/api/v1/slos/triage/task-success", &detail)
	var page []string
	for _, h := range detail.History {
		if h.Severity == "page" {
			page = append(page, h.From+">"+h.To+"@"+h.At.Sub(outage).String())
		}
	}
	// Newest first: resolved at the tick that saw it, firing since outage+25m.
	want := []string{"firing>resolved@1h10m0s", "inactive>firing@25m0s"}
	if fmt.Sprint(page) != fmt.Sprint(want) {
		t.Errorf("page alert history = %v, want %v", page, want)
	}
	if len(detail.Series) == 0 {
		t.Error("the SLO has no chart series")
	}
}

// TestConfigReloadKeepsAlertState reloads a changed config directory: a new
// custom SLO appears, the built-in ones keep their persisted alert history, and
// a broken file leaves the running configuration in place.
func TestConfigReloadKeepsAlertState(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("policy.yaml", "apiVersion: day2/v1\nkind: BudgetPolicy\nmetadata: {name: p}\nspec: {at_risk_below: 0.5}\n")
	t0 := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Hour)
	clk := testclock.New(t0) // shared with the app's loops; see TestAlertHistoryIsPersisted
	a := startApp(t, app.Options{ConfigDir: dir, Now: clk.Now, EvalInterval: time.Hour})
	sendBackdated(t, a.OTLPHTTPURL(), "triage", t0, 180, 10, func(m int) bool { return m >= 120 && m < 150 })
	clk.Set(t0.Add(2*time.Hour + 30*time.Minute))
	if _, err := a.SLO.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}

	write("custom.yaml", `apiVersion: openslo/v1
kind: SLO
metadata: {name: fast-success}
spec:
  service: triage
  indicator:
    metadata: {name: fast-success-sli}
    spec:
      ratioMetric:
        good: {metricSource: {type: day2, spec: {event: task_success}}}
        total: {metricSource: {type: day2, spec: {event: tasks}}}
  timeWindow: [{duration: 1d, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{target: 0.9}]
`)
	if err := a.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	var ans sloAnswer
	getJSON(t, a.HTTPURL()+"/api/v1/slos?service=triage", &ans)
	names := map[string]string{}
	for _, s := range ans.SLOs {
		names[s.Name] = s.Alerts[0].State
	}
	if _, ok := names["triage/fast-success"]; !ok {
		t.Fatalf("after reload the custom SLO is missing: %v", names)
	}
	if names["triage/task-success"] != "firing" {
		t.Errorf("after reload triage/task-success page alert = %q, want firing (state kept)", names["triage/task-success"])
	}

	write("broken.yaml", "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: Bad_Name}\n")
	if err := a.Reload(); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("reload of a broken file: err = %v, want a problem naming broken.yaml", err)
	}
	getJSON(t, a.HTTPURL()+"/api/v1/slos?service=triage", &ans)
	found := false
	for _, s := range ans.SLOs {
		found = found || s.Name == "triage/fast-success"
	}
	if !found {
		t.Error("a failed reload dropped the running configuration")
	}
}

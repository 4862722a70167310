package app_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/day2ops/day2/app"
)

// TestMetricsPassPromlint scrapes /metrics after an SLO evaluation and checks it
// with promlint, the linter behind `promtool check metrics` (and with promtool
// itself when it is installed).
func TestMetricsPassPromlint(t *testing.T) {
	a := startApp(t, app.Options{})
	t0 := time.Now().UTC().Truncate(time.Minute).Add(-time.Hour)
	sendBackdated(t, a.OTLPHTTPURL(), "metrics-agent", t0, 60, 5, func(m int) bool { return m%7 == 0 })
	if _, err := a.SLO.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(a.HTTPURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, want := range []string{
		`day2_sli_ratio{service="metrics-agent",slo="metrics-agent/task-success"}`,
		`day2_slo_objective{service="metrics-agent",slo="metrics-agent/task-success"} 0.97`,
		`day2_slo_error_budget_remaining_ratio{service="metrics-agent",slo="metrics-agent/task-success"}`,
		`day2_slo_burn_rate{service="metrics-agent",slo="metrics-agent/task-success",window="1h"}`,
		`day2_slo_alert_firing{service="metrics-agent",severity="page",slo="metrics-agent/task-success"}`,
		`day2_tasks_total{environment="prod",service="metrics-agent",version="1.0.0"} 300`,
		`day2_ingest_stored_total{signal="spans"} 300`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
}

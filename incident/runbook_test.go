package incident

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

func TestBuiltInRunbookIsRenderedWithTheIncidentContext(t *testing.T) {
	lv := &fakeLevers{weight: 25, rollout: "ro_42"}
	e := newEnv(t, func(o *Options) {
		o.Levers = lv
		o.SLOBudget = func(context.Context, string, time.Time, time.Time) (float64, bool) { return 0.125, true }
	})
	commitOutage(t, e.st)
	e.clock.Set(t0.Add(11 * time.Minute))
	a := alert("rule:triage-success-drop", "prod")
	a.Labels = map[string]string{"rule": "triage-success-drop", "sli": SLITaskSuccess, "op": "lt", "threshold": "0.95", "value": "0.7", "window": "15m"}
	e.ingest(t, a)
	inc := e.only(t)
	if inc.Runbook != DefaultRunbook {
		t.Fatalf("runbook %q, want the default", inc.Runbook)
	}
	rb, err := e.svc.Runbook(bg, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"# Runbook: task success of support-triage dropped",
		"Incident [" + inc.ID + "](https://day2.example.com/incidents/" + inc.ID + ") · support-triage (prod) · severity **page** · state **triggered**",
		"## Detection", "## Triage", "## Mitigation levers", "## Human fallback", "## Communication", "## Post-incident review",
		"- task_success is 70.00%, below 95.00% over 15m",
		"Error budget consumed since the incident started: 12.5%",
		"SLO dashboard: https://day2.example.com/slos?service=support-triage",
		"All tasks of the service: https://day2.example.com/tasks?environment=prod&service=support-triage",
		"A rollout is running with the candidate at 25%",
		"(rollout ro_42 is at 25%)",
		"| prod | 1.5.0 | 20 | 6 | 30.0% | 8 |",
		"day2 incident mitigate " + inc.ID + " --lever canary_to_zero",
		"https://day2.example.com/api/v1/incidents/" + inc.ID + "/postmortem",
	} {
		if !strings.Contains(rb, want) {
			t.Errorf("runbook lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("runbook:\n%s", rb)
	}
}

func TestRunbooksAreMatchedAndChecked(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Runbooks = map[string]string{
			"tool-outage":  "tool outage {{.Incident.ID}}",
			"task-success": "slo {{.Incident.Service}}{{with .Canary}} canary {{.Weight}}{{end}}",
			"default":      "custom default",
		}
	})
	cases := []struct {
		alert Alert
		want  string
	}{
		{Alert{Runbook: "tool-outage"}, "tool-outage"},
		{Alert{Labels: map[string]string{"slo": "support-triage/task-success"}}, "task-success"},
		{Alert{Runbook: "https://wiki/runbook", Labels: map[string]string{"alertname": "Other"}}, "default"},
	}
	for i, c := range cases {
		a := alert("k", []string{"a", "b", "c"}[i])
		a.Runbook, a.Labels = c.alert.Runbook, c.alert.Labels
		e.ingest(t, a)
	}
	for _, inc := range e.list(t, Filter{}) {
		want := cases[strings.Index("abc", inc.Environment)].want
		if inc.Runbook != want {
			t.Errorf("incident of %s: runbook %q, want %q", inc.Environment, inc.Runbook, want)
		}
		rb, err := e.svc.Runbook(bg, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch want {
		case "task-success":
			if rb != "slo support-triage" {
				t.Errorf("rendered %q", rb)
			}
		case "default":
			if !strings.HasPrefix(rb, "custom default") || !strings.Contains(rb, "https://wiki/runbook") {
				t.Errorf("rendered %q: want the configured default and the alert's link", rb)
			}
		}
	}

	for name, text := range map[string]string{
		"unclosed action": "{{.Incident.ID",
		"unknown field":   "{{.Incident.Owner}}",
		"unknown func":    "{{shout .Incident.ID}}",
	} {
		err := ParseRunbook("bad", text)
		wantCode(t, name, err, day2.EInvalid)
		if !strings.Contains(err.Error(), `runbook "bad"`) {
			t.Errorf("%s: %q does not name the runbook", name, err)
		}
	}
	if err := ParseRunbook("ok", defaultRunbookText); err != nil {
		t.Errorf("built-in runbook: %v", err)
	}
	if _, err := NewService(Options{Records: e.st, Runbooks: map[string]string{"x": "{{.Nope}}"}}); day2.ErrorCode(err) != day2.EInvalid {
		t.Errorf("NewService with a bad runbook: %v", err)
	}
}

package incident

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

func TestParseAlertmanagerDocumentedPayload(t *testing.T) {
	// testdata/alertmanager-v4.json fills in every field of the webhook format
	// documented at prometheus.io/docs/alerting/latest/configuration/#webhook_config.
	body, err := os.ReadFile(filepath.Join("testdata", "alertmanager-v4.json"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := ParseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 2 {
		t.Fatalf("%d alerts, want 2", len(alerts))
	}
	a := alerts[0]
	want := Alert{Source: SourceAlertmanager, Key: "alertmanager:5c1a5bcf3c2a9e01", Status: StatusFiring,
		Service: "support-triage", Environment: "prod", Severity: SeverityPage,
		Summary: "CRM gateway answers 5xx to 12% of requests", Details: "crm-gateway-1 error rate above 5% for 10 minutes",
		Runbook:  "https://runbooks.example.com/crm-errors",
		StartsAt: time.Date(2026, 11, 2, 8, 51, 10, 123e6, time.UTC),
		URL:      "http://prometheus.example.com:9090/graph?g0.expr=crm_errors&g0.tab=1"}
	a.Labels = nil
	if !reflect.DeepEqual(a, want) {
		t.Errorf("first alert\n got %+v\nwant %+v", a, want)
	}
	if alerts[0].Labels["instance"] != "crm-gateway-1:9100" || alerts[0].Labels["alertname"] != "CRMErrorRate" {
		t.Errorf("labels %v: want the alert's and the common labels", alerts[0].Labels)
	}
	b := alerts[1]
	if b.Status != StatusResolved || b.Environment != "staging" || b.Summary != "crm-gateway-2 error rate above 5% for 10 minutes" || b.Details != "" {
		t.Errorf("second alert %+v: want resolved staging with the description as summary", b)
	}

	body, err = os.ReadFile(filepath.Join("testdata", "alertmanager-minimal.json"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, err = ParseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	a = alerts[0]
	if a.Service != "invoice-agent" || a.Severity != SeverityTicket || a.Summary != "HighLatency" || a.Environment != "" ||
		!strings.HasPrefix(a.Key, "alertmanager:") || len(a.Key) != len("alertmanager:")+16 || !a.StartsAt.Equal(time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)) ||
		a.URL != "http://alertmanager.example.com:9093" {
		t.Errorf("minimal alert %+v: want service from job, ticket, summary from alertname, key from labels", a)
	}
	for _, al := range alerts {
		if err := al.Validate(); err != nil {
			t.Errorf("parsed alert does not validate: %v", err)
		}
	}
}

func TestParseAlertmanagerRefusesMalformedPayloads(t *testing.T) {
	alertWith := func(fields string) string {
		return `{"version":"4","status":"firing","alerts":[{` + fields + `}]}`
	}
	ok := `"status":"firing","labels":{"service":"s"},"startsAt":"2026-11-02T09:00:00Z"`
	for _, c := range []struct{ name, body, want string }{
		{"not JSON", `alerts: []`, "not valid JSON"},
		{"empty body", ``, "the body is empty"},
		{"two documents", `{"alerts":[]} {}`, "after its JSON object"},
		{"a list", `[{"labels":{}}]`, "not valid JSON"},
		{"no alerts field", `{"version":"4","status":"firing"}`, "no alerts field"},
		{"no alerts", `{"version":"4","status":"firing","alerts":[]}`, "lists no alerts"},
		{"alerts of the wrong type", `{"version":"4","alerts":{"a":1}}`, "alerts has a JSON object"},
		{"other version", `{"version":"3","alerts":[{` + ok + `}]}`, `version "3"`},
		{"bad group status", `{"status":"pending","alerts":[{` + ok + `}]}`, `status "pending"`},
		{"bad alert status", alertWith(`"status":"active","labels":{"service":"s"},"startsAt":"2026-11-02T09:00:00Z"`), `alerts[0] has the status "active"`},
		{"no startsAt", alertWith(`"status":"firing","labels":{"service":"s"}`), "alerts[0] has no startsAt"},
		{"bad startsAt", alertWith(`"status":"firing","labels":{"service":"s"},"startsAt":"yesterday"`), `startsAt "yesterday"`},
		{"bad endsAt", alertWith(ok + `,"endsAt":"2026-13-01T00:00:00Z"`), `endsAt "2026-13-01T00:00:00Z"`},
		{"ends before it starts", alertWith(ok + `,"endsAt":"2026-11-02T08:00:00Z"`), "ends (2026-11-02T08:00:00Z) before it starts"},
		{"no service label", alertWith(`"status":"firing","labels":{"instance":"x"},"startsAt":"2026-11-02T09:00:00Z"`), "none of the labels service, job or alertname"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAlertmanager([]byte(c.body))
			wantCode(t, c.name, err, day2.EInvalid)
			if !strings.Contains(day2.ErrorMessage(err), c.want) {
				t.Errorf("message %q does not say %q", day2.ErrorMessage(err), c.want)
			}
		})
	}
}

func TestAlertmanagerAlertsOpenAnIncident(t *testing.T) {
	e := newEnv(t, nil)
	body, err := os.ReadFile(filepath.Join("testdata", "alertmanager-v4.json"))
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := ParseAlertmanager(body)
	if err != nil {
		t.Fatal(err)
	}
	e.ingest(t, alerts...)
	inc := e.only(t) // the staging alert is resolved and opens nothing
	if inc.Environment != "prod" || inc.Severity != SeverityPage || inc.RunbookURL != "https://runbooks.example.com/crm-errors" ||
		inc.Runbook != DefaultRunbook || !inc.DetectedAt.Equal(alerts[0].StartsAt) {
		t.Fatalf("incident %+v", inc)
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	for _, name := range []string{"alertmanager-v4.json", "alertmanager-minimal.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"alerts":[{"status":"resolved","labels":{"job":"j"},"startsAt":"2026-11-02T09:00:00Z","endsAt":"2026-11-02T09:00:00Z"}]}`))
	f.Add([]byte(`{"alerts":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := ParseAlertmanager(body)
		if err != nil {
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Fatalf("error %v is not EInvalid", err)
			}
			return
		}
		if len(alerts) == 0 {
			t.Fatalf("no alerts and no error")
		}
		for _, a := range alerts {
			if err := a.Validate(); err != nil {
				t.Fatalf("parsed alert %+v does not validate: %v", a, err)
			}
		}
	})
}

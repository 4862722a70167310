package notify_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/notify"
)

func TestNotifierFromYAML(t *testing.T) {
	const doc = `
name: oncall-webhook
type: webhook
url: https://example.com/hook
secret_env: DAY2_HOOK_SECRET
match: {service: support-triage, severity: [page], environment: [prod, staging]}
events: [incident.triggered, incident.resolved]
repeat_interval: 4h
group_interval: 5m
`
	var n notify.Notifier
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(n.Match.Service, ","); got != "support-triage" {
		t.Errorf("match.service = %q; a single string is a list of one", got)
	}
	if got := strings.Join(n.Match.Environment, ","); got != "prod,staging" {
		t.Errorf("match.environment = %q", got)
	}
	if n.RepeatInterval.D() != 4*time.Hour || n.GroupInterval.D() != 5*time.Minute {
		t.Errorf("intervals = %v, %v; want 4h, 5m", n.RepeatInterval, n.GroupInterval)
	}
	var fromJSON notify.Match
	if err := json.Unmarshal([]byte(`{"service":"a","severity":["page","ticket"]}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if strings.Join(fromJSON.Service, ",") != "a" || len(fromJSON.Severity) != 2 {
		t.Errorf("match from JSON = %+v", fromJSON)
	}
	if err := yaml.Unmarshal([]byte("match: {service: {a: b}}"), &n); err == nil {
		t.Error("a mapping as match.service was accepted")
	}
}

func TestNotifierValidate(t *testing.T) {
	valid := func() notify.Notifier {
		return notify.Notifier{Name: "oncall-webhook", Type: "webhook", URL: "https://example.com/hook", Secret: "s3cret"}
	}
	cases := []struct {
		name    string
		change  func(*notify.Notifier)
		wantErr string // "" for valid
	}{
		{"a signed webhook is valid", func(*notify.Notifier) {}, ""},
		{"a Teams workflow needs no secret", func(n *notify.Notifier) { n.Type, n.Secret = "teams", "" }, ""},
		{"Slack with secret_env is valid", func(n *notify.Notifier) { n.Type, n.Secret, n.SecretEnv = "slack", "", "SLACK_HOOK" }, ""},
		{"PagerDuty without url is valid", func(n *notify.Notifier) { n.Type, n.URL = "pagerduty", "" }, ""},
		{"an unknown type is named", func(n *notify.Notifier) { n.Type = "email" }, `unknown type "email"; use webhook, teams, slack or pagerduty`},
		{"a missing type is asked for", func(n *notify.Notifier) { n.Type = "" }, "has no type"},
		{"a missing name is asked for", func(n *notify.Notifier) { n.Name = "" }, "has no name"},
		{"a name with a slash is refused", func(n *notify.Notifier) { n.Name = "a/b" }, "without spaces or /"},
		{"a webhook needs a url", func(n *notify.Notifier) { n.URL = "" }, "has no url"},
		{"Slack needs a url", func(n *notify.Notifier) { n.Type, n.URL = "slack", "" }, "Slack incoming webhook URL"},
		{"Teams needs a url", func(n *notify.Notifier) { n.Type, n.URL = "teams", "" }, "Teams Workflows"},
		{"only http and https", func(n *notify.Notifier) { n.URL = "ftp://example.com/x" }, "http:// or https://"},
		{"a url without host", func(n *notify.Notifier) { n.URL = "https:///hook" }, "http:// or https://"},
		{"a webhook needs a secret", func(n *notify.Notifier) { n.Secret = "" }, "needs a secret to sign"},
		{"PagerDuty needs a routing key", func(n *notify.Notifier) { n.Type, n.Secret = "pagerduty", "" }, "routing key"},
		{"secret and secret_env exclude each other", func(n *notify.Notifier) { n.SecretEnv = "X" }, "both secret and secret_env"},
		{"secret_env must be a variable name", func(n *notify.Notifier) { n.Secret, n.SecretEnv = "", "MY-SECRET" }, "not an environment variable name"},
		{"unknown events are named", func(n *notify.Notifier) { n.Events = []string{"incident.opened"} }, `unknown event "incident.opened"`},
		{"severities are page or ticket", func(n *notify.Notifier) { n.Match.Severity = notify.StringList{"critical"} }, `match.severity "critical"`},
		{"an empty service in match", func(n *notify.Notifier) { n.Match.Service = notify.StringList{""} }, "match.service lists an empty name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := valid()
			c.change(&n)
			err := n.Validate()
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Validate: err = %v, want one containing %q", err, c.wantErr)
			}
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Errorf("error code = %s, want invalid", day2.ErrorCode(err))
			}
		})
	}
}

func TestSecretsStayOutOfJSONAndLogs(t *testing.T) {
	n := notify.Notifier{Name: "slack", Type: "slack", URL: "https://hooks.slack.com/services/T000/B000/TOPSECRETTOKEN", Secret: "s3cret-value"}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"s3cret-value", "TOPSECRETTOKEN"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("JSON of a notifier contains %q: %s", leak, b)
		}
	}
	if !strings.Contains(string(b), `"url":"https://hooks.slack.com/…"`) || !strings.Contains(string(b), `"secret_set":true`) {
		t.Errorf("JSON of a notifier = %s; want the url's host and secret_set", b)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("loaded", "notifier", n)
	if strings.Contains(buf.String(), "TOPSECRETTOKEN") || strings.Contains(buf.String(), "s3cret-value") || !strings.Contains(buf.String(), "slack") {
		t.Errorf("log line = %s", buf.String())
	}
}

func TestWhichNotifiersGetAMessage(t *testing.T) {
	page := triggered()
	ticket := triggered()
	ticket.Severity = "ticket"
	staging := triggered()
	staging.Environment = "staging"
	approval := notify.Message{Event: notify.EventApprovalPending, Service: "support-triage", Environment: "prod", DedupKey: "ap_1", At: at}
	cases := []struct {
		name string
		n    notify.Notifier
		m    notify.Message
		want bool
	}{
		{"an empty match takes everything", notify.Notifier{Type: "webhook"}, staging, true},
		{"a page matches severity page", notify.Notifier{Type: "webhook", Match: notify.Match{Severity: notify.StringList{"page"}}}, page, true},
		{"a ticket does not match severity page", notify.Notifier{Type: "webhook", Match: notify.Match{Severity: notify.StringList{"page"}}}, ticket, false},
		{"another environment does not match", notify.Notifier{Type: "webhook", Match: notify.Match{Environment: notify.StringList{"prod"}}}, staging, false},
		{"another service does not match", notify.Notifier{Type: "webhook", Match: notify.Match{Service: notify.StringList{"billing"}}}, page, false},
		{"any listed service matches", notify.Notifier{Type: "webhook", Match: notify.Match{Service: notify.StringList{"billing", "support-triage"}}}, page, true},
		{"an approval has no severity to match", notify.Notifier{Type: "slack", Match: notify.Match{Severity: notify.StringList{"page"}}}, approval, false},
		{"events not listed are not sent", notify.Notifier{Type: "webhook", Events: []string{notify.EventIncidentResolved}}, page, false},
		{"PagerDuty gets incidents by default", notify.Notifier{Type: "pagerduty"}, page, true},
		{"PagerDuty gets no approvals by default", notify.Notifier{Type: "pagerduty"}, approval, false},
		{"PagerDuty gets approvals it lists", notify.Notifier{Type: "pagerduty", Events: []string{notify.EventApprovalPending}}, approval, true},
		{"Teams gets approvals by default", notify.Notifier{Type: "teams"}, approval, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.n.Matches(&c.m); got != c.want {
				t.Errorf("Matches = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMessageValidate(t *testing.T) {
	cases := []struct {
		name    string
		change  func(*notify.Message)
		wantErr string
	}{
		{"a full message is valid", func(*notify.Message) {}, ""},
		{"an unknown event", func(m *notify.Message) { m.Event = "incident.opened" }, `event "incident.opened" is unknown`},
		{"no dedup key", func(m *notify.Message) { m.DedupKey = "" }, "no dedup_key"},
		{"no time", func(m *notify.Message) { m.At = time.Time{} }, "has no time"},
		{"a wrong severity", func(m *notify.Message) { m.Severity = "critical" }, `severity "critical"`},
		{"a broken approval", func(m *notify.Message) { m.Approval = json.RawMessage("{") }, "not valid JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := triggered()
			c.change(&m)
			err := m.Validate()
			if (err == nil) != (c.wantErr == "") || err != nil && !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Validate: err = %v, want %q", err, c.wantErr)
			}
		})
	}
}

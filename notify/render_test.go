package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/day2ops/day2/notify"
)

var at = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// triggered is an incident message as incidents will send it.
func triggered() notify.Message {
	return notify.Message{
		Event:       notify.EventIncidentTriggered,
		Service:     "support-triage",
		Environment: "prod",
		Severity:    "page",
		Title:       "Task success burning its budget 14x",
		Summary:     "31% of support-triage tasks fail since 09:12; customers wait for answers.",
		NextSteps:   []string{"Roll back 2.4.1", "Check the ticketing tool's errors"},
		URL:         "https://day2.example.com/incidents/in_42",
		DedupKey:    "in_42",
		Facts:       []notify.Fact{{Name: "Burn rate (1h)", Value: "14.2"}},
		Incident: &notify.IncidentRef{ID: "in_42", Title: "Task success burning its budget 14x", Service: "support-triage",
			Environment: "prod", Severity: "page", State: "triggered", URL: "https://day2.example.com/incidents/in_42"},
		At: at,
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("payload is not a JSON object: %v\n%s", err, b)
	}
	return v
}

// path walks a decoded JSON document: keys of objects, indexes of arrays.
func path(t *testing.T, v any, steps ...any) any {
	t.Helper()
	for _, s := range steps {
		switch k := s.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %T is not an object", steps, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("at %v: no key %q in %v", steps, k, m)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at %v: %v has no element %d", steps, v, k)
			}
			v = a[k]
		}
	}
	return v
}

func want(t *testing.T, what string, got, want any) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestTeamsPayloadIsAWorkflowsAdaptiveCard(t *testing.T) {
	n := notify.Notifier{Name: "teams-oncall", Type: notify.TypeTeams, URL: "https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=xyz"}
	body, h, err := notify.Render(n, triggered(), "ob_1")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "Content-Type", h.Get("Content-Type"), "application/json")
	v := decode(t, body)
	want(t, "type", path(t, v, "type"), "message")
	att := path(t, v, "attachments", 0)
	want(t, "attachments[0].contentType", path(t, att, "contentType"), "application/vnd.microsoft.card.adaptive")
	want(t, "attachments[0].contentUrl", path(t, att, "contentUrl"), nil)
	card := path(t, att, "content")
	want(t, "card type", path(t, card, "type"), "AdaptiveCard")
	want(t, "card version", path(t, card, "version"), "1.4")
	want(t, "card $schema", path(t, card, "$schema"), "http://adaptivecards.io/schemas/adaptive-card.json")

	want(t, "body[0].type", path(t, card, "body", 0, "type"), "TextBlock")
	want(t, "body[0].text", path(t, card, "body", 0, "text"), "Incident triggered: Task success burning its budget 14x")
	want(t, "body[0].color", path(t, card, "body", 0, "color"), "Attention")
	want(t, "body[1].type", path(t, card, "body", 1, "type"), "TextBlock")
	want(t, "body[1].text", path(t, card, "body", 1, "text"), triggered().Summary)
	want(t, "body[2].type", path(t, card, "body", 2, "type"), "FactSet")
	facts := path(t, card, "body", 2, "facts").([]any)
	var rows []string
	for _, f := range facts {
		rows = append(rows, path(t, f, "title").(string)+"="+path(t, f, "value").(string))
	}
	want(t, "facts", strings.Join(rows, "; "), "Service=support-triage; Environment=prod; Severity=page; State=triggered; Burn rate (1h)=14.2")
	want(t, "body[3].text", path(t, card, "body", 3, "text"), "Next steps")
	want(t, "body[4].text", path(t, card, "body", 4, "text"), "- Roll back 2.4.1\r- Check the ticketing tool's errors")
	want(t, "actions[0].type", path(t, card, "actions", 0, "type"), "Action.OpenUrl")
	want(t, "actions[0].title", path(t, card, "actions", 0, "title"), "Open in day2")
	want(t, "actions[0].url", path(t, card, "actions", 0, "url"), "https://day2.example.com/incidents/in_42")
	if h.Get(notify.HeaderSignature) != "" {
		t.Error("a Teams message carries a webhook signature; only the generic webhook is signed")
	}
}

func TestSlackPayloadHasFallbackTextAndBlocks(t *testing.T) {
	m := triggered()
	m.Summary = "Tool <crm> fails & customers wait"
	m.Title = strings.Repeat("long title ", 30)
	body, _, err := notify.Render(notify.Notifier{Name: "slack", Type: notify.TypeSlack, URL: "https://hooks.slack.com/services/T0/B0/XXXX"}, m, "ob_1")
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, body)
	text := path(t, v, "text").(string)
	if !strings.HasPrefix(text, "Incident triggered: long title") || !strings.Contains(text, "Tool &lt;crm&gt; fails &amp; customers wait") {
		t.Errorf("fallback text = %q, want the headline and the escaped summary", text)
	}
	var types []string
	for _, b := range path(t, v, "blocks").([]any) {
		types = append(types, path(t, b, "type").(string))
	}
	want(t, "block types", strings.Join(types, ","), "header,section,section,actions")
	want(t, "header text type", path(t, v, "blocks", 0, "text", "type"), "plain_text")
	header := path(t, v, "blocks", 0, "text", "text").(string)
	if n := utf8.RuneCountInString(header); n > 150 || !strings.HasSuffix(header, "…") {
		t.Errorf("header has %d characters (%q); Slack allows 150, so it must be cut with …", n, header)
	}
	want(t, "section text type", path(t, v, "blocks", 1, "text", "type"), "mrkdwn")
	want(t, "section text", path(t, v, "blocks", 1, "text", "text"),
		"Tool &lt;crm&gt; fails &amp; customers wait\n\n*Next steps*\n• Roll back 2.4.1\n• Check the ticketing tool's errors")
	want(t, "first field", path(t, v, "blocks", 2, "fields", 0, "text"), "*Service*\nsupport-triage")
	want(t, "field type", path(t, v, "blocks", 2, "fields", 0, "type"), "mrkdwn")
	want(t, "button type", path(t, v, "blocks", 3, "elements", 0, "type"), "button")
	want(t, "button url", path(t, v, "blocks", 3, "elements", 0, "url"), m.URL)
	want(t, "button text", path(t, v, "blocks", 3, "elements", 0, "text", "text"), "Open in day2")
}

func TestPagerDutyEvents(t *testing.T) {
	n := notify.Notifier{Name: "pd", Type: notify.TypePagerDuty, Secret: "R0UTINGKEY"}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	want(t, "default url", n.URL, "https://events.pagerduty.com/v2/enqueue")
	cases := []struct {
		name, event, severity, action, pdSeverity, summary string
	}{
		{"a page triggers a critical alert", notify.EventIncidentTriggered, "page", "trigger", "critical",
			"Task success burning its budget 14x — 31% of support-triage tasks fail since 09:12; customers wait for answers."},
		{"a ticket triggers a warning", notify.EventIncidentTriggered, "ticket", "trigger", "warning",
			"Task success burning its budget 14x — 31% of support-triage tasks fail since 09:12; customers wait for answers."},
		{"acknowledging acknowledges", notify.EventIncidentAcknowledged, "page", "acknowledge", "critical",
			"Acknowledged: Task success burning its budget 14x — 31% of support-triage tasks fail since 09:12; customers wait for answers."},
		{"mitigating triggers again with the new summary", notify.EventIncidentMitigated, "page", "trigger", "critical",
			"Mitigated: Task success burning its budget 14x — 31% of support-triage tasks fail since 09:12; customers wait for answers."},
		{"an update triggers again", notify.EventIncidentUpdated, "page", "trigger", "critical",
			"Updated: Task success burning its budget 14x — 31% of support-triage tasks fail since 09:12; customers wait for answers."},
		{"resolving resolves", notify.EventIncidentResolved, "page", "resolve", "critical",
			"Resolved: Task success burning its budget 14x — 31% of support-triage tasks fail since 09:12; customers wait for answers."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := triggered()
			m.Event, m.Severity = c.event, c.severity
			body, _, err := notify.Render(n, m, "ob_1")
			if err != nil {
				t.Fatal(err)
			}
			v := decode(t, body)
			want(t, "routing_key", path(t, v, "routing_key"), "R0UTINGKEY")
			want(t, "event_action", path(t, v, "event_action"), c.action)
			want(t, "dedup_key", path(t, v, "dedup_key"), "in_42")
			want(t, "payload.summary", path(t, v, "payload", "summary"), c.summary)
			want(t, "payload.source", path(t, v, "payload", "source"), "day2/support-triage")
			want(t, "payload.severity", path(t, v, "payload", "severity"), c.pdSeverity)
			want(t, "payload.timestamp", path(t, v, "payload", "timestamp"), "2026-03-14T09:26:53Z")
			want(t, "payload.component", path(t, v, "payload", "component"), "support-triage")
			want(t, "payload.group", path(t, v, "payload", "group"), "prod")
			want(t, "payload.class", path(t, v, "payload", "class"), c.event)
			want(t, "custom_details", path(t, v, "payload", "custom_details", "Burn rate (1h)"), "14.2")
			want(t, "links[0].href", path(t, v, "links", 0, "href"), m.URL)
		})
	}
}

func TestPagerDutyKeepsWithinItsLimits(t *testing.T) {
	n := notify.Notifier{Name: "pd", Type: notify.TypePagerDuty, Secret: "k"}
	m := triggered()
	m.DedupKey = strings.Repeat("incident-key-", 40)
	m.Summary = strings.Repeat("ö", 2000)
	body, _, err := notify.Render(n, m, "ob_1")
	if err != nil {
		t.Fatal(err)
	}
	trig := decode(t, body)
	key := path(t, trig, "dedup_key").(string)
	if len(key) > 255 {
		t.Errorf("dedup_key has %d characters; PagerDuty allows 255", len(key))
	}
	if s := path(t, trig, "payload", "summary").(string); utf8.RuneCountInString(s) > 1024 {
		t.Errorf("summary has %d characters; PagerDuty allows 1024", utf8.RuneCountInString(s))
	}
	m.Event = notify.EventIncidentResolved
	body, _, err = notify.Render(n, m, "ob_2")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "dedup_key of the resolve", path(t, decode(t, body), "dedup_key"), key)
}

func TestPagerDutyReadsTheRoutingKeyFromTheEnvironment(t *testing.T) {
	t.Setenv("DAY2_TEST_PD_KEY", "from-env")
	n := notify.Notifier{Name: "pd", Type: notify.TypePagerDuty, SecretEnv: "DAY2_TEST_PD_KEY"}
	body, _, err := notify.Render(n, triggered(), "ob_1")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "routing_key", path(t, decode(t, body), "routing_key"), "from-env")

	n.SecretEnv = "DAY2_TEST_PD_KEY_UNSET"
	if _, _, err := notify.Render(n, triggered(), "ob_1"); err == nil || !strings.Contains(err.Error(), "DAY2_TEST_PD_KEY_UNSET") {
		t.Errorf("Render with an unset secret_env: err = %v, want one naming the variable", err)
	}
}

// receiver is a webhook receiver as its documentation tells users to write
// one: it recomputes the HMAC over the raw body with its copy of the secret.
func receiver(t *testing.T, secret string, got chan<- map[string]any) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(raw)
		expected := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(expected), []byte(r.Header.Get("X-Day2-Signature-256"))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		v["header:event"] = r.Header.Get("X-Day2-Event")
		v["header:delivery"] = r.Header.Get("X-Day2-Delivery")
		v["header:timestamp"] = r.Header.Get("X-Day2-Timestamp")
		got <- v
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url string, body []byte, h http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhookSignatureVerifiesAtTheReceiver(t *testing.T) {
	got := make(chan map[string]any, 1)
	srv := receiver(t, "s3cret", got)
	n := notify.Notifier{Name: "hook", Type: notify.TypeWebhook, URL: srv.URL, Secret: "s3cret"}
	before := time.Now().Unix()
	body, h, err := notify.Render(n, triggered(), "ob_abc")
	if err != nil {
		t.Fatal(err)
	}
	if code := post(t, srv.URL, body, h); code != http.StatusNoContent {
		t.Fatalf("receiver answered %d to a message signed with its secret", code)
	}
	v := <-got
	want(t, "event", path(t, v, "event"), "incident.triggered")
	want(t, "delivery_id", path(t, v, "delivery_id"), "ob_abc")
	want(t, "at", path(t, v, "at"), "2026-03-14T09:26:53Z")
	want(t, "summary", path(t, v, "summary"), triggered().Summary)
	want(t, "next_steps[1]", path(t, v, "next_steps", 1), "Check the ticketing tool's errors")
	for k, w := range map[string]string{"id": "in_42", "title": "Task success burning its budget 14x", "service": "support-triage",
		"environment": "prod", "severity": "page", "state": "triggered", "url": "https://day2.example.com/incidents/in_42"} {
		want(t, "incident."+k, path(t, v, "incident", k), w)
	}
	want(t, "X-Day2-Event", v["header:event"], "incident.triggered")
	want(t, "X-Day2-Delivery", v["header:delivery"], "ob_abc")
	if ts, err := strconv.ParseInt(v["header:timestamp"].(string), 10, 64); err != nil || ts < before || ts > time.Now().Unix() {
		t.Errorf("X-Day2-Timestamp = %q, want the Unix seconds of sending", v["header:timestamp"])
	}

	wrong := n
	wrong.Secret = "not-the-secret"
	body, h, err = notify.Render(wrong, triggered(), "ob_abc")
	if err != nil {
		t.Fatal(err)
	}
	if code := post(t, srv.URL, body, h); code != http.StatusUnauthorized {
		t.Errorf("receiver answered %d to a message signed with another secret, want 401", code)
	}
	body, h, _ = notify.Render(n, triggered(), "ob_abc")
	tampered := []byte(strings.Replace(string(body), "in_42", "in_43", 1))
	if code := post(t, srv.URL, tampered, h); code != http.StatusUnauthorized {
		t.Errorf("receiver answered %d to a body changed after signing, want 401", code)
	}
}

func TestWebhookNamesTheIncidentEvenWhenTheSenderGaveOnlyFields(t *testing.T) {
	m := triggered()
	m.Incident = nil
	m.Event = notify.EventIncidentResolved
	body, _, err := notify.Render(notify.Notifier{Name: "hook", Type: notify.TypeWebhook, URL: "https://x.example", Secret: "s"}, m, "ob_1")
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, body)
	want(t, "incident.id", path(t, v, "incident", "id"), "in_42")
	want(t, "incident.state", path(t, v, "incident", "state"), "resolved")
}

func TestWebhookCarriesTheApproval(t *testing.T) {
	m := notify.Message{Event: notify.EventApprovalPending, Service: "support-triage", Environment: "prod",
		Title: "Refund of 1,200 EUR", Summary: "The agent asks to refund order 991.", URL: "https://day2.example.com/approvals/ap_7",
		DedupKey: "ap_7", Approval: json.RawMessage(`{"id":"ap_7","state":"pending","tier":2}`), At: at}
	body, _, err := notify.Render(notify.Notifier{Name: "hook", Type: notify.TypeWebhook, URL: "https://x.example", Secret: "s"}, m, "ob_1")
	if err != nil {
		t.Fatal(err)
	}
	v := decode(t, body)
	want(t, "approval.id", path(t, v, "approval", "id"), "ap_7")
	want(t, "approval.tier", path(t, v, "approval", "tier"), 2.0)
	if _, ok := v["incident"]; ok {
		t.Error("an approval message names an incident")
	}
}

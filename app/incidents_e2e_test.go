package app_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2/app"
)

// hookDelivery is one request a webhook receiver got from day2's outbox.
type hookDelivery struct {
	ID, Event  string // X-Day2-Delivery, X-Day2-Event
	IncidentID string
	Service    string
	SignedOK   bool // X-Day2-Signature-256 is the HMAC-SHA256 of the raw body
	Status     int  // what the receiver answered
}

// hookReceiver is a webhook destination that checks every request as the
// notification docs tell receivers to, and answers what respond decides
// (202 when respond is nil). respond may block, e.g. until the client goes.
type hookReceiver struct {
	secret  string
	srv     *httptest.Server
	mu      sync.Mutex
	got     []hookDelivery
	respond func(d hookDelivery, r *http.Request) int
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{secret: secret}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	mac := hmac.New(sha256.New, []byte(h.secret))
	mac.Write(raw)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var body struct {
		Event      string `json:"event"`
		DeliveryID string `json:"delivery_id"`
		Service    string `json:"service"`
		Incident   *struct {
			ID string `json:"id"`
		} `json:"incident"`
	}
	_ = json.Unmarshal(raw, &body)
	d := hookDelivery{ID: r.Header.Get("X-Day2-Delivery"), Event: r.Header.Get("X-Day2-Event"), Service: body.Service,
		SignedOK: hmac.Equal([]byte(want), []byte(r.Header.Get("X-Day2-Signature-256"))) &&
			body.Event == r.Header.Get("X-Day2-Event") && body.DeliveryID == r.Header.Get("X-Day2-Delivery")}
	if body.Incident != nil {
		d.IncidentID = body.Incident.ID
	}
	d.Status = http.StatusAccepted
	h.mu.Lock()
	respond := h.respond
	h.mu.Unlock()
	if !d.SignedOK {
		d.Status = http.StatusUnauthorized
	} else if respond != nil {
		d.Status = respond(d, r)
	}
	h.mu.Lock()
	h.got = append(h.got, d)
	h.mu.Unlock()
	if d.Status == 0 {
		return // the client went away; nothing to answer
	}
	w.WriteHeader(d.Status)
}

// setRespond replaces how the receiver answers.
func (h *hookReceiver) setRespond(f func(d hookDelivery, r *http.Request) int) {
	h.mu.Lock()
	h.respond = f
	h.mu.Unlock()
}

// deliveries returns what the receiver got so far.
func (h *hookReceiver) deliveries() []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookDelivery(nil), h.got...)
}

// accepted returns the deliveries answered with a 2xx that match keep.
func (h *hookReceiver) accepted(keep func(hookDelivery) bool) []hookDelivery {
	var out []hookDelivery
	for _, d := range h.deliveries() {
		if d.Status >= 200 && d.Status < 300 && keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// webhookNotifier is a Notifier document for a webhook receiver.
func webhookNotifier(name, url, secret string) string {
	return fmt.Sprintf(`apiVersion: day2/v1
kind: Notifier
metadata: {name: %s}
spec:
  type: webhook
  url: %s
  secret: %s
`, name, url, secret)
}

// incidentView is the part of an incident's JSON the tests read.
type incidentView struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Severity    string `json:"severity"`
	State       string `json:"state"`
	Alerts      []struct {
		Key    string            `json:"key"`
		Source string            `json:"source"`
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
	Timeline []struct {
		At    time.Time      `json:"at"`
		Actor string         `json:"actor"`
		Type  string         `json:"type"`
		Text  string         `json:"text"`
		Data  map[string]any `json:"data"`
	} `json:"timeline"`
}

func listIncidents(t *testing.T, a *app.App, service string) []incidentView {
	t.Helper()
	var list struct {
		Incidents []incidentView `json:"incidents"`
	}
	apiJSON(t, "GET", a.HTTPURL()+"/api/v1/incidents?service="+service, nil, 200, &list)
	return list.Incidents
}

// TestSLIBreachOpensIncidentAndLeverZeroesCanary drives an incident from
// telemetry to postmortem: failing tool calls sent through the OTel SDK
// (backdated within the rule's window) breach an AlertRule (tool_failure > 0.2
// over 5m, at least 10 calls), which the incident loop evaluates (EvalInterval
// 1 s); one incident opens and a signed webhook receiver gets exactly one
// incident.triggered. The canary_to_zero lever drops the service's running
// canary to 0% (seen through the rollouts and assign APIs), the timeline shows
// the mitigation, and after the resolve the postmortem draft holds every
// timeline entry.
func TestSLIBreachOpensIncidentAndLeverZeroesCanary(t *testing.T) {
	onBothStores(t, sliBreachToPostmortem)
}

func sliBreachToPostmortem(t *testing.T, opts app.Options) {
	const (
		service = "support-triage"
		secret  = "hook-secret-0123456789"
	)
	hook := newHookReceiver(t, secret)
	opts.ConfigDir = writeConfig(t, map[string]string{
		"rule.yaml": `apiVersion: day2/v1
kind: AlertRule
metadata: {name: triage-tool-failures}
spec:
  service: support-triage
  environment: prod
  sli: tool_failure
  op: gt
  threshold: 0.2
  window: 5m
  min_events: 10
  severity: page
`,
		"notifier.yaml": webhookNotifier("oncall-webhook", hook.srv.URL, secret),
		// The rule is the only detector here: the built-in tool-failure SLO
		// would open an incident of its own (SLO alerts carry no environment).
		"slo-defaults.yaml": "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: defaults}\nspec:\n  tool_failure: {disabled: true}\n",
	})
	opts.EvalInterval = time.Second
	a := startApp(t, opts)

	var ro rolloutView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/rollouts", `{"service": "support-triage", "environment": "prod",
		"baseline": "1.0.0", "candidate": "1.1.0", "strategy": {"steps": [10, 50, 100]}, "judge": {"interval": "1h"},
		"reason": "new CRM client"}`, 201, &ro)

	// 12 tasks over the last complete minutes, each failing 2 of 3 tool calls.
	agents := newAgentSender(t, a.OTLPHTTPURL(), service, "prod")
	t0 := time.Now().Add(-4 * time.Minute)
	var tasks []agentTask
	for i := range 12 {
		tasks = append(tasks, agentTask{version: "1.0.0", key: fmt.Sprintf("ticket-%d", i), start: t0.Add(time.Duration(i) * 10 * time.Second),
			success: true, toolCalls: 3, toolFailures: 2})
	}
	agents.send(tasks...)

	var inc incidentView
	waitFor(t, 30*time.Second, "an incident for the breached rule", func() (bool, string) {
		incs := listIncidents(t, a, service)
		if len(incs) > 0 {
			inc = incs[0]
		}
		return len(incs) > 0, fmt.Sprintf("%d incidents", len(incs))
	})
	if inc.State != "triggered" || inc.Environment != "prod" || inc.Severity != "page" ||
		len(inc.Alerts) != 1 || inc.Alerts[0].Source != "rule" || inc.Alerts[0].Labels["rule"] != "triage-tool-failures" {
		t.Fatalf("incident = %+v, want a triggered page in prod with the rule's alert", inc)
	}
	waitFor(t, 15*time.Second, "the incident.triggered webhook", func() (bool, string) {
		n := len(hook.accepted(func(d hookDelivery) bool { return d.Event == "incident.triggered" }))
		return n > 0, fmt.Sprintf("%d deliveries", len(hook.deliveries()))
	})

	// The lever drops the canary to 0%.
	var mitigated incidentView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/incidents/"+inc.ID+"/mitigate",
		`{"lever": "canary_to_zero", "reason": "the new CRM client fails tool calls"}`, 200, &mitigated)
	if mitigated.State != "mitigated" {
		t.Errorf("after the lever the incident is %s, want mitigated", mitigated.State)
	}
	r := getRollout(t, a, ro.ID)
	if r.Weights.Candidate != 0 || r.State != "rolled_back" {
		t.Errorf("after canary_to_zero the rollout is %s, want the candidate at 0%% (rolled back)", r.describe())
	}
	if h := r.History[len(r.History)-1]; h.Type != "rolled_back" || !strings.Contains(h.Reason, "CRM") {
		t.Errorf("the rollout's last history entry = %+v, want the lever's rollback with its reason", h)
	}
	if as := assign(t, a, service, "ticket-1"); as.Version != "1.0.0" {
		t.Errorf("after canary_to_zero ticket-1 is assigned %+v, want the baseline", as)
	}
	found := false
	for _, e := range mitigated.Timeline {
		if e.Type == "mitigation" && e.Data["lever"] == "canary_to_zero" && e.Data["ok"] == true {
			found = true
		}
	}
	if !found {
		t.Errorf("no successful canary_to_zero mitigation on the timeline: %+v", mitigated.Timeline)
	}

	var resolved incidentView
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/incidents/"+inc.ID+"/resolve", `{"reason": "tool calls succeed on 1.0.0"}`, 200, &resolved)
	if resolved.State != "resolved" {
		t.Fatalf("after resolve the incident is %s", resolved.State)
	}

	code, pm := apiDo(t, "GET", a.HTTPURL()+"/api/v1/incidents/"+inc.ID+"/postmortem", nil)
	if code != 200 {
		t.Fatalf("postmortem: %d %s", code, pm)
	}
	_, timeline, ok := strings.Cut(string(pm), "## Timeline")
	if !ok {
		t.Fatalf("the postmortem has no timeline:\n%s", pm)
	}
	types := map[string]bool{}
	for _, e := range resolved.Timeline {
		line := fmt.Sprintf("**%s** [%s] %s: %s", e.At.UTC().Format("2006-01-02 15:04:05"), e.Type, e.Actor, e.Text)
		if !strings.Contains(timeline, line) {
			t.Errorf("the postmortem's timeline lacks %q", line)
		}
		types[e.Type] = true
	}
	for _, typ := range []string{"alert", "mitigation", "state"} {
		if !types[typ] {
			t.Errorf("the timeline has no %s entry: %+v", typ, resolved.Timeline)
		}
	}
	_, resolution, _ := strings.Cut(string(pm), "## Resolution")
	resolution, _, _ = strings.Cut(resolution, "## ")
	for _, e := range resolved.Timeline {
		if e.Type == "mitigation" && !strings.Contains(resolution, e.Text) {
			t.Errorf("the postmortem's resolution lacks the lever %q:\n%s", e.Text, resolution)
		}
	}

	// The receiver got each event once, in order, signed; the rule, still
	// firing at later ticks, opened no other incident.
	waitFor(t, 15*time.Second, "the incident.resolved webhook", func() (bool, string) {
		n := len(hook.accepted(func(d hookDelivery) bool { return d.Event == "incident.resolved" }))
		return n > 0, fmt.Sprintf("%+v", hook.deliveries())
	})
	var events []string
	for _, d := range hook.deliveries() {
		if !d.SignedOK {
			t.Errorf("delivery %s (%s) has no valid signature", d.ID, d.Event)
		}
		if d.IncidentID != inc.ID {
			t.Errorf("delivery %s (%s) is about incident %q, want %s", d.ID, d.Event, d.IncidentID, inc.ID)
		}
		events = append(events, d.Event)
	}
	if want := "[incident.triggered incident.mitigated incident.resolved]"; fmt.Sprint(events) != want {
		t.Errorf("webhook events = %v, want %s", events, want)
	}
	if incs := listIncidents(t, a, service); len(incs) != 1 {
		t.Errorf("%d incidents for %s, want 1", len(incs), service)
	}
}

// TestAlertmanagerWebhookAtAppLevel posts a notification in the format of
// Alertmanager's webhook documentation (version 4) to a running day2: it is
// accepted and opens an incident from its firing alert; a malformed one is
// answered 400 with what is wrong.
func TestAlertmanagerWebhookAtAppLevel(t *testing.T) {
	onBothStores(t, alertmanagerAtAppLevel)
}

func alertmanagerAtAppLevel(t *testing.T, opts app.Options) {
	a := startApp(t, opts)
	doc, err := os.ReadFile("testdata/alertmanager-webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	var ans struct {
		Alerts int `json:"alerts"`
	}
	apiJSON(t, "POST", a.HTTPURL()+"/api/v1/alerts/alertmanager", doc, 200, &ans)
	if ans.Alerts != 2 {
		t.Errorf("accepted %d alerts, want 2", ans.Alerts)
	}
	incs := listIncidents(t, a, "invoice-agent")
	if len(incs) != 1 {
		t.Fatalf("%d incidents for invoice-agent, want 1: %+v", len(incs), incs)
	}
	var inc incidentView
	apiJSON(t, "GET", a.HTTPURL()+"/api/v1/incidents/"+incs[0].ID, nil, 200, &inc)
	if inc.Environment != "prod" || inc.Severity != "page" || inc.State != "triggered" ||
		len(inc.Alerts) != 2 || inc.Alerts[0].Source != "alertmanager" || !strings.HasPrefix(inc.Alerts[0].Key, "alertmanager:") {
		t.Errorf("incident = %+v, want a triggered page in prod with both Alertmanager alerts", inc)
	}

	for _, bad := range []struct{ name, body, want string }{
		{"not JSON", `{"version": "4", "alerts": [`, ""},
		{"no alerts", `{"version": "4", "status": "firing", "alerts": []}`, "alert"},
		{"a missing startsAt", `{"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "X", "service": "invoice-agent"}}]}`, "startsAt"},
	} {
		code, b := apiDo(t, "POST", a.HTTPURL()+"/api/v1/alerts/alertmanager", bad.body)
		if code != 400 || !strings.Contains(string(b), bad.want) {
			t.Errorf("%s: %d %s, want 400 naming %q", bad.name, code, b, bad.want)
		}
	}
	if n := len(listIncidents(t, a, "invoice-agent")); n != 1 {
		t.Errorf("after malformed notifications %d incidents, want still 1", n)
	}
}

package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// alertmanagerBody is an Alertmanager webhook notification (version 4) of one
// firing alert of service, begun at start.
func alertmanagerBody(service, summary string, start time.Time) map[string]any {
	return map[string]any{
		"version": "4", "status": "firing", "receiver": "day2", "groupKey": "{}:{alertname=\"PaymentsFailing\"}",
		"groupLabels":  map[string]string{"alertname": "PaymentsFailing"},
		"commonLabels": map[string]string{"alertname": "PaymentsFailing", "service": service, "environment": "prod", "severity": "critical"},
		"commonAnnotations": map[string]string{
			"summary":     summary,
			"runbook_url": "https://runbooks.example.com/payments",
		},
		"externalURL": "http://alertmanager.example.com:9093",
		"alerts": []map[string]any{{
			"status": "firing", "labels": map[string]string{"instance": "pay-1"}, "annotations": map[string]string{},
			"startsAt": start.UTC().Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "a1b2c3",
		}},
	}
}

// openIncident sends an Alertmanager alert for service, begun 5 minutes ago,
// and returns the id of the incident it opened.
func (o *opsApp) openIncident(t *testing.T, service, summary string) string {
	t.Helper()
	o.api(t, "POST", "/api/v1/alerts/alertmanager", opsFleetToken, alertmanagerBody(service, summary, o.clock.Now().Add(-5*time.Minute)), http.StatusOK, nil)
	var list struct {
		Incidents []struct {
			ID, Service string
		} `json:"incidents"`
	}
	o.api(t, "GET", "/api/v1/incidents?state=open&service="+service, opsReadToken, nil, http.StatusOK, &list)
	if len(list.Incidents) != 1 {
		t.Fatalf("open incidents of %s after the alert: %+v", service, list.Incidents)
	}
	return list.Incidents[0].ID
}

// timeline returns the timeline table of an incident page.
func timeline(t *testing.T, body string) string {
	t.Helper()
	return section(t, body, "h-timeline")
}

func TestIncidentPages(t *testing.T) {
	o := startOps(t)
	// The alert's summary carries HTML, which must never reach a page as
	// markup.
	id := o.openIncident(t, "invoice-agent", "Payments fail <script>alert(1)</script>")

	t.Run("the list shows the open incident first", func(t *testing.T) {
		status, body := o.page(t, opsReadToken, "/incidents")
		if status != 200 {
			t.Fatalf("GET /incidents: %d\n%s", status, body)
		}
		open := section(t, body, "h-open")
		for _, want := range []string{`data-incident="` + id + `"`, "s-triggered", "s-page", "invoice-agent", "in prod", "5m", "1 / 1",
			"Payments fail &lt;script&gt;"} {
			if !strings.Contains(open, want) {
				t.Errorf("the open incidents lack %q", want)
			}
		}
		if strings.Contains(body, "<script>") {
			t.Error("the alert's HTML reached the page unescaped")
		}
		if _, body := o.page(t, opsReadToken, "/incidents?severity=ticket"); strings.Contains(body, `data-incident="`+id+`"`) {
			t.Error("severity=ticket shows a page incident")
		}
		if status, _ := o.page(t, opsReadToken, "/incidents?state=gone"); status != 400 {
			t.Errorf("state=gone: %d, want 400", status)
		}
	})

	t.Run("a read-only token sees the incident but no forms", func(t *testing.T) {
		status, body := o.page(t, opsReadToken, "/incidents/"+id)
		if status != 200 {
			t.Fatalf("GET /incidents/%s: %d\n%s", id, status, body)
		}
		tl := timeline(t, body)
		if !strings.Contains(tl, `data-entry="alert"`) || !strings.Contains(tl, "alertmanager") {
			t.Errorf("the timeline lacks the alert:\n%s", tl)
		}
		for _, want := range []string{"Detected", "Opened", `data-triage`, `data-runbook`, "<h2>Runbook: ", "<h3>Mitigation levers</h3>",
			"<ol>", "<code>day2 incident ack " + id + "</code>", `href="https://runbooks.example.com/payments"`,
			`href="/incidents/` + id + `/postmortem"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the incident page lacks %q", want)
			}
		}
		if strings.Contains(body, `method="post" action="/incidents/`) {
			t.Error("alice (read only) is shown the incident's forms")
		}
		if strings.Contains(body, "<script>") {
			t.Error("the alert's HTML reached the page unescaped")
		}
		status, _ = o.submit(t, opsReadToken, "/incidents/"+id+"/note", url.Values{"text": {"alice was here"}}, nil)
		if status != http.StatusForbidden {
			t.Errorf("alice's note: status %d, want 403", status)
		}
		if _, body := o.page(t, opsReadToken, "/incidents/"+id); strings.Contains(timeline(t, body), "alice was here") {
			t.Error("alice's refused note is on the timeline")
		}
	})

	t.Run("an operator acknowledges and pulls force manual", func(t *testing.T) {
		_, body := o.page(t, opsCarolToken, "/incidents/"+id)
		for _, form := range []string{"lever-canary_to_zero", "lever-force_manual", "lever-flag", "lever-override", "f-mitigated", "f-ack", "f-note", "f-resolve"} {
			if !strings.Contains(body, `id="`+form+`"`) {
				t.Errorf("carol (operate) is not shown the form %s", form)
			}
		}
		if !strings.Contains(body, `data-switch="off"`) {
			t.Error("the force-manual lever does not show the switch is off")
		}
		o.clock.Advance(time.Minute)
		body = o.follow(t, opsCarolToken, "/incidents/"+id+"/ack", url.Values{"reason": {"looking at the payment provider"}})
		if !strings.Contains(body, "Acknowledged: ") || !strings.Contains(body, `<span data-state><span class="badge s-acknowledged">`) {
			t.Error("the page does not show the incident acknowledged")
		}
		o.clock.Advance(2 * time.Minute)
		body = o.follow(t, opsCarolToken, "/incidents/"+id+"/mitigate",
			url.Values{"lever": {"force_manual"}, "on": {"on"}, "reason": {"wrong payouts"}})
		if !strings.Contains(body, "Done: human review of every risk-tiered action of invoice-agent forced on by carol: wrong payouts") {
			t.Errorf("no confirmation of the lever:\n%s", section(t, body, "main"))
		}
		tl := timeline(t, body)
		if !regexp.MustCompile(`data-entry="mitigation"><td>[^<]+</td><td><span class="badge tl-mitigation">mitigation</span></td><td>carol</td><td class="text">human review of every risk-tiered action of invoice-agent forced on by carol: wrong payouts`).MatchString(tl) {
			t.Errorf("the timeline lacks carol's lever:\n%s", tl)
		}
		if !strings.Contains(body, `<span data-state><span class="badge s-mitigated">`) || !strings.Contains(body, `data-switch="on"`) {
			t.Error("the page does not show the incident mitigated and the switch on")
		}
		// Detected 5 min before the alert came, acknowledged 1 min and
		// mitigated 3 min after it.
		for _, want := range []string{"6m after detection", "8m after detection"} {
			if !strings.Contains(body, want) {
				t.Errorf("the incident's times lack %q", want)
			}
		}
		var sw struct {
			Switches []struct {
				Service, Source, Actor, Reason string
				On                             bool
			} `json:"switches"`
		}
		o.api(t, "GET", "/api/v1/approvals/switches", opsReadToken, nil, http.StatusOK, &sw)
		found := false
		for _, s := range sw.Switches {
			if s.Service == "invoice-agent" {
				found = true
				if !s.On || s.Source != "switch" || s.Actor != "carol" || !strings.Contains(s.Reason, "wrong payouts") {
					t.Errorf("invoice-agent's switch: %+v, want on, set by carol for the incident", s)
				}
			}
		}
		if !found {
			t.Error("the API lists no switch for invoice-agent")
		}
	})

	t.Run("a lever the service refuses comes back as the message", func(t *testing.T) {
		body := o.follow(t, opsCarolToken, "/incidents/"+id+"/mitigate",
			url.Values{"lever": {"override"}, "name": {"temperature_cap"}, "value": {"hot"}, "reason": {"calm the model"}})
		if !strings.Contains(body, `class="flash err"`) || !strings.Contains(body, "temperature_cap must be a number, not &#34;hot&#34;") {
			t.Errorf("the refusal is not shown:\n%s", section(t, body, "main"))
		}
		body = o.follow(t, opsCarolToken, "/incidents/"+id+"/mitigate", url.Values{"lever": {"flag"}, "flag": {"payouts"}, "reason": {""}})
		if !strings.Contains(body, "a reason is required to pull a lever") {
			t.Error("a lever without a reason is not refused with the service's message")
		}
	})

	t.Run("notes are text, never markup", func(t *testing.T) {
		note := "impact: 40 payouts held <img src=x onerror=alert(1)> see [it](javascript:alert(1)) and **ETA 30 min**"
		body := o.follow(t, opsCarolToken, "/incidents/"+id+"/note", url.Values{"text": {note}})
		tl := timeline(t, body)
		if !strings.Contains(tl, `<td>carol</td><td class="text">impact: 40 payouts held &lt;img src=x onerror=alert(1)&gt;`) {
			t.Errorf("the timeline lacks the escaped note:\n%s", tl)
		}
		if strings.Contains(body, "<img") {
			t.Error("the note's HTML reached the page")
		}
	})

	t.Run("a cross-origin post is refused", func(t *testing.T) {
		status, _ := o.submit(t, opsCarolToken, "/incidents/"+id+"/resolve", url.Values{"reason": {"x"}},
			http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}})
		if status != http.StatusForbidden {
			t.Errorf("cross-origin resolve: status %d, want 403", status)
		}
	})

	t.Run("the postmortem draft holds the timeline", func(t *testing.T) {
		status, body := o.page(t, opsReadToken, "/incidents/"+id+"/postmortem")
		if status != 200 {
			t.Fatalf("GET postmortem: %d\n%s", status, body)
		}
		doc := body[strings.Index(body, "data-doc"):]
		for _, want := range []string{"<h2>Postmortem: Payments fail &lt;script&gt;alert(1)&lt;/script&gt;", "<h3>Timeline</h3>", "<h3>Action Items</h3>",
			"<table>", "[state] carol: acknowledged by carol: looking at the payment provider",
			"[mitigation] carol: human review of every risk-tiered action of invoice-agent forced on by carol: wrong payouts",
			"&lt;img src=x onerror=alert(1)&gt;", "<strong>ETA 30 min</strong>", "[it](javascript:alert(1))",
			`href="/api/v1/incidents/` + id + `/postmortem"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the postmortem page lacks %q", want)
			}
		}
		for _, bad := range []string{"<img", "<script>", `href="javascript`} {
			if strings.Contains(doc, bad) {
				t.Errorf("the postmortem page has %q", bad)
			}
		}
	})

	t.Run("resolving moves it to the recently resolved", func(t *testing.T) {
		body := o.follow(t, opsCarolToken, "/incidents/"+id+"/resolve", url.Values{"reason": {"payouts flow again"}})
		if !strings.Contains(body, "Resolved: ") || strings.Contains(body, `id="lever-force_manual"`) {
			t.Error("the resolved incident's page still offers levers or lacks the confirmation")
		}
		_, body = o.page(t, opsReadToken, "/incidents")
		if strings.Contains(section(t, body, "h-open"), id) || !strings.Contains(section(t, body, "h-resolved"), `data-incident="`+id+`"`) {
			t.Error("the resolved incident is not under recently resolved")
		}
	})

	t.Run("the daily digest and the weekly review", func(t *testing.T) {
		for _, tc := range []struct{ period, want string }{{"day", "<h2>Daily reliability digest: "}, {"week", "<h2>Weekly reliability review: "}} {
			status, body := o.page(t, opsReadToken, "/review?period="+tc.period)
			if status != 200 || !strings.Contains(body, tc.want) || !strings.Contains(body, id) || !strings.Contains(body, `aria-current="true"`) {
				t.Errorf("GET /review?period=%s: %d, want %q and the incident", tc.period, status, tc.want)
			}
		}
		if status, body := o.page(t, opsReadToken, "/review?period=month"); status != 400 || !strings.Contains(body, "use day") {
			t.Errorf("period=month: %d", status)
		}
	})
}

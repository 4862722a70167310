package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/day2ops/day2"
)

// Headers of the generic webhook.
const (
	// HeaderSignature carries "sha256=" and the hex HMAC-SHA256 of the raw body,
	// keyed with the notifier's secret.
	HeaderSignature = "X-Day2-Signature-256"
	// HeaderTimestamp carries the Unix time, in seconds, of the attempt.
	HeaderTimestamp = "X-Day2-Timestamp"
	// HeaderEvent carries the message's event, e.g. incident.triggered.
	HeaderEvent = "X-Day2-Event"
	// HeaderDelivery carries the delivery id, the same on every retry, so that
	// receivers can drop duplicates.
	HeaderDelivery = "X-Day2-Delivery"
)

// Limits of the destinations, in characters.
const (
	pdDedupKeyMax   = 255
	pdSummaryMax    = 1024
	slackHeaderMax  = 150
	slackTextMax    = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
	slackFallbackMx = 3000
)

// Render returns the HTTP body and headers that notifier n posts for message m,
// deliveryID being the outbox record's id (the webhook's X-Day2-Delivery). The
// secret is read from n (or its secret_env) here; errors say what to fix in the
// notifier's configuration.
func Render(n Notifier, m Message, deliveryID string) (body []byte, headers http.Header, err error) {
	return render(&n, &m, deliveryID, time.Now())
}

// render is Render at time now (the webhook's X-Day2-Timestamp).
func render(n *Notifier, m *Message, deliveryID string, now time.Time) ([]byte, http.Header, error) {
	var v any
	switch n.Type {
	case TypeWebhook:
		v = webhookPayload(m, deliveryID)
	case TypeTeams:
		v = teamsPayload(m)
	case TypeSlack:
		v = slackPayload(m)
	case TypePagerDuty:
		key, err := n.secret()
		if err != nil {
			return nil, nil, err
		}
		if key == "" {
			return nil, nil, day2.Errorf(day2.EInvalid, "notifier %s (pagerduty) has no routing key; set secret_env or secret to the Events API v2 integration key", n.Name)
		}
		v = pagerDutyPayload(m, key)
	default:
		return nil, nil, day2.Errorf(day2.EInvalid, "notifier %s has the unknown type %q; use webhook, teams, slack or pagerduty", n.Name, n.Type)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, nil, day2.Errorf(day2.EInvalid, "notification %s %s cannot be written as JSON: %v", m.Event, m.DedupKey, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "day2-notify")
	if n.Type == TypeWebhook {
		secret, err := n.secret()
		if err != nil {
			return nil, nil, err
		}
		if secret == "" {
			return nil, nil, day2.Errorf(day2.EInvalid, "notifier %s (webhook) has no secret to sign with; set secret_env or secret", n.Name)
		}
		h.Set(HeaderSignature, Sign(secret, body))
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderEvent, m.Event)
		h.Set(HeaderDelivery, deliveryID)
	}
	return body, h, nil
}

// Sign returns the X-Day2-Signature-256 value of body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret. Receivers recompute it over the raw
// body and compare with hmac.Equal.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookBody is the generic webhook's JSON document.
type webhookBody struct {
	Event       string          `json:"event"`
	DeliveryID  string          `json:"delivery_id"`
	At          time.Time       `json:"at"`
	Service     string          `json:"service"`
	Environment string          `json:"environment"`
	Severity    string          `json:"severity"`
	Title       string          `json:"title"`
	Summary     string          `json:"summary"`
	NextSteps   []string        `json:"next_steps"`
	URL         string          `json:"url"`
	DedupKey    string          `json:"dedup_key"`
	Facts       []Fact          `json:"facts"`
	Incident    *IncidentRef    `json:"incident,omitempty"`
	Approval    json.RawMessage `json:"approval,omitempty"`
}

func webhookPayload(m *Message, deliveryID string) webhookBody {
	b := webhookBody{
		Event: m.Event, DeliveryID: deliveryID, At: m.At.UTC(), Service: m.Service, Environment: m.Environment,
		Severity: m.Severity, Title: m.Title, Summary: m.Summary, NextSteps: m.NextSteps, URL: m.URL,
		DedupKey: m.DedupKey, Facts: m.Facts, Incident: m.incident(), Approval: m.Approval,
	}
	if b.NextSteps == nil {
		b.NextSteps = []string{}
	}
	if b.Facts == nil {
		b.Facts = []Fact{}
	}
	return b
}

// obj is a JSON object of a chat card.
type obj = map[string]any

// teamsPayload is a Teams Workflows message carrying one Adaptive Card 1.4:
// the headline, the summary, the facts and the next steps, and a button to
// open day2.
func teamsPayload(m *Message) obj {
	head := obj{"type": "TextBlock", "text": m.headline(), "size": "Large", "weight": "Bolder", "wrap": true}
	if c := teamsColor(m); c != "" {
		head["color"] = c
	}
	body := []obj{head}
	if m.Summary != "" {
		body = append(body, obj{"type": "TextBlock", "text": m.Summary, "wrap": true})
	}
	if fs := m.facts(); len(fs) > 0 {
		facts := make([]obj, len(fs))
		for i, f := range fs {
			facts[i] = obj{"title": f.Name, "value": f.Value}
		}
		body = append(body, obj{"type": "FactSet", "facts": facts})
	}
	if len(m.NextSteps) > 0 {
		// Adaptive Cards' markdown separates list items with \r.
		var b strings.Builder
		for i, s := range m.NextSteps {
			if i > 0 {
				b.WriteString("\r")
			}
			b.WriteString("- " + s)
		}
		body = append(body,
			obj{"type": "TextBlock", "text": "Next steps", "weight": "Bolder", "wrap": true, "spacing": "Medium"},
			obj{"type": "TextBlock", "text": b.String(), "wrap": true, "spacing": "Small"})
	}
	card := obj{
		"type":    "AdaptiveCard",
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"version": "1.4",
		"body":    body,
		"msteams": obj{"width": "Full"},
	}
	actions := []obj{}
	if m.URL != "" {
		actions = append(actions, obj{"type": "Action.OpenUrl", "title": "Open in day2", "url": m.URL})
	}
	card["actions"] = actions
	return obj{
		"type": "message",
		"attachments": []obj{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

// teamsColor colours the headline: red for a page, amber for a ticket, green
// when the impact is over.
func teamsColor(m *Message) string {
	switch m.Event {
	case EventIncidentMitigated, EventIncidentResolved:
		return "Good"
	case EventIncidentTriggered, EventIncidentUpdated:
		if m.Severity == "page" {
			return "Attention"
		}
		return "Warning"
	case EventApprovalPending, EventApprovalReminder:
		return "Accent"
	}
	return ""
}

// slackPayload is a Slack incoming-webhook message: a fallback text for
// notifications, and Block Kit blocks (header, summary with next steps, facts
// as fields, a button to open day2).
func slackPayload(m *Message) obj {
	fallback := m.headline()
	if m.Summary != "" {
		fallback += " — " + m.Summary
	}
	blocks := []obj{{"type": "header", "text": obj{"type": "plain_text", "text": truncate(m.headline(), slackHeaderMax), "emoji": true}}}
	var text strings.Builder
	text.WriteString(slackEscape(m.Summary))
	if len(m.NextSteps) > 0 {
		if text.Len() > 0 {
			text.WriteString("\n\n")
		}
		text.WriteString("*Next steps*")
		for _, s := range m.NextSteps {
			text.WriteString("\n• " + slackEscape(s))
		}
	}
	if text.Len() > 0 {
		blocks = append(blocks, obj{"type": "section", "text": obj{"type": "mrkdwn", "text": truncate(text.String(), slackTextMax)}})
	}
	if fs := m.facts(); len(fs) > 0 {
		if len(fs) > slackFieldsMax {
			fs = fs[:slackFieldsMax]
		}
		fields := make([]obj, len(fs))
		for i, f := range fs {
			fields[i] = obj{"type": "mrkdwn", "text": truncate("*"+slackEscape(f.Name)+"*\n"+slackEscape(f.Value), slackFieldMax)}
		}
		blocks = append(blocks, obj{"type": "section", "fields": fields})
	}
	if m.URL != "" {
		blocks = append(blocks, obj{"type": "actions", "elements": []obj{{
			"type": "button", "action_id": "open_day2", "url": m.URL,
			"text": obj{"type": "plain_text", "text": "Open in day2"},
		}}})
	}
	return obj{"text": truncate(slackEscape(fallback), slackFallbackMx), "blocks": blocks}
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// pdEvent is a PagerDuty Events API v2 event.
type pdEvent struct {
	RoutingKey  string    `json:"routing_key"`
	EventAction string    `json:"event_action"`
	DedupKey    string    `json:"dedup_key"`
	Client      string    `json:"client"`
	ClientURL   string    `json:"client_url,omitempty"`
	Payload     pdPayload `json:"payload"`
	Links       []pdLink  `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// PagerDutyAction returns the Events API v2 event_action of event. PagerDuty
// knows no "mitigated": a mitigation is sent as a trigger with the same
// dedup_key, which PagerDuty folds into the open alert (it adds the new summary
// to the alert's log without paging again) while the incident stays open until
// day2 resolves it. Acknowledging instead would tell PagerDuty that a person is
// working on it, and resolving would close it before the cause is fixed.
func PagerDutyAction(event string) string {
	switch event {
	case EventIncidentAcknowledged:
		return "acknowledge"
	case EventIncidentResolved, EventApprovalDecided:
		return "resolve"
	}
	return "trigger"
}

func pagerDutyPayload(m *Message, routingKey string) pdEvent {
	source := "day2"
	if m.Service != "" {
		source += "/" + m.Service
	}
	sev := "warning"
	if m.Severity == "page" {
		sev = "critical"
	}
	details := map[string]any{}
	for _, f := range m.facts() {
		details[f.Name] = f.Value
	}
	if len(m.NextSteps) > 0 {
		details["Next steps"] = m.NextSteps
	}
	e := pdEvent{
		RoutingKey:  routingKey,
		EventAction: PagerDutyAction(m.Event),
		DedupKey:    pagerDutyDedupKey(m.DedupKey),
		Client:      "day2",
		ClientURL:   m.URL,
		Payload: pdPayload{
			Summary: truncate(pagerDutySummary(m), pdSummaryMax), Source: source, Severity: sev,
			Timestamp: m.At.UTC().Format(time.RFC3339), Component: m.Service, Group: m.Environment,
			Class: m.Event, CustomDetails: details,
		},
	}
	if m.URL != "" {
		e.Links = []pdLink{{Href: m.URL, Text: "Open in day2"}}
	}
	return e
}

// pagerDutySummary is the alert's one line: the title and the summary, after
// the change in words for anything but the first trigger.
func pagerDutySummary(m *Message) string {
	s := m.Title
	if m.Summary != "" {
		if s != "" {
			s += " — "
		}
		s += m.Summary
	}
	if m.Event != EventIncidentTriggered {
		label := m.Event
		if l, ok := strings.CutPrefix(eventLabels[m.Event], "Incident "); ok {
			label = strings.ToUpper(l[:1]) + l[1:]
		} else if l != "" {
			label = l
		}
		if s == "" {
			return label
		}
		s = label + ": " + s
	}
	if s == "" {
		s = m.DedupKey
	}
	return s
}

// pagerDutyDedupKey keeps a dedup key within PagerDuty's 255 characters: a
// longer one is shortened to a prefix and its SHA-256, the same for the
// trigger and the resolve.
func pagerDutyDedupKey(k string) string {
	if len(k) <= pdDedupKeyMax {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	h := hex.EncodeToString(sum[:])
	prefix := k[:pdDedupKeyMax-len(h)-1]
	for !utf8.ValidString(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix + "-" + h
}

// truncate shortens s to at most n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

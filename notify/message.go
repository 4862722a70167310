package notify

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// Message is one notification about an incident or an approval, in the words of
// the capability that sends it; Render turns it into each destination's format.
type Message struct {
	// Event is one of Events, e.g. incident.triggered.
	Event       string `json:"event"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	// Severity is page or ticket for incidents, "" for approvals.
	Severity string `json:"severity"`
	Title    string `json:"title"`
	// Summary says the impact and the status in plain words.
	Summary   string   `json:"summary"`
	NextSteps []string `json:"next_steps,omitempty"`
	// URL links to the incident or approval in day2.
	URL string `json:"url"`
	// DedupKey is the incident's or the approval's id: PagerDuty's dedup_key,
	// and part of the outbox key.
	DedupKey string `json:"dedup_key"`
	// Facts are shown as a table (Teams FactSet, Slack fields, PagerDuty
	// custom_details).
	Facts    []Fact       `json:"facts,omitempty"`
	Incident *IncidentRef `json:"incident,omitempty"`
	// Approval is the approval request as its capability shows it.
	Approval json.RawMessage `json:"approval,omitempty"`
	// At is when the change happened.
	At time.Time `json:"at"`
	// Seq, when set, tells apart two messages of the same event about the same
	// incident or approval (a second reminder, a later update) in the outbox key;
	// without it At does. The same message enqueued twice is sent once.
	Seq string `json:"seq,omitempty"`
}

// Fact is one row of a message's table.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// IncidentRef is what a notification says about its incident.
type IncidentRef struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Severity    string `json:"severity"`
	State       string `json:"state"`
	URL         string `json:"url"`
}

// Validate checks that m can be enqueued: a known event, a dedup key, a time,
// and a valid approval document.
func (m *Message) Validate() error {
	if !slices.Contains(Events, m.Event) {
		return day2.Errorf(day2.EInvalid, "notification event %q is unknown; use one of %s", m.Event, strings.Join(Events, ", "))
	}
	if m.DedupKey == "" {
		return day2.Errorf(day2.EInvalid, "%s notification has no dedup_key; set it to the incident or approval id", m.Event)
	}
	if m.At.IsZero() {
		return day2.Errorf(day2.EInvalid, "%s notification %s has no time; set At to when the change happened", m.Event, m.DedupKey)
	}
	if y := m.At.Year(); y < 1678 || y > 2261 {
		return day2.Errorf(day2.EInvalid, "%s notification %s: the time %s is out of range", m.Event, m.DedupKey, m.At.Format(time.RFC3339))
	}
	switch m.Severity {
	case "", "page", "ticket":
	default:
		return day2.Errorf(day2.EInvalid, "%s notification %s has the severity %q; use page, ticket or none", m.Event, m.DedupKey, m.Severity)
	}
	if len(m.Approval) > 0 && !json.Valid(m.Approval) {
		return day2.Errorf(day2.EInvalid, "%s notification %s: the approval is not valid JSON", m.Event, m.DedupKey)
	}
	return nil
}

// isIncident reports whether event is about an incident.
func isIncident(event string) bool { return strings.HasPrefix(event, "incident.") }

// incident returns m's incident, made from m's own fields when the sender gave
// none, so that every incident event names its incident.
func (m *Message) incident() *IncidentRef {
	if m.Incident != nil || !isIncident(m.Event) {
		return m.Incident
	}
	state := strings.TrimPrefix(m.Event, "incident.")
	if state == "updated" {
		state = ""
	}
	return &IncidentRef{ID: m.DedupKey, Title: m.Title, Service: m.Service, Environment: m.Environment,
		Severity: m.Severity, State: state, URL: m.URL}
}

// eventLabels are the events in words, as headlines start.
var eventLabels = map[string]string{
	EventIncidentTriggered:    "Incident triggered",
	EventIncidentAcknowledged: "Incident acknowledged",
	EventIncidentMitigated:    "Incident mitigated",
	EventIncidentResolved:     "Incident resolved",
	EventIncidentUpdated:      "Incident updated",
	EventApprovalPending:      "Approval needed",
	EventApprovalReminder:     "Approval still waiting",
	EventApprovalDecided:      "Approval decided",
}

// headline is the message's one-line title: the event in words and the title.
func (m *Message) headline() string {
	label := eventLabels[m.Event]
	if label == "" {
		label = m.Event
	}
	if m.Title == "" {
		return label
	}
	return label + ": " + m.Title
}

// facts returns the rows of the message's table: service, environment,
// severity and state first, then the sender's facts.
func (m *Message) facts() []Fact {
	var out []Fact
	add := func(name, v string) {
		if v != "" {
			out = append(out, Fact{name, v})
		}
	}
	add("Service", m.Service)
	add("Environment", m.Environment)
	add("Severity", m.Severity)
	if inc := m.incident(); inc != nil {
		add("State", inc.State)
	}
	for _, f := range m.Facts {
		if f.Name != "" || f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

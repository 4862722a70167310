// Package notify tells people about incidents and approvals: it renders a
// Message for Microsoft Teams (Workflows Adaptive Cards), Slack (Block Kit),
// PagerDuty (Events API v2) or a generic signed webhook, and delivers it through
// a durable outbox kept in the record store, so that a notification is retried
// with backoff, deduplicated, sent once even with several replicas, and never
// lost across a restart.
//
// Which events exist and when they happen is the business of the incident and
// approval capabilities; this package only matches them against the configured
// Notifiers and delivers them.
package notify

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
)

// Notifier types.
const (
	TypeWebhook   = "webhook"
	TypeTeams     = "teams"
	TypeSlack     = "slack"
	TypePagerDuty = "pagerduty"
)

// DefaultPagerDutyURL is the Events API v2 endpoint a pagerduty Notifier posts to
// when it sets no url.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Event names.
const (
	EventIncidentTriggered    = "incident.triggered"
	EventIncidentAcknowledged = "incident.acknowledged"
	EventIncidentMitigated    = "incident.mitigated"
	EventIncidentResolved     = "incident.resolved"
	EventIncidentUpdated      = "incident.updated"
	EventApprovalPending      = "approval.pending"
	EventApprovalReminder     = "approval.reminder"
	EventApprovalDecided      = "approval.decided"
)

// Events lists every event name a Notifier may subscribe to, in the order of
// an incident's and an approval's life.
var Events = []string{
	EventIncidentTriggered, EventIncidentAcknowledged, EventIncidentMitigated,
	EventIncidentResolved, EventIncidentUpdated,
	EventApprovalPending, EventApprovalReminder, EventApprovalDecided,
}

// Notifier is one configured destination of notifications: the spec of a
// day2/v1 Notifier document, with its metadata.name as Name.
//
// The secret (or the environment variable it is read from) is never written to
// JSON, and the URL is written without its path and query, because the URLs of
// Teams and Slack webhooks are themselves credentials.
type Notifier struct {
	// Name identifies the notifier in the outbox and in logs; it must be unique.
	Name string `yaml:"name" json:"name"`
	// Type is webhook, teams, slack or pagerduty.
	Type string `yaml:"type" json:"type"`
	// URL is where messages are posted; pagerduty defaults to DefaultPagerDutyURL.
	URL string `yaml:"url" json:"url"`
	// Secret is the webhook's HMAC key or PagerDuty's routing key.
	Secret string `yaml:"secret" json:"-"`
	// SecretEnv names the environment variable holding the secret instead; the
	// name is not secret and is shown.
	SecretEnv string `yaml:"secret_env" json:"secret_env,omitempty"`
	// Match selects the messages sent; an empty Match selects every message.
	Match Match `yaml:"match" json:"match"`
	// Events lists the events sent; empty means all of them, except that
	// PagerDuty gets only incident events unless approval events are listed.
	Events []string `yaml:"events" json:"events,omitempty"`
	// RepeatInterval is how long an unchanged open incident waits before its
	// reminder is sent again; incidents read it, the outbox only stores it.
	RepeatInterval day2.Duration `yaml:"repeat_interval" json:"repeat_interval,omitempty"`
	// GroupInterval is the least time between two batches of alerts joining an
	// open incident; incidents read it, the outbox only stores it.
	GroupInterval day2.Duration `yaml:"group_interval" json:"group_interval,omitempty"`
}

// Match selects messages by service, severity and environment. Within a field
// any listed value matches; all non-empty fields must match. A message whose
// field is empty (approvals have no severity) does not match a non-empty list.
type Match struct {
	// Service lists service names (the service.name of the agents).
	Service StringList `yaml:"service" json:"service,omitempty"`
	// Severity lists page, ticket or both.
	Severity StringList `yaml:"severity" json:"severity,omitempty"`
	// Environment lists environments, such as prod.
	Environment StringList `yaml:"environment" json:"environment,omitempty"`
}

// StringList is a list of strings that YAML and JSON may also write as a single
// string: `service: checkout` means `service: [checkout]`.
type StringList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var s string
		if err := n.Decode(&s); err != nil {
			return err
		}
		*l = StringList{s}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return day2.Errorf(day2.EInvalid, "line %d: expected a name or a list of names, such as [checkout, billing]", n.Line)
	}
	var out []string
	if err := n.Decode(&out); err != nil {
		return err
	}
	*l = out
	return nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = StringList{s}
		return nil
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return day2.Errorf(day2.EInvalid, "expected a name or a list of names, such as [\"checkout\", \"billing\"]")
	}
	*l = out
	return nil
}

// MarshalJSON implements json.Marshaler: the notifier without its secret, and
// with its URL reduced to scheme and host.
func (n Notifier) MarshalJSON() ([]byte, error) {
	type plain Notifier // without the method
	p := plain(n)
	p.URL = RedactURL(n.URL)
	return json.Marshal(struct {
		plain
		SecretSet bool `json:"secret_set"`
	}{p, n.Secret != "" || n.SecretEnv != ""})
}

// LogValue implements slog.LogValuer so that logging a Notifier never logs its
// secret or the credential part of its URL.
func (n Notifier) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", n.Name), slog.String("type", n.Type), slog.String("url", RedactURL(n.URL)))
}

// RedactURL returns u without user information, path and query, which may hold
// credentials (Slack and Teams webhook URLs do): "https://hooks.slack.com/…".
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "(unparsable url)"
	}
	out := p.Scheme + "://" + p.Host
	if (p.Path != "" && p.Path != "/") || p.RawQuery != "" || p.Fragment != "" {
		out += "/…"
	}
	return out
}

// Validate checks n and fills in the defaults: the PagerDuty URL. Its errors
// say what to change.
func (n *Notifier) Validate() error {
	name := n.Name
	if name == "" {
		return day2.Errorf(day2.EInvalid, "notifier has no name; set metadata.name, such as oncall-webhook")
	}
	if len(name) > 63 || strings.ContainsAny(name, "/ \t\r\n") {
		return day2.Errorf(day2.EInvalid, "notifier name %q must be at most 63 characters without spaces or /, such as oncall-webhook", name)
	}
	switch n.Type {
	case TypeWebhook, TypeTeams, TypeSlack, TypePagerDuty:
	case "":
		return day2.Errorf(day2.EInvalid, "notifier %s has no type; set type to webhook, teams, slack or pagerduty", name)
	default:
		return day2.Errorf(day2.EInvalid, "notifier %s has the unknown type %q; use webhook, teams, slack or pagerduty", name, n.Type)
	}
	if n.URL == "" {
		if n.Type != TypePagerDuty {
			return day2.Errorf(day2.EInvalid, "notifier %s (%s) has no url; set url to the %s", name, n.Type, urlHint(n.Type))
		}
		n.URL = DefaultPagerDutyURL
	}
	u, err := url.Parse(n.URL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return day2.Errorf(day2.EInvalid, "notifier %s: url must be an http:// or https:// address, such as https://example.com/hook", name)
	}
	if n.Secret != "" && n.SecretEnv != "" {
		return day2.Errorf(day2.EInvalid, "notifier %s sets both secret and secret_env; keep one (secret_env keeps the secret out of the file)", name)
	}
	if n.SecretEnv != "" && !validEnvName(n.SecretEnv) {
		return day2.Errorf(day2.EInvalid, "notifier %s: secret_env %q is not an environment variable name; use letters, digits and _, such as DAY2_HOOK_SECRET", name, n.SecretEnv)
	}
	if n.Secret == "" && n.SecretEnv == "" {
		switch n.Type {
		case TypeWebhook:
			return day2.Errorf(day2.EInvalid, "notifier %s (webhook) needs a secret to sign its messages; set secret_env: DAY2_HOOK_SECRET (or secret)", name)
		case TypePagerDuty:
			return day2.Errorf(day2.EInvalid, "notifier %s (pagerduty) needs the integration's routing key; set secret_env: DAY2_PAGERDUTY_KEY (or secret) to the Events API v2 integration key", name)
		}
	}
	for _, e := range n.Events {
		if !slices.Contains(Events, e) {
			return day2.Errorf(day2.EInvalid, "notifier %s: unknown event %q; use any of %s", name, e, strings.Join(Events, ", "))
		}
	}
	for _, s := range n.Match.Severity {
		if s != "page" && s != "ticket" {
			return day2.Errorf(day2.EInvalid, "notifier %s: match.severity %q is not a severity; use page or ticket", name, s)
		}
	}
	for _, f := range []struct {
		name string
		l    StringList
	}{{"service", n.Match.Service}, {"environment", n.Match.Environment}} {
		if slices.Contains(f.l, "") {
			return day2.Errorf(day2.EInvalid, "notifier %s: match.%s lists an empty name; remove it, or remove match.%s to match every %s", name, f.name, f.name, f.name)
		}
	}
	return nil
}

func urlHint(typ string) string {
	switch typ {
	case TypeTeams:
		return "HTTP POST URL of a Teams Workflows \"When a Teams webhook request is received\" flow"
	case TypeSlack:
		return "Slack incoming webhook URL (https://hooks.slack.com/services/...)"
	}
	return "receiver's address, such as https://example.com/hook"
}

func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// secret returns the notifier's secret, reading SecretEnv when set.
func (n *Notifier) secret() (string, error) {
	if n.SecretEnv == "" {
		return n.Secret, nil
	}
	v := os.Getenv(n.SecretEnv)
	if v == "" {
		return "", day2.Errorf(day2.EInvalid, "notifier %s: the environment variable %s named by secret_env is not set or empty in day2's environment", n.Name, n.SecretEnv)
	}
	return v, nil
}

// endpoint returns the URL messages are posted to.
func (n *Notifier) endpoint() string {
	if n.URL == "" && n.Type == TypePagerDuty {
		return DefaultPagerDutyURL
	}
	return n.URL
}

// Wants reports whether n sends event: listed in Events, or Events empty and
// the event not an approval event for PagerDuty.
func (n *Notifier) Wants(event string) bool {
	if len(n.Events) > 0 {
		return slices.Contains(n.Events, event)
	}
	if n.Type == TypePagerDuty {
		return strings.HasPrefix(event, "incident.")
	}
	return slices.Contains(Events, event)
}

// Matches reports whether n sends m: it wants m's event and its Match selects
// m's service, severity and environment.
func (n *Notifier) Matches(m *Message) bool {
	if !n.Wants(m.Event) {
		return false
	}
	in := func(l StringList, v string) bool { return len(l) == 0 || slices.Contains(l, v) }
	return in(n.Match.Service, m.Service) && in(n.Match.Severity, m.Severity) && in(n.Match.Environment, m.Environment)
}

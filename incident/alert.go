// Package incident runs incidents from detection to postmortem: threshold rules
// over the SLI rollups and Alertmanager webhooks produce Alerts; Ingest groups
// them into incidents (one per service and environment while it is open, so a
// burst of alerts about one outage is one incident); people acknowledge,
// mitigate (with levers: canary to zero, flags, forced human review, overrides
// the agents read) and resolve them; every step is on the incident's timeline,
// audited, and announced through the notification outbox. Each incident carries
// a triage summary, a rendered runbook, and a postmortem draft in the Google SRE
// format; Digest and WeeklyReview write the on-call rhythm's Markdown.
//
// Incidents are day2.Records of kind "incident", changed by compare-and-swap,
// so several replicas and people acting at once never lose a change.
package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// Alert sources.
const (
	SourceSLO          = "slo"
	SourceRule         = "rule"
	SourceCanary       = "canary"
	SourceAlertmanager = "alertmanager"
)

// Alert statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Severities of alerts and incidents: a page wakes someone up, a ticket waits
// for working hours.
const (
	SeverityPage   = "page"
	SeverityTicket = "ticket"
)

// Alert is one signal that something is wrong (or no longer wrong), whatever
// produced it: an SLO burn-rate alert, a threshold rule, a failing canary, or
// an Alertmanager webhook. Ingest turns alerts into incidents.
type Alert struct {
	// Source is "slo", "rule", "canary" or "alertmanager".
	Source string `json:"source"`
	// Key is the stable identity of the alert, used for deduplication, e.g.
	// "rule:triage-success-drop" or an Alertmanager fingerprint.
	Key string `json:"key"`
	// Status is "firing" or "resolved".
	Status      string `json:"status"`
	Service     string `json:"service"`
	Environment string `json:"environment"`
	// Severity is "page" or "ticket".
	Severity string            `json:"severity"`
	Summary  string            `json:"summary"`
	Details  string            `json:"details,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Runbook names a configured runbook, or links to one.
	Runbook  string    `json:"runbook,omitempty"`
	StartsAt time.Time `json:"starts_at"`
	URL      string    `json:"url,omitempty"`
}

// Validate reports what is wrong with a, naming the field and the values it
// may take.
func (a *Alert) Validate() error {
	switch {
	case a.Key == "":
		return day2.Errorf(day2.EInvalid, "the alert has no key; set key to a stable identity of the alert, such as rule:NAME or an Alertmanager fingerprint")
	case a.Service == "":
		return day2.Errorf(day2.EInvalid, "alert %q has no service; set service to the agent service it is about", a.Key)
	case a.Status != StatusFiring && a.Status != StatusResolved:
		return day2.Errorf(day2.EInvalid, "alert %q has the status %q; use firing or resolved", a.Key, a.Status)
	case a.Severity != SeverityPage && a.Severity != SeverityTicket:
		return day2.Errorf(day2.EInvalid, "alert %q has the severity %q; use page or ticket", a.Key, a.Severity)
	}
	return nil
}

// FromSLOTransition returns the alert of an SLO burn-rate alert transition
// (slo.Engine.Tick): firing when it began to fire, resolved when it stopped,
// and false for transitions that are neither (pending). SLO alerts carry no
// environment, so their incidents group under the service alone.
func FromSLOTransition(t day2.AlertTransition) (Alert, bool) {
	var status string
	switch t.To {
	case StatusFiring:
		status = StatusFiring
	case StatusResolved, "inactive":
		if t.From != StatusFiring {
			return Alert{}, false
		}
		status = StatusResolved
	default:
		return Alert{}, false
	}
	sev := SeverityTicket
	if t.Severity == SeverityPage {
		sev = SeverityPage
	}
	summary := fmt.Sprintf("SLO %s is burning its error budget too fast (%s)", t.SLO, t.Severity)
	if status == StatusResolved {
		summary = fmt.Sprintf("SLO %s burn rate is back under the %s threshold", t.SLO, t.Severity)
	}
	return Alert{Source: SourceSLO, Key: t.Key, Status: status, Service: t.Service, Severity: sev,
		Summary: summary, Details: t.Details, Labels: map[string]string{"slo": t.SLO, "severity": t.Severity},
		StartsAt: t.At.UTC()}, true
}

// title is how an incident opened by a names itself.
func (a *Alert) title() string {
	if s := strings.TrimSpace(a.Summary); s != "" {
		return oneLine(s, 200)
	}
	where := a.Service
	if a.Environment != "" {
		where += " (" + a.Environment + ")"
	}
	return fmt.Sprintf("%s alert %s on %s", a.Source, a.Key, where)
}

// oneLine returns s on one line, cut to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

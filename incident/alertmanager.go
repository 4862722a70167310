package incident

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// amPayload is the body of an Alertmanager webhook notification, version "4"
// (prometheus.io/docs/alerting/latest/configuration/#webhook_config).
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            *[]amAlert        `json:"alerts"`
}

// amAlert is one alert of an Alertmanager notification. Times are strings so
// that a bad one gets a message naming it.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ParseAlertmanager reads the body of an Alertmanager webhook notification
// (version "4") into Alerts:
//   - the key is the alert's fingerprint (a hash of its labels when absent),
//     prefixed "alertmanager:";
//   - the service is the label service, else job, else alertname;
//   - the environment is the label environment, else env;
//   - the severity is page for a severity label of critical, page or error
//     (any case), ticket otherwise;
//   - the summary is the annotation summary, else description, else alertname;
//   - the runbook is the annotation runbook, else runbook_url;
//   - labels and annotations of the group (commonLabels, commonAnnotations)
//     apply to every alert, which may override them.
//
// A body that is not such a notification (not JSON, no alerts, a status other
// than firing or resolved, a missing or malformed startsAt, an endsAt before
// startsAt, no label naming the service) is an EInvalid error saying what is
// wrong.
func ParseAlertmanager(body []byte) ([]Alert, error) {
	var p amPayload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return nil, day2.Errorf(day2.EInvalid, "the Alertmanager notification is not valid JSON of the webhook format (%s); point an Alertmanager webhook_config at this URL", jsonProblem(err))
	}
	if dec.More() {
		return nil, day2.Errorf(day2.EInvalid, "the Alertmanager notification has data after its JSON object; send one notification per request")
	}
	if p.Version != "" && p.Version != "4" {
		return nil, day2.Errorf(day2.EInvalid, "the Alertmanager notification has version %q; day2 reads version \"4\", which Alertmanager 0.16 and later send", p.Version)
	}
	if p.Status != "" && p.Status != StatusFiring && p.Status != StatusResolved {
		return nil, day2.Errorf(day2.EInvalid, "the Alertmanager notification has the status %q; it must be firing or resolved", p.Status)
	}
	if p.Alerts == nil {
		return nil, day2.Errorf(day2.EInvalid, "the Alertmanager notification has no alerts field; it must list the alerts of the group")
	}
	if len(*p.Alerts) == 0 {
		return nil, day2.Errorf(day2.EInvalid, "the Alertmanager notification lists no alerts; there is nothing to do")
	}
	out := make([]Alert, 0, len(*p.Alerts))
	for i, am := range *p.Alerts {
		a, err := p.alert(i, &am)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// alert converts the i-th alert of the notification.
func (p *amPayload) alert(i int, am *amAlert) (Alert, error) {
	where := fmt.Sprintf("alerts[%d]", i)
	if am.Status != StatusFiring && am.Status != StatusResolved {
		return Alert{}, day2.Errorf(day2.EInvalid, "%s has the status %q; it must be firing or resolved", where, am.Status)
	}
	labels := merge(p.CommonLabels, am.Labels)
	ann := merge(p.CommonAnnotations, am.Annotations)
	if am.StartsAt == "" {
		return Alert{}, day2.Errorf(day2.EInvalid, "%s has no startsAt; it must be an RFC 3339 time such as 2026-11-02T09:00:00Z", where)
	}
	starts, err := time.Parse(time.RFC3339Nano, am.StartsAt)
	if err != nil {
		return Alert{}, day2.Errorf(day2.EInvalid, "%s has the startsAt %q, which is not an RFC 3339 time such as 2026-11-02T09:00:00Z", where, am.StartsAt)
	}
	if starts.IsZero() {
		return Alert{}, day2.Errorf(day2.EInvalid, "%s has the zero time as startsAt; it must be when the alert began", where)
	}
	if am.EndsAt != "" {
		ends, err := time.Parse(time.RFC3339Nano, am.EndsAt)
		if err != nil {
			return Alert{}, day2.Errorf(day2.EInvalid, "%s has the endsAt %q, which is not an RFC 3339 time such as 2026-11-02T09:00:00Z", where, am.EndsAt)
		}
		if !ends.IsZero() && ends.Before(starts) {
			return Alert{}, day2.Errorf(day2.EInvalid, "%s ends (%s) before it starts (%s)", where, am.EndsAt, am.StartsAt)
		}
	}
	service := first(labels, "service", "job", "alertname")
	if service == "" {
		return Alert{}, day2.Errorf(day2.EInvalid, "%s has none of the labels service, job or alertname, so day2 cannot tell which service it is about; add a service label in the alerting rule", where)
	}
	sev := SeverityTicket
	switch strings.ToLower(labels["severity"]) {
	case "critical", "page", "error":
		sev = SeverityPage
	}
	fp := am.Fingerprint
	if fp == "" {
		fp = labelsHash(labels)
	}
	summary := first(ann, "summary", "description")
	details := ""
	if ann["summary"] != "" {
		details = ann["description"]
	}
	if summary == "" {
		summary = labels["alertname"]
	}
	url := am.GeneratorURL
	if url == "" {
		url = p.ExternalURL
	}
	return Alert{
		Source: SourceAlertmanager, Key: "alertmanager:" + fp, Status: am.Status,
		Service: service, Environment: first(labels, "environment", "env"), Severity: sev,
		Summary: summary, Details: details, Labels: labels, Runbook: first(ann, "runbook", "runbook_url"),
		StartsAt: starts.UTC(), URL: url,
	}, nil
}

// merge returns base overridden by over, as a new map (nil when both are empty).
func merge(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// first returns the first non-empty value of m among keys.
func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := strings.TrimSpace(m[k]); v != "" {
			return v
		}
	}
	return ""
}

// labelsHash identifies an alert without a fingerprint by its labels.
func labelsHash(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(labels[k]), labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// jsonProblem describes a JSON decoding error without Go type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the document"
		}
		return fmt.Sprintf("%s has a JSON %s where the format wants another type", field, te.Value)
	case err.Error() == "EOF":
		return "the body is empty"
	}
	return err.Error()
}

package notify_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2/notify"
)

// FuzzRender renders messages with arbitrary text for every destination: the
// payload is always JSON within the destinations' limits.
func FuzzRender(f *testing.F) {
	f.Add("Task success burning", "31% fail <now> & then", "in_42", "support-triage", "Burn rate", "14.2", "Roll back")
	f.Add("", "", "k", "", "", "", "")
	f.Add("\xff\xfe", "\x00", string(make([]byte, 300)), "a/b", "*x*", "`y`", "- z\r")
	f.Fuzz(func(t *testing.T, title, summary, key, service, factName, factValue, step string) {
		m := notify.Message{Event: notify.EventIncidentTriggered, Service: service, Environment: "prod", Severity: "page",
			Title: title, Summary: summary, NextSteps: []string{step}, URL: "https://day2.example.com/i/1",
			DedupKey: key, Facts: []notify.Fact{{Name: factName, Value: factValue}}, At: at}
		for _, n := range []notify.Notifier{
			{Name: "w", Type: notify.TypeWebhook, URL: "https://x.example", Secret: "s"},
			{Name: "t", Type: notify.TypeTeams, URL: "https://x.example"},
			{Name: "s", Type: notify.TypeSlack, URL: "https://x.example"},
			{Name: "p", Type: notify.TypePagerDuty, Secret: "k"},
		} {
			body, _, err := notify.Render(n, m, "ob_1")
			if err != nil {
				t.Fatalf("%s: %v", n.Type, err)
			}
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s payload is not JSON: %v", n.Type, err)
			}
			switch n.Type {
			case notify.TypePagerDuty:
				if k := v["dedup_key"].(string); len(k) > 255 {
					t.Errorf("dedup_key has %d bytes", len(k))
				}
				if s := v["payload"].(map[string]any)["summary"].(string); utf8.RuneCountInString(s) > 1024 || s == "" {
					t.Errorf("summary has %d characters", utf8.RuneCountInString(s))
				}
			case notify.TypeSlack:
				h := v["blocks"].([]any)[0].(map[string]any)["text"].(map[string]any)["text"].(string)
				if utf8.RuneCountInString(h) > 150 {
					t.Errorf("header has %d characters", utf8.RuneCountInString(h))
				}
			}
		}
	})
}

// FuzzNotifierYAML reads arbitrary notifier specs: decoding and validation
// never panic, and a valid notifier renders.
func FuzzNotifierYAML(f *testing.F) {
	f.Add("name: a\ntype: webhook\nurl: https://x.example/h\nsecret: s\nmatch: {service: a, severity: [page]}\n")
	f.Add("name: p\ntype: pagerduty\nsecret_env: PD\nevents: [incident.triggered]\nrepeat_interval: 4h\n")
	f.Add("match: {service: {a: 1}}")
	f.Add("match: [1, 2]\nevents: x")
	f.Fuzz(func(t *testing.T, doc string) {
		var n notify.Notifier
		if yaml.Unmarshal([]byte(doc), &n) != nil {
			return
		}
		if n.Validate() != nil || n.SecretEnv != "" {
			return
		}
		m := triggered()
		if _, _, err := notify.Render(n, m, "ob_1"); err != nil {
			t.Errorf("a valid notifier does not render: %v\n%s", err, doc)
		}
	})
}

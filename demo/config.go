package demo

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"text/template"
	"time"
)

// configFiles is the demo's day2 configuration: the four built-in SLOs, one
// custom OpenSLO SLO for the invoice agent, the error budget policy, and what
// the operations story needs (approval policy, alert rule, flags, webhook
// notifier and runbook). The YAML files are templates of ConfigOptions.
//
//go:embed config/*.yaml config/runbooks/*.md
var configFiles embed.FS

// ConfigOptions are the parts of the demo's configuration that depend on how
// the demo runs. Ops.ConfigOptions returns the ones its story needs.
type ConfigOptions struct {
	// WebhookURL and WebhookSecret configure a webhook notifier, to which day2
	// sends incident and approval notifications signed with the secret.
	// Without a URL no notifier is configured.
	WebhookURL    string
	WebhookSecret string
	// ApprovalTimeout is how long invoice-agent's approval requests wait for
	// a person before they expire; zero means 2m.
	ApprovalTimeout time.Duration
	// RuleWindow is the window of account-agent's tool-failure alert rule,
	// in whole minutes; zero means 2m.
	RuleWindow time.Duration
}

// notifierFile is written only when a webhook URL is given.
const notifierFile = "notifier.yaml"

// WriteConfig writes the demo's day2 configuration into dir, creating dir if
// needed and replacing files of the same names, so that day2 can load it with
// --config dir:
//
//   - slo-defaults.yaml: the four built-in SLOs, spelt out;
//   - invoices-slo.yaml: an OpenSLO Service, SLI and SLO,
//     invoice-agent/high-risk-success;
//   - budget-policy.yaml: the error budget policy;
//   - approvals.yaml: invoice-agent's approval policy (tiers 0 to 2);
//   - alert-rules.yaml: a page when account-agent's tool calls fail;
//   - flags.yaml: the crm-tool-enabled kill switch and an override flag;
//   - runbooks/tool-failure.md: the runbook of the rule and of tool-failure SLOs;
//   - notifier.yaml: the webhook notifier, when opts has a URL.
func WriteConfig(dir string, opts ConfigOptions) error {
	if opts.ApprovalTimeout == 0 {
		opts.ApprovalTimeout = defaultOpsTiming.approvalTimeout
	}
	if opts.RuleWindow == 0 {
		opts.RuleWindow = defaultOpsTiming.ruleWindow
	}
	switch {
	case opts.ApprovalTimeout < 0:
		return fmt.Errorf("demo: write config: approval timeout %s is negative", opts.ApprovalTimeout)
	case opts.RuleWindow < time.Minute || opts.RuleWindow%time.Minute != 0:
		return fmt.Errorf("demo: write config: alert rule window %s must be whole minutes, at least 1m", opts.RuleWindow)
	case opts.WebhookURL != "" && opts.WebhookSecret == "":
		return fmt.Errorf("demo: write config: the webhook at %s needs a secret to sign its messages", opts.WebhookURL)
	}
	data := struct {
		ApprovalTimeout, RuleWindow string
		WebhookURL, WebhookSecret   string
	}{shortDuration(opts.ApprovalTimeout), shortDuration(opts.RuleWindow), opts.WebhookURL, opts.WebhookSecret}

	err := fs.WalkDir(configFiles, "config", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := name[len("config/"):]
		if rel == notifierFile && opts.WebhookURL == "" {
			return nil
		}
		text, err := configFiles.ReadFile(name)
		if err != nil {
			return err
		}
		if path.Ext(name) == ".yaml" {
			// Runbooks are templates of day2's own: only the YAML is ours.
			t, err := template.New(rel).Option("missingkey=error").Parse(string(text))
			if err != nil {
				return err
			}
			var b bytes.Buffer
			if err := t.Execute(&b, data); err != nil {
				return err
			}
			text = b.Bytes()
		}
		target := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if rel == notifierFile {
			mode = 0o600 // it holds the webhook's secret
		}
		if err := os.WriteFile(target, text, mode); err != nil {
			return err
		}
		return os.Chmod(target, mode) // WriteFile keeps the mode of a file it replaces
	})
	if err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	return nil
}

package demo

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// configFiles is the demo's day2 configuration: the four built-in SLOs, one
// custom OpenSLO SLO for the invoice agent, and the error budget policy.
//
//go:embed config/*.yaml
var configFiles embed.FS

// WriteConfig writes the demo's day2 configuration into dir, creating dir if
// needed and replacing files of the same names, so that day2 can load it with
// --config dir. The files are slo-defaults.yaml (the four built-in SLOs, spelt
// out), invoices-slo.yaml (an OpenSLO Service, SLI and SLO:
// invoice-agent/high-risk-success) and budget-policy.yaml.
func WriteConfig(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	names, err := fs.Glob(configFiles, "config/*.yaml")
	if err != nil {
		return fmt.Errorf("demo: write config: %w", err)
	}
	for _, name := range names {
		data, err := configFiles.ReadFile(name)
		if err != nil {
			return fmt.Errorf("demo: write config: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), data, 0o644); err != nil {
			return fmt.Errorf("demo: write config: %w", err)
		}
	}
	return nil
}

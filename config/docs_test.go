package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/day2ops/day2/config"
)

// TestDocsExampleLoads keeps the configuration example of docs/slos.md valid.
func TestDocsExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../docs/slos.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "```yaml\napiVersion: openslo/v1")
	if i < 0 {
		t.Fatal("docs/slos.md has no OpenSLO example")
	}
	body := s[i+len("```yaml\n"):]
	body = body[:strings.Index(body, "```")]
	c, err := config.Parse("docs/slos.md", []byte(body))
	if err != nil {
		t.Fatalf("the example in docs/slos.md does not load:\n%v", err)
	}
	if len(c.SLOs) != 1 || c.SLOs[0].Name != "invoice-agent/high-risk-success" || c.SLOs[0].Objective != 0.99 {
		t.Fatalf("example SLOs = %+v, want invoice-agent/high-risk-success at 0.99", c.SLOs)
	}
	if c.Defaults.ToolFailure == nil || !c.Defaults.ToolFailure.Disabled || c.Policy.AtRiskBelow != 0.25 {
		t.Fatalf("example defaults/policy not applied: %+v %+v", c.Defaults, c.Policy)
	}
}

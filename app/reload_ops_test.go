package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/day2ops/day2/app"
)

// evalFlag evaluates a flag over OFREP and returns its value ("" for none).
func evalFlag(t *testing.T, base, key string) any {
	t.Helper()
	resp, err := http.Post(base+"/ofrep/v1/evaluate/flags/"+key, "application/json",
		bytes.NewReader([]byte(`{"context": {"targetingKey": "user-1"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Value any `json:"value"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return r.Value
}

func TestReloadAppliesFlagsAndApprovalPolicies(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const flagsDoc = `apiVersion: day2/v1
kind: FeatureFlags
metadata: {name: triage}
spec:
  flags:
    crm-tool-enabled: {state: ENABLED, variants: {on: true, off: false}, defaultVariant: %s}
`
	write("flags.yaml", fmt.Sprintf(flagsDoc, "on"))
	a := startApp(t, app.Options{ConfigDir: dir, EvalInterval: time.Hour})
	if v := evalFlag(t, a.HTTPURL(), "crm-tool-enabled"); v != true {
		t.Fatalf("flag before reload = %v, want true", v)
	}
	ask := func() string {
		t.Helper()
		resp, err := http.Post(a.HTTPURL()+"/api/v1/approvals", "application/json", bytes.NewReader([]byte(
			`{"service": "invoice-agent", "action": "lookup_vendor", "idempotency_key": "`+time.Now().Format(time.RFC3339Nano)+`"}`)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			State string `json:"state"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return r.State
	}
	if s := ask(); s != "pending" {
		t.Fatalf("without a policy a request is %q, want pending (Tier 1)", s)
	}

	write("flags.yaml", fmt.Sprintf(flagsDoc, "off"))
	write("approvals.yaml", `apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: invoices}
spec:
  service: invoice-agent
  rules: [{action: lookup_vendor, tier: 0}]
  approvers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}
`)
	if err := a.Reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if v := evalFlag(t, a.HTTPURL(), "crm-tool-enabled"); v != false {
		t.Errorf("flag after reload = %v, want false", v)
	}
	if s := ask(); s != "approved" {
		t.Errorf("after reload a Tier 0 action is %q, want approved at once", s)
	}

	// A policy that does not validate keeps the running configuration.
	write("approvals.yaml", "apiVersion: day2/v1\nkind: ApprovalPolicy\nmetadata: {name: invoices}\nspec: {service: invoice-agent, rules: [{action: x, tier: 7}]}\n")
	if err := a.Reload(); err == nil {
		t.Fatal("a reload with an invalid policy succeeded")
	}
	if s := ask(); s != "approved" {
		t.Errorf("after a failed reload a Tier 0 action is %q, want approved (the old policy)", s)
	}
}

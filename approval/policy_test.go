package approval

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
)

const invoicesYAML = `
name: invoices
service: invoice-agent
rules:                      # first match wins
  - {action: pay_invoice, tier: 2, when: "amount > 500"}
  - {action: pay_invoice, tier: 1}
  - {action: lookup_vendor, tier: 0}
  - {action: add_payee, tier: 2, when: 'entity_type in ["vendor", "payee"] && !verified'}
  - {action: add_payee, tier: 0}
approvers:
  tier1: {groups: [ops, manager], names: [alice]}
  tier2: {groups: [manager]}
timeout: 1h
on_timeout: deny
auto_approve: {min_confidence: 0.9}
reminders: {after: 15m, every: 15m}
escalation: {after: 30m, groups: [director]}
force_manual: false
`

func loadPolicy(t *testing.T, doc string) Policy {
	t.Helper()
	var p Policy
	if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	return p
}

func TestEvaluate(t *testing.T) {
	p := loadPolicy(t, invoicesYAML)
	forced := p
	forced.ForceManual = true
	tier1 := ApproverSet{Groups: []string{"ops", "manager"}, Names: []string{"alice"}}
	tier2 := ApproverSet{Groups: []string{"manager"}}
	confident := map[string]any{"in_policy": true, "confidence": 0.95}
	cases := []struct {
		name      string
		policies  []Policy
		service   string
		action    string
		attrs     map[string]any
		tier      int
		ruleIndex int
		reason    string // a part of the reason
		approvers ApproverSet
		auto      bool
		auto_     string // a part of the auto reason
	}{
		{name: "a large payment is Tier 2 by the first rule", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 750.0}, tier: 2, ruleIndex: 0,
			reason: "rules[0] (action pay_invoice, tier 2, when amount > 500) of policy invoices matched: Tier 2", approvers: tier2,
			auto_: "Tier 2 always waits for a manager"},
		{name: "a payment on the bound falls through to Tier 1", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 500.0}, tier: 1, ruleIndex: 1, reason: "rules[1]", approvers: tier1,
			auto_: "no in_policy"},
		{name: "a payment without an amount is Tier 1: the missing field fails the condition", service: "invoice-agent",
			action: "pay_invoice", attrs: map[string]any{}, tier: 1, ruleIndex: 1, approvers: tier1},
		{name: "a confident in-policy small payment is auto-approved", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 100.0, "in_policy": true, "confidence": 0.95}, tier: 1, ruleIndex: 1,
			approvers: tier1, auto: true, auto_: "confidence 0.95 is at least 0.9"},
		{name: "a confidence on the threshold is enough", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 100.0, "in_policy": true, "confidence": 0.9}, tier: 1, ruleIndex: 1,
			approvers: tier1, auto: true},
		{name: "low confidence waits for a person", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 100.0, "in_policy": true, "confidence": 0.7}, tier: 1, ruleIndex: 1,
			approvers: tier1, auto_: "confidence 0.7 is below 0.9"},
		{name: "out of policy waits for a person however confident", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 100.0, "in_policy": false, "confidence": 0.99}, tier: 1, ruleIndex: 1,
			approvers: tier1, auto_: "out of policy"},
		{name: "a confident large payment is still Tier 2", service: "invoice-agent", action: "pay_invoice",
			attrs: map[string]any{"amount": 5000.0, "in_policy": true, "confidence": 0.99}, tier: 2, ruleIndex: 0, approvers: tier2},
		{name: "a lookup is Tier 0 and approved at once", service: "invoice-agent", action: "lookup_vendor",
			attrs: map[string]any{}, tier: 0, ruleIndex: 2, auto: true, auto_: "Tier 0: approved at once, audit only"},
		{name: "a condition over entity_type and a negation", service: "invoice-agent", action: "add_payee",
			attrs: map[string]any{"entity_type": "payee"}, tier: 2, ruleIndex: 3, approvers: tier2},
		{name: "the negated field true skips the rule", service: "invoice-agent", action: "add_payee",
			attrs: map[string]any{"entity_type": "payee", "verified": true}, tier: 0, ruleIndex: 4, auto: true},
		{name: "an action no rule names is Tier 1 with the reason", service: "invoice-agent", action: "delete_vendor",
			attrs: confident, tier: 1, ruleIndex: -1,
			reason: "no rule matched: Tier 1 by default (no rule of policy invoices is for action delete_vendor", approvers: tier1, auto: true},
		{name: "a service without a policy is Tier 1 and waits for anyone with the approve scope", service: "other-agent",
			action: "pay_invoice", attrs: confident, tier: 1, ruleIndex: -1,
			reason: "no rule matched: Tier 1 by default (service other-agent has no ApprovalPolicy)", approvers: ApproverSet{},
			auto_: "the policy has no auto_approve"},
		{name: "force manual keeps a confident Tier 1 request pending", policies: []Policy{forced}, service: "invoice-agent",
			action: "pay_invoice", attrs: map[string]any{"amount": 100.0, "in_policy": true, "confidence": 0.99}, tier: 1,
			ruleIndex: 1, approvers: tier1, auto_: "force manual is on for invoice-agent"},
		{name: "force manual leaves Tier 0 automatic", policies: []Policy{forced}, service: "invoice-agent",
			action: "lookup_vendor", tier: 0, ruleIndex: 2, auto: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pols := tc.policies
			if pols == nil {
				pols = []Policy{p}
			}
			d := Evaluate(pols, tc.service, tc.action, tc.attrs)
			if d.Tier != tc.tier || d.RuleIndex != tc.ruleIndex {
				t.Errorf("tier %d by rule %d, want tier %d by rule %d (%s)", d.Tier, d.RuleIndex, tc.tier, tc.ruleIndex, d.Reason)
			}
			if !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tc.reason)
			}
			if d.Approvers.String() != tc.approvers.String() {
				t.Errorf("approvers %s, want %s", d.Approvers, tc.approvers)
			}
			if d.Auto != tc.auto || !strings.Contains(d.AutoReason, tc.auto_) {
				t.Errorf("auto %v (%q), want %v (containing %q)", d.Auto, d.AutoReason, tc.auto, tc.auto_)
			}
			if d.RuleIndex >= 0 && d.Rule == "" {
				t.Error("a matched rule has no text")
			}
		})
	}
}

func TestEvaluateRequestedTier(t *testing.T) {
	p := loadPolicy(t, invoicesYAML)
	two, zero := 2, 0
	d, _ := evaluate([]Policy{p}, "invoice-agent", "pay_invoice", map[string]any{"amount": 10.0}, &two)
	if d.Tier != 2 || !strings.Contains(d.Reason, "asked for Tier 2") {
		t.Errorf("a request asking for Tier 2 got Tier %d (%s)", d.Tier, d.Reason)
	}
	d, _ = evaluate([]Policy{p}, "invoice-agent", "pay_invoice", map[string]any{"amount": 900.0}, &zero)
	if d.Tier != 2 || d.Auto || !strings.Contains(d.Reason, "never lower it") {
		t.Errorf("a request asking for Tier 0 lowered the policy's Tier 2 to %d (auto %v, %s)", d.Tier, d.Auto, d.Reason)
	}
	d, _ = evaluate(nil, "unknown", "anything", nil, &zero)
	if d.Tier != 1 || d.Auto {
		t.Errorf("a request asking for Tier 0 without a policy got Tier %d auto %v, want the default Tier 1 waiting", d.Tier, d.Auto)
	}
	forced := p
	forced.ForceManual = true
	attrs := map[string]any{"amount": 10.0, "in_policy": true, "confidence": 1.0}
	d, pol := evaluate([]Policy{forced}, "invoice-agent", "pay_invoice", attrs, nil)
	if d.Auto || !d.ForceManual {
		t.Errorf("the policy's force_manual did not hold a confident Tier 1 request: auto %v (%s)", d.Auto, d.AutoReason)
	}
	// Create re-decides with the switch's state; turned off, it overrides the policy.
	if auto, reason := autoApprove(pol, d.Tier, attrs, false, "invoice-agent"); !auto {
		t.Errorf("the switch turned off did not override the policy's force_manual: %s", reason)
	}
}

func TestFirstMatchWins(t *testing.T) {
	p := loadPolicy(t, `
service: s
rules:
  - {action: "*", tier: 2, when: "amount > 10000"}
  - {action: refund, tier: 0, when: "amount < 50"}
  - {action: refund, tier: 1}
approvers: {tier1: {names: [bob]}, tier2: {groups: [manager]}}
`)
	for _, tc := range []struct {
		action string
		amount float64
		tier   int
		rule   int
	}{
		{"refund", 20000, 2, 0},
		{"transfer", 20000, 2, 0},
		{"refund", 10, 0, 1},
		{"refund", 100, 1, 2},
		{"transfer", 100, 1, -1},
	} {
		d := Evaluate([]Policy{p}, "s", tc.action, map[string]any{"amount": tc.amount})
		if d.Tier != tc.tier || d.RuleIndex != tc.rule {
			t.Errorf("%s %v: tier %d by rule %d, want tier %d by rule %d", tc.action, tc.amount, d.Tier, d.RuleIndex, tc.tier, tc.rule)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string // parts of the error; none means valid
	}{
		{"the example is valid", invoicesYAML, nil},
		{"a minimal policy is valid", "service: s\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager, cfo]}}", nil},
		{"the service is required", "approvers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}", []string{"service: missing"}},
		{"tier 2 needs the manager group", "service: s\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [ops]}}",
			[]string{"approvers.tier2: Tier 2 needs the manager group"}},
		{"tier 2 approvers are required", "service: s\napprovers: {tier1: {groups: [ops]}}",
			[]string{"approvers.tier2: missing; Tier 2 needs the manager group"}},
		{"tier 1 approvers are required", "service: s\napprovers: {tier2: {groups: [manager]}}", []string{"approvers.tier1: missing"}},
		{"a rule needs its tier written", "service: s\nrules: [{action: a}]\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"rules[0].tier: missing"}},
		{"a tier is 0, 1 or 2", "service: s\nrules: [{action: a, tier: 3}]\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"rules[0].tier: 3 is not a tier"}},
		{"a rule needs its action", "service: s\nrules: [{tier: 1}]\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"rules[0].action: missing"}},
		{"a bad condition names the rule and the column",
			"service: s\nrules: [{action: a, tier: 1, when: \"amount >> 5\"}]\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"rules[0].when: column 9:"}},
		{"a rule after a catch-all for its action never matches",
			"service: s\nrules: [{action: a, tier: 1}, {action: a, tier: 2, when: \"x > 1\"}]\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"rules[1]: never matches, because rules[0]"}},
		{"approve on timeout is refused", "service: s\non_timeout: approve\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"on_timeout: approve is not allowed"}},
		{"an unknown on_timeout", "service: s\non_timeout: escalate\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"on_timeout: \"escalate\" is not supported"}},
		{"min_confidence is a fraction", "service: s\nauto_approve: {min_confidence: 90}\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"auto_approve.min_confidence: 90"}},
		{"a timeout over 28 days", "service: s\ntimeout: 30d\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"timeout: 30d is longer"}},
		{"escalation after the timeout", "service: s\ntimeout: 1h\nescalation: {after: 2h, groups: [manager]}\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"escalation.after: 2h0m0s is not before the timeout (1h0m0s)"}},
		{"escalation without groups", "service: s\nescalation: {after: 10m}\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"escalation.groups: missing"}},
		{"reminders after the default timeout", "service: s\nreminders: {after: 2h}\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"reminders.after: 2h0m0s is not before the timeout (1h0m0s)"}},
		{"reminders too often", "service: s\nreminders: {after: 5m, every: 10s}\napprovers: {tier1: {groups: [ops]}, tier2: {groups: [manager]}}",
			[]string{"reminders.every: 10s would flood"}},
		{"every problem is listed", "rules: [{action: a}]\napprovers: {}", []string{"service: missing", "rules[0].tier: missing", "approvers.tier1", "approvers.tier2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p Policy
			if err := yaml.Unmarshal([]byte(tc.doc), &p); err != nil {
				t.Fatalf("yaml: %v", err)
			}
			err := p.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted the policy; want an error containing %q", tc.want)
			}
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Errorf("code %q, want invalid", day2.ErrorCode(err))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestApproverSet(t *testing.T) {
	set := ApproverSet{Groups: []string{"ops", "manager"}, Names: []string{"alice"}}
	for _, tc := range []struct {
		id   auth.Identity
		want bool
	}{
		{auth.Identity{Name: "alice"}, true},
		{auth.Identity{Name: "bob", Groups: []string{"manager"}}, true},
		{auth.Identity{Name: "carol", Groups: []string{"support"}}, false},
		{auth.Identity{Name: "dave"}, false},
	} {
		if got := set.Allows(tc.id); got != tc.want {
			t.Errorf("Allows(%s in %v) = %v, want %v", tc.id.Name, tc.id.Groups, got, tc.want)
		}
	}
	if got, want := set.String(), "groups ops or manager, or alice"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (ApproverSet{Groups: []string{"manager"}}).String(), "group manager"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	p := loadPolicy(t, invoicesYAML)
	b, err := yaml.Marshal(&p)
	if err != nil {
		t.Fatal(err)
	}
	q := loadPolicy(t, string(b))
	if q.Timeout != p.Timeout || q.Escalation.After != p.Escalation.After || len(q.Rules) != len(p.Rules) || *q.Rules[0].Tier != 2 {
		t.Errorf("policy changed through YAML: %+v", q)
	}
}

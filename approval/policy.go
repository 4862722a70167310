// Package approval is day2's risk-tiered human approval: agents ask before they
// act, a policy decides the risk tier of each request, Tier 0 is approved at once
// (audit only), Tier 1 is approved at once when it is in policy and confident
// enough and otherwise waits for a person, and Tier 2 always waits for a manager.
// Pending requests expire (deny) after the policy's timeout, remind and escalate
// on the way, and every step is written to the audit log in the same transaction
// as the request.
//
// The policy language (Policy, Condition, Evaluate) is pure; Service keeps
// requests in a day2.RecordStore and is safe for several replicas sharing one
// database: every change is a compare-and-swap on the record's revision.
package approval

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
)

// The risk tiers of the seed: Tier 0 auto-executes (audit only), Tier 1 needs a
// lightweight approval when out of policy or not confident, Tier 2 always needs a
// manager.
const (
	Tier0 = 0
	Tier1 = 1
	Tier2 = 2
)

// ManagerGroup is the group every Tier 2 approver list must include.
const ManagerGroup = "manager"

// OnTimeoutDeny is the only on_timeout: a request nobody decides in time expires
// and counts as denied. Approving on timeout is refused on purpose: it would let
// an unattended queue approve exactly the requests a person was meant to see.
const OnTimeoutDeny = "deny"

// DefaultTimeout is how long a request waits for a person when the policy says
// nothing; MaxTimeout is the longest a policy may set (after 28 days nobody
// remembers the context, and Power Automate abandons approvals then too).
const (
	DefaultTimeout = time.Hour
	MaxTimeout     = 28 * 24 * time.Hour
)

// Policy is an ApprovalPolicy document's spec: for one service, which tier each
// action is, who may approve each tier, and what happens while a request waits.
//
//	apiVersion: day2/v1
//	kind: ApprovalPolicy
//	metadata: {name: invoices}
//	spec:
//	  service: invoice-agent
//	  rules:                      # first match wins
//	    - {action: pay_invoice, tier: 2, when: "amount > 500"}
//	    - {action: pay_invoice, tier: 1}
//	    - {action: lookup_vendor, tier: 0}
//	  approvers:
//	    tier1: {groups: [ops, manager]}
//	    tier2: {groups: [manager]}
//	  timeout: 1h
//	  on_timeout: deny
//	  auto_approve: {min_confidence: 0.9}
//	  reminders: {after: 15m, every: 15m}
//	  escalation: {after: 30m, groups: [manager]}
//	  force_manual: false
//
// Call Validate before use: it checks every field and compiles the conditions.
type Policy struct {
	// Name is the document's metadata.name, used in reasons and messages.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Service is the service (agent) whose requests the policy governs.
	Service string `yaml:"service" json:"service"`
	// Rules decide the tier; the first rule whose action and condition match
	// wins, and a request no rule matches is Tier 1.
	Rules []Rule `yaml:"rules,omitempty" json:"rules,omitempty"`
	// Approvers says who may decide Tier 1 and Tier 2 requests.
	Approvers Approvers `yaml:"approvers" json:"approvers"`
	// Timeout is how long a request waits for a person (DefaultTimeout when 0).
	Timeout day2.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// OnTimeout is what a timeout means; only "deny" (the default) is accepted.
	OnTimeout string `yaml:"on_timeout,omitempty" json:"on_timeout,omitempty"`
	// AutoApprove, when set, approves Tier 1 requests that are in policy and
	// confident enough without a person.
	AutoApprove *AutoApprove `yaml:"auto_approve,omitempty" json:"auto_approve,omitempty"`
	// Reminders, when set, notifies the approvers again while a request waits.
	Reminders *Reminders `yaml:"reminders,omitempty" json:"reminders,omitempty"`
	// Escalation, when set, lets more groups decide after a while.
	Escalation *Escalation `yaml:"escalation,omitempty" json:"escalation,omitempty"`
	// ForceManual is the default of the service's force-manual switch: while
	// on, no Tier 1 request is auto-approved.
	ForceManual bool `yaml:"force_manual,omitempty" json:"force_manual,omitempty"`
}

// Rule maps an action, optionally under a condition, to a tier.
type Rule struct {
	// Action is the action's name as agents send it, or "*" for every action.
	Action string `yaml:"action" json:"action"`
	// Tier is 0, 1 or 2; it must be written (a missing tier is not Tier 0).
	Tier *int `yaml:"tier" json:"tier"`
	// When is a Condition; empty matches every request of the action.
	When string `yaml:"when,omitempty" json:"when,omitempty"`

	cond *Condition
}

// Approvers names who may decide requests of each tier.
type Approvers struct {
	Tier1 ApproverSet `yaml:"tier1" json:"tier1"`
	Tier2 ApproverSet `yaml:"tier2" json:"tier2"`
}

// ApproverSet is a list of groups and of names (token names of the auth file).
// An identity is in the set when its name is listed or it is in a listed group.
// The empty set, used only for services without a policy, means any identity
// with the approve scope.
type ApproverSet struct {
	Groups []string `yaml:"groups,omitempty" json:"groups,omitempty"`
	Names  []string `yaml:"names,omitempty" json:"names,omitempty"`
}

// AutoApprove sets when a Tier 1 request needs no person.
type AutoApprove struct {
	// MinConfidence: a Tier 1 request whose context has in_policy true and
	// confidence at least this is approved at once.
	MinConfidence float64 `yaml:"min_confidence" json:"min_confidence"`
}

// Reminders notifies the approvers again while a request is pending: first After
// its creation, then every Every (0: only once).
type Reminders struct {
	After day2.Duration `yaml:"after" json:"after"`
	Every day2.Duration `yaml:"every,omitempty" json:"every,omitempty"`
}

// Escalation lets Groups decide a request, besides its tier's approvers, once it
// has waited After; a notification says so.
type Escalation struct {
	After  day2.Duration `yaml:"after" json:"after"`
	Groups []string      `yaml:"groups" json:"groups"`
}

// Validate checks the policy and compiles its conditions. The error is an
// EInvalid day2 error listing every problem, each naming its field (for example
// `rules[0].when: column 8: ...`).
func (p *Policy) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if strings.TrimSpace(p.Service) == "" {
		add("service: missing; name the service (agent) whose requests this policy governs, e.g. service: invoice-agent")
	} else if err := checkName(p.Service); err != nil {
		add("service: %s", err)
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		r.cond = nil
		if strings.TrimSpace(r.Action) == "" {
			add("rules[%d].action: missing; name the action, e.g. pay_invoice, or write \"*\" for every action", i)
		}
		if r.Tier == nil {
			add("rules[%d].tier: missing; write tier: 0 (auto, audit only), 1 (approval when out of policy) or 2 (always a manager)", i)
		} else if *r.Tier < Tier0 || *r.Tier > Tier2 {
			add("rules[%d].tier: %d is not a tier; use 0, 1 or 2", i, *r.Tier)
		}
		if r.When != "" {
			c, err := ParseCondition(r.When)
			if err != nil {
				add("rules[%d].when: %s (in %q)", i, err, r.When)
			} else {
				r.cond = c
			}
		}
	}
	for i := range p.Rules {
		for j := range i {
			if p.Rules[j].Action == p.Rules[i].Action && p.Rules[j].When == "" && p.Rules[i].Action != "" {
				add("rules[%d]: never matches, because rules[%d] matches every %s request first; move it up or remove it", i, j, p.Rules[i].Action)
				break
			}
			if p.Rules[j].Action == "*" && p.Rules[j].When == "" {
				add("rules[%d]: never matches, because rules[%d] (action \"*\" without when) matches every request first; move it up or remove it", i, j)
				break
			}
		}
	}
	if p.Approvers.Tier1.empty() {
		add("approvers.tier1: missing; say who may approve Tier 1 requests, e.g. tier1: {groups: [ops, manager]} (also names: [alice])")
	}
	if p.Approvers.Tier2.empty() {
		add("approvers.tier2: missing; Tier 2 needs the manager group: write tier2: {groups: [manager]}")
	} else if !slices.Contains(p.Approvers.Tier2.Groups, ManagerGroup) {
		add("approvers.tier2: Tier 2 needs the manager group; add %s to its groups, e.g. tier2: {groups: [manager]}", ManagerGroup)
	}
	for _, s := range []struct {
		field string
		set   ApproverSet
	}{{"approvers.tier1", p.Approvers.Tier1}, {"approvers.tier2", p.Approvers.Tier2}} {
		for _, g := range s.set.Groups {
			if strings.TrimSpace(g) == "" {
				add("%s.groups: a group name is empty", s.field)
			}
		}
		for _, n := range s.set.Names {
			if strings.TrimSpace(n) == "" {
				add("%s.names: a name is empty", s.field)
			}
		}
	}
	timeout := p.Timeout.D()
	switch {
	case timeout < 0:
		add("timeout: must be positive, e.g. 1h")
	case timeout > MaxTimeout:
		add("timeout: %s is longer than the most allowed, %s; nobody remembers a request's context that long", p.Timeout, day2.Duration(MaxTimeout))
	case timeout == 0:
		timeout = DefaultTimeout
	}
	switch p.OnTimeout {
	case "", OnTimeoutDeny:
	case "approve":
		add("on_timeout: approve is not allowed: a request nobody looked at must not go through; a timeout always denies (state expired). For actions safe without a person use tier: 0, or auto_approve for confident Tier 1 requests")
	default:
		add("on_timeout: %q is not supported; the only value is deny (the default)", p.OnTimeout)
	}
	if a := p.AutoApprove; a != nil && (a.MinConfidence <= 0 || a.MinConfidence > 1) {
		add("auto_approve.min_confidence: %v must be above 0 and at most 1, e.g. 0.9", a.MinConfidence)
	}
	if r := p.Reminders; r != nil {
		if r.After.D() <= 0 {
			add("reminders.after: must be positive, e.g. 15m")
		} else if r.After.D() >= timeout {
			add("reminders.after: %s is not before the timeout (%s), so no reminder would ever be sent", r.After, day2.Duration(timeout))
		}
		if r.Every.D() < 0 {
			add("reminders.every: must not be negative")
		} else if r.Every.D() > 0 && r.Every.D() < time.Minute {
			add("reminders.every: %s would flood the approvers; use at least 1m", r.Every)
		}
	}
	if e := p.Escalation; e != nil {
		if e.After.D() <= 0 {
			add("escalation.after: must be positive, e.g. 30m")
		} else if e.After.D() >= timeout {
			add("escalation.after: %s is not before the timeout (%s), so requests would expire before they escalate", e.After, day2.Duration(timeout))
		}
		if len(e.Groups) == 0 {
			add("escalation.groups: missing; name the groups that may also decide after escalation, e.g. groups: [manager]")
		}
		for _, g := range e.Groups {
			if strings.TrimSpace(g) == "" {
				add("escalation.groups: a group name is empty")
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	name := p.Name
	if name == "" {
		name = p.Service
	}
	return day2.Errorf(day2.EInvalid, "approval policy %q: %s", name, strings.Join(problems, "; "))
}

// timeout returns the policy's timeout with the default applied.
func (p *Policy) timeout() time.Duration {
	if p == nil || p.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.Timeout.D()
}

// approvers returns who may decide requests of tier.
func (p *Policy) approvers(tier int) ApproverSet {
	switch {
	case tier == Tier0:
		return ApproverSet{}
	case tier == Tier2 && (p == nil || p.Approvers.Tier2.empty()):
		return ApproverSet{Groups: []string{ManagerGroup}}
	case p == nil:
		return ApproverSet{}
	case tier == Tier2:
		return p.Approvers.Tier2
	default:
		return p.Approvers.Tier1
	}
}

func (a ApproverSet) empty() bool { return len(a.Groups) == 0 && len(a.Names) == 0 }

// Allows reports whether id is in the set: named, or in one of its groups. The
// empty set allows everyone (the caller checks the approve scope).
func (a ApproverSet) Allows(id auth.Identity) bool {
	if a.empty() || slices.Contains(a.Names, id.Name) {
		return true
	}
	for _, g := range a.Groups {
		if id.InGroup(g) {
			return true
		}
	}
	return false
}

// String describes the set for messages: "group manager", "groups ops or
// manager, or alice", "anyone with the approve scope".
func (a ApproverSet) String() string {
	if a.empty() {
		return "anyone with the approve scope"
	}
	var parts []string
	switch len(a.Groups) {
	case 0:
	case 1:
		parts = append(parts, "group "+a.Groups[0])
	default:
		parts = append(parts, "groups "+orList(a.Groups))
	}
	if len(a.Names) > 0 {
		parts = append(parts, orList(a.Names))
	}
	return strings.Join(parts, ", or ")
}

func orList(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Decision is what the policies say about one request: its tier and why, who may
// approve it, and whether it is approved at once.
type Decision struct {
	Service string `json:"service"`
	// Policy is the name of the policy that governs the service ("" if none).
	Policy string `json:"policy,omitempty"`
	Tier   int    `json:"tier"`
	// RuleIndex is the index of the matching rule, -1 when no rule matched.
	RuleIndex int `json:"rule_index"`
	// Rule is the matching rule as text ("" when none matched).
	Rule string `json:"rule,omitempty"`
	// Reason says why the request has this tier, e.g. "rules[0] (action
	// pay_invoice, tier 2, when amount > 500) matched" or "no rule matched:
	// Tier 1 by default".
	Reason string `json:"reason"`
	// Approvers may decide the request (besides escalation groups later).
	Approvers ApproverSet `json:"approvers"`
	// Auto is true when the request is approved at once, without a person;
	// AutoReason says why it is or is not.
	Auto       bool   `json:"auto"`
	AutoReason string `json:"auto_reason"`
	// ForceManual is the state of the force-manual switch the decision used.
	ForceManual bool `json:"force_manual"`
}

// Evaluate applies the policy of service (the first of policies naming it) to a
// request for action with attrs (the request's context fields plus amount,
// entity_type and the like). The first rule whose action is action (or "*") and
// whose condition holds gives the tier; when none matches, the request is Tier 1.
// Tier 0 is approved at once; Tier 1 is approved at once when the policy has
// auto_approve, attrs has in_policy true and confidence at least min_confidence,
// and the policy's force_manual is off; everything else waits for a person.
// Policies should have been validated; a condition that does not parse matches
// nothing.
func Evaluate(policies []Policy, service, action string, attrs map[string]any) Decision {
	d, _ := evaluate(policies, service, action, attrs, nil)
	return d
}

// evaluate is Evaluate with the request's own risk tier, which can raise the
// policy's tier but never lower it. Force manual is the policy's default; Create
// applies the switch's current state.
func evaluate(policies []Policy, service, action string, attrs map[string]any, requested *int) (Decision, *Policy) {
	var p *Policy
	for i := range policies {
		if policies[i].Service == service {
			p = &policies[i]
			break
		}
	}
	d := Decision{Service: service, Tier: Tier1, RuleIndex: -1}
	if p != nil {
		d.Policy = p.Name
		for i := range p.Rules {
			r := &p.Rules[i]
			if r.Action != action && r.Action != "*" || r.Tier == nil {
				continue
			}
			c := r.cond
			if c == nil && r.When != "" {
				var err error
				if c, err = ParseCondition(r.When); err != nil {
					continue
				}
			}
			if !c.Eval(attrs) {
				continue
			}
			d.Tier, d.RuleIndex, d.Rule = *r.Tier, i, r.text()
			d.Reason = fmt.Sprintf("rules[%d] (%s) of policy %s matched: Tier %d", i, d.Rule, policyName(p), d.Tier)
			break
		}
		if d.RuleIndex < 0 {
			d.Reason = fmt.Sprintf("no rule matched: Tier 1 by default (no rule of policy %s is for action %s with these fields)", policyName(p), action)
		}
	} else {
		d.Reason = fmt.Sprintf("no rule matched: Tier 1 by default (service %s has no ApprovalPolicy)", service)
	}
	if requested != nil && *requested > d.Tier {
		d.Reason += fmt.Sprintf("; the request asked for Tier %d, which is higher, so Tier %d", *requested, *requested)
		d.Tier = *requested
	} else if requested != nil && *requested < d.Tier {
		d.Reason += fmt.Sprintf("; the request asked for Tier %d, but a request can raise its tier, never lower it", *requested)
	}
	d.Approvers = p.approvers(d.Tier)
	if p != nil {
		d.ForceManual = p.ForceManual
	}
	d.Auto, d.AutoReason = autoApprove(p, d.Tier, attrs, d.ForceManual, service)
	return d, p
}

// autoApprove decides whether a request of tier is approved without a person.
func autoApprove(p *Policy, tier int, attrs map[string]any, forceManual bool, service string) (bool, string) {
	switch tier {
	case Tier0:
		return true, "Tier 0: approved at once, audit only"
	case Tier2:
		return false, "Tier 2 always waits for a manager"
	}
	if forceManual {
		return false, fmt.Sprintf("force manual is on for %s: every Tier 1 request waits for a person", service)
	}
	if p == nil || p.AutoApprove == nil {
		return false, "Tier 1 waits for a person: the policy has no auto_approve"
	}
	min := p.AutoApprove.MinConfidence
	inPolicy, ok := normalize(attrs["in_policy"]).(bool)
	if !ok {
		return false, "Tier 1 waits for a person: the request's context has no in_policy true/false"
	}
	if !inPolicy {
		return false, "Tier 1 waits for a person: the request is out of policy (in_policy false)"
	}
	conf, ok := normalize(attrs["confidence"]).(float64)
	if !ok {
		return false, "Tier 1 waits for a person: the request's context has no numeric confidence"
	}
	if conf < min {
		return false, fmt.Sprintf("Tier 1 waits for a person: confidence %v is below %v", conf, min)
	}
	return true, fmt.Sprintf("Tier 1 auto-approved: in policy and confidence %v is at least %v", conf, min)
}

func policyName(p *Policy) string {
	if p.Name != "" {
		return p.Name
	}
	return "for " + p.Service
}

// text is the rule as shown in reasons: "action pay_invoice, tier 2, when amount > 500".
func (r *Rule) text() string {
	s := fmt.Sprintf("action %s, tier %d", r.Action, *r.Tier)
	if r.When != "" {
		s += ", when " + r.When
	}
	return s
}

// checkName checks a service, environment or action name.
func checkName(s string) error {
	if len(s) > 200 {
		return fmt.Errorf("%d characters is too long; keep names under 200", len(s))
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%q contains a control character", s)
		}
	}
	return nil
}

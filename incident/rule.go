package incident

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// The SLIs a Rule can watch.
const (
	SLITaskSuccess     = "task_success"      // successful tasks / tasks with an outcome
	SLIEscalationRate  = "escalation_rate"   // escalated tasks / tasks with an outcome
	SLIToolFailure     = "tool_failure"      // failed tool calls / tool calls
	SLISafetyBlockRate = "safety_block_rate" // LLM calls blocked by safety / LLM calls
	SLICycleTimeP95    = "cycle_time_p95_ms" // 95th percentile cycle time of tasks, ms
	SLITasksPerMin     = "tasks_per_min"     // tasks seen per minute (volume)
	SLIRateLimitHits   = "rate_limit_hits"   // HTTP 429 answers in the window
)

// SLIs lists every SLI a Rule accepts, in the order the documentation gives.
var SLIs = []string{SLITaskSuccess, SLIEscalationRate, SLIToolFailure, SLICycleTimeP95,
	SLISafetyBlockRate, SLITasksPerMin, SLIRateLimitHits}

// ratioSLIs are the SLIs that are a fraction between 0 and 1.
var ratioSLIs = []string{SLITaskSuccess, SLIEscalationRate, SLIToolFailure, SLISafetyBlockRate}

// Ops lists the comparisons a Rule accepts: the rule's condition is
// "SLI op threshold".
var Ops = []string{"lt", "lte", "gt", "gte"}

// MaxRuleWindow is the longest window a Rule may look back over.
const MaxRuleWindow = 7 * 24 * time.Hour

// Rule is a threshold alert on one SLI of one service: the spec of a day2/v1
// AlertRule document, with its metadata.name as Name. The condition
// "SLI op threshold" is computed from the minute rollups of the last Window
// (whole minutes, the current partial minute excluded, as SLOs do); it must hold
// For before the rule fires, and the rule resolves as soon as it no longer holds.
//
//	apiVersion: day2/v1
//	kind: AlertRule
//	metadata: {name: triage-success-drop}
//	spec:
//	  service: support-triage
//	  environment: prod          # optional; all environments when absent
//	  sli: task_success
//	  op: lt
//	  threshold: 0.95
//	  window: 15m
//	  for: 0m
//	  min_events: 10
//	  severity: page
//	  runbook: tool-outage
type Rule struct {
	Name        string `yaml:"name,omitempty" json:"name"`
	Service     string `yaml:"service" json:"service"`
	Environment string `yaml:"environment,omitempty" json:"environment,omitempty"`
	// SLI is one of SLIs.
	SLI string `yaml:"sli" json:"sli"`
	// Op is lt, lte, gt or gte.
	Op        string  `yaml:"op" json:"op"`
	Threshold float64 `yaml:"threshold" json:"threshold"`
	// Window is how far back the SLI is computed: whole minutes, at most 7d.
	Window day2.Duration `yaml:"window" json:"window"`
	// For is how long the condition must hold before the rule fires.
	For day2.Duration `yaml:"for,omitempty" json:"for,omitempty"`
	// MinEvents is the fewest events the window must hold for the rule to fire:
	// tasks with an outcome (task_success, escalation_rate), tool calls
	// (tool_failure), LLM calls (safety_block_rate), tasks with a cycle time
	// (cycle_time_p95_ms). tasks_per_min and rate_limit_hits are counts
	// themselves and take none.
	MinEvents int64 `yaml:"min_events,omitempty" json:"min_events,omitempty"`
	// Severity is page or ticket.
	Severity string `yaml:"severity" json:"severity"`
	// Runbook names the runbook of the incidents the rule opens.
	Runbook string `yaml:"runbook,omitempty" json:"runbook,omitempty"`
}

// Validate reports the first problem of r, naming the field and the values it
// may take.
func (r *Rule) Validate() error {
	bad := func(format string, args ...any) error {
		return day2.Errorf(day2.EInvalid, "alert rule %q: "+format, append([]any{r.Name}, args...)...)
	}
	switch {
	case strings.TrimSpace(r.Name) == "":
		return day2.Errorf(day2.EInvalid, "an alert rule has no name; set metadata.name, such as triage-success-drop")
	case strings.TrimSpace(r.Service) == "":
		return bad("service is required: the service.name of the agent the rule watches")
	case !slices.Contains(SLIs, r.SLI):
		return bad("sli %q is unknown; use one of %s", r.SLI, strings.Join(SLIs, ", "))
	case !slices.Contains(Ops, r.Op):
		return bad("op %q is unknown; use lt, lte, gt or gte (the rule fires when SLI op threshold holds)", r.Op)
	case math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) || r.Threshold < 0:
		return bad("threshold must be a number of zero or more")
	case slices.Contains(ratioSLIs, r.SLI) && r.Threshold > 1:
		return bad("threshold of %s is a fraction between 0 and 1, such as 0.95; did you mean %s?", r.SLI, strconv.FormatFloat(r.Threshold/100, 'g', -1, 64))
	case r.Window.D() < time.Minute || r.Window.D()%time.Minute != 0:
		return bad("window %s must be whole minutes, at least 1m (rollups are per minute), such as 15m", short(r.Window))
	case r.Window.D() > MaxRuleWindow:
		return bad("window %s is longer than the longest a rule may look back, 7d", short(r.Window))
	case r.For.D() < 0:
		return bad("for must not be negative")
	case r.MinEvents < 0:
		return bad("min_events must be zero or more")
	case r.MinEvents > 0 && (r.SLI == SLITasksPerMin || r.SLI == SLIRateLimitHits):
		return bad("min_events does not apply to %s, which is a count itself; remove it", r.SLI)
	case r.Severity != SeverityPage && r.Severity != SeverityTicket:
		return bad("severity %q is unknown; use page (wake someone up) or ticket", r.Severity)
	}
	return nil
}

// holds reports whether "value op threshold" is true.
func (r *Rule) holds(value float64) bool {
	switch r.Op {
	case "lt":
		return value < r.Threshold
	case "lte":
		return value <= r.Threshold
	case "gt":
		return value > r.Threshold
	case "gte":
		return value >= r.Threshold
	}
	return false
}

// Measure is an SLI computed over a rule's window.
type Measure struct {
	// Value is the SLI; Events the count min_events is held against.
	Value  float64 `json:"value"`
	Events int64   `json:"events"`
	// OK is false when the window has no events to compute the SLI from.
	OK bool `json:"ok"`
}

// measure computes r's SLI from the window's totals.
func (r *Rule) measure(t *slo.Totals) Measure {
	c := &t.Counters
	ratio := func(num, den int64) Measure {
		if den <= 0 {
			return Measure{Events: max(den, 0)}
		}
		return Measure{Value: float64(num) / float64(den), Events: den, OK: true}
	}
	switch r.SLI {
	case SLITaskSuccess:
		return ratio(c.Successes, c.Tasks)
	case SLIEscalationRate:
		return ratio(c.Escalated, c.Tasks)
	case SLIToolFailure:
		return ratio(c.ToolFailures, c.ToolCalls)
	case SLISafetyBlockRate:
		return ratio(c.SafetyBlocks, c.LLMCalls)
	case SLICycleTimeP95:
		q, ok := t.Cycle.Quantile(0.95)
		return Measure{Value: q, Events: t.Cycle.Count(), OK: ok}
	case SLITasksPerMin:
		return Measure{Value: float64(c.Seen) / r.Window.D().Minutes(), Events: c.Seen, OK: true}
	case SLIRateLimitHits:
		return Measure{Value: float64(c.RateLimitHits), Events: c.RateLimitHits, OK: true}
	}
	return Measure{}
}

// formatSLI writes a value of sli as people read it.
func formatSLI(sli string, v float64) string {
	switch {
	case slices.Contains(ratioSLIs, sli):
		return strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
	case sli == SLICycleTimeP95:
		return strconv.FormatFloat(v, 'f', 0, 64) + " ms"
	case sli == SLITasksPerMin:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/min"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// opWords says an op in words: "below", "at or above".
var opWords = map[string]string{"lt": "below", "lte": "at or below", "gt": "above", "gte": "at or above"}

// short writes d as people do: 15m, 1h30m, 2d.
func short(d day2.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// where names the rule's service and environment.
func (r *Rule) where() string {
	if r.Environment != "" {
		return r.Service + " (" + r.Environment + ")"
	}
	return r.Service
}

// summary says what the rule sees, as an alert's summary.
func (r *Rule) summary(m Measure, firing bool) string {
	if !firing {
		if !m.OK {
			return fmt.Sprintf("%s of %s: no data over the last %s; rule %s resolved", r.SLI, r.where(), short(r.Window), r.Name)
		}
		return fmt.Sprintf("%s of %s is back to %s (rule %s: %s %s)", r.SLI, r.where(), formatSLI(r.SLI, m.Value), r.Name, opWords[r.Op], formatSLI(r.SLI, r.Threshold))
	}
	return fmt.Sprintf("%s of %s is %s, %s %s over the last %s", r.SLI, r.where(), formatSLI(r.SLI, m.Value),
		opWords[r.Op], formatSLI(r.SLI, r.Threshold), short(r.Window))
}

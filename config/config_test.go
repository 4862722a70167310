package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// sli is a valid SLI document of 12 lines, named success.
const sli = `apiVersion: openslo/v1
kind: SLI
metadata:
  name: success
spec:
  ratioMetric:
    good:
      metricSource:
        type: day2
        spec: {event: task_success}
    total:
      metricSource: {type: day2, spec: {event: tasks}}
`

// sloDoc is sli followed by a valid SLO document on it: the SLO starts at line
// 14, its spec at 18, service 19, indicatorRef 20, timeWindow 21, the window item
// 22, isRolling 23, budgetingMethod 24, objectives 25 and the target 26.
const sloDoc = sli + `---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: checkout-agent
  indicatorRef: success
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
`

// alertDoc is sloDoc with an alert policy: alertPolicies at 27 naming burn at 28;
// the AlertPolicy at 30, its conditions at 35 and conditionRef at 36; the
// AlertCondition at 38, its spec at 42, severity 43, condition 44, kind 45,
// threshold 46, lookbackWindow 47 and alertAfter 48.
const alertDoc = sloDoc + `  alertPolicies:
    - burn
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: burn
spec:
  conditions:
    - conditionRef: fast
---
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: fast
spec:
  severity: page
  condition:
    kind: burnrate
    threshold: 14.4
    lookbackWindow: 1h
    alertAfter: 5m
`

// edit applies replacements (old, new, old, new, ...) to s, each exactly once.
func edit(s string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.Count(s, pairs[i]) != 1 {
			panic(fmt.Sprintf("edit: %q occurs %d times", pairs[i], strings.Count(s, pairs[i])))
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

// manyAliases returns n label lines, each an alias of the anchor x.
func manyAliases(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "    b%d: *x\n", i)
	}
	return b.String()
}

// problemsOf returns the Problems in err, failing the test for any other error.
func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v (%T) is not Problems", err, err)
	}
	return ps
}

// at is a problem a case expects: its line and a fragment of its message.
type at struct {
	line int
	frag string
}

// checkProblems fails unless the problems are exactly the wanted ones, in order.
func checkProblems(t *testing.T, ps Problems, file string, want []at) {
	t.Helper()
	ok := len(ps) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = ps[i].File == file && ps[i].Line == want[i].line && strings.Contains(ps[i].Message, want[i].frag)
	}
	if !ok {
		t.Errorf("got problems:\n%v\nwant:\n%v", ps, want)
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []at
	}{
		// The file and the envelope.
		{"a file that is not YAML reports the parser's line", "apiVersion: openslo/v1\nkind: [SLO\n",
			[]at{{2, "not valid YAML: did not find expected ',' or ']'"}}},
		{"a tab indent explains tabs", "apiVersion: openslo/v1\nmetadata:\n\tname: x\n",
			[]at{{3, "a tab at the start of a line"}}},
		{"a YAML error without a line in the parser's message gets one", "apiVersion: openslo/v1\nkind: SLO\nmetadata: a: b\n",
			[]at{{3, "not valid YAML: mapping values are not allowed"}}},
		{"a control character is reported at its line", "apiVersion: openslo/v1\nkind: \x01SLO\n",
			[]at{{2, "control character"}}},
		{"a binary file is not UTF-8", "apiVersion: openslo/v1\n\xff\xfe\n",
			[]at{{2, "not UTF-8"}}},
		{"a document must be a mapping", "apiVersion: openslo/v1\n---\n- a\n- b\n",
			[]at{{1, "missing kind"}, {3, "must be a mapping that starts with apiVersion"}}},
		{"missing apiVersion names both versions and explains that all YAML files are read", "kind: SLO\nmetadata: {name: a}\n",
			[]at{{1, "missing apiVersion; every document starts with apiVersion: openslo/v1 (kinds AlertCondition, AlertNotificationTarget, AlertPolicy, DataSource, SLI, SLO, Service) or apiVersion: day2/v1 (kinds "}}},
		{"another OpenSLO version is refused", "apiVersion: openslo/v1alpha\nkind: SLO\n",
			[]at{{1, `apiVersion "openslo/v1alpha" is not supported; day2 reads OpenSLO v1 only; use apiVersion: openslo/v1`}}},
		{"a foreign apiVersion is refused", "apiVersion: sloth.slok.dev/v1\nkind: PrometheusServiceLevel\n",
			[]at{{1, `apiVersion "sloth.slok.dev/v1" is not supported; use apiVersion: openslo/v1`}}},
		{"an unknown kind suggests the nearest", "apiVersion: openslo/v1\nkind: Slo\nmetadata: {name: a}\n",
			[]at{{2, `unknown kind "Slo" for apiVersion openslo/v1; did you mean SLO? valid kinds are AlertCondition`}}},
		{"a day2 kind under openslo/v1 names the right apiVersion", "apiVersion: openslo/v1\nkind: SLODefaults\n",
			[]at{{2, "SLODefaults is a kind of apiVersion day2/v1, so write apiVersion: day2/v1"}}},
		{"an unknown day2 kind lists the known ones", "apiVersion: day2/v1\nkind: Flag\nmetadata: {name: a}\nspec: {}\n",
			[]at{{2, `unknown kind "Flag" for apiVersion day2/v1; feature flags are kind: FeatureFlags`}}},
		{"an unknown top-level key says settings go under spec", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: a}\ndescription: x\n",
			[]at{{4, `unknown key "description" in the top level of a document (settings go under spec:)`}}},
		{"missing metadata gives an example", "apiVersion: openslo/v1\nkind: Service\n",
			[]at{{1, "missing metadata; add metadata: {name: my-service}"}}},
		{"metadata without a name", "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  displayName: A\n",
			[]at{{3, "metadata needs a name"}}},
		{"a name that is not RFC 1123 suggests the lowercase one", "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: Checkout\n",
			[]at{{4, `metadata.name "Checkout" is not a valid name: use at most 63 lowercase letters, digits and -, starting and ending with a letter or digit, such as checkout-availability (try "checkout")`}}},
		{"a name with spaces suggests one", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: Checkout Agent}\n",
			[]at{{3, `(try "checkout-agent")`}}},
		{"a name longer than 63 characters", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: " + strings.Repeat("a", 64) + "}\n",
			[]at{{3, "is not a valid name"}}},
		{"names are unique per kind", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: openslo/v1\nkind: Service\nmetadata: {name: a}\n",
			[]at{{5, `there is already a Service named "a" at t.yaml:1`}}},
		{"a key given twice", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: a}\nkind: SLO\n",
			[]at{{4, "kind appears twice in the top level of a document (settings go under spec:) (first at line 2)"}}},
		{"merge keys are refused", "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  <<: {name: a}\n",
			[]at{{3, "metadata needs a name"}, {4, "merge keys (<<) are not supported"}}},
		{"too many aliases", "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: a\n  labels:\n    a: &x [v]\n" + manyAliases(1001),
			[]at{{1007, "this file uses more than 1000 aliases (*name); write the values out"}}},
		{"missing spec gives an example", "apiVersion: openslo/v1\nkind: AlertCondition\nmetadata: {name: a}\n",
			[]at{{1, "missing spec; for example spec: {severity: page"}}},
		{"a wrong type says what was expected", "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: [a]}\n",
			[]at{{3, "name must be text such as checkout-availability, not a list"}}},
		{"labels must be text or lists of text", "apiVersion: openslo/v1\nkind: Service\nmetadata:\n  name: a\n  labels:\n    team: {a: b}\n",
			[]at{{6, "label team must be text or a list of text, not a mapping"}}},

		// SLI.
		{"thresholdMetric is refused with the day2 hint", strings.Replace(sli, "  ratioMetric:", "  thresholdMetric: {metricSource: {type: day2}}\n  ratioMetric:", 1),
			[]at{{6, "thresholdMetric is not supported: day2 computes SLIs from its own telemetry; use metricSource type day2"}}},
		{"another metric source type is refused", strings.Replace(sli, "type: day2\n", "type: Prometheus\n", 1),
			[]at{{9, `metricSource type "Prometheus" is not supported: day2 computes SLIs from its own telemetry; use metricSource type day2`}}},
		{"metricSourceRef is refused", strings.Replace(sli, "type: day2\n", "metricSourceRef: prom\n", 1),
			[]at{{9, "metricSourceRef (a DataSource) is not supported"}}},
		{"metricSource without type", strings.Replace(sli, "        type: day2\n", "", 1),
			[]at{{8, "metricSource needs type: day2"}}},
		{"an unknown filter key lists the valid keys", strings.Replace(sli, "{event: task_success}", "{event: task_success, env: prod}", 1),
			[]at{{10, `unknown key "env" in the day2 metricSource spec; valid keys are event, environment, version, risk_tier, business_process, cycle_time_ms_lte`}}},
		{"a misspelt filter key is suggested", strings.Replace(sli, "{event: task_success}", "{event: task_success, riskTier: high}", 1),
			[]at{{10, `did you mean risk_tier?`}}},
		{"an unknown event lists the valid ones", strings.Replace(sli, "{event: task_success}", "{event: task_succeeded}", 1),
			[]at{{10, `unknown event "task_succeeded"; did you mean task_success? valid events are tasks, task_success, task_failure, escalated, tool_calls, tool_failures, llm_calls, safety_blocks`}}},
		{"a metric source spec without event", strings.Replace(sli, "{event: task_success}", "{environment: prod}", 1),
			[]at{{10, "the metricSource spec needs event:, one of tasks"}}},
		{"good and bad together", strings.Replace(sli, "    total:", "    bad: {metricSource: {type: day2, spec: {event: task_failure}}}\n    total:", 1),
			[]at{{11, "ratioMetric has both good and bad; keep one"}}},
		{"neither good nor bad", strings.Replace(sli, "    good:\n      metricSource:\n        type: day2\n        spec: {event: task_success}\n", "", 1),
			[]at{{6, "ratioMetric needs good (or bad) and total"}}},
		{"total is required", strings.Replace(sli, "    total:\n      metricSource: {type: day2, spec: {event: tasks}}\n", "", 1),
			[]at{{6, "ratioMetric needs total"}}},
		{"a precomputed raw ratio is refused", strings.Replace(sli, "    good:", "    rawType: success\n    good:", 1),
			[]at{{7, "rawType (a precomputed ratio) is not supported"}}},
		{"cycle_time_ms_lte applies to task events only", strings.Replace(strings.Replace(sli, "{event: task_success}", "{event: tool_calls, cycle_time_ms_lte: 500}", 1), "event: tasks", "event: tool_calls", 1),
			[]at{{10, "cycle_time_ms_lte applies to events that count tasks (tasks, task_success, task_failure, escalated), not to tool_calls"}}},
		{"cycle_time_ms_lte must be a whole number", strings.Replace(sli, "{event: task_success}", "{event: tasks, cycle_time_ms_lte: 1.5}", 1),
			[]at{{10, "cycle_time_ms_lte must be a whole number such as 120000 (two minutes), not the number 1.5"}}},
		{"cycle_time_ms_lte must be positive", strings.Replace(sli, "{event: task_success}", "{event: tasks, cycle_time_ms_lte: 0}", 1),
			[]at{{10, "cycle_time_ms_lte must be a positive number of milliseconds"}}},
		{"good and total counting the same events", strings.Replace(sli, "{event: task_success}", "{event: tasks}", 1),
			[]at{{6, "good and total count the same events, so the SLI would always be 100%"}}},
		{"an SLI without ratioMetric", "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: a}\nspec:\n  description: x\n",
			[]at{{4, "the SLI spec needs ratioMetric, such as ratioMetric: {good:"}}},

		// SLO.
		{"an SLO without service", edit(sloDoc, "  service: checkout-agent\n", ""),
			[]at{{18, "the SLO spec needs service:, the agent service as it reports service.name, such as service: checkout-agent"}}},
		{"a service with a slash", edit(sloDoc, "service: checkout-agent", "service: shop/checkout"),
			[]at{{19, "contains /"}}},
		{"indicator and indicatorRef together", edit(sloDoc, "  indicatorRef: success\n", "  indicator: {spec: {}}\n  indicatorRef: success\n"),
			[]at{{21, "the SLO has both indicator and indicatorRef; keep one"}}},
		{"neither indicator nor indicatorRef", edit(sloDoc, "  indicatorRef: success\n", ""),
			[]at{{18, "the SLO spec needs indicatorRef: (the name of an SLI document) or indicator:"}}},
		{"an unknown indicatorRef is reported at the ref", edit(sloDoc, "indicatorRef: success", "indicatorRef: sucess"),
			[]at{{20, `indicatorRef "sucess" names no SLI; the SLI documents are success`}}},
		{"an inline indicator with problems", edit(sloDoc, "  indicatorRef: success\n", "  indicator:\n    kind: SLO\n    spec: {ratioMetric: {good: {metricSource: {type: day2, spec: {event: tasks}}}}}\n"),
			[]at{{21, `kind "SLO" cannot be written here; this must be an SLI`}}},
		{"an inline indicator without spec", edit(sloDoc, "  indicatorRef: success\n", "  indicator: {metadata: {name: x}}\n"),
			[]at{{20, "the inline SLI needs spec:"}}},
		{"a misspelt required key is reported once, as unknown", edit(sloDoc, "  timeWindow:", "  timeWindows:"),
			[]at{{21, `unknown key "timeWindows" in the SLO spec; did you mean timeWindow? valid keys are description, service, indicator, indicatorRef, timeWindow, budgetingMethod, objectives, alertPolicies`}}},
		{"a misspelt indicator is reported once, as unknown", edit(sloDoc, "  indicatorRef: success\n", "  indicatr: {spec: {}}\n"),
			[]at{{20, `unknown key "indicatr" in the SLO spec; did you mean indicator?`}}},
		{"an inline SLI without its spec level", edit(sloDoc, "  indicatorRef: success\n", "  indicator:\n    ratioMetric: {}\n"),
			[]at{{21, "ratioMetric belongs under spec: here; an inline SLI is written as {metadata: {name: ...}, spec: {ratioMetric: ...}}"}}},
		{"timeWindow written as a mapping", edit(sloDoc, "  timeWindow:\n    - duration: 28d\n      isRolling: true\n", "  timeWindow: {duration: 28d, isRolling: true}\n"),
			[]at{{21, "timeWindow must be a list (lines starting with -), not a mapping; for example timeWindow: [{duration: 28d, isRolling: true}]"}}},
		{"two time windows", edit(sloDoc, "      isRolling: true\n", "      isRolling: true\n    - {duration: 7d, isRolling: true}\n"),
			[]at{{21, "timeWindow must hold exactly one window, not 2"}}},
		{"a missing timeWindow", edit(sloDoc, "  timeWindow:\n    - duration: 28d\n      isRolling: true\n", ""),
			[]at{{18, "the SLO spec needs timeWindow: [{duration: 28d, isRolling: true}]"}}},
		{"duration units are case-sensitive", edit(sloDoc, "duration: 28d", "duration: 28D"),
			[]at{{22, `duration "28D" uses "D"; units are case-sensitive: write 28d (M is months, m is minutes)`}}},
		{"seconds are not an OpenSLO unit", edit(sloDoc, "duration: 28d", "duration: 90s"),
			[]at{{22, `duration "90s" uses seconds, which OpenSLO durations do not have`}}},
		{"one number and one unit", edit(sloDoc, "duration: 28d", "duration: 1h30m"),
			[]at{{22, `duration "1h30m" must be one whole number and one unit (OpenSLO duration shorthand), such as 90m instead of 1h30m`}}},
		{"fractions are not durations", edit(sloDoc, "duration: 28d", "duration: 1.5d"),
			[]at{{22, "must be a whole number and a unit"}}},
		{"a duration without unit", edit(sloDoc, "duration: 28d", "duration: 28"),
			[]at{{22, `duration "28" has no unit; write e.g. 28d or 28m`}}},
		{"a zero duration", edit(sloDoc, "duration: 28d", "duration: 0d"),
			[]at{{22, "must be longer than zero"}}},
		{"a window without isRolling or calendar", edit(sloDoc, "      isRolling: true\n", ""),
			[]at{{22, "the time window needs isRolling: true for a rolling window, or a calendar"}}},
		{"isRolling must be a boolean", edit(sloDoc, "isRolling: true", "isRolling: yes"),
			[]at{{23, `isRolling must be true or false, not the text "yes"`}}},
		{"rolling and calendar together", edit(sloDoc, "      isRolling: true\n", "      isRolling: true\n      calendar: {startTime: 2026-01-01, timeZone: UTC}\n"),
			[]at{{24, "a window cannot be both rolling and calendar-aligned"}}},
		{"isRolling false without calendar", edit(sloDoc, "isRolling: true", "isRolling: false"),
			[]at{{23, "or a calendar for a calendar-aligned one"}}},
		{"an unknown time zone", edit(sloDoc, "      isRolling: true\n", "      calendar: {startTime: 2026-01-01, timeZone: Europe/Berln}\n"),
			[]at{{23, `timeZone "Europe/Berln" is not a known IANA time zone`}}},
		{"a calendar without time zone", edit(sloDoc, "      isRolling: true\n", "      calendar: {startTime: 2026-01-01}\n"),
			[]at{{23, "calendar needs timeZone:"}}},
		{"a calendar start with a zone", edit(sloDoc, "      isRolling: true\n", "      calendar: {startTime: \"2026-01-01T00:00:00Z\", timeZone: UTC}\n"),
			[]at{{23, "has a time zone; write the local time"}}},
		{"a calendar start that is not a date", edit(sloDoc, "      isRolling: true\n", "      calendar: {startTime: monday, timeZone: UTC}\n"),
			[]at{{23, `startTime "monday" is not a date and time`}}},
		{"a calendar window with a bad duration and no time zone", edit(sloDoc, "duration: 28d\n      isRolling: true\n", "duration: 1X\n      calendar: {startTime: 2026-01-01}\n"),
			[]at{{22, `duration "1X" has the unknown unit "X"`}, {23, "calendar needs timeZone:"}}},
		{"a calendar window of hours", edit(sloDoc, "duration: 28d\n      isRolling: true\n", "duration: 12h\n      calendar: {startTime: 2026-01-01, timeZone: UTC}\n"),
			[]at{{22, "a calendar window is counted in days, weeks, months, quarters or years"}}},
		{"RatioTimeslices is not supported yet", edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices"),
			[]at{{24, "budgetingMethod RatioTimeslices is not supported yet; use Occurrences or Timeslices"}}},
		{"budgetingMethod is case-sensitive", edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: occurrences"),
			[]at{{24, `unknown budgetingMethod "occurrences" (did you mean Occurrences? The value is case-sensitive)`}}},
		{"a missing budgetingMethod", edit(sloDoc, "  budgetingMethod: Occurrences\n", ""),
			[]at{{18, "the SLO spec needs budgetingMethod: Occurrences"}}},
		{"a percentage written as target", edit(sloDoc, "target: 0.99", "target: 99.9"),
			[]at{{26, "target must be a fraction like 0.999; did you mean targetPercent: 99.9?"}}},
		{"a target of 1 leaves no budget", edit(sloDoc, "target: 0.99", "target: 1"),
			[]at{{26, "target 1 (100%) leaves no error budget"}}},
		{"a negative target", edit(sloDoc, "target: 0.99", "target: -0.5"),
			[]at{{26, "target must be a fraction from 0 up to (not including) 1"}}},
		{"a target in quotes", edit(sloDoc, "target: 0.99", `target: "0.99"`),
			[]at{{26, `target must be a number such as 0.999, not the text "0.99" (remove the quotes)`}}},
		{"target and targetPercent together", edit(sloDoc, "target: 0.99", "target: 0.99\n      targetPercent: 99"),
			[]at{{27, "the objective has both target and targetPercent; keep one"}}},
		{"a targetPercent below 1 is ambiguous", edit(sloDoc, "target: 0.99", "targetPercent: 0.99"),
			[]at{{26, "targetPercent 0.99 means 0.99%; if you meant 99%, write target: 0.99 or targetPercent: 99"}}},
		{"a targetPercent of 100", edit(sloDoc, "target: 0.99", "targetPercent: 100"),
			[]at{{26, "targetPercent 100 leaves no error budget"}}},
		{"an objective without target", edit(sloDoc, "target: 0.99", "displayName: x"),
			[]at{{26, "the objective needs target (a fraction, such as target: 0.99) or targetPercent"}}},
		{"op and value belong to thresholdMetric", edit(sloDoc, "target: 0.99", "target: 0.99\n      op: lte\n      value: 2000"),
			[]at{{27, "op applies to thresholdMetric SLIs"}, {28, "value applies to thresholdMetric SLIs"}}},
		{"no objectives", edit(sloDoc, "  objectives:\n    - target: 0.99\n", "  objectives: []\n"),
			[]at{{25, "objectives is empty"}}},
		{"objectives written as a number", edit(sloDoc, "  objectives:\n    - target: 0.99\n", "  objectives: 0.99\n"),
			[]at{{25, "objectives must be a list (lines starting with -), not the number 0.99"}}},
		{"Timeslices needs timeSliceTarget and timeSliceWindow", edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
			[]at{{26, "with budgetingMethod Timeslices the objective needs timeSliceTarget"}, {26, "the objective needs timeSliceWindow"}}},
		{"timeslice settings with Occurrences", edit(sloDoc, "target: 0.99", "target: 0.99\n      timeSliceWindow: 5m"),
			[]at{{27, "timeSliceWindow applies only to budgetingMethod: Timeslices"}}},
		{"a slice as long as the window", edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: Timeslices", "target: 0.99", "target: 0.99\n      timeSliceTarget: 0.9\n      timeSliceWindow: 4w"),
			[]at{{28, "timeSliceWindow 28d must be shorter than the SLO's time window 28d"}}},
		{"a timeSliceTarget above 1", edit(sloDoc, "budgetingMethod: Occurrences", "budgetingMethod: Timeslices", "target: 0.99", "target: 0.99\n      timeSliceTarget: 95\n      timeSliceWindow: 5"),
			[]at{{27, "timeSliceTarget must be a fraction above 0 and at most 1"}}},
		{"two objectives with the same displayName", edit(sloDoc, "    - target: 0.99\n", "    - {displayName: Fast, target: 0.99}\n    - {displayName: fast!, target: 0.9}\n"),
			[]at{{27, "two objectives would both be named checkout-fast (the other is at line 26)"}}},
		{"an SLO with the name of a built-in", edit(sloDoc, "name: checkout", "name: task-success"),
			[]at{{14, "SLO checkout-agent/task-success has the name of a built-in SLO that day2 creates for every service; choose another metadata.name, or switch the built-in off with an SLODefaults document (spec: {task_success: {disabled: true}})"}}},
		{"objectives whose names collide with another SLO", edit(sloDoc, "    - target: 0.99\n", "    - {displayName: fast, target: 0.99}\n    - {displayName: slow, target: 0.9}\n") +
			"---\napiVersion: openslo/v1\nkind: SLO\nmetadata: {name: checkout-fast}\nspec: {service: checkout-agent, indicatorRef: success, timeWindow: [{duration: 7d, isRolling: true}], budgetingMethod: Occurrences, objectives: [{target: 0.9}]}\n",
			[]at{{32, "SLO checkout-agent/checkout-fast is already defined at t.yaml:26"}}},

		// AlertPolicy and AlertCondition.
		{"an unknown alert policy", edit(alertDoc, "    - burn\n", "    - burnn\n"),
			[]at{{28, `alert policy "burnn" names no AlertPolicy; the AlertPolicy documents are burn`}}},
		{"an empty alertPolicies list is ambiguous", edit(alertDoc, "  alertPolicies:\n    - burn\n", "  alertPolicies: []\n"),
			[]at{{27, "alertPolicies is empty; list the policies, or remove alertPolicies to alert with day2's default burn-rate windows"}}},
		{"an empty reference", edit(alertDoc, "    - conditionRef: fast\n", "    -\n"),
			[]at{{36, "each item must be text such as fast-burn, not empty"}}},
		{"a policy listed twice", edit(alertDoc, "    - burn\n", "    - burn\n    - alertPolicyRef: burn\n"),
			[]at{{29, `alert policy "burn" is listed twice (first at line 28)`}}},
		{"an unknown conditionRef", edit(alertDoc, "conditionRef: fast", "conditionRef: fastt"),
			[]at{{36, `conditionRef "fastt" names no AlertCondition; the AlertCondition documents are fast`}}},
		{"a reference with other keys", edit(alertDoc, "    - conditionRef: fast\n", "    - conditionRef: fast\n      severity: page\n"),
			[]at{{37, `unknown key "severity" in a reference (conditionRef alone; write other settings in the referenced document)`}}},
		{"an inline object of the wrong kind", edit(alertDoc, "    - conditionRef: fast\n", "    - kind: AlertPolicy\n      spec: {}\n"),
			[]at{{36, `kind "AlertPolicy" cannot be written here; this must be an AlertCondition`}}},
		{"a policy without conditions", edit(alertDoc, "  conditions:\n    - conditionRef: fast\n", "  conditions: []\n"),
			[]at{{35, "conditions is empty"}}},
		{"alertWhenNoData true", edit(alertDoc, "  conditions:\n", "  alertWhenNoData: true\n  conditions:\n"),
			[]at{{35, "day2 does not alert on missing data"}}},
		{"alertWhenBreaching false", edit(alertDoc, "  conditions:\n", "  alertWhenBreaching: false\n  conditions:\n"),
			[]at{{35, "day2 always alerts when a condition breaches"}}},
		{"an unknown severity", edit(alertDoc, "severity: page", "severity: sev1"),
			[]at{{43, `unknown severity "sev1"; use page or ticket (critical and high mean page; warning, medium and low mean ticket)`}}},
		{"a missing severity", edit(alertDoc, "  severity: page\n", ""),
			[]at{{42, "the AlertCondition spec needs severity: page"}}},
		{"a condition kind other than burnrate", edit(alertDoc, "kind: burnrate", "kind: threshold"),
			[]at{{45, `condition kind "threshold" is not supported`}}},
		{"op lt", edit(alertDoc, "kind: burnrate\n", "kind: burnrate\n    op: lt\n"),
			[]at{{46, "op lt would alert while the budget is spent slowly"}}},
		{"a threshold of zero", edit(alertDoc, "threshold: 14.4", "threshold: 0"),
			[]at{{46, "threshold must be a burn rate above 0"}}},
		{"a missing threshold", edit(alertDoc, "    threshold: 14.4\n", ""),
			[]at{{44, "condition needs threshold:"}}},
		{"a missing lookbackWindow", edit(alertDoc, "    lookbackWindow: 1h\n", ""),
			[]at{{44, "condition needs lookbackWindow:"}}},
		{"a short window longer than the long one", edit(alertDoc, "alertAfter: 5m\n", "alertAfter: 5m\n    day2: {shortWindow: 2h}\n"),
			[]at{{49, `shortWindow 2h is longer than lookbackWindow 1h`}}},
		{"an unknown key in the day2 extension", edit(alertDoc, "alertAfter: 5m\n", "alertAfter: 5m\n    day2: {minEvent: 5}\n"),
			[]at{{49, `unknown key "minEvent" in the day2 extension of condition; did you mean minEvents? valid keys are shortWindow, minEvents`}}},
		{"minEvents of zero", edit(alertDoc, "alertAfter: 5m\n", "alertAfter: 5m\n    day2: {minEvents: 0}\n"),
			[]at{{49, "minEvents must be a whole number of at least 1"}}},
		{"a lookback as long as the SLO window", edit(alertDoc, "lookbackWindow: 1h", "lookbackWindow: 4w"),
			[]at{{28, "condition fast looks back 28d, as long as or longer than the SLO's time window 28d"}}},
		{"a threshold the SLO can never reach", edit(alertDoc, "target: 0.99", "target: 0.9"),
			[]at{{28, "condition fast (burn rate gte 14.4) can never fire for SLO checkout-agent/checkout: with objective 0.9 the burn rate is at most 10, even when every event is bad"}}},
		{"conditions of one SLO with different minEvents", edit(alertDoc, "alertAfter: 5m\n", "alertAfter: 5m\n    day2: {minEvents: 5}\n",
			"    - conditionRef: fast\n", "    - conditionRef: fast\n    - {kind: AlertCondition, spec: {severity: ticket, condition: {threshold: 1, lookbackWindow: 3d, day2: {minEvents: 50}}}}\n"),
			[]at{{28, "the conditions fast (t.yaml:39, minEvents 5) and burn-2 (t.yaml:37, minEvents 50) of this SLO set different day2.minEvents"}}},

		// day2 kinds.
		{"target for a rate-bounded default", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  escalation_rate: {target: 0.95}\n",
			[]at{{5, "escalation_rate is bounded by the share of tasks escalated to a person, so write the most it may be: max_rate: 0.05 (at most 5%), not target"}}},
		{"max_rate for a target default", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  task_success:\n    max_rate: 0.03\n",
			[]at{{6, "task_success is set by the share of tasks that succeed, so write the least it must be: target: 0.97 (at least 97%), not max_rate"}}},
		{"a default target in percent", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  task_success: {target: 97}\n",
			[]at{{5, "target is a fraction like 0.97; did you mean target: 0.97?"}}},
		{"a max_rate in percent", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  tool_failure: {max_rate: 5}\n",
			[]at{{5, "max_rate is a fraction like 0.005 (0.5%); did you mean max_rate: 0.05?"}}},
		{"threshold outside cycle_time", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  task_success: {threshold: 2m}\n",
			[]at{{5, "threshold applies only to cycle_time"}}},
		{"a threshold that is not a duration", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  cycle_time: {threshold: two minutes}\n",
			[]at{{5, `threshold: duration "two minutes" is not a number followed by a unit`}}},
		{"a default window with a bad unit", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  cycle_time: {window: 4W}\n",
			[]at{{5, `window "4W" uses "W"; units are case-sensitive: write 4w`}}},
		{"business hours across midnight", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  cycle_time:\n    business_hours: {time_zone: UTC, days: [mon], hours: \"22:00-06:00\"}\n",
			[]at{{6, `hours "22:00-06:00" must end after it starts; hours that cross midnight are not supported`}}},
		{"business hours with an unknown day and a missing zone", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  cycle_time:\n    business_hours:\n      days: [mon, funday, mon]\n      hours: 9-17\n",
			[]at{{6, "business_hours needs time_zone"}, {7, `days: the text "funday" is not a day`}, {7, "days: mon is listed twice"}, {8, `hours "9-17" must be a start and an end time, such as "09:00-17:00"`}}},
		{"a misspelt default", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec:\n  taskSuccess: {target: 0.9}\n",
			[]at{{5, `unknown key "taskSuccess" in the SLODefaults spec; did you mean task_success? valid keys are disabled, task_success, escalation_rate, cycle_time, tool_failure`}}},
		{"disabled must be a boolean", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec: {disabled: \"no\"}\n",
			[]at{{4, `disabled must be true or false, not the text "no"`}}},
		{"two SLODefaults documents", "apiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: d}\nspec: {}\n---\napiVersion: day2/v1\nkind: SLODefaults\nmetadata: {name: e}\nspec: {}\n",
			[]at{{6, "a second SLODefaults document; the first is at t.yaml:1. Keep one SLODefaults document with all its settings"}}},
		{"at_risk_below in percent", "apiVersion: day2/v1\nkind: BudgetPolicy\nmetadata: {name: b}\nspec: {at_risk_below: 25}\n",
			[]at{{4, "at_risk_below is a fraction of the budget left, like 0.25; did you mean at_risk_below: 0.25?"}}},
		{"a BudgetPolicy without at_risk_below", "apiVersion: day2/v1\nkind: BudgetPolicy\nmetadata: {name: b}\nspec: {}\n",
			[]at{{4, "the BudgetPolicy spec needs at_risk_below:"}}},
		{"a negative at_risk_below", "apiVersion: day2/v1\nkind: BudgetPolicy\nmetadata: {name: b}\nspec:\n  at_risk_below: -0.1\n",
			[]at{{5, "at_risk_below must be between 0 and 1"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse accepted the file: %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with its error")
			}
			checkProblems(t, problemsOf(t, err), "t.yaml", tc.want)
		})
	}
}

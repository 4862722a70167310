// Package config reads day2's configuration directory (`day2 serve --config DIR`,
// `day2 validate --config DIR`): OpenSLO v1 documents for custom SLOs and day2's
// own settings, in YAML files that may hold several documents each.
//
// Every document has the same envelope:
//
//	apiVersion: openslo/v1          # or day2/v1
//	kind: SLO
//	metadata: {name: checkout-success, displayName: Checkout success}
//	spec: {...}
//
// # OpenSLO v1 (apiVersion: openslo/v1)
//
// SLO, SLI, Service, AlertPolicy, AlertCondition, AlertNotificationTarget and
// DataSource, as in the OpenSLO v1 specification, with these rules:
//
//   - metadata.name is an RFC 1123 label (at most 63 lowercase letters, digits
//     and -) and unique per kind across the directory.
//   - SLIs are ratioMetric only, and every metricSource has type day2; its spec
//     names the event to count and optional filters:
//     {event: task_success, environment: prod, version: v2, risk_tier: high,
//     business_process: refunds, cycle_time_ms_lte: 120000}. Events are those of
//     slo.Events; cycle_time_ms_lte applies to events that count tasks.
//     thresholdMetric, raw ratios and metricSourceRef are refused with a message.
//   - An SLO has service, indicator (inline) or indicatorRef (an SLI document in
//     any file of the directory), exactly one timeWindow, budgetingMethod
//     Occurrences or Timeslices (RatioTimeslices is not supported yet), and
//     objectives, each with target (a fraction in [0, 1)) or targetPercent (in
//     [0, 100)). It becomes one slo.Definition per objective, named
//     "<service>/<metadata.name>", or "<service>/<metadata.name>-<objective>"
//     when there are several objectives, <objective> being the objective's
//     displayName in lowercase with - for other characters, or its 1-based
//     position. Names of the built-in SLOs (task-success, escalation-rate,
//     cycle-time, tool-failure) are refused unless SLODefaults switches that
//     built-in off.
//   - Durations are OpenSLO shorthand: a whole number and one case-sensitive
//     unit, m (minute), h, d, w, M (month), Q (quarter), Y. 1m is a minute, 1M a
//     month. A month counts 30 days, a quarter 90 and a year 365: that is the
//     length of a rolling window written with them, and the nominal length of a
//     calendar window, used for burn-rate thresholds. Calendar windows keep
//     their unit and count, their start and time zone.
//   - alertPolicies, conditions and notificationTargets items are a name, a
//     {alertPolicyRef|conditionRef|targetRef: name} reference, or an inline
//     object. OpenSLO allows one condition per AlertPolicy; day2 accepts several,
//     since multiwindow alerting needs a fast and a slow condition. An empty
//     alertPolicies list is refused as ambiguous (no alerts, or the defaults?).
//   - An AlertCondition is a burn-rate condition. severity is page or ticket
//     (critical and high mean page; warning, medium and low mean ticket); op is
//     gte (the default) or gt; lookbackWindow is the long window. day2's
//     extensions live under condition.day2: shortWindow (default lookbackWindow/12,
//     at least a minute) and minEvents (the fewest events a window needs before
//     it may alert; default 10). Each condition becomes an slo.WindowPair with the
//     threshold stated; an SLO without alertPolicies gets none, so the engine
//     uses slo.DefaultPairs.
//   - alertWhenBreaching: false and alertWhenNoData: true are refused, since day2
//     always alerts on a breach and never on missing data.
//   - Service documents are recorded; an SLO may name a service without one.
//     AlertNotificationTarget documents are recorded by name (delivery is set up
//     elsewhere); DataSource documents are accepted and not read, since day2
//     reads only its own telemetry.
//
// # day2 settings (apiVersion: day2/v1)
//
// At most one document of each kind:
//
//	apiVersion: day2/v1
//	kind: SLODefaults              # the SLOs day2 creates for every service
//	metadata: {name: defaults}
//	spec:
//	  disabled: false              # true: no built-in SLOs at all
//	  task_success:    {target: 0.98, window: 28d}      # share of tasks that succeed
//	  escalation_rate: {max_rate: 0.03, window: 7d}     # share of tasks escalated
//	  cycle_time:
//	    target: 0.95               # share of tasks within threshold
//	    threshold: 90s
//	    window: 28d
//	    business_hours: {time_zone: Europe/Berlin, days: [mon, tue, wed, thu, fri], hours: "09:00-17:00"}
//	  tool_failure:    {disabled: true}                 # or {max_rate: 0.005}
//	---
//	apiVersion: day2/v1
//	kind: BudgetPolicy
//	metadata: {name: budget}
//	spec: {at_risk_below: 0.25}    # share of the budget left under which a service is at risk
//
// target is the least share of good events; max_rate is the most share of bad
// ones and becomes the objective 1 - max_rate. Each built-in takes only the one
// that reads naturally for it. window is a rolling duration (28d) or a timeWindow
// item ({duration: 1M, isRolling: false, calendar: {...}}); threshold is a
// duration such as 120s or 2m.
//
// New day2 kinds are added as entries of the day2Kinds table.
//
// # Problems
//
// LoadDir and Parse never stop at the first problem: they return a Problems
// error listing every problem in every file, each as "file:line: message", where
// the message says what is wrong and how to fix it.
package config

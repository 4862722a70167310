package slo

import (
	"time"
)

// Event names of the day2 metric source: what an SLI's good, bad or total
// selector counts. "tasks" are tasks with an outcome.
const (
	EventTasks        = "tasks"
	EventTaskSuccess  = "task_success"
	EventTaskFailure  = "task_failure"
	EventEscalated    = "escalated"
	EventToolCalls    = "tool_calls"
	EventToolFailures = "tool_failures"
	EventLLMCalls     = "llm_calls"
	EventSafetyBlocks = "safety_blocks"
)

// Events lists the valid event names.
var Events = []string{EventTasks, EventTaskSuccess, EventTaskFailure, EventEscalated,
	EventToolCalls, EventToolFailures, EventLLMCalls, EventSafetyBlocks}

// Filter restricts the tasks an SLI counts. Empty fields do not filter.
type Filter struct {
	Environment     string `json:"environment,omitempty"`
	Version         string `json:"version,omitempty"`
	RiskTier        string `json:"risk_tier,omitempty"`
	BusinessProcess string `json:"business_process,omitempty"`
}

// Selector picks events: an event name, optional filters, and for cycle time a
// bound (CycleTimeLTE > 0: only tasks whose cycle time is at most that many ms).
type Selector struct {
	Event        string `json:"event"`
	Filter       Filter `json:"filter,omitzero"`
	CycleTimeLTE int64  `json:"cycle_time_ms_lte,omitempty"`
}

// Indicator is a ratio SLI: good/total, or (total-bad)/total when Bad is set.
type Indicator struct {
	Good  *Selector `json:"good,omitempty"`
	Bad   *Selector `json:"bad,omitempty"`
	Total Selector  `json:"total"`
}

// BudgetingMethod is how the budget is counted.
type BudgetingMethod string

// Budgeting methods of OpenSLO.
const (
	Occurrences BudgetingMethod = "Occurrences"
	Timeslices  BudgetingMethod = "Timeslices"
)

// TimeWindow is the SLO's compliance period: rolling (the last Duration) or
// calendar (aligned periods starting at CalendarStart in Location, of
// CalendarUnits of CalendarUnit, e.g. 1 month).
type TimeWindow struct {
	Duration      time.Duration  `json:"duration"` // rolling length, or the nominal calendar length used for burn-rate thresholds
	Rolling       bool           `json:"rolling"`
	CalendarStart time.Time      `json:"calendar_start,omitzero"`
	CalendarUnit  string         `json:"calendar_unit,omitempty"` // d, w, M, Q, Y
	CalendarCount int            `json:"calendar_count,omitempty"`
	Location      *time.Location `json:"-"`
	// Text is the window as written, e.g. "28d".
	Text string `json:"text"`
}

// BusinessHours limits an SLO to events in working time: Days (time.Weekday) and
// [Start, End) hours of the day in Location.
type BusinessHours struct {
	Location *time.Location `json:"-"`
	Days     []time.Weekday `json:"days"`
	Start    time.Duration  `json:"start"` // offset from midnight, e.g. 9h
	End      time.Duration  `json:"end"`   // e.g. 17h
	Text     string         `json:"text"`  // as configured, for display
}

// Definition is one SLO, from the built-in defaults or from an OpenSLO file.
type Definition struct {
	// Name is "<service>/<slo>", unique.
	Name        string          `json:"name"`
	Service     string          `json:"service"`
	Description string          `json:"description,omitempty"`
	Objective   float64         `json:"objective"`
	Window      TimeWindow      `json:"window"`
	Method      BudgetingMethod `json:"budgeting_method"`
	// TimesliceTarget and TimesliceWindow apply to the Timeslices method: a slice
	// is good when its ratio is at least TimesliceTarget.
	TimesliceTarget float64        `json:"timeslice_target,omitempty"`
	TimesliceWindow time.Duration  `json:"timeslice_window,omitempty"`
	Indicator       Indicator      `json:"indicator"`
	BusinessHours   *BusinessHours `json:"business_hours,omitempty"`
	// AlertPairs are the burn-rate conditions; empty means DefaultPairs.
	AlertPairs []WindowPair `json:"-"`
	// MinEvents is the fewest events a window needs before its burn rate may fire
	// an alert.
	MinEvents int `json:"min_events"`
	// Builtin marks the default SLOs day2 creates for every service.
	Builtin bool `json:"builtin"`
	// Source is "file:line" of the definition, or "default".
	Source string `json:"source"`
}

// PolicySettings configure the error budget policy.
type PolicySettings struct {
	// AtRiskBelow is the remaining budget share under which a service is at_risk.
	AtRiskBelow float64 `json:"at_risk_below"`
}

// DefaultsSettings configure the SLOs day2 creates for every service seen.
type DefaultsSettings struct {
	Disabled bool `json:"disabled"`
	// Per-SLO overrides keyed by the short name (task-success, escalation-rate,
	// cycle-time, tool-failure). A nil entry keeps the built-in.
	TaskSuccess    *DefaultSLO `json:"task_success,omitempty"`
	EscalationRate *DefaultSLO `json:"escalation_rate,omitempty"`
	CycleTime      *DefaultSLO `json:"cycle_time,omitempty"`
	ToolFailure    *DefaultSLO `json:"tool_failure,omitempty"`
}

// DefaultSLO overrides one built-in SLO.
type DefaultSLO struct {
	Disabled      bool           `json:"disabled"`
	Objective     float64        `json:"objective,omitempty"` // 0 keeps the built-in
	Window        *TimeWindow    `json:"window,omitempty"`
	CycleTimeMS   int64          `json:"cycle_time_ms,omitempty"` // cycle-time only
	BusinessHours *BusinessHours `json:"business_hours,omitempty"`
}

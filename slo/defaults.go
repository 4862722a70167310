package slo

import (
	"time"
)

// Short names of the built-in SLOs.
const (
	NameTaskSuccess    = "task-success"
	NameEscalationRate = "escalation-rate"
	NameCycleTime      = "cycle-time"
	NameToolFailure    = "tool-failure"
)

func rolling(d time.Duration, text string) TimeWindow {
	return TimeWindow{Duration: d, Rolling: true, Text: text}
}

// Defaults returns the built-in SLOs of a service with the settings applied: the
// seed's four SLIs with the seed's targets.
//
//   - task-success: at least 97% of tasks with an outcome succeed, rolling 28 days;
//   - escalation-rate: at most 5% escalated, i.e. 95% not escalated, rolling 7 days;
//   - cycle-time: 95% of tasks finish within 120 s, rolling 28 days (optionally
//     only in business hours);
//   - tool-failure: at most 0.5% of tool calls fail, i.e. 99.5% succeed, rolling 7 days.
func Defaults(service string, s DefaultsSettings) []Definition {
	if s.Disabled {
		return nil
	}
	const day = 24 * time.Hour
	base := []struct {
		short string
		def   Definition
		over  *DefaultSLO
	}{
		{NameTaskSuccess, Definition{
			Description: "Share of tasks with an outcome that succeeded",
			Objective:   0.97, Window: rolling(28*day, "28d"),
			Indicator: Indicator{Good: &Selector{Event: EventTaskSuccess}, Total: Selector{Event: EventTasks}},
		}, s.TaskSuccess},
		{NameEscalationRate, Definition{
			Description: "Share of tasks not escalated to a human (escalation rate at most 5%)",
			Objective:   0.95, Window: rolling(7*day, "7d"),
			Indicator: Indicator{Bad: &Selector{Event: EventEscalated}, Total: Selector{Event: EventTasks}},
		}, s.EscalationRate},
		{NameCycleTime, Definition{
			Description: "Share of tasks finished within 120 s (cycle time p95 at most 2 minutes)",
			Objective:   0.95, Window: rolling(28*day, "28d"),
			Indicator: Indicator{Good: &Selector{Event: EventTasks, CycleTimeLTE: 120000}, Total: Selector{Event: EventTasks}},
		}, s.CycleTime},
		{NameToolFailure, Definition{
			Description: "Share of tool calls that succeeded (tool failure at most 0.5%)",
			Objective:   0.995, Window: rolling(7*day, "7d"),
			Indicator: Indicator{Bad: &Selector{Event: EventToolFailures}, Total: Selector{Event: EventToolCalls}},
		}, s.ToolFailure},
	}
	var out []Definition
	for _, b := range base {
		d := b.def
		if o := b.over; o != nil {
			if o.Disabled {
				continue
			}
			if o.Objective > 0 {
				d.Objective = o.Objective
			}
			if o.Window != nil {
				d.Window = *o.Window
			}
			if o.CycleTimeMS > 0 && d.Indicator.Good != nil && d.Indicator.Good.CycleTimeLTE > 0 {
				g := *d.Indicator.Good
				g.CycleTimeLTE = o.CycleTimeMS
				d.Indicator.Good = &g
				d.Description = "Share of tasks finished within " + (time.Duration(o.CycleTimeMS) * time.Millisecond).String()
			}
			if o.BusinessHours != nil {
				d.BusinessHours = o.BusinessHours
				d.Description += ", in business hours (" + o.BusinessHours.Text + ")"
			}
		}
		d.Name = service + "/" + b.short
		d.Service = service
		d.Method = Occurrences
		d.MinEvents = DefaultMinEvents
		d.Builtin = true
		d.Source = "default"
		out = append(out, d)
	}
	return out
}

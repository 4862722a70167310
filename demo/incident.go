package demo

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Incident is a scheduled outage of a tool the simulated agents call. From Start
// to End, a share of the calls an affected stream makes to Tool hit the outage:
// every attempt answers HTTP 503 until the client's retries run out, and the task
// ends, escalated, with ReasonCode. Whether a task is affected depends on when it
// starts.
type Incident struct {
	// Name is what people call the incident, such as "crm outage".
	Name string `json:"name"`
	// Tool is the tool.name (the part of gen_ai.tool.name before the dot) that
	// fails.
	Tool string `json:"tool"`
	// ReasonCode is the outcome reason_code of tasks the outage ended.
	ReasonCode string `json:"reason_code"`
	// Start and End bound the outage: tasks starting in [Start, End) suffer it.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Down is, per affected stream, the share of the tool's calls that hit the
	// outage. Streams without an entry are not affected. (JSON has no struct
	// keys; IncidentStats lists the affected streams instead.)
	Down map[Stream]float64 `json:"-"`
}

// covers reports whether a task starting at t suffers the incident.
func (inc *Incident) covers(t time.Time) bool {
	return inc != nil && !t.Before(inc.Start) && t.Before(inc.End)
}

// The demo's scripted end of the backfill, timed back from its end (now):
//
//	now-90m  a surge of support tickets lifts each support-triage prod version
//	         to surgeRate tasks a minute, whatever the time of day;
//	now-60m  the CRM, under the load, starts answering 503: outageShare of the
//	         CRM calls of each support-triage prod version fail for good;
//	now-15m  the CRM recovers; the surge goes on to the end of the backfill.
//
// The numbers are chosen so that support-triage's task-success SLO (97% over
// 28 days) pages while the outage lasts and still when the backfill ends, and
// resolves about ten minutes into the live phase:
//
//   - during the surge support-triage runs about 16 tasks a minute in prod, so
//     every 5-minute window holds some 80 tasks, well above the 10 an alert needs;
//   - in the outage about 86% of 1.5.0's and 57% of 1.4.0's tasks fail: 71% of
//     the service's, a burn rate of about 24 (the 1h/5m page threshold is 13.44,
//     an error ratio of 0.4032). The 1h window crosses it some 30 minutes into
//     the outage and is at about 0.53 when the outage ends;
//   - at the end of the backfill the 30m window is half outage (error ratio about
//     0.37) and the 6h window holds 45 minutes of outage among 90 minutes of surge
//     and 4.5 hours of ordinary traffic. Even when those hours are the busiest of
//     a weekday (2.7 tasks a minute), the outage is a quarter of the 6h window's
//     tasks and its error ratio about 0.21: above the 6h/30m page threshold of
//     5.6 (an error ratio of 0.168);
//   - the live phase (4 tasks a minute by default, no outage) dilutes the 30m
//     window under 0.168 about 10 minutes after the backfill ends.
//
// TestScheduledIncidentPages checks these claims on the generator's plans.
const (
	surgeLead     = 90 * time.Minute
	outageLead    = 60 * time.Minute
	outageTail    = 15 * time.Minute
	surgeRate     = 8.0
	outageService = "support-triage"
)

// outageShare is the share of CRM calls that fail during the outage. 1.5.0 reads
// the customer through the CRM's v2 API, which the outage takes down almost
// entirely; 1.4.0 still uses v1, whose read cache answers some of its calls.
// Staging has its own CRM and is not affected.
var outageShare = map[Stream]float64{
	{outageService, "1.4.0", "prod"}: 0.55,
	{outageService, "1.5.0", "prod"}: 0.85,
}

// crmOutage returns the demo's CRM outage for a backfill that ends at now.
func crmOutage(now time.Time) *Incident {
	return &Incident{
		Name:       "crm outage",
		Tool:       "crm",
		ReasonCode: "crm_unavailable",
		Start:      now.Add(-outageLead),
		End:        now.Add(-outageTail),
		Down:       outageShare,
	}
}

// surge lifts a stream's arrivals to perMin tasks a minute over [from, to),
// whatever the time of day. The zero surge lifts nothing.
type surge struct {
	from, to time.Time
	perMin   float64
}

func (s surge) covers(t time.Time) bool {
	return s.perMin > 0 && !t.Before(s.from) && t.Before(s.to)
}

// scenario is what the backfill simulates besides ordinary traffic: the ticket
// surge and the CRM outage. A nil scenario is ordinary traffic only.
type scenario struct {
	incident *Incident
	surge    surge
}

// newScenario returns the demo's scenario for a backfill that ends at now.
func newScenario(now time.Time) *scenario {
	return &scenario{
		incident: crmOutage(now),
		surge:    surge{from: now.Add(-surgeLead), to: now, perMin: surgeRate},
	}
}

// surgeFor returns the surge stream s sees: the ticket surge reaches the
// production versions of the agent whose CRM fails.
func (sc *scenario) surgeFor(s Stream) surge {
	if sc == nil || s.Service != outageService || s.Environment != "prod" {
		return surge{}
	}
	return sc.surge
}

// IncidentStats reports how the scheduled incident went in what Run sent.
type IncidentStats struct {
	Incident
	// Streams counts, per affected stream in the order of Streams, the completed
	// tasks that started during the incident and how many of them failed.
	Streams []IncidentStream `json:"streams"`
}

// IncidentStream counts the tasks of one stream that started during an incident.
type IncidentStream struct {
	Stream
	Tasks  int64 `json:"tasks"`
	Failed int64 `json:"failed"`
}

// String describes the incident in one line, most affected stream first:
// "crm outage 10:00-10:45 UTC, 86% of support-triage 1.5.0 (prod) tasks failed,
// 57% of support-triage 1.4.0 (prod)".
func (s IncidentStats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s-%s UTC", s.Name, s.Start.UTC().Format("15:04"), s.End.UTC().Format("15:04"))
	streams := make([]IncidentStream, 0, len(s.Streams))
	for _, st := range s.Streams {
		if st.Tasks > 0 {
			streams = append(streams, st)
		}
	}
	share := func(st IncidentStream) float64 { return float64(st.Failed) / float64(st.Tasks) }
	slices.SortStableFunc(streams, func(a, b IncidentStream) int { return cmp.Compare(share(b), share(a)) })
	for i, st := range streams {
		pct := fmt.Sprintf("%.0f%%", 100*share(st))
		if i == 0 {
			fmt.Fprintf(&b, ", %s of %s tasks failed", pct, st.Stream)
		} else {
			fmt.Fprintf(&b, ", %s of %s", pct, st.Stream)
		}
	}
	if len(streams) == 0 {
		b.WriteString(", no tasks affected")
	}
	return b.String()
}

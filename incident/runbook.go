package incident

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/day2ops/day2"
)

// DefaultRunbook is the name of the runbook used when no other matches; the
// built-in one unless the configuration has a runbook of that name.
const DefaultRunbook = "default"

//go:embed runbooks/default.md
var defaultRunbookText string

// RunbookData is what a runbook template is rendered with.
type RunbookData struct {
	Incident RunbookIncident
	// SLO holds the numbers behind the incident when an alert gave them (rule
	// alerts do) or the error budget is known; nil otherwise.
	SLO    *RunbookSLO
	Links  RunbookLinks
	Alerts []AlertRef
	// Canary is the running rollout of the service, nil when none runs.
	Canary *RunbookCanary
	Triage *Triage
}

// RunbookIncident is the incident as a runbook sees it.
type RunbookIncident struct {
	ID, Title, Service, Environment, Severity, State, URL string
	Started                                               time.Time
	FiringAlerts                                          int
}

// RunbookSLO is the SLI behind an incident.
type RunbookSLO struct {
	// Name is the SLO or rule that alerted.
	Name string
	SLI  string
	// Op says the comparison in words: below, above, ...
	Op                       string
	Value, Threshold         float64
	ValueText, ThresholdText string
	HasValue                 bool
	Window                   string
	// BudgetConsumed is the share of the 4-week error budget consumed since
	// the incident started.
	BudgetConsumed float64
	HasBudget      bool
	// Summary says it in one sentence.
	Summary string
}

// RunbookLinks are the pages people need during an incident.
type RunbookLinks struct {
	Dashboard, Tasks, Incident, Runbook, Postmortem string
}

// RunbookCanary is the service's running rollout.
type RunbookCanary struct {
	Weight    int
	RolloutID string
}

// runbookFuncs are the functions runbook templates may call.
var runbookFuncs = template.FuncMap{
	"pct": pct,
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"join": strings.Join,
}

// ParseRunbook checks a runbook template: Markdown with text/template actions
// over RunbookData (.Incident, .SLO, .Links, .Alerts, .Canary, .Triage) and
// the functions pct, utc and join. It renders the template once with sample
// data, so a misspelt field is found when the configuration loads, not during
// an incident.
func ParseRunbook(name, text string) error {
	_, err := parseRunbook(name, text)
	return err
}

func parseRunbook(name, text string) (*template.Template, error) {
	if strings.TrimSpace(name) == "" {
		return nil, day2.Errorf(day2.EInvalid, "a runbook has no name; name it after the rule, the SLO or the failure it handles, or \"default\"")
	}
	t, err := template.New(name).Funcs(runbookFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, day2.Errorf(day2.EInvalid, "runbook %q: %s", name, templateProblem(err))
	}
	if err := t.Execute(io.Discard, sampleRunbookData()); err != nil {
		return nil, day2.Errorf(day2.EInvalid, "runbook %q: %s; the fields are described in docs/incidents.md", name, templateProblem(err))
	}
	return t, nil
}

// templateProblem strips the "template: " prefix from a template error.
func templateProblem(err error) string {
	return strings.TrimPrefix(err.Error(), "template: ")
}

// sampleRunbookData fills every field, so that rendering it reaches every
// action of a template.
func sampleRunbookData() RunbookData {
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	a := AlertRef{Key: "rule:sample", Source: SourceRule, Status: StatusFiring, Severity: SeverityPage, Summary: "sample", StartsAt: at, FirstSeen: at,
		Labels: map[string]string{"rule": "sample"}}
	return RunbookData{
		Incident: RunbookIncident{ID: "in_sample", Title: "sample", Service: "svc", Environment: "prod", Severity: SeverityPage,
			State: StateTriggered, URL: "/incidents/in_sample", Started: at, FiringAlerts: 1},
		SLO: &RunbookSLO{Name: "sample", SLI: SLITaskSuccess, Op: "below", Value: 0.9, Threshold: 0.95, ValueText: "90%",
			ThresholdText: "95%", HasValue: true, Window: "15m", BudgetConsumed: 0.1, HasBudget: true, Summary: "sample"},
		Links:  RunbookLinks{Dashboard: "/slos", Tasks: "/tasks", Incident: "/incidents/in_sample", Runbook: "/runbook", Postmortem: "/postmortem"},
		Alerts: []AlertRef{a},
		Canary: &RunbookCanary{Weight: 10, RolloutID: "ro_sample"},
		Triage: &Triage{At: at, Breakdown: []Breakdown{{Environment: "prod", Version: "1", Tasks: 1}},
			Changes: []Change{{At: at, Action: "rollout.start"}}, Signals: []Signal{{Name: "tokens"}},
			FailingTasks: []TaskLink{{TaskID: "t", URL: "/tasks/t"}}},
	}
}

// matchRunbook returns the runbook of an incident opened by a: the runbook the
// alert names, else one named after its rule, SLO or alertname, else
// "default". An alert's runbook that is a link, not a configured name, is
// returned as the link.
func (s *Service) matchRunbook(a *Alert) (name, link string) {
	if a.Runbook != "" {
		if _, ok := s.runbooks[a.Runbook]; ok {
			return a.Runbook, ""
		}
		if strings.Contains(a.Runbook, "://") || strings.HasPrefix(a.Runbook, "/") {
			link = a.Runbook
		}
	}
	var candidates []string
	for _, k := range []string{"rule", "slo", "alertname"} {
		if v := a.Labels[k]; v != "" {
			candidates = append(candidates, v)
			if i := strings.LastIndex(v, "/"); i >= 0 {
				candidates = append(candidates, v[i+1:]) // "svc/task-success" -> "task-success"
			}
		}
	}
	for _, c := range candidates {
		if _, ok := s.runbooks[c]; ok {
			return c, link
		}
	}
	return DefaultRunbook, link
}

// Runbook renders the runbook of incident id with its current context.
func (s *Service) Runbook(ctx context.Context, id string) (string, error) {
	inc, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	name := inc.Runbook
	t := s.runbooks[name]
	if t == nil {
		t = s.runbooks[DefaultRunbook]
	}
	var b bytes.Buffer
	if err := t.Execute(&b, s.runbookData(ctx, &inc)); err != nil {
		return "", fmt.Errorf("render runbook %s of incident %s: %w", name, id, err)
	}
	if inc.RunbookURL != "" {
		fmt.Fprintf(&b, "\n---\nThe alert links its own runbook: %s\n", inc.RunbookURL)
	}
	return b.String(), nil
}

// runbookData is the context runbooks of inc are rendered with.
func (s *Service) runbookData(ctx context.Context, inc *Incident) RunbookData {
	d := RunbookData{
		Incident: RunbookIncident{ID: inc.ID, Title: inc.Title, Service: inc.Service, Environment: inc.Environment,
			Severity: inc.Severity, State: inc.State, URL: inc.URL, Started: earliest(inc.DetectedAt, inc.OpenedAt),
			FiringAlerts: inc.Firing()},
		Links:  s.links(inc),
		Alerts: inc.Alerts,
		Triage: inc.Triage,
	}
	if d.Alerts == nil {
		d.Alerts = []AlertRef{}
	}
	d.SLO = s.sloOf(ctx, inc)
	if s.o.Levers != nil {
		if w, id, ok := s.o.Levers.RolloutWeight(ctx, inc.Service, inc.Environment); ok {
			d.Canary = &RunbookCanary{Weight: w, RolloutID: id}
		}
	}
	return d
}

// sloOf returns the SLI numbers behind inc: from its first alert that carries
// them (rule alerts label sli, value, threshold), and the error budget
// consumed since it started.
func (s *Service) sloOf(ctx context.Context, inc *Incident) *RunbookSLO {
	var out *RunbookSLO
	for _, a := range inc.Alerts {
		l := a.Labels
		name := first(l, "rule", "slo")
		if name == "" {
			continue
		}
		out = &RunbookSLO{Name: name, SLI: l["sli"], Op: opWords[l["op"]], Window: l["window"], Summary: a.Summary}
		v, err1 := strconv.ParseFloat(l["value"], 64)
		th, err2 := strconv.ParseFloat(l["threshold"], 64)
		if err1 == nil && err2 == nil {
			out.Value, out.Threshold, out.HasValue = v, th, true
			out.ValueText, out.ThresholdText = formatSLI(out.SLI, v), formatSLI(out.SLI, th)
		}
		break
	}
	if s.o.SLOBudget != nil {
		end := inc.ResolvedAt
		if end.IsZero() {
			end = s.now().UTC()
		}
		if f, ok := s.o.SLOBudget(ctx, inc.Service, earliest(inc.DetectedAt, inc.OpenedAt), end); ok {
			if out == nil {
				out = &RunbookSLO{Summary: inc.Title}
			}
			out.BudgetConsumed, out.HasBudget = f, true
		}
	}
	return out
}

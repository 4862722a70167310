package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

type sloListPage struct {
	chrome
	Rows []sloListRow
}

type sloListRow struct {
	Name, URL, Service, Description string
	Status, StatusText              string
	SLI, Objective, Window, Budget  string
	Alerts                          []alertBadge
	Builtin                         bool
}

// sloList lists every SLO of every service, the custom ones included.
func (u *UI) sloList(w http.ResponseWriter, r *http.Request) {
	now := u.engine.Now().UTC()
	sts, err := u.engine.Status(r.Context(), "", now, true)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := sloListPage{chrome: u.chrome(r, "SLOs", "slos")}
	for i := range sts {
		st := &sts[i]
		row := sloListRow{
			Name: st.Name, URL: sloURL(st.Name, ""), Service: st.Service, Status: st.Status, StatusText: statusText[st.Status],
			SLI: pctp(st.SLI), Objective: objective(st.Objective), Window: st.Window, Budget: budgetText(st),
		}
		if st.Definition != nil {
			row.Description, row.Builtin = st.Definition.Description, st.Definition.Builtin
		}
		for _, a := range st.Alerts {
			if a.State == slo.StateFiring {
				row.Alerts = append(row.Alerts, alertBadge{Severity: string(a.Severity), Text: strings.ToUpper(string(a.Severity)) + " firing"})
			}
		}
		p.Rows = append(p.Rows, row)
	}
	u.render(w, http.StatusOK, "slos.html", p)
}

// firingAlerts describes the firing alerts of st: severity, since when, and the
// window pair over its threshold.
func firingAlerts(st *slo.Status) []alertBadge {
	var out []alertBadge
	for _, a := range st.Alerts {
		if a.State != slo.StateFiring {
			continue
		}
		text := string(a.Severity) + " alert firing"
		if !a.Since.IsZero() {
			text += " since " + stamp(a.Since)
		}
		if long, short, ok := strings.Cut(a.Windows, "/"); ok {
			l, err1 := time.ParseDuration(long)
			s, err2 := time.ParseDuration(short)
			if err1 == nil && err2 == nil {
				text += " (" + human(l) + " and " + human(s) + " windows)"
			}
		}
		out = append(out, alertBadge{Severity: string(a.Severity), Text: text})
	}
	return out
}

func budgetText(st *slo.Status) string {
	if st.NoData {
		return "–"
	}
	rf := st.ErrorBudget.RemainingFraction
	if math.IsInf(rf, 0) {
		return "spent"
	}
	return strconv.FormatFloat(100*rf, 'f', 0, 64) + "%"
}

type sloPage struct {
	chrome
	Env         string
	St          *slo.Status
	Def         *slo.Definition
	StatusText  string
	Tile        sloTile
	SLIChart    lineChart
	BudgetChart lineChart
	Step        string
	Burns       []burnRow
	Pairs       []pairRow
	History     []day2.AlertTransition
	HistoryNote string
	Selectors   []selectorRow
	Budget      slo.Budget
	TTE         string
	Alerts      []alertBadge
	TasksURL    string
	APIURL      string
	OverviewURL string
}

type burnRow struct {
	Window, Rate string
	Over         bool
}

type pairRow struct {
	Severity, Long, Short, Threshold, LongRate, ShortRate string
	// Over is true when both windows burn at or above the threshold.
	Over bool
}

type selectorRow struct {
	Role, Event, Filter string
}

// sloPage shows one SLO: its SLI over the window against the objective, the
// error budget burning down, the burn rates and alert conditions, the alert
// history and the definition. With env it is the SLO narrowed to that
// environment, evaluated as the release gate does.
func (u *UI) sloPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	service, short := r.PathValue("service"), r.PathValue("slo")
	name := service + "/" + short
	env := r.URL.Query().Get("env")
	now := u.engine.Now().UTC()
	gate, err := u.engine.Gate(ctx, service, env, now, true)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	st := findStatus(gate.SLOs, name)
	if st == nil || st.Definition == nil {
		var names []string
		for _, s := range gate.SLOs {
			names = append(names, s.Name)
		}
		msg := fmt.Sprintf("no SLO %q; the SLOs of %s are: %s", name, service, strings.Join(names, ", "))
		if env != "" {
			msg = fmt.Sprintf("no SLO %q applies to environment %q; the SLOs of %s there are: %s", name, env, service, strings.Join(names, ", "))
		}
		u.fail(w, r, day2.Errorf(day2.ENotFound, "%s", msg))
		return
	}
	def := st.Definition
	ivs := append(def.SeriesIntervals(now), def.Intervals(now)...)
	d, err := slo.Load(ctx, u.rollups, service, ivs, def.NeedsMinutes())
	if err != nil {
		u.fail(w, r, fmt.Errorf("load rollups of %s: %w", service, err))
		return
	}
	step := slo.SeriesStep(def.Window.Duration)
	pts := slo.Series(def, d, now, step)
	if err := d.Err(); err != nil {
		u.fail(w, r, fmt.Errorf("load rollups of %s: %w", service, err))
		return
	}
	history, err := u.store.AlertHistory(ctx, "slo:"+name+":", 50)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := sloPage{
		chrome: u.chrome(r, st.Name, "slos"), Env: env, St: st, Def: def, StatusText: statusText[st.Status],
		Step: human(step), History: history, Budget: st.ErrorBudget,
		TasksURL:    link("/tasks", "service", service, "env", firstNonEmpty(env, def.Indicator.Total.Filter.Environment)),
		APIURL:      "/api/v1/slos/" + url.PathEscape(service) + "/" + url.PathEscape(short),
		OverviewURL: link("/", "service", service, "env", env),
	}
	if env != "" {
		p.HistoryNote = "The alert history is that of the SLO over all environments: alerts are kept for SLOs as configured, not per environment."
	}
	p.Refresh = 60
	for _, b := range builtins {
		if def.Builtin && b.Short == short {
			p.Tile = tileFor(short, b.Title, st, d, env, now)
		}
	}
	switch {
	case st.TimeToExhaustion == nil:
	case st.TimeToExhaustion.D <= 0:
		p.TTE = "already spent"
	default:
		p.TTE = human(st.TimeToExhaustion.D) + " at the 1h burn rate"
	}
	p.Alerts = firingAlerts(st)
	p.SLIChart, p.BudgetChart = sloCharts(def, pts)
	rates := map[time.Duration]*float64{}
	for _, wdw := range slo.Windows {
		rate := st.BurnRates[wdw.Key]
		rates[wdw.D] = rate
		row := burnRow{Window: wdw.Key, Rate: "–"}
		if rate != nil {
			row.Rate = "×" + strconv.FormatFloat(*rate, 'f', 2, 64)
			row.Over = *rate > 1
		}
		p.Burns = append(p.Burns, row)
	}
	rateText := func(d time.Duration) string {
		if r := rates[d]; r != nil {
			return "×" + strconv.FormatFloat(*r, 'f', 2, 64)
		}
		return "–"
	}
	for _, pair := range def.Pairs() {
		th := pair.ThresholdFor(def.Window.Duration)
		row := pairRow{Severity: string(pair.Severity), Long: human(pair.Long), Short: human(pair.Short),
			Threshold: "×" + strconv.FormatFloat(th, 'f', 2, 64),
			LongRate:  rateText(pair.Long), ShortRate: rateText(pair.Short)}
		l, sh := rates[pair.Long], rates[pair.Short]
		row.Over = l != nil && sh != nil && *l >= th && *sh >= th
		p.Pairs = append(p.Pairs, row)
	}
	ind := def.Indicator
	if ind.Good != nil {
		p.Selectors = append(p.Selectors, selectorRow{"good", selectorText(ind.Good), filterText(ind.Good.Filter)})
	}
	if ind.Bad != nil {
		p.Selectors = append(p.Selectors, selectorRow{"bad", selectorText(ind.Bad), filterText(ind.Bad.Filter)})
	}
	p.Selectors = append(p.Selectors, selectorRow{"total", selectorText(&ind.Total), filterText(ind.Total.Filter)})
	u.render(w, http.StatusOK, "slo.html", p)
}

// sloCharts draws the SLI per step against the objective, and the share of the
// error budget left from the window's start to each step.
func sloCharts(def *slo.Definition, pts []slo.Point) (sli, budget lineChart) {
	ts := make([]time.Time, len(pts))
	sv := make([]float64, len(pts))
	bv := make([]float64, len(pts))
	lo := def.Objective
	blo, bhi := 0.0, 1.0
	for i, p := range pts {
		ts[i] = p.Time
		sv[i] = math.NaN()
		if p.SLI != nil {
			sv[i] = *p.SLI
			lo = math.Min(lo, *p.SLI)
		}
		bv[i] = p.BudgetRemaining
		blo = math.Min(blo, p.BudgetRemaining)
	}
	// Leave room under the objective so that a small dip stays readable, and
	// never start the axis below 0.
	lo = math.Max(0, lo-(1-lo)*0.2)
	if lo >= def.Objective {
		lo = math.Max(0, def.Objective-(1-def.Objective))
	}
	blo = math.Max(blo, -2) // beyond twice overspent the shape no longer matters
	lo, blo = niceFloor(lo, 1), niceFloor(blo, bhi)
	sli = newLineChart(ts, sv, lo, 1, []refLine{{Y: def.Objective, Label: "objective " + objective(def.Objective), Class: "ref"}}, objective,
		"SLI of "+def.Name+" per step against the objective "+objective(def.Objective))
	budget = newLineChart(ts, bv, blo, bhi, []refLine{{Y: 0, Label: "budget spent", Class: "zero"}}, objective,
		"Share of the error budget of "+def.Name+" left over the window")
	return sli, budget
}

func selectorText(s *slo.Selector) string {
	if s.CycleTimeLTE > 0 {
		return s.Event + " with cycle time ≤ " + seconds(float64(s.CycleTimeLTE))
	}
	return s.Event
}

func filterText(f slo.Filter) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+" = "+v)
		}
	}
	add("environment", f.Environment)
	add("version", f.Version)
	add("risk_tier", f.RiskTier)
	add("business_process", f.BusinessProcess)
	if len(parts) == 0 {
		return "all tasks of the service"
	}
	return strings.Join(parts, ", ")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

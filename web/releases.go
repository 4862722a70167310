package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/canary"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/slo"
)

// The releases pages show the rollouts of package release as the judge sees
// them: where each stands (step, weights, state), the judge's latest verdict
// with the numbers behind it, the candidate against the baseline over the
// rollout, and its history. Tokens with the operate scope pause, resume,
// promote and roll back from the rollout's page with plain forms (see
// actions.go); the API (POST /api/v1/rollouts/{id}/{action}) does the same.

// releaseRoutes registers the releases pages and the rollout forms.
func (u *UI) releaseRoutes() {
	u.mux.HandleFunc("GET /releases", u.releaseList)
	u.mux.HandleFunc("GET /releases/{id}", u.rolloutPage)
	u.mux.Handle("POST /releases/{id}/{action}", u.action(auth.ScopeOperate, u.rolloutAction))
}

// maxEndedRollouts is how many ended rollouts the releases page lists.
const maxEndedRollouts = 30

// maxListedFlags is how many flags the releases page's flag box lists.
const maxListedFlags = 40

var rolloutStateText = map[string]string{
	release.StateRunning:    "▶ running",
	release.StatePaused:     "❚❚ paused",
	release.StatePromoted:   "✓ promoted",
	release.StateRolledBack: "↩ rolled back",
}

var canaryVerdictText = map[string]string{
	canary.VerdictPass:         "✓ pass",
	canary.VerdictFail:         "✕ fail",
	canary.VerdictInconclusive: "? inconclusive",
}

var rolloutStates = []string{release.StateRunning, release.StatePaused, release.StatePromoted, release.StateRolledBack}

// releasesPage is the list of rollouts.
type releasesPage struct {
	chrome
	Service, Env, State string
	Services, Envs      []string
	States              []string
	Filtered            bool
	Active, Ended       []rolloutRow
	ShowActive          bool
	ShowEnded           bool
	HasFlags            bool
	Flags               []releaseFlagRow
	MoreFlags           int
	Flash               flash
}

// rolloutRow is one rollout in the list.
type rolloutRow struct {
	ID, URL, Service, Env, Baseline, Candidate string
	Strategy, StepText                         string
	Weights                                    rolloutWeights
	State, StateText                           string
	Verdict, VerdictText, Score, VerdictAt     string
	InStep                                     string
	EndedText, EndedBy, Reason                 string
}

// rolloutWeights is the traffic split of a rollout, drawn as a bar and written out.
type rolloutWeights struct {
	Baseline, Candidate int
	// Text says it in words, with a shadow rollout's share of traffic that
	// also runs the candidate and a rings rollout's ring.
	Text string
}

// releaseFlagRow is one flag of the releases page's flag box.
type releaseFlagRow struct {
	Key, State, StateText, Default, Changed string
}

func (u *UI) releaseList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := &releasesPage{Service: q.Get("service"), Env: q.Get("env"), State: q.Get("state"), States: rolloutStates, Flash: flashOf(r)}
	p.Filtered = p.Service != "" || p.Env != "" || p.State != ""
	if p.State != "" && !slices.Contains(rolloutStates, p.State) {
		u.fail(w, r, day2.Errorf(day2.EInvalid, "state=%q is not one of running, paused, promoted, rolled_back", p.State))
		return
	}
	ctx := r.Context()
	now := u.engine.Now().UTC()
	filter := func(states []string, limit int) ([]release.Rollout, error) {
		if p.State != "" {
			if !slices.Contains(states, p.State) {
				return nil, nil
			}
			states = []string{p.State}
		}
		return u.releases.Rollouts(ctx, release.RolloutFilter{Service: p.Service, Environment: p.Env, States: states, Limit: limit})
	}
	active, err := filter([]string{release.StateRunning, release.StatePaused}, 1000)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	ended, err := filter([]string{release.StatePromoted, release.StateRolledBack}, maxEndedRollouts)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.ShowActive = p.State == "" || p.State == release.StateRunning || p.State == release.StatePaused
	p.ShowEnded = p.State == "" || !p.ShowActive
	services, envs := map[string]bool{}, map[string]bool{}
	for _, ro := range slices.Concat(active, ended) {
		services[ro.Service], envs[ro.Environment] = true, true
	}
	for i := range active {
		p.Active = append(p.Active, newRolloutRow(&active[i], now))
	}
	// Ended ones by when they ended, newest first.
	sort.SliceStable(ended, func(i, j int) bool { return ended[i].EndedAt.After(ended[j].EndedAt) })
	for i := range ended {
		p.Ended = append(p.Ended, newRolloutRow(&ended[i], now))
	}
	svcs, err := u.store.ListServices(ctx)
	if err != nil {
		u.fail(w, r, fmt.Errorf("list services: %w", err))
		return
	}
	for _, s := range svcs {
		services[s.Service] = true
		for _, e := range s.Environments {
			envs[e] = true
		}
	}
	for _, m := range []struct {
		set map[string]bool
		sel string
		dst *[]string
	}{{services, p.Service, &p.Services}, {envs, p.Env, &p.Envs}} {
		if m.sel != "" {
			m.set[m.sel] = true
		}
		for k := range m.set {
			*m.dst = append(*m.dst, k)
		}
		sort.Strings(*m.dst)
	}
	if u.flags != nil {
		p.HasFlags = true
		views, err := u.flags.List(ctx)
		if err != nil {
			u.fail(w, r, fmt.Errorf("list flags: %w", err))
			return
		}
		for i := range views {
			if len(p.Flags) == maxListedFlags {
				p.MoreFlags = len(views) - i
				break
			}
			p.Flags = append(p.Flags, newReleaseFlagRow(&views[i]))
		}
	}
	p.chrome = u.chrome(r, "Releases", "releases")
	if p.Flash.Message == "" {
		p.Refresh = 60
	}
	u.render(w, http.StatusOK, "releases.html", p)
}

// newRolloutRow summarizes rollout ro for the list at time now.
func newRolloutRow(ro *release.Rollout, now time.Time) rolloutRow {
	row := rolloutRow{
		ID: ro.ID, URL: "/releases/" + url.PathEscape(ro.ID), Service: ro.Service, Env: ro.Environment,
		Baseline: ro.Baseline, Candidate: ro.Candidate, Strategy: ro.Strategy.Type, StepText: rolloutStepText(ro),
		Weights: rolloutWeightsOf(ro), State: ro.State, StateText: rolloutStateText[ro.State],
		Reason: ro.Reason,
	}
	if row.StateText == "" {
		row.StateText = ro.State
	}
	if len(ro.Verdicts) > 0 {
		v := &ro.Verdicts[0]
		row.Verdict, row.VerdictText, row.Score = v.Verdict, canaryVerdictText[v.Verdict], verdictScore(v)
		row.VerdictAt = shortStamp(v.At, now)
	}
	if ro.Active() {
		row.InStep = inStep(ro, now)
	}
	if n := len(ro.History); n > 0 && !ro.Active() {
		row.EndedBy = ro.History[n-1].Actor
		row.EndedText = shortStamp(ro.EndedAt, now)
	}
	return row
}

// inStep says how long the rollout's current step has run at now.
func inStep(ro *release.Rollout, now time.Time) string {
	if d := now.Sub(ro.StepStartedAt); d >= time.Minute {
		return human(d)
	}
	return "under a minute"
}

// shortStamp formats t to the minute, without the date when it is today's.
func shortStamp(t, now time.Time) string {
	t = t.UTC()
	if t.Format("2006-01-02") == now.UTC().Format("2006-01-02") {
		return t.Format("15:04") + " UTC"
	}
	return t.Format("Jan 2 15:04") + " UTC"
}

func newReleaseFlagRow(v *flags.FlagView) releaseFlagRow {
	row := releaseFlagRow{Key: v.Flag.Key, Default: v.Flag.DefaultVariant}
	switch {
	case v.Source == flags.SourceComputed:
		row.State, row.StateText = "computed", "◆ computed"
	case v.Flag.State == "DISABLED":
		row.State, row.StateText = "off", "○ disabled"
	default:
		row.State, row.StateText = "on", "● enabled"
	}
	switch {
	case v.ChangedBy != "":
		row.Changed = v.ChangedBy + ", " + stamp(v.ChangedAt)
	case v.Source == flags.SourceComputed:
		row.Changed = "served by the rollout"
	default:
		row.Changed = "configuration"
	}
	return row
}

// rolloutStepText says where a rollout stands in its strategy: "step 2 of 4 (25%)".
func rolloutStepText(ro *release.Rollout) string {
	n := ro.Steps()
	switch ro.Strategy.Type {
	case release.StrategyCanary:
		if ro.Step < len(ro.Strategy.Steps) {
			return fmt.Sprintf("step %d of %d (%d%%)", ro.Step+1, n, ro.Strategy.Steps[ro.Step])
		}
	case release.StrategyRings:
		if ro.Step < len(ro.Strategy.Rings) {
			return fmt.Sprintf("ring %d of %d (%s)", ro.Step+1, n, ro.Strategy.Rings[ro.Step].Name)
		}
	case release.StrategyShadow:
		return fmt.Sprintf("shadow on %d%% of traffic", ro.Strategy.Share)
	}
	return fmt.Sprintf("step %d of %d", ro.Step+1, n)
}

func rolloutWeightsOf(ro *release.Rollout) rolloutWeights {
	w := rolloutWeights{Baseline: ro.Weights.Baseline, Candidate: ro.Weights.Candidate}
	w.Text = fmt.Sprintf("baseline %d%% · candidate %d%%", w.Baseline, w.Candidate)
	if ro.Strategy.Type == release.StrategyShadow && ro.Active() {
		w.Text = fmt.Sprintf("baseline %d%% · candidate shadows %d%%", w.Baseline, ro.Strategy.Share)
	}
	if ro.Strategy.Type == release.StrategyRings && ro.Active() && ro.Ring != "" {
		w.Text += " · ring " + ro.Ring + " gets the candidate"
	}
	return w
}

// verdictScore formats the canary score of v, "–" while no metric has passed
// or failed (the judge reports 0 then).
func verdictScore(v *release.Verdict) string {
	for _, m := range v.Metrics {
		if m.Verdict == canary.VerdictPass || m.Verdict == canary.VerdictFail {
			return scoreText(v.Score)
		}
	}
	return "–"
}

// scoreText formats a canary score (0 to 100).
func scoreText(s float64) string {
	return strconv.FormatFloat(math.Round(s*10)/10, 'f', -1, 64)
}

// rolloutPage is one rollout.
type rolloutPage struct {
	chrome
	R                          *release.Rollout
	StateText, StepText        string
	BaselineURL, CandidateURL  string
	APIURL, ListURL            string
	Weights                    rolloutWeights
	Steps                      []rolloutStep
	StepFacts                  string
	JudgeFacts                 string
	InStep                     string
	Latest                     *verdictView
	Verdicts                   []verdictView
	Charts                     []versionChart
	ChartNote                  string
	History                    []rolloutEvent
	Diff                       *release.VersionDiff
	DiffNote                   string
	CanOperate, Active         bool
	Actions                    []rolloutForm
	Flash                      flash
	NextLook                   time.Time
	EndedBy                    string
	Baseline, Candidate        string
	Service, Env, StartedBy    string
	StartReason, EndReason, ID string
}

// rolloutStep is one step (or ring) of a rollout's strategy.
type rolloutStep struct {
	Name, Detail string
	Mark         string // ✓ passed, ▶ current, ↩ where it was rolled back
	Current      bool
	Done         bool
}

// verdictView is one judge report.
type verdictView struct {
	At                    time.Time
	Step                  string
	Look                  string
	Verdict, VerdictText  string
	Score                 string
	BaselineN, CandidateN string
	Metrics               []verdictMetric
}

// verdictMetric is one metric of a verdict with the numbers behind it.
type verdictMetric struct {
	Metric, Name                   string
	Verdict, VerdictText           string
	Baseline, Candidate            string
	BaselineN, CandidateN          string
	Unit                           string // tasks, tool calls or cycle times: what N counts
	Test, PValue, Threshold, Relat string
	Significant                    bool
	Reason                         string
}

// rolloutEvent is one entry of a rollout's history.
type rolloutEvent struct {
	At                time.Time
	Type, Text, Actor string
	Reason            string
	After             string
	Evidence          []verdictMetric
	Class             string
}

// rolloutForm is the form of one action on a rollout.
type rolloutForm struct {
	Action, Verb, Label, Class, Placeholder, Help string
}

var canaryMetricNames = map[string]string{
	canary.MetricTaskSuccess: "Task success",
	canary.MetricEscalation:  "Escalations",
	canary.MetricToolFailure: "Tool failures",
	canary.MetricCycleTime:   "Cycle time (median)",
}

var canaryMetricUnits = map[string]string{
	canary.MetricTaskSuccess: "tasks",
	canary.MetricEscalation:  "tasks",
	canary.MetricToolFailure: "tool calls",
	canary.MetricCycleTime:   "cycle times",
}

var rolloutEventText = map[string]string{
	release.HistoryStarted:    "started",
	release.HistoryAdvanced:   "advanced",
	release.HistoryPaused:     "paused",
	release.HistoryResumed:    "resumed",
	release.HistoryPromoted:   "promoted",
	release.HistoryRolledBack: "rolled back",
	release.HistoryHeld:       "held",
	release.HistoryWeightSet:  "weight set",
}

func (u *UI) rolloutPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ro, err := u.releases.Rollout(ctx, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	now := u.engine.Now().UTC()
	p := &rolloutPage{
		R: &ro, ID: ro.ID, Service: ro.Service, Env: ro.Environment, Baseline: ro.Baseline, Candidate: ro.Candidate,
		StateText: rolloutStateText[ro.State], StepText: rolloutStepText(&ro), Weights: rolloutWeightsOf(&ro),
		BaselineURL:  link("/tasks", "service", ro.Service, "env", ro.Environment, "version", ro.Baseline),
		CandidateURL: link("/tasks", "service", ro.Service, "env", ro.Environment, "version", ro.Candidate),
		APIURL:       "/api/v1/rollouts/" + url.PathEscape(ro.ID),
		ListURL:      link("/releases", "service", ro.Service, "env", ro.Environment),
		StartedBy:    ro.CreatedBy, StartReason: ro.StartReason, EndReason: ro.Reason,
		Active: ro.Active(), CanOperate: can(r, auth.ScopeOperate), Flash: flashOf(r),
		Steps: rolloutSteps(&ro), NextLook: ro.NextLookAt,
	}
	if p.StateText == "" {
		p.StateText = ro.State
	}
	if ro.Active() {
		p.InStep = inStep(&ro, now)
	} else if n := len(ro.History); n > 0 {
		p.EndedBy = ro.History[n-1].Actor
	}
	st := &ro.Strategy
	p.StepFacts = fmt.Sprintf("each step lasts at least %s and needs %d finished candidate tasks before it may advance", human(st.StepDuration.D()), st.MinSamples)
	if st.Type == release.StrategyShadow {
		p.StepFacts = "a shadow rollout is judged but never advances by itself: promote it by hand"
	}
	p.JudgeFacts = judgeFacts(&ro.Judge)
	for i := range ro.Verdicts {
		p.Verdicts = append(p.Verdicts, newVerdictView(&ro, &ro.Verdicts[i]))
	}
	if len(p.Verdicts) > 0 {
		p.Latest = &p.Verdicts[0]
	}
	for i := len(ro.History) - 1; i >= 0; i-- {
		p.History = append(p.History, newRolloutEvent(&ro, &ro.History[i]))
	}
	if p.Charts, p.ChartNote, err = u.rolloutCharts(ctx, &ro, now); err != nil {
		u.fail(w, r, err)
		return
	}
	switch d, err := u.releases.Diff(ctx, ro.Service, ro.Baseline, ro.Candidate); {
	case err == nil:
		p.Diff = &d
	case day2.ErrorCode(err) == day2.ENotFound:
		p.DiffNote = "day2 cannot say what changed: " + day2.ErrorMessage(err) + "."
	default:
		u.log.Error("diff the versions of a rollout", "rollout", ro.ID, "err", err)
		p.DiffNote = "What changed could not be read: " + day2.ErrorMessage(err)
	}
	if p.CanOperate && p.Active {
		if ro.State == release.StatePaused {
			p.Actions = append(p.Actions, rolloutForm{Action: release.ActionResume, Verb: "resume", Label: "Resume", Placeholder: "why it may go on",
				Help: "back to the step's planned weights; the judge looks again"})
		} else {
			p.Actions = append(p.Actions, rolloutForm{Action: release.ActionPause, Verb: "pause", Label: "Pause", Placeholder: "why it should wait",
				Help: "keeps the current weights; the judge stops looking"})
		}
		p.Actions = append(p.Actions,
			rolloutForm{Action: release.ActionPromote, Verb: "promote", Label: "Promote", Placeholder: "why the candidate is good",
				Help: "the candidate serves everyone; the rollout ends promoted"},
			rolloutForm{Action: release.ActionRollback, Verb: "roll back", Label: "Roll back", Class: "danger", Placeholder: "what is wrong with the candidate",
				Help: "the baseline serves everyone at once; the rollout ends rolled back"})
	}
	p.chrome = u.chrome(r, ro.Service+" "+ro.Candidate+" rollout", "releases")
	// Reload a running rollout every minute, but not under an operator's
	// hands: a reload would drop the reason being typed.
	if p.Active && !p.CanOperate && p.Flash.Message == "" {
		p.Refresh = 60
	}
	u.render(w, http.StatusOK, "release.html", p)
}

// rolloutSteps lists the steps of the rollout's strategy, the current one marked.
func rolloutSteps(ro *release.Rollout) []rolloutStep {
	var out []rolloutStep
	done := func(i int) bool { return i < ro.Step || ro.State == release.StatePromoted }
	switch ro.Strategy.Type {
	case release.StrategyCanary:
		for i, w := range ro.Strategy.Steps {
			out = append(out, rolloutStep{Name: fmt.Sprintf("step %d", i+1), Detail: fmt.Sprintf("%d%% candidate", w), Current: i == ro.Step, Done: done(i)})
		}
	case release.StrategyRings:
		for i := range ro.Strategy.Rings {
			rg := &ro.Strategy.Rings[i]
			out = append(out, rolloutStep{Name: "ring " + rg.Name, Detail: ringText(rg), Current: i == ro.Step, Done: done(i)})
		}
	case release.StrategyShadow:
		out = append(out, rolloutStep{Name: "shadow", Detail: fmt.Sprintf("the candidate also runs on %d%% of traffic; the baseline's outcome is used", ro.Strategy.Share), Current: true, Done: ro.State == release.StatePromoted})
	}
	for i := range out {
		st := &out[i]
		switch {
		case st.Done:
			st.Mark = "✓"
		case st.Current && ro.State == release.StateRolledBack:
			st.Mark = "↩"
		case st.Current:
			st.Mark = "▶"
		}
	}
	return out
}

// ringText describes a ring's targeting rules: "tenant ∈ {contoso-it}".
func ringText(rg *release.Ring) string {
	if len(rg.Match) == 0 {
		return "everyone"
	}
	keys := make([]string, 0, len(rg.Match))
	for k := range rg.Match {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " ∈ {" + strings.Join(rg.Match[k], ", ") + "}"
	}
	return strings.Join(parts, " and ")
}

// judgeFacts states the judge's settings in one line.
func judgeFacts(j *release.JudgeConfig) string {
	t := j.Thresholds.WithDefaults()
	pctOf := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(math.Round(*p*1e6)/1e4, 'f', -1, 64)
	}
	s := fmt.Sprintf("looks every %s; α %s over a step, spent over %d looks; at least %d tasks per arm; tolerated: success −%s pp, escalations +%s pp, tool failures +%s pp, cycle time +%s%%",
		human(j.Interval.D()), strconv.FormatFloat(t.Alpha, 'g', -1, 64), t.MaxLooks, t.MinSamples,
		pctOf(t.SuccessTolerance), pctOf(t.EscalationTolerance), pctOf(t.ToolFailureTolerance), pctOf(t.CycleTimeTolerance))
	if len(t.Critical) > 0 {
		s += "; critical: " + strings.Join(t.Critical, ", ")
	}
	return s
}

func newVerdictView(ro *release.Rollout, v *release.Verdict) verdictView {
	vv := verdictView{
		At: v.At, Step: rolloutStepName(ro, v.Step), Look: strconv.Itoa(v.Look) + " of " + strconv.Itoa(ro.Judge.Thresholds.WithDefaults().MaxLooks),
		Verdict: v.Verdict, VerdictText: canaryVerdictText[v.Verdict], Score: verdictScore(v),
		BaselineN: count(v.BaselineTasks), CandidateN: count(v.CandidateTasks),
	}
	for i := range v.Metrics {
		vv.Metrics = append(vv.Metrics, newVerdictMetric(&v.Metrics[i]))
	}
	return vv
}

// rolloutStepName names step of the rollout's strategy.
func rolloutStepName(ro *release.Rollout, step int) string {
	switch ro.Strategy.Type {
	case release.StrategyCanary:
		if step < len(ro.Strategy.Steps) {
			return fmt.Sprintf("step %d (%d%%)", step+1, ro.Strategy.Steps[step])
		}
	case release.StrategyRings:
		if step < len(ro.Strategy.Rings) {
			return "ring " + ro.Strategy.Rings[step].Name
		}
	case release.StrategyShadow:
		return "shadow"
	}
	return fmt.Sprintf("step %d", step+1)
}

// newVerdictMetric formats a metric verdict. Rates and medians are shown only when
// a test ran: before that the judge leaves them at zero.
func newVerdictMetric(m *canary.MetricVerdict) verdictMetric {
	row := verdictMetric{
		Metric: m.Metric, Name: canaryMetricNames[m.Metric], Verdict: m.Verdict, VerdictText: canaryVerdictText[m.Verdict],
		BaselineN: count(m.BaselineN), CandidateN: count(m.CandidateN), Unit: canaryMetricUnits[m.Metric],
		Test: m.Test, Reason: m.Reason, Baseline: "–", Candidate: "–", PValue: "–", Threshold: pValueText(m.Threshold),
	}
	if row.Name == "" {
		row.Name = m.Metric
	}
	if row.VerdictText == "" {
		row.VerdictText = m.Verdict
	}
	if m.Test == "" {
		row.Test = "none yet"
		return row
	}
	if m.Metric == canary.MetricCycleTime {
		row.Baseline, row.Candidate = msMedian(m.Baseline), msMedian(m.Candidate)
	} else {
		row.Baseline, row.Candidate = pct(m.Baseline), pct(m.Candidate)
	}
	row.PValue = pValueText(m.PValue)
	row.Significant = m.PValue <= m.Threshold
	row.Relat = ">"
	if row.Significant {
		row.Relat = "≤"
	}
	return row
}

// pValueText formats a p-value or significance level with three significant digits.
func pValueText(p float64) string {
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return "–"
	}
	return strconv.FormatFloat(p, 'g', 3, 64)
}

// msMedian formats a median cycle time in milliseconds, as the judge compares it.
func msMedian(ms float64) string {
	if math.IsNaN(ms) {
		return "–"
	}
	return count(int64(math.Round(ms))) + " ms"
}

func newRolloutEvent(ro *release.Rollout, h *release.HistoryEntry) rolloutEvent {
	row := rolloutEvent{At: h.At, Type: h.Type, Text: rolloutEventText[h.Type], Actor: h.Actor, Reason: h.Reason}
	if row.Text == "" {
		row.Text = h.Type
	}
	row.After = fmt.Sprintf("%s · baseline %d%% · candidate %d%%", rolloutStepName(ro, h.Step), h.Weights.Baseline, h.Weights.Candidate)
	switch h.Type {
	case release.HistoryRolledBack:
		row.Class = "bad"
	case release.HistoryPromoted:
		row.Class = "ok"
	case release.HistoryHeld, release.HistoryPaused, release.HistoryWeightSet:
		row.Class = "warn"
	}
	for i := range h.Evidence {
		row.Evidence = append(row.Evidence, newVerdictMetric(&h.Evidence[i]))
	}
	return row
}

// rolloutAction applies a form's action to the rollout as the signed-in
// identity, and goes back to the rollout's page with what happened.
func (u *UI) rolloutAction(w http.ResponseWriter, r *http.Request, id auth.Identity) (back, msg string, err error) {
	rid, action := r.PathValue("id"), r.PathValue("action")
	switch action {
	case release.ActionPause, release.ActionResume, release.ActionPromote, release.ActionRollback:
	default:
		return "", "", day2.Errorf(day2.ENotFound, "no rollout action %q; the forms are pause, resume, promote and rollback", action)
	}
	back = "/releases/" + url.PathEscape(rid)
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	if reason == "" {
		verb := map[string]string{release.ActionRollback: "roll back"}[action]
		if verb == "" {
			verb = action
		}
		return back, "", day2.Errorf(day2.EInvalid, "nothing was done: say why you %s the rollout in the reason field; it goes into the rollout's history and the audit log", verb)
	}
	ro, err := u.releases.Act(r.Context(), id.Name, rid, action, reason)
	if err != nil {
		if day2.ErrorCode(err) == day2.ENotFound {
			return "", "", err
		}
		return back, "", err
	}
	switch ro.State {
	case release.StateRolledBack:
		msg = fmt.Sprintf("Rolled back %s %s in %s: %s serves everyone.", ro.Service, ro.Candidate, ro.Environment, ro.Baseline)
	case release.StatePromoted:
		msg = fmt.Sprintf("Promoted %s %s in %s: it serves everyone.", ro.Service, ro.Candidate, ro.Environment)
	case release.StatePaused:
		msg = fmt.Sprintf("Paused the rollout of %s %s at %s; the judge stops looking until it resumes.", ro.Service, ro.Candidate, rolloutStepText(&ro))
	default:
		msg = fmt.Sprintf("Resumed the rollout of %s %s at %s.", ro.Service, ro.Candidate, rolloutStepText(&ro))
	}
	return back, msg, nil
}

// versionChart is a line chart of the baseline and the candidate on one scale,
// with the rollout's events marked.
type versionChart struct {
	lineChart
	ID                   string
	Title, Note          string
	CandPath             string
	CandHas              bool
	Marks                []versionChartMark
	Baseline, Candidate  string
	BaseTotal, CandTotal string
}

// versionChartMark is a rollout event drawn on a chart: X is seconds since the
// chart's start until versionChartOf places it.
type versionChartMark struct {
	X     float64
	Label string
	Class string
}

// versionChartSteps are the bucket lengths the rollout charts choose from.
var versionChartSteps = []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// maxVersionChartPoints bounds the points of a rollout chart.
const maxVersionChartPoints = 48

// rolloutCharts draws the baseline and the candidate of ro from the rollups by
// version, from the rollout's start to its end (or now), in buckets of a
// round length: the task success rate and the tool failure rate.
func (u *UI) rolloutCharts(ctx context.Context, ro *release.Rollout, now time.Time) ([]versionChart, string, error) {
	from := ro.CreatedAt.UTC().Truncate(time.Minute)
	end := now
	if !ro.EndedAt.IsZero() {
		end = ro.EndedAt.UTC()
	}
	to := end.Truncate(time.Minute)
	if to.Before(end) || !to.After(from) {
		to = to.Add(time.Minute)
	}
	span := to.Sub(from)
	step := versionChartSteps[len(versionChartSteps)-1]
	for _, s := range versionChartSteps {
		if span <= time.Duration(maxVersionChartPoints)*s {
			step = s
			break
		}
	}
	buckets := bucketStarts(from, to, step)
	d, err := slo.Load(ctx, u.rollups, ro.Service, []slo.Interval{{From: from, To: to}}, false)
	if err != nil {
		return nil, "", fmt.Errorf("load rollups of %s: %w", ro.Service, err)
	}
	ts := make([]time.Time, len(buckets))
	var series [2][2][]float64 // [metric][arm]
	for m := range series {
		for a := range series[m] {
			series[m][a] = make([]float64, len(buckets))
		}
	}
	var totals [2]day2.Counters
	for i, b := range buckets {
		ts[i] = b.From
		for a, v := range []string{ro.Baseline, ro.Candidate} {
			c := d.Sum(slo.Filter{Environment: ro.Environment, Version: v}, b.From, b.To, nil).Counters
			totals[a].Add(c)
			series[0][a][i] = ratioOrNaN(c.Successes, c.Tasks)
			series[1][a][i] = ratioOrNaN(c.ToolFailures, c.ToolCalls)
		}
	}
	if err := d.Err(); err != nil {
		return nil, "", fmt.Errorf("load rollups of %s: %w", ro.Service, err)
	}
	var marks []versionChartMark
	for i := range ro.History {
		h := &ro.History[i]
		if h.Type == release.HistoryStarted {
			continue
		}
		label := rolloutEventText[h.Type]
		if h.Type == release.HistoryAdvanced {
			label = "→ " + rolloutStepName(ro, h.Step)
		}
		marks = append(marks, versionChartMark{Label: label, Class: h.Type, X: h.At.Sub(from).Seconds()})
	}
	stepWord := human(step)
	charts := []versionChart{
		versionChartOf("success", "Task success rate", "successful tasks / tasks with an outcome, per "+stepWord, ts, series[0], true, ro, marks, [2]string{
			pct(ratioOrNaN(totals[0].Successes, totals[0].Tasks)) + " of " + count(totals[0].Tasks) + " tasks",
			pct(ratioOrNaN(totals[1].Successes, totals[1].Tasks)) + " of " + count(totals[1].Tasks) + " tasks"}),
		versionChartOf("toolfail", "Tool failure rate", "failed tool calls / tool calls, per "+stepWord, ts, series[1], false, ro, marks, [2]string{
			pct(ratioOrNaN(totals[0].ToolFailures, totals[0].ToolCalls)) + " of " + count(totals[0].ToolCalls) + " calls",
			pct(ratioOrNaN(totals[1].ToolFailures, totals[1].ToolCalls)) + " of " + count(totals[1].ToolCalls) + " calls"}),
	}
	note := "From " + stamp(from) + " to " + stamp(to) + ", from the rollups by version: a task counts in the minute of its outcome. " +
		"The judge counts the tasks started since the current step began, so its numbers above differ from these."
	return charts, note, nil
}

// versionChartOf draws the two series vals (baseline, candidate) at ts on one
// scale: from a round floor to 100% for a success rate (upIsGood), from 0 for
// a failure rate.
func versionChartOf(id, title, note string, ts []time.Time, vals [2][]float64, upIsGood bool, ro *release.Rollout, marks []versionChartMark, totals [2]string) versionChart {
	lo, hi, ok := extent(slices.Concat(vals[0], vals[1]))
	switch {
	case !ok:
		lo, hi = 0, 1
	case upIsGood:
		lo, hi = niceFloor(math.Min(lo, 0.9), 1), 1
	default:
		lo, hi = 0, math.Max(0.01, roundUpNice(hi*1.1))
	}
	label := title + " of " + ro.Baseline + " (baseline) and " + ro.Candidate + " (candidate) of " + ro.Service + " in " + ro.Environment
	axis := func(v float64) string {
		if math.Abs(v) < 1e-12 {
			v = 0 // not "-0%"
		}
		return objective(v)
	}
	base := newLineChart(ts, vals[0], lo, hi, nil, axis, label)
	cand := newLineChart(ts, vals[1], lo, hi, nil, axis, label)
	c := versionChart{lineChart: base, ID: id, Title: title, Note: note, CandPath: dotLonePoints(cand.Path), CandHas: cand.HasData,
		Baseline: ro.Baseline, Candidate: ro.Candidate, BaseTotal: totals[0], CandTotal: totals[1]}
	c.Path = dotLonePoints(c.Path)
	if len(ts) > 1 {
		span := ts[len(ts)-1].Sub(ts[0]).Seconds()
		for _, m := range marks {
			x := float64(c.Left) + math.Min(math.Max(m.X, 0), span)*float64(c.PlotW)/span
			m.X = round1(math.Min(x, float64(c.PlotX1)))
			c.Marks = append(c.Marks, m)
		}
	}
	return c
}

// dotLonePoints makes the single points of an SVG path visible: a subpath of
// one point draws nothing, a zero-length line with round caps draws a dot.
func dotLonePoints(p string) string {
	if p == "" {
		return p
	}
	segs := strings.Split(p, " M")
	for i, s := range segs {
		if !strings.Contains(s, "L") {
			segs[i] = s + " l0 0"
		}
	}
	return strings.Join(segs, " M")
}

// roundUpNice rounds hi up to a multiple of the nice step for [0, hi].
func roundUpNice(hi float64) float64 {
	s := niceStep(hi)
	return math.Ceil(hi/s-1e-9) * s
}

func ratioOrNaN(n, d int64) float64 {
	if d == 0 {
		return math.NaN()
	}
	return float64(n) / float64(d)
}

package web

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/slo"
)

// minReleaseTasks is the number of finished tasks under which a version's rates
// are too noisy to call a difference better or worse.
const minReleaseTasks = 30

// rolloutWatch is what the release watch shows of the rollout behind a group:
// its state and weight, with a link to its page.
type rolloutWatch struct {
	URL, State, Text, Title string
}

// maxWatchedEnded is how many ended rollouts of a service the release watch
// reads, newest first, looking for one that ended in the range.
const maxWatchedEnded = 20

// releaseWatch is the release watch of service s over [from, to): the
// rollouts that were active or ended in the range, then releaseGroups.
func (u *UI) releaseWatch(ctx context.Context, s day2.ServiceSummary, env string, gate slo.GateDecision, d *slo.Data, from, to time.Time) ([]releaseGroup, error) {
	var ros []release.Rollout
	if u.releases != nil {
		// Not narrowed to env here: the store filters by service and state, and
		// releaseGroups keeps env's.
		active, err := u.releases.Rollouts(ctx, release.RolloutFilter{Service: s.Service,
			States: []string{release.StateRunning, release.StatePaused}})
		if err != nil {
			return nil, fmt.Errorf("list the rollouts of %s: %w", s.Service, err)
		}
		ended, err := u.releases.Rollouts(ctx, release.RolloutFilter{Service: s.Service,
			States: []string{release.StatePromoted, release.StateRolledBack}, Limit: maxWatchedEnded})
		if err != nil {
			return nil, fmt.Errorf("list the rollouts of %s: %w", s.Service, err)
		}
		ros = append(active, ended...)
	}
	return releaseGroups(s, env, gate, d, ros, from, to), nil
}

// watchedRollouts picks, per environment, the rollout the release watch
// compares by: the active one, else the one that ended last in [from, to).
func watchedRollouts(ros []release.Rollout, from time.Time) map[string]*release.Rollout {
	out := map[string]*release.Rollout{}
	for i := range ros {
		ro := &ros[i]
		if !ro.Active() && ro.EndedAt.Before(from) {
			continue
		}
		cur := out[ro.Environment]
		switch {
		case cur == nil:
		case cur.Active():
			continue
		case !ro.Active() && !ro.EndedAt.After(cur.EndedAt):
			continue
		}
		out[ro.Environment] = ro
	}
	return out
}

// releaseGroups compares the versions of service s that ran in [from, to), one
// group per environment (only env when set). Where a rollout of the service was
// active in the environment, or ended in the range (the latest such), the
// group compares its candidate with its baseline, shows both even before they
// ran a task, and links to the rollout; other versions that ran are compared
// with that baseline too. Without a rollout, the baseline is the oldest version
// by version number that ran in the range, and every newer one is a candidate
// compared with it. The share of tasks each version ran stands for its
// observed canary weight.
func releaseGroups(s day2.ServiceSummary, env string, gate slo.GateDecision, d *slo.Data, ros []release.Rollout, from, to time.Time) []releaseGroup {
	objective := 0.0
	if st := findStatus(gate.SLOs, s.Service+"/"+slo.NameTaskSuccess); st != nil {
		objective = st.Objective
	}
	watched := watchedRollouts(ros, from)
	byEnv := map[string][]string{}
	for _, v := range s.Versions {
		if (env == "" || v.Environment == env) && !v.LastSeen.Before(from) {
			byEnv[v.Environment] = append(byEnv[v.Environment], v.Version)
		}
	}
	for e, ro := range watched {
		if env == "" || e == env {
			byEnv[e] = append(byEnv[e], ro.Baseline, ro.Candidate)
		}
	}
	envs := make([]string, 0, len(byEnv))
	for e := range byEnv {
		envs = append(envs, e)
	}
	sort.Strings(envs)
	var out []releaseGroup
	for _, e := range envs {
		ro := watched[e]
		type ver struct {
			v string
			t slo.Totals
		}
		var vs []ver
		var seen int64
		done := map[string]bool{}
		for _, v := range byEnv[e] {
			if done[v] {
				continue
			}
			done[v] = true
			t := d.Sum(slo.Filter{Environment: e, Version: v}, from, to, nil)
			if t.Counters.Seen == 0 && (ro == nil || (v != ro.Baseline && v != ro.Candidate)) {
				continue
			}
			seen += t.Counters.Seen
			vs = append(vs, ver{v, t})
		}
		if len(vs) == 0 {
			continue
		}
		// The baseline first, then the candidate, then the others by version.
		rank := func(v string) int {
			switch {
			case ro == nil:
				return 0
			case v == ro.Baseline:
				return 0
			case v == ro.Candidate:
				return 1
			}
			return 2
		}
		sort.Slice(vs, func(i, j int) bool {
			if ri, rj := rank(vs[i].v), rank(vs[j].v); ri != rj {
				return ri < rj
			}
			return versionLess(vs[i].v, vs[j].v)
		})
		g := releaseGroup{Service: s.Service, Env: e}
		if ro != nil {
			g.Rollout = newRolloutWatch(ro)
		}
		base := &vs[0].t
		for i := range vs {
			t := &vs[i].t
			row := releaseRow{
				Version: vs[i].v, Share: pct(float64(t.Counters.Seen) / float64(seen)),
				Tasks: count(t.Counters.Tasks), Few: t.Counters.Tasks < minReleaseTasks,
				TasksURL: link("/tasks", "service", s.Service, "env", e, "version", vs[i].v),
			}
			switch {
			case ro != nil && vs[i].v == ro.Baseline:
				row.Role = "baseline"
			case ro != nil && vs[i].v == ro.Candidate:
				row.Role = "candidate"
			case ro != nil:
				row.Role = "other"
			case len(vs) == 1:
				row.Role = "only version"
			case i == 0:
				row.Role = "baseline"
			default:
				row.Role = "candidate"
			}
			compare := i > 0 && !row.Few && base.Counters.Tasks >= minReleaseTasks
			row.Cells = releaseCells(t, base, compare, objective)
			g.Rows = append(g.Rows, row)
		}
		out = append(out, g)
	}
	return out
}

// newRolloutWatch describes ro for the release watch: "▶ 25%" for a running
// canary at 25%, with the full story in the title.
func newRolloutWatch(ro *release.Rollout) *rolloutWatch {
	w := &rolloutWatch{URL: "/releases/" + url.PathEscape(ro.ID), State: ro.State}
	sym := strings.Fields(rolloutStateText[ro.State])
	if len(sym) > 0 {
		w.Text = sym[0] + " "
	}
	switch {
	case ro.Active() && ro.Strategy.Type == release.StrategyShadow:
		w.Text += "shadow " + strconv.Itoa(ro.Strategy.Share) + "%"
	case ro.Active():
		w.Text += strconv.Itoa(ro.Weights.Candidate) + "%"
	default:
		w.Text += strings.ReplaceAll(ro.State, "_", " ")
	}
	w.Title = fmt.Sprintf("%s rollout of %s over %s, %s, %s: %s; open the rollout",
		ro.Strategy.Type, ro.Candidate, ro.Baseline, strings.ReplaceAll(ro.State, "_", " "), rolloutStepText(ro), rolloutWeightsOf(ro).Text)
	return w
}

// releaseCells are a version's SLIs with their differences from the baseline.
func releaseCells(t, base *slo.Totals, compare bool, objective float64) []deltaCell {
	ratio := func(n, d int64) float64 {
		if d == 0 {
			return math.NaN()
		}
		return float64(n) / float64(d)
	}
	p95 := func(x *slo.Totals) float64 {
		if v, ok := x.Cycle.Quantile(0.95); ok {
			return v
		}
		return math.NaN()
	}
	c, b := &t.Counters, &base.Counters
	cells := []deltaCell{
		ppCell(ratio(c.Successes, c.Tasks), ratio(b.Successes, b.Tasks), compare, false, 0.01),
		ppCell(ratio(c.Escalated, c.Tasks), ratio(b.Escalated, b.Tasks), compare, true, 0.01),
		ppCell(ratio(c.ToolFailures, c.ToolCalls), ratio(b.ToolFailures, b.ToolCalls), compare, true, 0.0025),
		relCell(p95(t), p95(base), compare, seconds, func(d float64) string { return seconds(math.Abs(d)) }),
		relCell(ratio(c.SuccessTokens, c.Successes), ratio(b.SuccessTokens, b.Successes), compare, num, func(d float64) string { return num(math.Abs(d)) }),
	}
	burn := deltaCell{Value: "–"}
	if objective < 1 && c.Tasks > 0 {
		r := (1 - ratio(c.Successes, c.Tasks)) / (1 - objective)
		burn.Value = "×" + strconv.FormatFloat(r, 'f', 2, 64)
		if r >= 1 {
			burn.Class, burn.Word = "bad", "over budget"
		}
	}
	return append(cells, burn)
}

// ppCell shows a rate and its difference from the baseline in percentage points;
// a difference of at least significant is called better or worse.
func ppCell(v, base float64, compare, upIsBad bool, significant float64) deltaCell {
	cell := deltaCell{Value: pct(v)}
	if !compare || math.IsNaN(v) || math.IsNaN(base) {
		return cell
	}
	d := v - base
	cell.Delta = signed(strconv.FormatFloat(math.Abs(100*d), 'f', 2, 64)+" pp", d)
	cell.Class, cell.Word = judge(d, math.Abs(d) >= significant, upIsBad)
	return cell
}

// relCell shows a value and its difference from the baseline; a change of 10%
// or more is called better or worse (up is worse).
func relCell(v, base float64, compare bool, format, formatDelta func(float64) string) deltaCell {
	cell := deltaCell{Value: format(v)}
	if !compare || math.IsNaN(v) || math.IsNaN(base) || base == 0 {
		return cell
	}
	d := v - base
	cell.Delta = signed(formatDelta(d), d)
	cell.Class, cell.Word = judge(d, math.Abs(d)/base >= 0.1, true)
	return cell
}

func judge(d float64, significant, upIsBad bool) (class, word string) {
	if !significant || d == 0 {
		return "", ""
	}
	if (d > 0) == upIsBad {
		return "bad", "worse"
	}
	return "ok", "better"
}

// versionLess orders versions by their numeric dot-separated parts ("1.10.0"
// after "1.9.2"), falling back to text for parts that are not numbers.
func versionLess(a, b string) bool {
	pa := strings.FieldsFunc(strings.TrimPrefix(a, "v"), isVersionSep)
	pb := strings.FieldsFunc(strings.TrimPrefix(b, "v"), isVersionSep)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		switch {
		case ea == nil && eb == nil:
			if na != nb {
				return na < nb
			}
		case pa[i] != pb[i]:
			return pa[i] < pb[i]
		}
	}
	if len(pa) != len(pb) {
		return len(pa) < len(pb)
	}
	return a < b
}

func isVersionSep(r rune) bool { return r == '.' || r == '-' || r == '+' || r == '_' }

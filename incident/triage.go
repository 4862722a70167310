package incident

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// Triage windows and limits.
const (
	triageTasksWindow  = time.Hour
	triageRecent       = 15 * time.Minute
	triageBaseline     = time.Hour
	triageChanges      = 24 * time.Hour
	triageMaxTasks     = 5000
	triageMaxChanges   = 20
	triageFailingLinks = 5
)

// ChangePrefixes are the audit actions triage reports as recent changes.
var ChangePrefixes = []string{"rollout.", "version.", "flag."}

// Triage is the first look at an incident, computed when it opens (and on
// request): where it hurts, what changed, which signals spike, and which tasks
// to look at first.
type Triage struct {
	At time.Time `json:"at"`
	// Breakdown is the tasks of the service in the last hour per environment
	// and version, the worst failure rate first.
	Breakdown    []Breakdown `json:"breakdown"`
	TasksScanned int         `json:"tasks_scanned"`
	// Truncated is set when the hour held more tasks than triage reads.
	Truncated bool `json:"truncated,omitempty"`
	// Changes are deployments and flag changes of the last 24 hours, newest
	// first.
	Changes []Change `json:"changes"`
	// Signals compare the last 15 minutes with the hour before.
	Signals []Signal `json:"signals"`
	// FailingTasks are the failed tasks with the most tool failures.
	FailingTasks []TaskLink `json:"failing_tasks"`
	// Problems are the parts that could not be computed.
	Problems []string `json:"problems,omitempty"`
}

// Breakdown is the tasks of one environment and version.
type Breakdown struct {
	Environment  string  `json:"environment"`
	Version      string  `json:"version"`
	Tasks        int64   `json:"tasks"`
	Failures     int64   `json:"failures"`
	Escalations  int64   `json:"escalations"`
	ToolFailures int64   `json:"tool_failures"`
	FailureRate  float64 `json:"failure_rate"`
}

// Change is a deployment or flag change from the audit log.
type Change struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Reason string    `json:"reason,omitempty"`
	// Related is set when the entry names the incident's service.
	Related bool `json:"related"`
}

// Signal is one measure compared between the last 15 minutes and the hour
// before, per minute.
type Signal struct {
	Name     string  `json:"name"`
	Recent   float64 `json:"recent_per_min"`
	Baseline float64 `json:"baseline_per_min"`
	Spike    bool    `json:"spike"`
	Text     string  `json:"text"`
}

// TaskLink points at one failed task.
type TaskLink struct {
	TaskID       string    `json:"task_id"`
	URL          string    `json:"url"`
	Environment  string    `json:"environment"`
	Version      string    `json:"version"`
	ReasonCode   string    `json:"reason_code,omitempty"`
	ToolFailures int       `json:"tool_failures"`
	Start        time.Time `json:"start"`
}

// headline is the triage in one sentence.
func (t *Triage) headline() string {
	if t == nil {
		return ""
	}
	var parts []string
	var worst *Breakdown
	for i := range t.Breakdown {
		if b := &t.Breakdown[i]; b.Failures > 0 && (worst == nil || b.FailureRate > worst.FailureRate) {
			worst = b
		}
	}
	if worst != nil {
		parts = append(parts, fmt.Sprintf("worst: %s %s with %s of %d tasks failing", orNone(worst.Environment), orNone(worst.Version),
			pct(worst.FailureRate), worst.Tasks))
	}
	for _, s := range t.Signals {
		if s.Spike {
			parts = append(parts, s.Name+" spiking")
		}
	}
	related := 0
	for _, c := range t.Changes {
		if c.Related {
			related++
		}
	}
	if related > 0 {
		parts = append(parts, fmt.Sprintf("%d change(s) to the service in the last 24h", related))
	}
	if len(parts) == 0 {
		return "Triage: no failing tasks, spikes or recent changes found"
	}
	return "Triage: " + strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// triage computes the triage summary of service (and environment) at now.
// Parts it cannot compute are listed in Problems; it never fails.
func (s *Service) triage(ctx context.Context, service, env string, now time.Time) *Triage {
	t := &Triage{At: now, Breakdown: []Breakdown{}, Changes: []Change{}, Signals: []Signal{}, FailingTasks: []TaskLink{}}
	if s.o.Tasks != nil {
		if err := s.triageTasks(ctx, t, service, now); err != nil {
			s.log.Warn("triage: list tasks", "service", service, "err", err)
			t.Problems = append(t.Problems, "tasks: "+day2.ErrorMessage(err))
		}
	}
	if s.o.Rollups != nil {
		if err := s.triageSignals(ctx, t, service, env, now); err != nil {
			s.log.Warn("triage: read rollups", "service", service, "err", err)
			t.Problems = append(t.Problems, "signals: "+day2.ErrorMessage(err))
		}
	}
	if s.o.Audit != nil {
		es, err := s.auditBetween(ctx, now.Add(-triageChanges), now, ChangePrefixes)
		if err != nil {
			s.log.Warn("triage: read the audit log", "err", err)
			t.Problems = append(t.Problems, "changes: "+day2.ErrorMessage(err))
		}
		for i := len(es) - 1; i >= 0 && len(t.Changes) < triageMaxChanges; i-- {
			e := es[i]
			t.Changes = append(t.Changes, Change{At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Reason: e.Reason,
				Related: mentions(&e, service)})
		}
	}
	return t
}

// mentions reports whether audit entry e is about service.
func mentions(e *day2.AuditEntry, service string) bool {
	q := `"` + service + `"`
	return strings.Contains(e.Target, service) || strings.Contains(string(e.After), q) || strings.Contains(string(e.Before), q)
}

// triageTasks fills the breakdown and failing tasks from the last hour's tasks.
func (s *Service) triageTasks(ctx context.Context, t *Triage, service string, now time.Time) error {
	type bk struct{ env, ver string }
	by := map[bk]*Breakdown{}
	var failed []day2.Task
	f := day2.TaskFilter{Service: service, Since: now.Add(-triageTasksWindow), Limit: 1000}
	for {
		page, err := s.o.Tasks.ListTasks(ctx, f)
		if err != nil {
			return err
		}
		for _, task := range page.Tasks {
			t.TasksScanned++
			k := bk{task.Environment, task.Version}
			b := by[k]
			if b == nil {
				b = &Breakdown{Environment: task.Environment, Version: task.Version}
				by[k] = b
			}
			b.ToolFailures += int64(task.ToolFailures)
			if task.Success == nil {
				continue
			}
			b.Tasks++
			if !*task.Success {
				b.Failures++
				failed = append(failed, task)
			}
			if task.Escalated != nil && *task.Escalated {
				b.Escalations++
			}
		}
		if page.NextCursor == "" {
			break
		}
		if t.TasksScanned >= triageMaxTasks {
			t.Truncated = true
			break
		}
		f.Cursor = page.NextCursor
	}
	for _, b := range by {
		if b.Tasks > 0 {
			b.FailureRate = float64(b.Failures) / float64(b.Tasks)
		}
		t.Breakdown = append(t.Breakdown, *b)
	}
	sort.Slice(t.Breakdown, func(i, j int) bool {
		a, b := t.Breakdown[i], t.Breakdown[j]
		if a.FailureRate != b.FailureRate {
			return a.FailureRate > b.FailureRate
		}
		if a.Environment != b.Environment {
			return a.Environment < b.Environment
		}
		return a.Version < b.Version
	})
	sort.SliceStable(failed, func(i, j int) bool { return failed[i].ToolFailures > failed[j].ToolFailures })
	for _, task := range failed[:min(len(failed), triageFailingLinks)] {
		t.FailingTasks = append(t.FailingTasks, TaskLink{TaskID: task.TaskID, URL: s.url("/tasks/" + task.TaskID),
			Environment: task.Environment, Version: task.Version, ReasonCode: task.ReasonCode,
			ToolFailures: task.ToolFailures, Start: task.StartTime})
	}
	return nil
}

// triageSignals compares tokens, rate-limit hits, safety blocks and tool
// failures of the last 15 minutes with the hour before.
func (s *Service) triageSignals(ctx context.Context, t *Triage, service, env string, now time.Time) error {
	to := now.UTC().Truncate(time.Minute)
	mid := to.Add(-triageRecent)
	from := mid.Add(-triageBaseline)
	d, err := slo.Load(ctx, s.o.Rollups, service, []slo.Interval{{From: from, To: to}}, true)
	if err != nil {
		return err
	}
	f := slo.Filter{Environment: env}
	recent := d.Sum(f, mid, to, nil).Counters
	base := d.Sum(f, from, mid, nil).Counters
	if err := d.Err(); err != nil {
		return err
	}
	for _, sig := range []struct {
		name   string
		r, b   int64
		floor  int64 // fewest recent events that can make a spike
		format string
	}{
		{"tokens", recent.InputTokens + recent.OutputTokens, base.InputTokens + base.OutputTokens, 1000, "%.0f"},
		{"rate_limit_hits", recent.RateLimitHits, base.RateLimitHits, 3, "%.1f"},
		{"safety_blocks", recent.SafetyBlocks, base.SafetyBlocks, 3, "%.1f"},
		{"tool_failures", recent.ToolFailures, base.ToolFailures, 3, "%.1f"},
	} {
		r := float64(sig.r) / triageRecent.Minutes()
		b := float64(sig.b) / triageBaseline.Minutes()
		spike := sig.r >= sig.floor && r >= 2*b
		text := fmt.Sprintf("%s: "+sig.format+"/min in the last 15 min vs "+sig.format+"/min the hour before", sig.name, r, b)
		switch {
		case spike && b > 0:
			text += fmt.Sprintf(" (%.1fx)", r/b)
		case spike:
			text += " (new)"
		}
		t.Signals = append(t.Signals, Signal{Name: sig.name, Recent: r, Baseline: b, Spike: spike, Text: text})
	}
	return nil
}

// auditBetween returns the audit entries in [from, to] whose action starts
// with one of prefixes (all when none), oldest first. The audit log is read
// by id, and its times grow with its ids, so the first entry at or after from
// is found by binary search, then the log is read forward from there (at most
// 20000 entries).
func (s *Service) auditBetween(ctx context.Context, from, to time.Time, prefixes []string) ([]day2.AuditEntry, error) {
	if s.o.Audit == nil {
		return nil, nil
	}
	// after(n) is the first entry with an id above n.
	after := func(n int64) (day2.AuditEntry, bool, error) {
		es, err := s.o.Audit(ctx, day2.AuditFilter{AfterID: n, Limit: 1})
		if err != nil || len(es) == 0 {
			return day2.AuditEntry{}, false, err
		}
		return es[0], true, nil
	}
	// Grow hi until the entry after it is at or after from, or absent.
	var lo, hi int64 = 0, 1
	for {
		e, ok, err := after(hi)
		if err != nil {
			return nil, err
		}
		if !ok || !e.At.Before(from) {
			break
		}
		lo = hi
		hi *= 2
	}
	// Invariant: the entry after lo is before from (or lo is 0); the entry
	// after hi is at or after from, or absent.
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		e, ok, err := after(mid)
		if err != nil {
			return nil, err
		}
		if !ok || !e.At.Before(from) {
			hi = mid
		} else {
			lo = mid
		}
	}
	start := lo
	var out []day2.AuditEntry
	for page := 0; page < 20; page++ {
		es, err := s.o.Audit(ctx, day2.AuditFilter{AfterID: start, Limit: 1000})
		if err != nil {
			return out, err
		}
		for _, e := range es {
			if e.At.After(to) {
				return out, nil
			}
			if !e.At.Before(from) && hasPrefix(e.Action, prefixes) {
				out = append(out, e)
			}
		}
		if len(es) < 1000 {
			break
		}
		start = es[len(es)-1].ID
	}
	return out, nil
}

func hasPrefix(action string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// links are the incident's links for runbooks and postmortems.
func (s *Service) links(inc *Incident) RunbookLinks {
	q := url.Values{"service": {inc.Service}}
	tq := url.Values{"service": {inc.Service}}
	if inc.Environment != "" {
		tq.Set("environment", inc.Environment)
	}
	return RunbookLinks{
		Dashboard:  s.url("/slos?" + q.Encode()),
		Tasks:      s.url("/tasks?" + tq.Encode()),
		Incident:   s.url("/incidents/" + inc.ID),
		Runbook:    s.url("/api/v1/incidents/" + inc.ID + "/runbook"),
		Postmortem: s.url("/api/v1/incidents/" + inc.ID + "/postmortem"),
	}
}

package app

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/config"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/notify"
	"github.com/day2ops/day2/release"
	"github.com/day2ops/day2/slo"
)

// The operations capabilities: releases (versions, rollouts, the canary
// judge), feature flags over OFREP, risk-tiered approvals, incidents with their
// alert rules, and the notification outbox. ops.go builds them from the
// configuration and connects them:
//
//   - the rollout assignment is served as the OFREP flag rollout.<service>;
//   - a canary the judge rolls back raises an incident alert, and so do SLO
//     burn-rate alerts, threshold rules and Alertmanager;
//   - incident levers act on rollouts, flags and approvals;
//   - incidents and approvals notify through one outbox, in the same write as
//     the change they announce;
//   - an approval that needs a person marks its task escalated, through the
//     ingest path, so the escalation-rate SLI counts it.

// ops are the capabilities' services.
type ops struct {
	Flags     *flags.Service
	Releases  *release.Service
	Approvals *approval.Service
	Incidents *incident.Service
	Rules     *incident.RuleEvaluator
	Outbox    *notify.Outbox
}

// buildOps creates the services from cfg. baseURL is day2's address for
// links in notifications.
func (a *App) buildOps(cfg *config.Config, baseURL string) error {
	now := a.opts.Now
	var err error
	if a.Flags, err = flags.NewService(a.Store, cfg.Flags, now); err != nil {
		return fmt.Errorf("flags: %w", err)
	}
	a.Flags.SetLogger(a.log)
	if a.Releases, err = release.NewService(release.Options{
		Records: a.Store, Tasks: a.Store, Clock: now, Logger: a.log,
		Freeze:  a.freeze,
		OnEvent: a.onReleaseEvent,
	}); err != nil {
		return fmt.Errorf("releases: %w", err)
	}
	a.Flags.AddResolver(release.FlagPrefix, a.Releases)

	a.Outbox = notify.NewOutbox(notify.OutboxOptions{Records: a.Store, Notifiers: cfg.Notifiers, Clock: now, Logger: a.log})
	if a.Approvals, err = approval.NewService(approval.Options{
		Records: a.Store, Policies: cfg.ApprovalPolicies, Clock: now, BaseURL: baseURL, Logger: a.log,
		Notify:         a.approvalNotify,
		OnRequired:     a.markEscalated,
		CallbackSecret: a.opts.CallbackSecret,
	}); err != nil {
		return fmt.Errorf("approvals: %w", err)
	}
	if a.Rules, err = incident.NewRuleEvaluator(a.Store, a.Store, cfg.AlertRules, a.log); err != nil {
		return fmt.Errorf("alert rules: %w", err)
	}
	if a.Incidents, err = incident.NewService(incident.Options{
		Records: a.Store, Audit: a.Store.ListAudit, Tasks: a.Store, Rollups: a.Store,
		Notify: func(_ context.Context, m notify.Message) []day2.Record { return a.Outbox.Prepare(m) },
		Kick:   a.Outbox.Kick,
		Levers: levers{a}, Runbooks: cfg.Runbooks, Grouping: cfg.Incidents.GroupBy,
		GroupInterval:  cmp.Or(cfg.Incidents.GroupInterval.D(), shortest(cfg.Notifiers, func(n notify.Notifier) day2.Duration { return n.GroupInterval })),
		RepeatInterval: cmp.Or(cfg.Incidents.RepeatInterval.D(), shortest(cfg.Notifiers, func(n notify.Notifier) day2.Duration { return n.RepeatInterval })),
		BaseURL:        baseURL, Clock: now, Logger: a.log,
		SLOBudget: a.budgetConsumed,
		Rules:     a.Rules,
	}); err != nil {
		return fmt.Errorf("incidents: %w", err)
	}
	return nil
}

// registerOps mounts the capabilities' API routes.
func (a *App) registerOps(s *httpapi.Server) {
	httpapi.RegisterFlags(s, a.Flags)
	httpapi.RegisterOFREP(s, a.Flags)
	httpapi.RegisterReleases(s, a.Releases)
	httpapi.RegisterApprovals(s, a.Approvals)
	httpapi.RegisterIncidents(s, a.Incidents)
	httpapi.RegisterDeliveries(s, a.Outbox)
}

// runOps starts the background loops of the capabilities until ctx ends.
func (a *App) runOps(ctx context.Context, goRun func(func())) {
	goRun(func() { a.Releases.Run(ctx) })
	goRun(func() { a.Approvals.Run(ctx) })
	goRun(func() { a.Incidents.Run(ctx, opsInterval(a.opts.EvalInterval)) })
	goRun(func() { a.Outbox.Run(ctx) })
}

// opsInterval is how often incidents (rules, batching, reminders) tick: as
// often as SLOs are evaluated, but at least every 15 s so that short rule
// windows and group intervals are honoured.
func opsInterval(eval time.Duration) time.Duration {
	return min(eval, 15*time.Second)
}

// reloadOps swaps in what a config reload changed.
func (a *App) reloadOps(cfg *config.Config) error {
	if err := a.Approvals.SetPolicies(cfg.ApprovalPolicies); err != nil {
		return err
	}
	if err := a.Rules.SetRules(cfg.AlertRules); err != nil {
		return err
	}
	a.Flags.SetConfig(cfg.Flags)
	a.Outbox.SetNotifiers(cfg.Notifiers)
	return nil
}

// shortest is the shortest interval the notifiers set (0: the incident
// service's default), for group_interval and repeat_interval: incidents keep one
// rhythm, the most frequent any destination asks for.
func shortest(ns []notify.Notifier, interval func(notify.Notifier) day2.Duration) time.Duration {
	var d time.Duration
	for _, n := range ns {
		if g := interval(n).D(); g > 0 && (d == 0 || g < d) {
			d = g
		}
	}
	return d
}

// freeze tells the judge whether the error budget policy holds releases of the
// service back.
func (a *App) freeze(ctx context.Context, service, environment string) (bool, string, error) {
	d, err := a.SLO.Gate(ctx, service, environment, a.SLO.Now(), true)
	if err != nil {
		return false, "", err
	}
	return !d.Allowed, strings.Join(d.Reasons, "; "), nil
}

// onReleaseEvent raises an incident alert when the judge rolls a canary back.
func (a *App) onReleaseEvent(ctx context.Context, ev release.Event) {
	if ev.Type != release.EventRolledBack || ev.Actor != release.JudgeActor {
		return
	}
	r := ev.Rollout
	var evidence []string
	for _, m := range ev.Evidence {
		evidence = append(evidence, m.Reason)
	}
	al := incident.Alert{
		Source: incident.SourceCanary, Key: "canary:" + r.ID, Status: "firing",
		Service: r.Service, Environment: r.Environment, Severity: "ticket",
		Summary:  fmt.Sprintf("canary %s of %s rolled back automatically: %s", r.Candidate, r.Service, ev.Reason),
		Details:  strings.Join(evidence, "\n"),
		Labels:   map[string]string{"rollout": r.ID, "candidate": r.Candidate, "baseline": r.Baseline},
		StartsAt: a.opts.Now(),
		URL:      "/releases/" + r.ID,
	}
	if err := a.Incidents.Ingest(ctx, []incident.Alert{al}); err != nil {
		a.log.Error("raise the alert of a rolled-back canary", "rollout", r.ID, "err", err)
	}
}

// onSLOTransitions turns SLO burn-rate alert changes into incident alerts.
func (a *App) onSLOTransitions(ctx context.Context, trans []day2.AlertTransition) {
	var alerts []incident.Alert
	for _, t := range trans {
		if al, ok := incident.FromSLOTransition(t); ok {
			alerts = append(alerts, al)
		}
	}
	if len(alerts) == 0 {
		return
	}
	if err := a.Incidents.Ingest(ctx, alerts); err != nil {
		a.log.Error("open incidents for SLO alerts", "err", err)
	}
}

// runSLO evaluates SLOs every interval and passes alert changes to incidents.
func (a *App) runSLO(ctx context.Context, interval time.Duration) {
	a.SLO.RunWith(ctx, interval, a.onSLOTransitions)
}

// approvalNotify turns an approval event into outbox records.
func (a *App) approvalNotify(_ context.Context, ev approval.Event) []day2.Record {
	return a.Outbox.Prepare(ev.Message())
}

// markEscalated records in the task's trace that one of its actions needed a
// person, so the task counts as escalated (day2.ApprovalRequiredEvent).
func (a *App) markEscalated(ctx context.Context, r approval.Request) {
	if r.TaskID == "" {
		return
	}
	id, err := day2.ParseTraceID(r.TaskID)
	if err != nil || id.IsZero() {
		return // not an OpenTelemetry trace id: nothing to mark
	}
	h := fnv.New64a()
	h.Write([]byte("approval/" + r.ID))
	res := &day2.Resource{Attrs: day2.Attrs{{Key: "service.name", Value: day2.StringValue(r.Service)}}}
	if r.Environment != "" {
		res.Attrs = append(res.Attrs, day2.Attr{Key: "deployment.environment.name", Value: day2.StringValue(r.Environment)})
	}
	rec := day2.LogRecord{ID: h.Sum64(), TraceID: id, Time: r.CreatedAt.UnixNano(), EventName: day2.ApprovalRequiredEvent,
		Resource: res, Attrs: day2.Attrs{
			{Key: "approval.id", Value: day2.StringValue(r.ID)},
			{Key: "approval.action", Value: day2.StringValue(r.Action)},
			{Key: "approval.tier", Value: day2.IntValue(int64(r.Tier))},
		}}
	if err := a.Ingest.Submit(ctx, []day2.TaskData{{TraceID: id, Logs: []day2.LogRecord{rec}}}); err != nil {
		a.log.Warn("mark the task of an approval escalated", "task", r.TaskID, "approval", r.ID, "err", err)
	}
}

// budgetConsumed is the largest share of a 4-week error budget any SLO of the
// service consumed between from and to: the difference of the budget consumed
// over the SLO's window at the two times. Bad events that left the window in
// between are not counted, so for incidents shorter than the window it is the
// budget the incident burned.
func (a *App) budgetConsumed(ctx context.Context, service string, from, to time.Time) (float64, bool) {
	before, err := a.SLO.Status(ctx, service, from, false)
	if err != nil {
		return 0, false
	}
	after, err := a.SLO.Status(ctx, service, to, false)
	if err != nil {
		return 0, false
	}
	prev := map[string]slo.Budget{}
	for _, st := range before {
		prev[st.Name] = st.ErrorBudget
	}
	worst, ok := 0.0, false
	for _, st := range after {
		if st.NoData || st.ErrorBudget.Total <= 0 {
			continue
		}
		used := (st.ErrorBudget.Consumed - prev[st.Name].Consumed) / st.ErrorBudget.Total
		if used > worst || !ok {
			worst, ok = max(used, 0), true
		}
	}
	return worst, ok
}

// levers are the incident mitigation levers, acting on the capabilities.
type levers struct{ a *App }

func (l levers) SetCandidateWeight(ctx context.Context, actor, service, environment string, weight int, reason string) error {
	r, err := l.a.Releases.Active(ctx, service, environment)
	if err != nil {
		return err
	}
	_, err = l.a.Releases.SetCandidateWeight(ctx, actor, r.ID, weight, reason)
	return err
}

// SetFlag turns a flag on (ENABLED) or off (DISABLED). A disabled flag makes
// every OpenFeature client use its code default, so kill switches are flags
// whose code default is the safe behaviour.
func (l levers) SetFlag(ctx context.Context, actor, key string, on bool, reason string) error {
	state := flags.StateDisabled
	if on {
		state = flags.StateEnabled
	}
	_, err := l.a.Flags.Patch(ctx, actor, key, flags.Patch{State: &state}, reason)
	return err
}

func (l levers) ForceManual(ctx context.Context, actor, service string, on bool, reason string) error {
	return l.a.Approvals.SetForceManual(ctx, actor, service, on, reason)
}

// SetOverride sets the flag override.<service>.<name> to value: one variant,
// served to everyone.
func (l levers) SetOverride(ctx context.Context, actor, service, name string, value any, reason string) error {
	f := flags.Flag{
		Key: "override." + service + "." + name, State: flags.StateEnabled,
		Variants: map[string]any{"override": value}, DefaultVariant: "override",
		Metadata: map[string]any{"lever": name, "service": service},
	}
	_, err := l.a.Flags.Put(ctx, actor, f, reason)
	return err
}

func (l levers) RolloutWeight(ctx context.Context, service, environment string) (int, string, bool) {
	r, err := l.a.Releases.Active(ctx, service, environment)
	if err != nil {
		return 0, "", false
	}
	return r.Weights.Candidate, r.ID, true
}

var _ incident.Levers = levers{}

// logOps logs what the configuration set up.
func logOps(log *slog.Logger, cfg *config.Config) {
	log.Info("operations configured", "flags", len(cfg.Flags), "approval_policies", len(cfg.ApprovalPolicies),
		"alert_rules", len(cfg.AlertRules), "runbooks", len(cfg.Runbooks), "notifiers", len(cfg.Notifiers))
}

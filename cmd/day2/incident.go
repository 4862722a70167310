package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/incident"
)

func newIncidentCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "incident",
		Short: "List, acknowledge, mitigate and resolve incidents; print runbooks and postmortems",
		Long: `Alerts (SLO burn rates, AlertRule thresholds, canaries, Alertmanager webhooks) open
incidents, one per service and environment while it is open. An incident moves
triggered -> acknowledged -> mitigated -> resolved; each step is on its timeline,
in the audit log, and announced to the configured notifiers.`,
	}
	cmd.AddCommand(newIncidentListCmd(), newIncidentShowCmd(),
		newIncidentStateCmd("ack", "Acknowledge an incident: you are on it", "ack"),
		newIncidentStateCmd("resolve", "Resolve an incident: the service has recovered (final)", "resolve"),
		newIncidentMitigateCmd(), newIncidentNoteCmd(),
		newIncidentTextCmd("runbook", "Print the incident's runbook, rendered with its context (Markdown)"),
		newIncidentTextCmd("postmortem", "Print a postmortem draft of the incident (Markdown, Google SRE format)"),
		newIncidentReviewCmd())
	return cmd
}

func newIncidentListCmd() *cobra.Command {
	var (
		c              clientFlags
		state, service string
		limit          int
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List incidents, newest first",
		Example: "  day2 incident list --state open\n  day2 incident list --service support-triage",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			q := url.Values{}
			for k, v := range map[string]string{"state": state, "service": service} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var res struct {
				Incidents []incident.Incident `json:"incidents"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/incidents", q, &res)
			if done, err := c.answer(cmd, "incident list", raw, err); done {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Incidents) == 0 {
				fmt.Fprintln(out, "no incidents")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEVERITY\tSERVICE\tENVIRONMENT\tSTATE\tOPENED\tALERTS\tTITLE")
			for _, inc := range res.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", inc.ID, inc.Severity, inc.Service, incDash(inc.Environment),
					inc.State, inc.OpenedAt.UTC().Format("2006-01-02 15:04"), inc.Firing(), len(inc.Alerts), incOneLine(inc.Title, 60))
			}
			return tw.Flush()
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&state, "state", "", "open, triggered, acknowledged, mitigated or resolved")
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (default 100)")
	return cmd
}

func newIncidentShowCmd() *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an incident with its alerts, triage and timeline",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var inc incident.Incident
			raw, err := c.get(cmd.Context(), "/api/v1/incidents/"+url.PathEscape(args[0]), nil, &inc)
			if done, err := c.answer(cmd, "incident show", raw, err); done {
				return err
			}
			printIncident(cmd.OutOrStdout(), &inc)
			return nil
		},
	}
	c.register(cmd.Flags())
	return cmd
}

// newIncidentStateCmd is ack or resolve.
func newIncidentStateCmd(use, short, action string) *cobra.Command {
	var (
		c      clientFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   use + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return postIncident(cmd, &c, args[0], action, map[string]any{"reason": reason})
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "why, for the timeline and the audit log")
	return cmd
}

func newIncidentMitigateCmd() *cobra.Command {
	var (
		c                        clientFlags
		lever, flag, name, value string
		reason                   string
		on, off                  bool
	)
	cmd := &cobra.Command{
		Use:   "mitigate ID",
		Short: "Pull a mitigation lever, or mark the incident mitigated",
		Long: `Pull one of the runbook's mitigation levers for the incident's service; the lever
and its outcome go on the timeline and the audit log, and the incident becomes
mitigated when the lever worked. Without --lever the incident is only marked
mitigated (you mitigated it by other means).

Levers:
  canary_to_zero   drop the candidate of the running rollout to 0% of traffic
  flag             turn a feature flag or kill switch --on or --off (--flag KEY)
  force_manual     make a person review every risk-tiered action (--off to undo)
  override         set an override the agents read: --name temperature_cap,
                   tool_allowlist, retry_budget or timeout_ms, and --value`,
		Example: `  day2 incident mitigate in_abc --lever canary_to_zero --reason "candidate fails 80% of tasks"
  day2 incident mitigate in_abc --lever flag --flag crm_writes --off --reason "stop CRM writes"
  day2 incident mitigate in_abc --lever override --name tool_allowlist --value kb.search,crm.lookup --reason "narrow tools"
  day2 incident mitigate in_abc --reason "failed over to the backup CRM"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if on && off {
				return &exitError{2, fmt.Errorf("--on and --off exclude each other")}
			}
			if lever != "" && strings.TrimSpace(reason) == "" {
				return &exitError{2, fmt.Errorf("--reason is required to pull a lever: say why, for the timeline and the audit log")}
			}
			body := map[string]any{"reason": reason}
			if lever != "" {
				body["lever"] = lever
			}
			if flag != "" {
				body["flag"] = flag
			}
			if on || off {
				body["on"] = on
			}
			if name != "" {
				body["name"] = name
			}
			if cmd.Flags().Changed("value") {
				body["value"] = incidentValue(value)
			}
			return postIncident(cmd, &c, args[0], "mitigate", body)
		},
	}
	c.register(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVar(&lever, "lever", "", "canary_to_zero, flag, force_manual or override (none: only mark mitigated)")
	fs.StringVar(&flag, "flag", "", "the flag lever's flag key")
	fs.BoolVar(&on, "on", false, "turn the flag (or forced human review) on")
	fs.BoolVar(&off, "off", false, "turn the flag (or forced human review) off")
	fs.StringVar(&name, "name", "", "the override lever's override: temperature_cap, tool_allowlist, retry_budget or timeout_ms")
	fs.StringVar(&value, "value", "", "the override's value: a number, or tool names separated by commas")
	fs.StringVar(&reason, "reason", "", "why (required with --lever)")
	return cmd
}

// incidentValue reads an override value: JSON when it parses (numbers,
// lists), the text itself otherwise.
func incidentValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return v
	}
	return s
}

func newIncidentNoteCmd() *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:     "note ID TEXT...",
		Short:   "Add a note to the incident's timeline: impact, ETA, findings",
		Example: `  day2 incident note in_abc "impact: 40 tickets handled by hand; ETA 30 min"`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return postIncident(cmd, &c, args[0], "note", map[string]any{"text": strings.Join(args[1:], " ")})
		},
	}
	c.register(cmd.Flags())
	return cmd
}

func newIncidentReviewCmd() *cobra.Command {
	var (
		c          clientFlags
		link, note string
	)
	cmd := &cobra.Command{
		Use:     "review ID",
		Short:   "Record the post-incident review (stops the 72-hour reminder)",
		Example: `  day2 incident review in_abc --url https://wiki.example.com/postmortems/42`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return postIncident(cmd, &c, args[0], "review", map[string]any{"url": link, "notes": note})
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&link, "url", "", "link to the postmortem document")
	cmd.Flags().StringVar(&note, "notes", "", "the review's conclusions")
	return cmd
}

// newIncidentTextCmd prints one of the incident's Markdown documents.
func newIncidentTextCmd(doc, short string) *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:   doc + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := c.get(cmd.Context(), "/api/v1/incidents/"+url.PathEscape(args[0])+"/"+doc, nil, nil)
			if err != nil {
				return &exitError{2, fmt.Errorf("incident %s: %w", doc, err)}
			}
			cmd.OutOrStdout().Write(raw)
			return nil
		},
	}
	c.register(cmd.Flags())
	return cmd
}

// postIncident posts body to the incident's action and prints the incident.
func postIncident(cmd *cobra.Command, c *clientFlags, id, action string, body map[string]any) error {
	if err := c.checkOutput(); err != nil {
		return err
	}
	var inc incident.Incident
	raw, err := c.send(cmd.Context(), http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/"+action, body, &inc)
	if done, err := c.answer(cmd, "incident "+action, raw, err); done {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "%s is %s\n", inc.ID, inc.State)
	for i := len(inc.Timeline) - 1; i >= 0; i-- {
		if e := inc.Timeline[i]; e.Type != incident.EntryNotification {
			fmt.Fprintf(out, "  %s %s: %s\n", e.At.UTC().Format("15:04:05"), e.Type, e.Text)
			break
		}
	}
	return nil
}

func printIncident(w io.Writer, inc *incident.Incident) {
	fmt.Fprintf(w, "%s  %s\n", inc.ID, inc.Title)
	where := inc.Service
	if inc.Environment != "" {
		where += " (" + inc.Environment + ")"
	}
	fmt.Fprintf(w, "  service:   %s\n  severity:  %s\n  state:     %s\n", where, inc.Severity, inc.State)
	fmt.Fprintf(w, "  detected:  %s\n  opened:    %s\n", incTime(inc.DetectedAt), incTime(inc.OpenedAt))
	for _, s := range []struct {
		name string
		at   time.Time
	}{{"acked", inc.AcknowledgedAt}, {"mitigated", inc.MitigatedAt}, {"resolved", inc.ResolvedAt}} {
		if !s.at.IsZero() {
			fmt.Fprintf(w, "  %-10s %s\n", s.name+":", incTime(s.at))
		}
	}
	fmt.Fprintf(w, "  runbook:   %s (day2 incident runbook %s)\n", inc.Runbook, inc.ID)
	if inc.RunbookURL != "" {
		fmt.Fprintf(w, "             %s\n", inc.RunbookURL)
	}
	if inc.PostmortemRequired {
		fmt.Fprintf(w, "  postmortem required: it consumed more than 20%% of the error budget\n")
	}
	fmt.Fprintf(w, "\nAlerts (%d firing of %d):\n", inc.Firing(), len(inc.Alerts))
	for _, a := range inc.Alerts {
		fmt.Fprintf(w, "  %-8s %-6s %s: %s\n", a.Status, a.Severity, a.Source, incOneLine(a.Summary, 100))
	}
	if t := inc.Triage; t != nil {
		fmt.Fprintf(w, "\nTriage (%s):\n", incTime(t.At))
		for _, b := range t.Breakdown {
			if b.Failures > 0 {
				fmt.Fprintf(w, "  %s %s: %d of %d tasks failed (%.1f%%), %d tool failures\n", incDash(b.Environment), incDash(b.Version),
					b.Failures, b.Tasks, 100*b.FailureRate, b.ToolFailures)
			}
		}
		for _, s := range t.Signals {
			if s.Spike {
				fmt.Fprintf(w, "  SPIKE %s\n", s.Text)
			}
		}
		for _, ch := range t.Changes {
			if ch.Related {
				fmt.Fprintf(w, "  change %s %s %s by %s\n", incTime(ch.At), ch.Action, ch.Target, ch.Actor)
			}
		}
		for _, ft := range t.FailingTasks {
			fmt.Fprintf(w, "  failed task %s (%d tool failures)\n", ft.URL, ft.ToolFailures)
		}
	}
	fmt.Fprintf(w, "\nTimeline (UTC):\n")
	for _, e := range inc.Timeline {
		fmt.Fprintf(w, "  %s  %-12s %-10s %s\n", e.At.UTC().Format("01-02 15:04:05"), e.Type, e.Actor, e.Text)
	}
}

func incTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func incDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func incOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func newReviewCmd() *cobra.Command {
	var (
		c         clientFlags
		day, week bool
	)
	cmd := &cobra.Command{
		Use:   "review",
		Short: "Print the daily reliability digest (--day, default) or the weekly review (--week) as Markdown",
		Long: `The daily digest is for the 10-minute reliability stand-up: open incidents,
incidents of the last 24 hours, rollouts and flag changes, error budget burn and
postmortems pending. The weekly review lists the week's incidents with their
detection, mitigation and resolution times against the week before.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if day && week {
				return &exitError{2, fmt.Errorf("--day and --week exclude each other")}
			}
			period := "day"
			if week {
				period = "week"
			}
			raw, err := c.get(cmd.Context(), "/api/v1/review", url.Values{"period": {period}}, nil)
			if err != nil {
				return &exitError{2, fmt.Errorf("review: %w", err)}
			}
			cmd.OutOrStdout().Write(raw)
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().BoolVar(&day, "day", false, "the daily digest (default)")
	cmd.Flags().BoolVar(&week, "week", false, "the weekly review")
	return cmd
}

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/slo"
)

func newGateCmd() *cobra.Command {
	var (
		c                    clientFlags
		service, environment string
		at                   string
	)
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Ask whether a service may release now (for CI): exit 0 allowed, 1 blocked, 2 error",
		Long: `Ask day2's error budget policy whether SERVICE may release now.

Exit codes: 0 releases are allowed, 1 the policy blocks them (the service is
frozen: an error budget is exhausted or a page alert fires), 2 any error (day2
unreachable, unknown service, bad flags). With $GITHUB_STEP_SUMMARY set, a Markdown
summary is appended there for the GitHub Actions run page.`,
		Example: `  day2 gate --server https://day2.example.com --service invoice-agent --environment prod`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if service == "" {
				return &exitError{2, fmt.Errorf("--service is required")}
			}
			q := url.Values{"service": {service}}
			if environment != "" {
				q.Set("environment", environment)
			}
			if at != "" {
				q.Set("at", at)
			}
			var d slo.GateDecision
			raw, err := c.get(cmd.Context(), "/api/v1/gate", q, &d)
			if err != nil {
				return &exitError{2, fmt.Errorf("gate: %w", err)}
			}
			out := cmd.OutOrStdout()
			if c.output == "json" {
				out.Write(raw)
			} else {
				printGate(out, &d)
			}
			if path := os.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
				if err := appendFile(path, gateMarkdown(&d)); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "day2: could not write the GitHub step summary: %v\n", err)
				}
			}
			if !d.Allowed {
				return &exitError{1, fmt.Errorf("releases of %s are blocked: policy %s", where(&d), d.Policy)}
			}
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", "", "service to gate (required)")
	cmd.Flags().StringVar(&environment, "environment", "", "judge only this environment's telemetry")
	cmd.Flags().StringVar(&at, "at", "", "decide as of this RFC 3339 time")
	return cmd
}

func where(d *slo.GateDecision) string {
	if d.Environment != "" {
		return d.Service + " (" + d.Environment + ")"
	}
	return d.Service
}

func printGate(w io.Writer, d *slo.GateDecision) {
	verdict := "ALLOWED"
	if !d.Allowed {
		verdict = "BLOCKED"
	}
	fmt.Fprintf(w, "%s: releases %s (error budget policy: %s)\n", where(d), verdict, d.Policy)
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "  - %s\n", r)
	}
	printSLOTable(w, d.SLOs)
}

func printSLOTable(w io.Writer, sts []slo.Status) {
	if len(sts) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSLO\tSLI\tOBJECTIVE\tWINDOW\tBUDGET LEFT\tBURN 1h\tALERTS\tSTATUS")
	for _, s := range sts {
		fmt.Fprintf(tw, "%s\t%s\t%.2f%%\t%s\t%s\t%s\t%s\t%s\n", s.Name, pct(s.SLI), 100*s.Objective, s.Window,
			budgetText(&s), rate(s.BurnRates["1h"]), alertText(s.Alerts), s.Status)
	}
	tw.Flush()
}

func pct(p *float64) string {
	if p == nil {
		return "no data"
	}
	return fmt.Sprintf("%.2f%%", 100**p)
}

func rate(p *float64) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *p)
}

func budgetText(s *slo.Status) string {
	if s.NoData {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*s.ErrorBudget.RemainingFraction)
}

func alertText(as []slo.AlertStatus) string {
	var parts []string
	for _, a := range as {
		if a.State != slo.StateInactive {
			parts = append(parts, string(a.Severity)+" "+a.State)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func gateMarkdown(d *slo.GateDecision) string {
	var b bytes.Buffer
	icon := "✅"
	verdict := "allowed"
	if !d.Allowed {
		icon, verdict = "⛔", "blocked"
	}
	fmt.Fprintf(&b, "### %s day2 release gate: %s %s\n\nError budget policy: **%s**\n\n", icon, where(d), verdict, d.Policy)
	for _, r := range d.Reasons {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	if len(d.SLOs) > 0 {
		b.WriteString("\n| SLO | SLI | objective | budget left | status |\n|---|---|---|---|---|\n")
		for _, s := range d.SLOs {
			fmt.Fprintf(&b, "| %s | %s | %.2f%% | %s | %s |\n", s.Name, pct(s.SLI), 100*s.Objective, budgetText(&s), s.Status)
		}
	}
	b.WriteString("\n")
	return b.String()
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func newSLOCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "slo", Short: "SLOs, error budgets and burn rates"}
	var (
		c       clientFlags
		service string
		at      string
	)
	status := &cobra.Command{
		Use:   "status",
		Short: "Print every SLO with its SLI, error budget, burn rates and alerts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			q := url.Values{}
			if service != "" {
				q.Set("service", service)
			}
			if at != "" {
				q.Set("at", at)
			}
			var res struct {
				SLOs []slo.Status `json:"slos"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/slos", q, &res)
			if done, err := c.answer(cmd, "slo status", raw, err); done {
				return err
			}
			if len(res.SLOs) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no SLOs yet: day2 creates four for every service it receives telemetry from")
				return nil
			}
			printSLOTable(cmd.OutOrStdout(), res.SLOs)
			return nil
		},
	}
	c.register(status.Flags())
	status.Flags().StringVar(&service, "service", "", "only this service")
	status.Flags().StringVar(&at, "at", "", "evaluate as of this RFC 3339 time")
	cmd.AddCommand(status)
	return cmd
}

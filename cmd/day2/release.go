package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/release"
)

func newVersionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "version", Short: "Register, list and compare immutable versions of an agent (prompt, model, settings, tools)"}
	cmd.AddCommand(newVersionRegisterCmd(), newVersionListCmd(), newVersionDiffCmd())
	return cmd
}

func newVersionRegisterCmd() *cobra.Command {
	var (
		c                              clientFlags
		service, version, file, reason string
	)
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register a version from a bundle file (YAML or JSON)",
		Long: `Register VERSION of SERVICE with the bundle in FILE: prompt (or prompt_ref), model,
temperature, top_p, policy, tools, params and notes. Versions are immutable:
registering the same content again changes nothing, different content is refused.`,
		Example: `  day2 version register --service invoice-agent --version 2.4.0 --file bundle.yaml --reason "stricter escalation"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if service == "" || version == "" || file == "" {
				return &exitError{2, fmt.Errorf("--service, --version and --file are required")}
			}
			doc, err := readReleaseInput(cmd, file)
			if err != nil {
				return &exitError{2, err}
			}
			var v release.Version
			raw, err := c.send(cmd.Context(), http.MethodPost, "/api/v1/services/"+url.PathEscape(service)+"/versions",
				map[string]any{"version": version, "bundle": string(doc), "reason": reason}, &v)
			if done, err := c.answer(cmd, "version register", raw, err); done {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s registered (%s) by %s at %s\n", v.Service, v.Version, v.Hash, v.CreatedBy, v.CreatedAt.Format(time.RFC3339))
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", "", "service the version belongs to (required)")
	cmd.Flags().StringVar(&version, "version", "", "semantic version, e.g. 2.4.0 (required)")
	cmd.Flags().StringVar(&file, "file", "", "bundle file, YAML or JSON; - reads standard input (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why this version exists (kept in the audit log)")
	return cmd
}

func newVersionListCmd() *cobra.Command {
	var (
		c       clientFlags
		service string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List a service's registered versions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if service == "" {
				return &exitError{2, fmt.Errorf("--service is required")}
			}
			var res struct {
				Versions []release.Version `json:"versions"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/services/"+url.PathEscape(service)+"/versions", nil, &res)
			if done, err := c.answer(cmd, "version list", raw, err); done {
				return err
			}
			if len(res.Versions) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s has no registered versions; register one with day2 version register\n", service)
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tHASH\tMODEL\tTOOLS\tCREATED BY\tCREATED AT\tNOTES")
			for _, v := range res.Versions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", v.Version, relShortHash(v.Hash), relDash(v.Bundle.Model), len(v.Bundle.Tools),
					v.CreatedBy, v.CreatedAt.Format(time.RFC3339), relOneLine(v.Bundle.Notes, 40))
			}
			return tw.Flush()
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", "", "service whose versions to list (required)")
	return cmd
}

func newVersionDiffCmd() *cobra.Command {
	var (
		c       clientFlags
		service string
	)
	cmd := &cobra.Command{
		Use:     "diff FROM TO",
		Short:   "Show what changed between two versions, with a unified diff of the prompt",
		Example: `  day2 version diff --service invoice-agent 2.3.1 2.4.0`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if service == "" {
				return &exitError{2, fmt.Errorf("--service is required")}
			}
			var d release.VersionDiff
			raw, err := c.get(cmd.Context(), "/api/v1/services/"+url.PathEscape(service)+"/versions/"+url.PathEscape(args[1]), url.Values{"diff": {args[0]}}, &d)
			if done, err := c.answer(cmd, "version diff", raw, err); done {
				return err
			}
			printVersionDiff(cmd.OutOrStdout(), &d)
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", "", "service of the versions (required)")
	return cmd
}

func printVersionDiff(w io.Writer, d *release.VersionDiff) {
	fmt.Fprintf(w, "%s %s -> %s\n", d.Service, d.From, d.To)
	if d.Same {
		fmt.Fprintln(w, "  same content")
		return
	}
	for _, c := range d.Changes {
		switch {
		case c.Field == "prompt":
			fmt.Fprintf(w, "  prompt: %s (diff below)\n", c.Change)
		case c.Field == "tools":
			fmt.Fprintf(w, "  tools: %s", c.Change)
			if len(c.Added) > 0 {
				fmt.Fprintf(w, ", added %s", strings.Join(c.Added, ", "))
			}
			if len(c.Removed) > 0 {
				fmt.Fprintf(w, ", removed %s", strings.Join(c.Removed, ", "))
			}
			fmt.Fprintln(w)
		default:
			fmt.Fprintf(w, "  %s: %s -> %s\n", c.Field, relJSON(c.From), relJSON(c.To))
		}
	}
	if d.PromptDiff != "" {
		fmt.Fprintf(w, "\n%s", d.PromptDiff)
	}
}

func newRolloutCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Start, watch and steer rollouts (canary, rings, shadow) judged against the baseline",
	}
	cmd.AddCommand(newRolloutStartCmd(), newRolloutStatusCmd())
	for _, a := range []struct{ action, short string }{
		{release.ActionPause, "Pause a rollout: traffic stays as it is and the judge stops moving it"},
		{release.ActionResume, "Resume a paused rollout at its step's planned weight"},
		{release.ActionPromote, "Promote a rollout: the candidate serves everyone"},
		{release.ActionRollback, "Roll a rollout back: the candidate's weight goes to 0 at once"},
	} {
		cmd.AddCommand(newRolloutActionCmd(a.action, a.short))
	}
	cmd.AddCommand(newRolloutWeightCmd())
	return cmd
}

func newRolloutStartCmd() *cobra.Command {
	var (
		c                                               clientFlags
		file, service, environment, baseline, candidate string
		strategy, steps, stepDuration, interval, reason string
		minSamples                                      int64
		share                                           int
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Start a rollout of a candidate version over the baseline",
		Long: `Start a rollout. A canary sends the candidate the percentages of --steps in turn,
each for at least --step-duration and --min-samples finished tasks; the judge
compares it with the baseline every --interval and rolls back at once when it is
worse. Rings (targeting rules per ring) are given in a --file; flags given beside
--file override its fields.`,
		Example: `  day2 rollout start --service invoice-agent --environment prod --baseline 2.3.1 --candidate 2.4.0 \
    --strategy canary --steps 5,25,50,100 --step-duration 10m --min-samples 200 --interval 1m
  day2 rollout start --file rollout.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var req release.StartRequest
			if file != "" {
				doc, err := readReleaseInput(cmd, file)
				if err != nil {
					return &exitError{2, err}
				}
				if req, err = release.ParseStartRequest(doc); err != nil {
					return &exitError{2, fmt.Errorf("%s: %s", file, day2.ErrorMessage(err))}
				}
			}
			fs := cmd.Flags()
			set := func(name string, dst *string, v string) {
				if fs.Changed(name) || (file == "" && v != "") {
					*dst = v
				}
			}
			set("service", &req.Service, service)
			set("environment", &req.Environment, environment)
			set("baseline", &req.Baseline, baseline)
			set("candidate", &req.Candidate, candidate)
			set("strategy", &req.Strategy.Type, strategy)
			set("reason", &req.Reason, reason)
			if fs.Changed("steps") {
				req.Strategy.Steps = nil
				for s := range strings.SplitSeq(steps, ",") {
					n, err := strconv.Atoi(strings.TrimSpace(s))
					if err != nil {
						return &exitError{2, fmt.Errorf("--steps %q: give candidate percentages separated by commas, e.g. 5,25,50,100", steps)}
					}
					req.Strategy.Steps = append(req.Strategy.Steps, n)
				}
			}
			for _, d := range []struct {
				flag, v string
				dst     *day2.Duration
			}{{"step-duration", stepDuration, &req.Strategy.StepDuration}, {"interval", interval, &req.Judge.Interval}} {
				if fs.Changed(d.flag) {
					if err := d.dst.UnmarshalText([]byte(d.v)); err != nil {
						return &exitError{2, fmt.Errorf("--%s: %s", d.flag, day2.ErrorMessage(err))}
					}
				}
			}
			if fs.Changed("min-samples") {
				req.Strategy.MinSamples = minSamples
			}
			if fs.Changed("share") {
				req.Strategy.Share = share
			}
			if req.Service == "" || req.Baseline == "" || req.Candidate == "" {
				return &exitError{2, fmt.Errorf("--service, --baseline and --candidate are required (or give them in --file)")}
			}
			body, err := json.Marshal(req)
			if err != nil {
				return &exitError{2, err}
			}
			var ro release.Rollout
			raw, err := c.do(cmd.Context(), http.MethodPost, "/api/v1/rollouts", nil, bytes.NewReader(body), &ro)
			if done, err := c.answer(cmd, "rollout start", raw, err); done {
				return err
			}
			printRollout(cmd.OutOrStdout(), &ro)
			return nil
		},
	}
	c.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&file, "file", "", "rollout request as JSON (the body of POST /api/v1/rollouts); - reads standard input")
	f.StringVar(&service, "service", "", "service to roll out")
	f.StringVar(&environment, "environment", "prod", "environment")
	f.StringVar(&baseline, "baseline", "", "version serving now")
	f.StringVar(&candidate, "candidate", "", "version to roll out")
	f.StringVar(&strategy, "strategy", "canary", "canary, rings (needs --file) or shadow")
	f.StringVar(&steps, "steps", "5,25,50,100", "canary: candidate percentages per step")
	f.StringVar(&stepDuration, "step-duration", "10m", "least time per step")
	f.Int64Var(&minSamples, "min-samples", release.DefaultMinSamples, "least finished candidate tasks per step")
	f.StringVar(&interval, "interval", "1m", "how often the judge looks")
	f.IntVar(&share, "share", 0, "shadow: percentage of traffic that also runs the candidate")
	f.StringVar(&reason, "reason", "", "why (kept in the audit log)")
	return cmd
}

func newRolloutStatusCmd() *cobra.Command {
	var (
		c                    clientFlags
		service, environment string
	)
	cmd := &cobra.Command{
		Use:   "status [ID]",
		Short: "Show one rollout in detail, or list rollouts (of --service)",
		Example: `  day2 rollout status ro_k3x...
  day2 rollout status --service invoice-agent`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				var ro release.Rollout
				raw, err := c.get(cmd.Context(), "/api/v1/rollouts/"+url.PathEscape(args[0]), nil, &ro)
				if done, err := c.answer(cmd, "rollout status", raw, err); done {
					return err
				}
				printRollout(out, &ro)
				return nil
			}
			q := url.Values{"limit": {"50"}}
			if service != "" {
				q.Set("service", service)
			}
			if environment != "" {
				q.Set("environment", environment)
			}
			var res struct {
				Rollouts []release.Rollout `json:"rollouts"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/rollouts", q, &res)
			if done, err := c.answer(cmd, "rollout status", raw, err); done {
				return err
			}
			if len(res.Rollouts) == 0 {
				fmt.Fprintln(out, "no rollouts; start one with day2 rollout start")
				return nil
			}
			// The active rollouts in detail, then the list.
			for i := range res.Rollouts {
				if res.Rollouts[i].Active() && service != "" {
					printRollout(out, &res.Rollouts[i])
					fmt.Fprintln(out)
				}
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSERVICE\tENV\tBASELINE\tCANDIDATE\tSTRATEGY\tSTATE\tSTEP\tCANDIDATE %\tLAST VERDICT\tCREATED")
			for _, r := range res.Rollouts {
				last := "-"
				if len(r.Verdicts) > 0 {
					last = r.Verdicts[0].Verdict
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.ID, r.Service, r.Environment, r.Baseline, r.Candidate,
					r.Strategy.Type, r.State, rolloutStepText(&r), r.Weights.Candidate, last, r.CreatedAt.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", "", "only this service's rollouts")
	cmd.Flags().StringVar(&environment, "environment", "", "only this environment's rollouts")
	return cmd
}

func newRolloutActionCmd(action, short string) *cobra.Command {
	var (
		c      clientFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:     action + " ID",
		Short:   short,
		Example: fmt.Sprintf(`  day2 rollout %s ro_k3x... --reason "..."`, action),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return postRolloutAction(cmd, &c, args[0], action, map[string]any{"reason": reason})
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the rollout's history and the audit log)")
	return cmd
}

func newRolloutWeightCmd() *cobra.Command {
	var (
		c      clientFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "weight ID PERCENT",
		Short: "Set a canary's candidate weight now (incident lever): 0 rolls back, 100 promotes, between pauses at that weight",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := strconv.Atoi(args[1])
			if err != nil {
				return &exitError{2, fmt.Errorf("PERCENT %q is not a number from 0 to 100", args[1])}
			}
			return postRolloutAction(cmd, &c, args[0], "weight", map[string]any{"weight": w, "reason": reason})
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the rollout's history and the audit log)")
	return cmd
}

func postRolloutAction(cmd *cobra.Command, c *clientFlags, id, action string, body map[string]any) error {
	if err := c.checkOutput(); err != nil {
		return err
	}
	var ro release.Rollout
	raw, err := c.send(cmd.Context(), http.MethodPost, "/api/v1/rollouts/"+url.PathEscape(id)+"/"+action, body, &ro)
	if done, err := c.answer(cmd, "rollout "+action, raw, err); done {
		return err
	}
	printRollout(cmd.OutOrStdout(), &ro)
	return nil
}

func printRollout(w io.Writer, r *release.Rollout) {
	fmt.Fprintf(w, "rollout %s: %s in %s, %s -> %s (%s)\n", r.ID, r.Service, r.Environment, r.Baseline, r.Candidate, r.Strategy.Type)
	fmt.Fprintf(w, "  state %s, %s, weights baseline %d%% candidate %d%%\n", r.State, rolloutStepText(r), r.Weights.Baseline, r.Weights.Candidate)
	if r.Strategy.Type == release.StrategyShadow {
		fmt.Fprintf(w, "  shadow share %d%% (promotes only by hand)\n", r.Strategy.Share)
	}
	fmt.Fprintf(w, "  started by %s at %s", r.CreatedBy, r.CreatedAt.Format(time.RFC3339))
	if r.StartReason != "" {
		fmt.Fprintf(w, ": %s", r.StartReason)
	}
	fmt.Fprintln(w)
	if r.Active() {
		fmt.Fprintf(w, "  step started %s, needs %s and %d candidate tasks; judge every %s", r.StepStartedAt.Format(time.RFC3339),
			r.Strategy.StepDuration, r.Strategy.MinSamples, r.Judge.Interval)
		if !r.NextLookAt.IsZero() {
			fmt.Fprintf(w, ", next look %s", r.NextLookAt.Format(time.RFC3339))
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "  ended %s: %s\n", r.EndedAt.Format(time.RFC3339), relDash(r.Reason))
	}
	if len(r.Verdicts) > 0 {
		v := r.Verdicts[0]
		fmt.Fprintf(w, "\nlatest verdict: %s (score %.0f) at %s, step %d look %d, %d baseline and %d candidate tasks\n",
			v.Verdict, v.Score, v.At.Format(time.RFC3339), v.Step+1, v.Look, v.BaselineTasks, v.CandidateTasks)
		if len(v.Metrics) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  METRIC\tVERDICT\tBASELINE\tCANDIDATE\tTEST\tP-VALUE\tREASON")
			for _, m := range v.Metrics {
				fmt.Fprintf(tw, "  %s\t%s\t%.4g\t%.4g\t%s\t%.3g\t%s\n", m.Metric, m.Verdict, m.Baseline, m.Candidate, relDash(m.Test), m.PValue, m.Reason)
			}
			tw.Flush()
		}
	}
	if len(r.History) > 0 {
		fmt.Fprintln(w, "\nhistory:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, h := range r.History {
			fmt.Fprintf(tw, "  %s\t%s\t%s\tcandidate %d%%\t%s\n", h.At.Format(time.RFC3339), h.Type, h.Actor, h.Weights.Candidate, h.Reason)
		}
		tw.Flush()
	}
}

// rolloutStepText describes a rollout's step, e.g. "step 2/4 (25%)" or "ring pilot (2/3)".
func rolloutStepText(r *release.Rollout) string {
	n := r.Steps()
	switch r.Strategy.Type {
	case release.StrategyCanary:
		if r.Step < len(r.Strategy.Steps) {
			return fmt.Sprintf("step %d/%d (%d%%)", r.Step+1, n, r.Strategy.Steps[r.Step])
		}
	case release.StrategyRings:
		return fmt.Sprintf("ring %s (%d/%d)", r.Ring, r.Step+1, n)
	case release.StrategyShadow:
		return "shadow"
	}
	return fmt.Sprintf("step %d/%d", r.Step+1, n)
}

// readReleaseInput reads a file, or standard input for "-".
func readReleaseInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(io.LimitReader(cmd.InOrStdin(), 4<<20))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

func relShortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func relDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func relOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return relDash(s)
}

func relJSON(v any) string {
	if v == nil {
		return "(none)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/flags"
)

func newFlagsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flags",
		Short: "List, change and evaluate feature flags (served to agents over OFREP)",
		Long: `Feature flags in flagd's format, served to OpenFeature SDKs over OFREP at
/ofrep/v1/evaluate/flags. Flags come from the configuration; changes made here
override them until reset, and every change is audited with a reason.`,
	}
	cmd.AddCommand(newFlagsListCmd(), newFlagsGetCmd(), newFlagsSetCmd(), newFlagsPutCmd(), newFlagsResetCmd(), newFlagsEvalCmd())
	return cmd
}

func newFlagsListCmd() *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every flag with its state, default variant and last change",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var res struct {
				Flags []flags.FlagView `json:"flags"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/flags", nil, &res)
			if done, err := c.answer(cmd, "flags list", raw, err); done {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Flags) == 0 {
				fmt.Fprintln(out, "no flags yet: define them in the configuration or create one with day2 flags put")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tSTATE\tDEFAULT\tVARIANTS\tTARGETING\tSOURCE\tCHANGED BY\tCHANGED AT\tREASON")
			for _, v := range res.Flags {
				f := v.Flag
				if v.Source == flags.SourceComputed {
					fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t%s\t-\t-\t-\n", f.Key, v.Source)
					continue
				}
				targeting := "no"
				if len(f.Targeting) > 0 {
					targeting = "yes"
				}
				changedAt := "-"
				if !v.ChangedAt.IsZero() {
					changedAt = v.ChangedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Key, f.State, f.DefaultVariant, flagVariantNames(f.Variants),
					targeting, flagSource(v), flagDash(v.ChangedBy), changedAt, flagOneLine(v.Reason, 40))
			}
			return tw.Flush()
		},
	}
	c.register(cmd.Flags())
	return cmd
}

func newFlagsGetCmd() *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:   "get KEY",
		Short: "Show one flag's definition and where it comes from",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var v flags.FlagView
			raw, err := c.get(cmd.Context(), "/api/v1/flags/"+url.PathEscape(args[0]), nil, &v)
			if done, err := c.answer(cmd, "flags get", raw, err); done {
				return err
			}
			out := cmd.OutOrStdout()
			printFlagView(out, v)
			return nil
		},
	}
	c.register(cmd.Flags())
	return cmd
}

func printFlagView(out io.Writer, v flags.FlagView) {
	fmt.Fprintf(out, "%s: %s\n", v.Flag.Key, flagSource(v))
	if v.ChangedBy != "" {
		fmt.Fprintf(out, "last changed by %s at %s: %s\n", v.ChangedBy, v.ChangedAt.Format(time.RFC3339), v.Reason)
	}
	if v.Source == flags.SourceComputed {
		return
	}
	def, _ := json.MarshalIndent(v.Flag, "", "  ")
	fmt.Fprintf(out, "%s\n", def)
}

// flagStates maps what --state accepts to the flag states.
var flagStates = map[string]string{
	"on": flags.StateEnabled, "enabled": flags.StateEnabled,
	"off": flags.StateDisabled, "disabled": flags.StateDisabled,
}

func newFlagsSetCmd() *cobra.Command {
	var (
		c                             clientFlags
		state, defaultVariant, reason string
	)
	cmd := &cobra.Command{
		Use:   "set KEY",
		Short: "Switch a flag on or off, or change its default variant (a kill switch)",
		Long: `Change a flag at run time: --state off disables it (every SDK then uses its code
default), --default-variant picks the variant served without targeting. The change
overrides the configuration until day2 flags reset, and is audited with --reason.`,
		Example: `  day2 flags set new-planner --state off --reason "incident 42: planner loops"
  day2 flags set model --default-variant large --reason "large model for the pilot"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			p := map[string]any{"reason": reason}
			if state != "" {
				s, ok := flagStates[strings.ToLower(state)]
				if !ok {
					return &exitError{2, fmt.Errorf("--state %q: use on, off, ENABLED or DISABLED", state)}
				}
				p["state"] = s
			}
			if defaultVariant != "" {
				p["defaultVariant"] = defaultVariant
			}
			if len(p) == 1 {
				return &exitError{2, fmt.Errorf("nothing to change: give --state and/or --default-variant")}
			}
			if strings.TrimSpace(reason) == "" {
				return &exitError{2, fmt.Errorf("--reason is required: every flag change is audited")}
			}
			body, _ := json.Marshal(p)
			return flagChange(cmd, &c, http.MethodPatch, args[0], body, "flags set")
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&state, "state", "", "on, off, ENABLED or DISABLED")
	cmd.Flags().StringVar(&defaultVariant, "default-variant", "", "the variant served when no targeting rule matches")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log; required)")
	return cmd
}

func newFlagsPutCmd() *cobra.Command {
	var (
		c            clientFlags
		file, reason string
	)
	cmd := &cobra.Command{
		Use:   "put KEY",
		Short: "Create or replace a flag from a file in flagd's flag format (YAML or JSON)",
		Example: `  day2 flags put max-tool-calls --file max-tool-calls.yaml --reason "cap tool loops"
  # max-tool-calls.yaml:
  #   state: ENABLED
  #   variants: {low: 5, high: 50}
  #   defaultVariant: low
  #   targeting: {if: [{sem_ver: [{var: agentVersion}, ">=", "2.0.0"]}, high, null]}`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if file == "" || strings.TrimSpace(reason) == "" {
				return &exitError{2, fmt.Errorf("--file and --reason are required")}
			}
			var data []byte
			var err error
			if file == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return &exitError{2, fmt.Errorf("read %s: %w", file, err)}
			}
			f, err := flags.ParseFlag(data)
			if err != nil {
				return &exitError{2, fmt.Errorf("%s: %w", file, err)}
			}
			if f.Key == "" {
				f.Key = args[0]
			}
			if err := f.Validate(); err != nil {
				return &exitError{2, fmt.Errorf("%s: %w", file, err)}
			}
			fields := map[string]any{"state": f.State, "variants": f.Variants, "defaultVariant": f.DefaultVariant, "reason": reason}
			if f.Key != args[0] {
				return &exitError{2, fmt.Errorf("%s defines flag %q, not %q", file, f.Key, args[0])}
			}
			if len(f.Targeting) > 0 {
				fields["targeting"] = f.Targeting
			}
			if len(f.Metadata) > 0 {
				fields["metadata"] = f.Metadata
			}
			body, _ := json.Marshal(fields)
			return flagChange(cmd, &c, http.MethodPut, args[0], body, "flags put")
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&file, "file", "", "flag definition, YAML or JSON; - reads standard input (required)")
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log; required)")
	return cmd
}

func newFlagsResetCmd() *cobra.Command {
	var (
		c      clientFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "reset KEY",
		Short: "Remove a flag's run-time change: the configuration's definition applies again",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return &exitError{2, fmt.Errorf("--reason is required: every flag change is audited")}
			}
			var v flags.FlagView
			raw, err := c.do(cmd.Context(), http.MethodDelete, "/api/v1/flags/"+url.PathEscape(args[0]), url.Values{"reason": {reason}}, nil, nil)
			if err != nil {
				return &exitError{2, fmt.Errorf("flags reset: %w", err)}
			}
			out := cmd.OutOrStdout()
			if len(bytes.TrimSpace(raw)) == 0 {
				fmt.Fprintf(out, "%s removed: it was defined only at run time\n", args[0])
				return nil
			}
			if c.output == "json" {
				out.Write(raw)
				return nil
			}
			if err := json.Unmarshal(raw, &v); err != nil {
				return &exitError{2, fmt.Errorf("flags reset: unexpected answer: %w", err)}
			}
			fmt.Fprintf(out, "run-time change removed; now in force:\n")
			printFlagView(out, v)
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log; required)")
	return cmd
}

// flagChange sends a PUT or PATCH of a flag and prints the result.
func flagChange(cmd *cobra.Command, c *clientFlags, method, key string, body []byte, what string) error {
	var v flags.FlagView
	raw, err := c.do(cmd.Context(), method, "/api/v1/flags/"+url.PathEscape(key), nil, bytes.NewReader(body), &v)
	if done, err := c.answer(cmd, what, raw, err); done {
		return err
	}
	out := cmd.OutOrStdout()
	printFlagView(out, v)
	return nil
}

func newFlagsEvalCmd() *cobra.Command {
	var (
		c            clientFlags
		targetingKey string
		attrs        []string
	)
	cmd := &cobra.Command{
		Use:   "eval KEY",
		Short: "Evaluate a flag for a context over OFREP, as an agent's SDK would",
		Long: `Evaluate flag KEY for the evaluation context given by --key (the targeting key)
and --attr NAME=VALUE (repeatable). VALUE is read as JSON when it is a number,
true, false, null, an array or an object, and as a string otherwise; quote it
to force a string: --attr 'zip="01234"'.`,
		Example: `  day2 flags eval new-planner --key user-42 --attr email=ana@example.com --attr agentVersion=2.1.0`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			ec := map[string]any{}
			for _, a := range attrs {
				name, value, ok := strings.Cut(a, "=")
				if !ok || name == "" {
					return &exitError{2, fmt.Errorf("--attr %q: write NAME=VALUE", a)}
				}
				ec[name] = flagAttrValue(value)
			}
			if targetingKey != "" {
				ec[flags.TargetingKey] = targetingKey
			}
			raw, err := c.send(cmd.Context(), http.MethodPost, "/ofrep/v1/evaluate/flags/"+url.PathEscape(args[0]), map[string]any{"context": ec}, nil)
			var res flags.Result
			if jerr := json.Unmarshal(raw, &res); len(raw) > 0 && jerr == nil && res.ErrorCode != "" {
				if c.output == "json" {
					cmd.OutOrStdout().Write(raw)
				}
				return &exitError{2, fmt.Errorf("flags eval: %s: %s", res.ErrorCode, res.ErrorDetails)}
			}
			if err != nil {
				var ae *apiError
				if errors.As(err, &ae) && (ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden) && ae.Message == "" {
					err = fmt.Errorf("HTTP %d: the token needs the read or ingest scope; pass --token or set $DAY2_TOKEN", ae.Status)
				}
				return &exitError{2, fmt.Errorf("flags eval: %w", err)}
			}
			out := cmd.OutOrStdout()
			if c.output == "json" {
				out.Write(raw)
				return nil
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return &exitError{2, fmt.Errorf("flags eval: unexpected answer: %w", err)}
			}
			if res.Reason == flags.ReasonDisabled {
				fmt.Fprintf(out, "%s is disabled: SDKs use their code default (reason DISABLED)\n", res.Key)
				return nil
			}
			value, _ := json.Marshal(res.Value)
			fmt.Fprintf(out, "%s = %s (variant %s, reason %s)\n", res.Key, value, res.Variant, res.Reason)
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&targetingKey, "key", "", "targeting key: the user, session or agent run the evaluation is for")
	cmd.Flags().StringArrayVar(&attrs, "attr", nil, "context attribute NAME=VALUE (repeatable)")
	return cmd
}

// flagAttrValue reads an --attr value: JSON literals as such, anything else as
// a string.
func flagAttrValue(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}

func flagVariantNames(vs map[string]any) string {
	names := make([]string, 0, len(vs))
	for k := range vs {
		names = append(names, k)
	}
	sort.Strings(names)
	return flagOneLine(strings.Join(names, ","), 30)
}

func flagSource(v flags.FlagView) string {
	switch {
	case v.Source == flags.SourceRuntime && v.InConfig:
		return "runtime (overrides config)"
	case v.Source == flags.SourceRuntime:
		return "runtime"
	}
	return v.Source
}

func flagDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func flagOneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return flagDash(s)
}

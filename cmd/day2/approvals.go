package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/approval"
)

// approvalPollChunk is the wait of one long poll of `approvals request --wait`:
// under the 30 s timeout of the CLI's HTTP client (the server allows up to 55 s).
const approvalPollChunk = 25 * time.Second

func newApprovalsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "Ask for, list and decide risk-tiered human approvals",
		Long: `Agents ask day2 before they act; the service's ApprovalPolicy gives each request a
risk tier: Tier 0 is approved at once (audit only), Tier 1 when in policy and
confident enough, otherwise it waits for an approver, and Tier 2 always waits for a
manager. Pending requests expire (denied) after the policy's timeout.`,
	}
	cmd.AddCommand(newApprovalsListCmd(), newApprovalsShowCmd(), newApprovalsDecideCmd(approval.DecisionApprove),
		newApprovalsDecideCmd(approval.DecisionReject), newApprovalsRequestCmd())
	return cmd
}

func newApprovalsListCmd() *cobra.Command {
	var (
		c              clientFlags
		service, state string
		limit          int
	)
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List approval requests: pending ones soonest to expire first, others newest first",
		Example: "  day2 approvals list --state pending\n  day2 approvals list --service invoice-agent --state expired",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			q := url.Values{}
			if service != "" {
				q.Set("service", service)
			}
			if state != "" {
				q.Set("state", state)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var res struct {
				Approvals []approval.Request `json:"approvals"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/approvals", q, &res)
			if done, err := c.answer(cmd, "approvals list", raw, err); done {
				return err
			}
			out := cmd.OutOrStdout()
			if len(res.Approvals) == 0 {
				fmt.Fprintln(out, "no approval requests match")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tTIER\tSERVICE\tACTION\tAMOUNT\tREQUESTER\tWHEN")
			for _, r := range res.Approvals {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, stateText(&r), r.Tier, r.Service, r.Action,
					amountText(r.Amount), r.Requester, whenText(&r, time.Now()))
			}
			tw.Flush()
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&service, "service", "", "only this service")
	cmd.Flags().StringVar(&state, "state", "", "only this state: pending, approved, rejected or expired")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many (1 to 1000; default 100)")
	return cmd
}

func newApprovalsShowCmd() *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one approval request with its context and history",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var r approval.Request
			raw, err := c.get(cmd.Context(), "/api/v1/approvals/"+url.PathEscape(args[0]), nil, &r)
			if done, err := c.answer(cmd, "approvals show", raw, err); done {
				return err
			}
			printApproval(cmd.OutOrStdout(), &r, true)
			return nil
		},
	}
	c.register(cmd.Flags())
	return cmd
}

func newApprovalsDecideCmd(decision string) *cobra.Command {
	var (
		c       clientFlags
		comment string
	)
	verb := map[string]string{approval.DecisionApprove: "Approve", approval.DecisionReject: "Reject"}[decision]
	cmd := &cobra.Command{
		Use:     decision + " ID",
		Short:   verb + " a pending approval request (needs the approve scope and to be one of its approvers)",
		Example: fmt.Sprintf("  day2 approvals %s ap_k3j2... --comment \"checked the invoice against the PO\"", decision),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var r approval.Request
			raw, err := c.send(cmd.Context(), http.MethodPost, "/api/v1/approvals/"+url.PathEscape(args[0])+"/decision",
				map[string]string{"decision": decision, "comment": comment}, &r)
			if done, err := c.answer(cmd, "approvals "+decision, raw, err); done {
				return err
			}
			printApproval(cmd.OutOrStdout(), &r, false)
			return nil
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&comment, "comment", "", "why (kept with the decision and in the audit log)")
	return cmd
}

func newApprovalsRequestCmd() *cobra.Command {
	var (
		c                     clientFlags
		in                    approval.CreateInput
		tier                  int
		amount                float64
		contextFile, waitText string
		contextKV             []string
	)
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Ask for an approval (as an agent or a script would) and optionally wait for the decision",
		Long: `Ask for an approval of ACTION by SERVICE. The service's ApprovalPolicy decides
the tier; --tier can raise it, never lower it. The context (prompt, facts,
tool_plan, side_effects, confidence, in_policy, ...) is what the approver sees and
what the policy's conditions read: give it as a JSON or YAML file, or as key=value
pairs (values are read as JSON when they parse, e.g. confidence=0.8 or
in_policy=true, else as text).

With --wait the command polls until the request is decided or the wait is over.
Exit codes: 0 approved, 1 rejected, expired or still pending (without --wait,
or after it), 2 usage or other errors. Only 0 means "go ahead".`,
		Example: `  day2 approvals request --service invoice-agent --action pay_invoice --amount 900 \
      --context prompt="pay invoice 42" --context confidence=0.8 --context in_policy=true \
      --idempotency-key invoice-42 --wait 30m && ./pay-invoice 42`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			if in.Service == "" || in.Action == "" {
				return &exitError{2, errors.New("--service and --action are required")}
			}
			if cmd.Flags().Changed("tier") {
				in.RiskTier = &tier
			}
			if cmd.Flags().Changed("amount") {
				in.Amount = &amount
			}
			var wait time.Duration
			if waitText != "" {
				d, err := day2.ParseDuration(waitText)
				if err != nil || d < 0 {
					return &exitError{2, fmt.Errorf("--wait %q: write a duration such as 10m or 1h", waitText)}
				}
				wait = d
			}
			ctxMap, err := approvalContext(cmd.InOrStdin(), contextFile, contextKV)
			if err != nil {
				return &exitError{2, err}
			}
			in.Context = ctxMap
			var r approval.Request
			raw, err := c.send(cmd.Context(), http.MethodPost, "/api/v1/approvals", in, &r)
			if err != nil {
				return &exitError{2, fmt.Errorf("approvals request: %w", err)}
			}
			deadline := time.Now().Add(wait)
			errOut := cmd.ErrOrStderr()
			if !r.Final() && wait > 0 {
				fmt.Fprintf(errOut, "%s is pending (Tier %d, approvers: %s); waiting up to %s\n", r.ID, r.Tier, r.Approvers, waitText)
			}
			for !r.Final() {
				left := time.Until(deadline)
				if left <= 0 {
					break
				}
				q := url.Values{"wait": {min(left, approvalPollChunk).Round(time.Millisecond).String()}}
				raw, err = c.get(cmd.Context(), "/api/v1/approvals/"+url.PathEscape(r.ID), q, &r)
				if err != nil {
					if cmd.Context().Err() != nil {
						return &exitError{2, fmt.Errorf("approvals request: interrupted while %s is pending", r.ID)}
					}
					var ae *apiError
					if errors.As(err, &ae) && ae.Status < 500 {
						return &exitError{2, fmt.Errorf("approvals request: %w", err)}
					}
					// A timeout, a restart, a proxy hiccup: the request lives on; poll again.
					fmt.Fprintf(errOut, "day2: polling %s failed (%v); retrying\n", r.ID, err)
					select {
					case <-time.After(time.Second):
					case <-cmd.Context().Done():
					}
					continue
				}
			}
			if c.output == "json" {
				cmd.OutOrStdout().Write(raw)
			} else {
				printApproval(cmd.OutOrStdout(), &r, false)
			}
			switch r.State {
			case approval.StateApproved:
				return nil
			case approval.StatePending:
				if wait > 0 {
					return &exitError{1, fmt.Errorf("%s is still pending after --wait %s; it expires at %s. Wait again with: day2 approvals show %s",
						r.ID, waitText, r.ExpiresAt.Local().Format(time.RFC3339), r.ID)}
				}
				return &exitError{1, fmt.Errorf("%s is pending until an approver decides (expires %s); use --wait to wait for the decision", r.ID,
					r.ExpiresAt.Local().Format(time.RFC3339))}
			default:
				return &exitError{1, fmt.Errorf("%s was %s", r.ID, stateText(&r))}
			}
		},
	}
	c.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&in.Service, "service", "", "the service (agent) asking (required)")
	f.StringVar(&in.Action, "action", "", "what it wants to do, e.g. pay_invoice (required)")
	f.StringVar(&in.Environment, "environment", "", "the environment, e.g. prod")
	f.IntVar(&tier, "tier", 0, "risk tier 0, 1 or 2 (raises the policy's tier, never lowers it)")
	f.Float64Var(&amount, "amount", 0, "the amount at stake (policies' conditions read it)")
	f.StringVar(&in.EntityType, "entity-type", "", "the kind of entity acted on, e.g. vendor")
	f.StringVar(&in.TaskID, "task-id", "", "the task (trace id) asking")
	f.StringVar(&in.Requester, "requester", "", "who asks (default: the token's name)")
	f.StringVar(&contextFile, "context-file", "", "context as a JSON or YAML object; - reads standard input")
	f.StringArrayVar(&contextKV, "context", nil, "a context field as key=value (repeatable)")
	f.StringVar(&in.IdempotencyKey, "idempotency-key", "", "asking again with the same key returns the same request")
	f.StringVar(&in.CallbackURL, "callback-url", "", "URL day2 posts the request to (signed) when it is decided")
	f.StringVar(&waitText, "wait", "", "wait this long for a decision, e.g. 10m (polls, 25 s per call)")
	return cmd
}

// approvalContext reads the context of `approvals request`: the file (JSON or
// YAML; "-" is stdin), then the key=value pairs on top.
func approvalContext(stdin io.Reader, file string, kvs []string) (map[string]any, error) {
	m := map[string]any{}
	if file != "" {
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, fmt.Errorf("--context-file: %w", err)
		}
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("--context-file %s is not a JSON or YAML object: %v", file, err)
		}
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--context %q: write key=value, e.g. --context confidence=0.8", kv)
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			val = v
		}
		m[k] = val
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func stateText(r *approval.Request) string {
	if r.AutoApproved {
		return "auto-approved"
	}
	return r.State
}

func amountText(a *float64) string {
	if a == nil {
		return "-"
	}
	return strconv.FormatFloat(*a, 'f', -1, 64)
}

// whenText is the time that matters for r: when a pending request expires, or
// when a final one was decided.
func whenText(r *approval.Request, now time.Time) string {
	if r.State == approval.StatePending {
		return "expires in " + r.ExpiresAt.Sub(now).Round(time.Second).String()
	}
	if r.DecidedBy != "" {
		return r.DecidedAt.Local().Format("2006-01-02 15:04") + " by " + r.DecidedBy
	}
	return r.DecidedAt.Local().Format("2006-01-02 15:04")
}

func printApproval(w io.Writer, r *approval.Request, full bool) {
	fmt.Fprintf(w, "%s  %s  Tier %d  %s %s", r.ID, strings.ToUpper(stateText(r)), r.Tier, r.Service, r.Action)
	if r.Environment != "" {
		fmt.Fprintf(w, " (%s)", r.Environment)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  requester: %s", r.Requester)
	if r.Amount != nil {
		fmt.Fprintf(w, "   amount: %s", amountText(r.Amount))
	}
	if r.TaskID != "" {
		fmt.Fprintf(w, "   task: %s", r.TaskID)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  why: %s\n", r.Reason)
	if r.State == approval.StatePending {
		fmt.Fprintf(w, "  approvers: %s", r.Approvers)
		if len(r.EscalationGroups) > 0 {
			fmt.Fprintf(w, " (escalates to %s at %s)", strings.Join(r.EscalationGroups, ", "), r.EscalatesAt.Local().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "\n  expires: %s (%s)\n", r.ExpiresAt.Local().Format(time.RFC3339), whenText(r, time.Now()))
	} else {
		fmt.Fprintf(w, "  decided: %s", whenText(r, time.Now()))
		if r.Comment != "" {
			fmt.Fprintf(w, ": %s", r.Comment)
		}
		fmt.Fprintln(w)
	}
	if !full {
		return
	}
	if len(r.Context) > 0 {
		fmt.Fprintln(w, "  context:")
		keys := make([]string, 0, len(r.Context))
		for k := range r.Context {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, _ := json.Marshal(r.Context[k])
			fmt.Fprintf(w, "    %s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w, "  history:")
	for _, s := range r.History {
		fmt.Fprintf(w, "    %s  %-13s %s", s.At.Local().Format("2006-01-02 15:04:05"), s.Action, s.Actor)
		if s.Note != "" {
			fmt.Fprintf(w, ": %s", s.Note)
		}
		fmt.Fprintln(w)
	}
}

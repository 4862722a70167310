package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2"
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read and verify day2's hash-chained audit log",
		Long: `Every flag change, weight change, promotion, rollback, override, approval
decision and incident action is appended to day2's audit log with who did it,
when, why, and the state before and after. Each entry's hash covers the one
before it, so editing or deleting any entry breaks every hash after it.`,
	}
	cmd.AddCommand(newAuditListCmd(), newAuditVerifyCmd())
	return cmd
}

func newAuditListCmd() *cobra.Command {
	var c clientFlags
	var action, target string
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			q := url.Values{}
			q.Set("after_id", strconv.FormatInt(after, 10))
			q.Set("limit", strconv.Itoa(limit))
			if action != "" {
				q.Set("action", action)
			}
			if target != "" {
				q.Set("target", target)
			}
			var page struct {
				Entries []day2.AuditEntry `json:"entries"`
			}
			raw, err := c.get(cmd.Context(), "/api/v1/audit", q, &page)
			if done, err := c.answer(cmd, "audit list", raw, err); done {
				return err
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tTARGET\tREASON")
			for _, e := range page.Entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Reason)
			}
			return tw.Flush()
		},
	}
	c.register(cmd.Flags())
	cmd.Flags().StringVar(&action, "action", "", "only entries of this action, e.g. rollout.rollback")
	cmd.Flags().StringVar(&target, "target", "", "only entries of this target, e.g. rollout/ro_abc")
	cmd.Flags().Int64Var(&after, "after", 0, "only entries after this id")
	cmd.Flags().IntVar(&limit, "limit", 100, "most entries to list (1-1000)")
	return cmd
}

func newAuditVerifyCmd() *cobra.Command {
	var c clientFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole audit log's hash chain",
		Long: `Read the whole audit log from day2 and recompute every entry's hash from its
content and the previous entry's hash. Exit 0 when the chain is intact, 1 when an
entry was edited, removed or inserted (the first broken entry is named), 2 when
the log cannot be read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.checkOutput(); err != nil {
				return err
			}
			var after int64
			prev := ""
			total := 0
			for {
				q := url.Values{}
				q.Set("after_id", strconv.FormatInt(after, 10))
				q.Set("limit", "1000")
				var page struct {
					Entries []day2.AuditEntry `json:"entries"`
				}
				if _, err := c.get(cmd.Context(), "/api/v1/audit", q, &page); err != nil {
					return &exitError{2, err}
				}
				if len(page.Entries) == 0 {
					break
				}
				if first := page.Entries[0]; first.ID != after+1 {
					return c.verifyFailed(cmd, total, first.ID, fmt.Errorf("entry %d follows entry %d; the entries between them are missing", first.ID, after))
				}
				if bad, err := day2.VerifyAudit(page.Entries, prev); err != nil {
					return c.verifyFailed(cmd, total, bad, err)
				}
				total += len(page.Entries)
				last := page.Entries[len(page.Entries)-1]
				after, prev = last.ID, last.Hash
			}
			if c.output == "json" {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"ok": true, "entries": total, "last_hash": prev})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "audit log intact: %d entries, last hash %s\n", total, prev)
			return nil
		},
	}
	c.register(cmd.Flags())
	return cmd
}

func (c *clientFlags) verifyFailed(cmd *cobra.Command, checked int, bad int64, err error) error {
	if c.output == "json" {
		_ = json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"ok": false, "entries_checked": checked, "bad_id": bad, "error": err.Error()})
	}
	return &exitError{1, fmt.Errorf("audit log TAMPERED at entry %d: %w", bad, err)}
}

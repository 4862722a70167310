// Command day2 is the AgentOps control plane: `day2 serve` runs it, `day2 demo`
// runs it with a simulated fleet of agents, and the other subcommands are its CLI.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// exitError carries a process exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "day2:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		os.Exit(ee.code)
	}
	os.Exit(2)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "day2",
		Short: "day2 keeps AI agents in production reliable with SRE practice",
		Long: `day2 is an AgentOps control plane. Agents send OpenTelemetry traces and logs;
day2 assembles them into tasks (one run of an agent's business process) with their
LLM calls, tool calls and outcome, and serves them through an API and a dashboard:
SLOs and error budgets, canary and ring rollouts judged against the baseline,
feature flags over OFREP, risk-tiered approvals, and incidents with runbooks,
levers, notifications and postmortems.

Start with:  day2 demo        (a simulated fleet of agents, then open the printed URL)
Run it:      day2 serve       (see day2 serve --help)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newDemoCmd(), newBenchCmd(), newAuthCmd(), newValidateCmd(), newGateCmd(), newSLOCmd(), newAdminCmd(),
		newVersionCmd(), newRolloutCmd(), newFlagsCmd(), newApprovalsCmd(), newIncidentCmd(), newReviewCmd(), newAuditCmd())
	return root
}

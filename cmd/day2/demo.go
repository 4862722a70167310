package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/demo"
)

func newDemoCmd() *cobra.Command {
	var (
		f                        serveFlags
		backfill, duration, keep string
		rate                     float64
		seed                     int64
		noOps                    bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run day2 with a simulated fleet of AI agents sending real OTLP",
		Long: `Run day2 in-process on the embedded store and a simulated fleet of agents
(a support-triage bot and an invoice-approval agent, two versions each) that send
real OTLP traces and logs through the OpenTelemetry Go SDK: LLM calls with tokens,
tool calls with failures and retries, escalations, safety blocks, and outcomes as
span events and as log records.

--backfill first sends that much history with past timestamps (e.g. 28d), then the
fleet keeps running live until Ctrl-C (or --duration). Data goes to a temporary
directory removed at exit unless --data is given.

Beside the fleet, the live phase tells the operations story in about five
minutes, through day2's API as agents and on-call people would (--no-ops leaves
it out):
  releases   a canary of kb-answer-agent 2.4.0, whose new CRM client gives up on
             HTTP 429, is rolled back by the judge; 2.4.1 passes and is promoted
  approvals  invoice-agent asks for approvals at every risk tier; a simulated
             approver decides some, the others expire
  incidents  account-agent's CRM goes down; an alert rule opens an incident,
             day2 notifies a local webhook (printed here, signature checked),
             a kill switch mitigates it, and it is resolved with a postmortem
The story needs the demo's own configuration, so it is left out with --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			out := cmd.OutOrStdout()
			bf, err := parseDurationFlag("backfill", backfill)
			if err != nil {
				return err
			}
			live, err := parseDurationFlag("duration", duration)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("data") {
				dir, err := os.MkdirTemp("", "day2-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				f.data = dir
			}
			var ops *demo.Ops
			if f.configDir == "" {
				// The demo's own config: the four default SLOs, one custom OpenSLO
				// SLO, the budget policy, and what the operations story needs. Its
				// webhook sink must listen before the config names it.
				var cfgOpts demo.ConfigOptions
				if !noOps {
					if ops, err = demo.NewOps(demo.OpsOptions{Out: out, Seed: seed}); err != nil {
						return err
					}
					defer ops.Close()
					cfgOpts = ops.ConfigOptions()
				}
				dir, err := os.MkdirTemp("", "day2-demo-config-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				if err := demo.WriteConfig(dir, cfgOpts); err != nil {
					return err
				}
				f.configDir = dir
			} else if !noOps {
				fmt.Fprintln(out, "the operations story needs the demo's own configuration: it is left out with --config")
			}
			opts, err := f.options()
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("log-level") {
				opts.Logger, _ = newLogger("warn", f.logFormat)
			}
			a, err := app.New(ctx, opts)
			if err != nil && !cmd.Flags().Changed("http") && strings.Contains(err.Error(), "address already in use") {
				fmt.Fprintf(out, "%s is taken; using a free port instead (pick one with --http)\n", opts.HTTPAddr)
				opts.HTTPAddr = "127.0.0.1:0"
				a, err = app.New(ctx, opts)
			}
			if err != nil {
				return err
			}
			runCtx, stop := context.WithCancel(context.Background())
			defer stop()
			served := make(chan error, 1)
			go func() { served <- a.Run(runCtx) }()

			fmt.Fprintf(out, "day2 is running: open %s\n", a.HTTPURL())
			fmt.Fprintf(out, "  store: %s   OTLP/HTTP: %s/v1/traces   (Ctrl-C to stop)\n", f.data, a.OTLPHTTPURL())
			fmt.Fprintf(out, "  config: %s   (day2 slo status --server %s)\n", f.configDir, a.HTTPURL())
			if ops != nil {
				fmt.Fprintf(out, "  after the backfill, the operations story (about 5 minutes):\n")
				fmt.Fprintf(out, "    releases   %s/releases    canaries of kb-answer-agent: one rolled back, one promoted\n", a.HTTPURL())
				fmt.Fprintf(out, "    approvals  %s/approvals   invoice-agent's requests at every risk tier\n", a.HTTPURL())
				fmt.Fprintf(out, "    incidents  %s/incidents   account-agent's CRM outage, from alert to postmortem\n", a.HTTPURL())
				fmt.Fprintf(out, "    webhook    %s receives day2's notifications; they are printed here\n", ops.WebhookURL())
			}
			stats, err := demo.Run(ctx, demo.Config{
				Endpoint: a.OTLPHTTPURL(),
				Backfill: bf,
				Live:     live,
				Rate:     rate,
				Seed:     seed,
				Out:      out,
				Ops:      ops,
				API:      a.HTTPURL(),
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				stop()
				<-served
				return fmt.Errorf("demo fleet: %w", err)
			}
			fmt.Fprintln(out, "\nfleet stopped.")
			stats.Print(out)
			if keep != "" && ctx.Err() == nil {
				d, err := parseDurationFlag("keep", keep)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "keeping day2 up for %s at %s\n", d, a.HTTPURL())
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
			stop()
			return <-served
		},
	}
	f.register(cmd.Flags(), false)
	if fl := cmd.Flags().Lookup("eval-interval"); fl != nil {
		fl.DefValue = "10s" // the demo's alerts should move while someone watches
		_ = fl.Value.Set("10s")
	}
	cmd.Flags().StringVar(&backfill, "backfill", "1d", "history to send first, with past timestamps (e.g. 28d; 0 for none)")
	cmd.Flags().StringVar(&duration, "duration", "0", "how long the live fleet runs (0: until Ctrl-C)")
	cmd.Flags().StringVar(&keep, "keep", "", "after the fleet stops, keep day2 serving this long (e.g. 10m)")
	cmd.Flags().Float64Var(&rate, "rate", demo.DefaultRate, "live tasks per minute per agent version")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed of the simulation, for repeatable runs")
	cmd.Flags().BoolVar(&noOps, "no-ops", false, "leave out the operations story (releases, approvals, incidents)")
	return cmd
}

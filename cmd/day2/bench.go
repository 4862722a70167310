package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/day2ops/day2/loadgen"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Load commands that measure day2"}
	var (
		cfg      loadgen.Config
		server   string
		duration string
		output   string
		keepData bool
	)
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "Measure OTLP ingest: acknowledged spans/s and the server's peak memory",
		Long: `Pre-build many distinct OTLP/HTTP protobuf batches of realistic agent tasks, post
them over several connections and report the acknowledged (durably committed)
spans per second, latencies and, when day2 is started by this command, the peak
resident memory of the day2 process.

Without --server, a fresh 'day2 serve' is started as a separate process on a
temporary embedded store and stopped at the end.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			d, err := parseDurationFlag("duration", duration)
			if err != nil {
				return err
			}
			cfg.Duration = d
			if output != "text" && output != "json" {
				return &exitError{2, fmt.Errorf("--output %q: use text or json", output)}
			}
			cfg.Out = cmd.ErrOrStderr()
			if server == "" {
				srv, err := startServer(ctx, keepData, "")
				if err != nil {
					return err
				}
				defer srv.stop()
				server, cfg.PID = srv.url, srv.cmd.Process.Pid
				fmt.Fprintf(cmd.ErrOrStderr(), "started day2 serve (pid %d) at %s, store %s\n", cfg.PID, server, srv.dir)
			}
			cfg.URL = server
			rep, err := loadgen.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			rep.Print(cmd.OutOrStdout())
			return nil
		},
	}
	ingest.Flags().StringVar(&server, "server", "", "base URL of a running day2's OTLP/HTTP endpoint (default: start one)")
	ingest.Flags().StringVar(&cfg.Token, "token", os.Getenv("DAY2_TOKEN"), "Bearer token with the ingest scope (default $DAY2_TOKEN)")
	ingest.Flags().IntVar(&cfg.Connections, "connections", loadgen.DefaultConnections, "concurrent HTTP connections")
	ingest.Flags().StringVar(&duration, "duration", "30s", "how long to send")
	ingest.Flags().IntVar(&cfg.Batches, "batches", loadgen.DefaultBatches, "distinct pre-built requests (trace ids are re-keyed on every send, so none repeats)")
	ingest.Flags().IntVar(&cfg.TasksPerBatch, "tasks-per-batch", loadgen.DefaultTasksPerBatch, "tasks per request (about 8 spans each)")
	ingest.Flags().Int64Var(&cfg.Seed, "seed", 1, "seed of the generated data")
	ingest.Flags().StringVar(&output, "output", "text", "text or json")
	ingest.Flags().BoolVar(&keepData, "keep-data", false, "keep the temporary store of the started server")
	cmd.AddCommand(ingest, newBenchApprovalsCmd())
	return cmd
}

// benchPolicy is the config of the server `day2 bench approvals` starts: one
// policy that makes the benchmarked action Tier 0.
const benchPolicy = `apiVersion: day2/v1
kind: ApprovalPolicy
metadata: {name: bench}
spec:
  service: %s
  rules:
    - {action: %s, tier: 0}
  approvers:
    tier1: {groups: [ops]}
    tier2: {groups: [manager]}
`

func newBenchApprovalsCmd() *cobra.Command {
	cfg := loadgen.ApprovalsConfig{Out: io.Discard}
	var (
		server, duration, warmup, output string
		keepData                         bool
	)
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "Measure Tier 0 approvals at a fixed offered rate: answered/s and latency percentiles",
		Long: `Offer Tier 0 approval requests (POST /api/v1/approvals, each with its own
idempotency key) at a fixed rate, over a pool of keep-alive connections, and
report the requests answered "approved" per second and their latency
percentiles.

The load is open loop: request i is due at start + i/rate whether or not the
earlier ones were answered, and its latency runs from that due time to its
answer. A server that stalls is charged for every request it held up, which a
fixed-connections tool like wrk does not do. If a second's worth of requests
waits for a free connection, the server cannot keep up and the run stops.
The first --warmup of --duration is sent but not counted.

Without --server, a fresh 'day2 serve' is started as a separate process on a
temporary embedded store, with an ApprovalPolicy that makes --action of
--service Tier 0, and stopped at the end. With --server, that policy must be
in the server's configuration.

Exit codes: 0 when the run completed (whether or not the goal was met), 1 when
it stopped early or more than 0.1% of the requests failed, 2 on bad flags.`,
		Example: `  day2 bench approvals --rate 5000 --duration 30s
  day2 bench approvals --server http://127.0.0.1:8080 --token "$DAY2_TOKEN" --rate 2000 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var err error
			if cfg.Duration, err = parseDurationFlag("duration", duration); err != nil {
				return &exitError{2, err}
			}
			if cfg.Warmup, err = parseDurationFlag("warmup", warmup); err != nil {
				return &exitError{2, err}
			}
			if output != "text" && output != "json" {
				return &exitError{2, fmt.Errorf("--output %q: use text or json", output)}
			}
			if err := cfg.Validate(); err != nil {
				return &exitError{2, fmt.Errorf("--%w", err)}
			}
			cfg.Out = cmd.ErrOrStderr()
			if server == "" {
				srv, err := startServer(ctx, keepData, fmt.Sprintf(benchPolicy, yamlString(cfg.Service), yamlString(cfg.Action)))
				if err != nil {
					return err
				}
				defer srv.stop()
				server, cfg.PID = srv.url, srv.cmd.Process.Pid
				fmt.Fprintf(cmd.ErrOrStderr(), "started day2 serve (pid %d) at %s, store %s\n", cfg.PID, server, srv.dir)
			}
			cfg.URL = server
			rep, runErr := loadgen.RunApprovals(ctx, cfg)
			if runErr != nil && rep.Requests+rep.WarmupRequests == 0 {
				return &exitError{1, runErr} // nothing to report
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.Print(cmd.OutOrStdout())
			}
			switch {
			case runErr != nil:
				return &exitError{1, runErr}
			case rep.FailedShare() > 0.001:
				return &exitError{1, fmt.Errorf("%d of %d requests failed, more than 0.1%%; first: %s",
					rep.Errors+rep.WarmupErrors, rep.Requests+rep.WarmupRequests, rep.FirstError)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&cfg.Rate, "rate", loadgen.GoalApprovedPerSecond, "requests offered per second, whatever the answers")
	f.StringVar(&duration, "duration", "30s", "how long to send, warmup included")
	f.StringVar(&warmup, "warmup", "5s", "first part of the run, sent but not counted")
	f.IntVar(&cfg.Connections, "connections", 32, "keep-alive connections, each with one request in flight")
	f.StringVar(&server, "server", "", "base URL of a running day2's API (default: start one)")
	f.StringVar(&cfg.Token, "token", os.Getenv("DAY2_TOKEN"), "Bearer token with the ingest or operate scope (default $DAY2_TOKEN)")
	f.StringVar(&cfg.Service, "service", "bench-agent", "service of the requests")
	f.StringVar(&cfg.Action, "action", "lookup_vendor", "action of the requests; the service's policy must make it Tier 0")
	f.StringVar(&output, "output", "text", "text or json")
	f.BoolVar(&keepData, "keep-data", false, "keep the temporary store (and config) of the started server")
	return cmd
}

// yamlString quotes s as a YAML (JSON) string.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type childServer struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	keep bool
}

// startServer runs `day2 serve` from this same binary as a separate process, so
// its memory is measured apart from the load generator's. A non-empty config is
// written as the one YAML file of the server's --config directory.
func startServer(ctx context.Context, keep bool, config string) (*childServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "day2-bench-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"serve", "--data", filepath.Join(dir, "data"), "--http", addr,
		"--otlp-http", "", "--otlp-grpc", "", "--log-level", "warn"}
	if config != "" {
		cdir := filepath.Join(dir, "config")
		if err := os.Mkdir(cdir, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(cdir, "bench.yaml"), []byte(config), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		args = append(args, "--config", cdir)
	}
	c := exec.Command(exe, args...)
	c.Stdout, c.Stderr = os.Stderr, os.Stderr
	if err := c.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start day2 serve: %w", err)
	}
	s := &childServer{cmd: c, url: "http://" + addr, dir: dir, keep: keep}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("day2 serve did not become ready at %s", s.url)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *childServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	if !s.keep {
		os.RemoveAll(s.dir)
	}
}

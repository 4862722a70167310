package main

import (
	"context"
	"encoding/json"
	"fmt"
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
				srv, err := startServer(ctx, keepData)
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
	cmd.AddCommand(ingest)
	return cmd
}

type childServer struct {
	cmd  *exec.Cmd
	url  string
	dir  string
	keep bool
}

// startServer runs `day2 serve` from this same binary as a separate process, so
// its memory is measured apart from the load generator's.
func startServer(ctx context.Context, keep bool) (*childServer, error) {
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
	c := exec.Command(exe, "serve", "--data", filepath.Join(dir, "data"), "--http", addr,
		"--otlp-http", "", "--otlp-grpc", "", "--log-level", "warn")
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

package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/otlp"
)

// serveFlags are the flags of `day2 serve`, shared with `day2 demo`.
type serveFlags struct {
	http, otlpHTTP, otlpGRPC string
	data, db, authFile       string
	insecure                 bool
	retention                string
	maxBody                  int64
	maxAttributes            int
	maxValueLength           int
	maxQueue                 int
	logLevel, logFormat      string
	pprofAddr                string
	configDir                string
	evalInterval             string
	publicURL                string
}

func (f *serveFlags) register(fs *pflag.FlagSet, otlpDefaults bool) {
	fs.StringVar(&f.http, "http", "127.0.0.1:8080", "address of the API, the UI and OTLP/HTTP")
	otlpHTTP, otlpGRPC := "127.0.0.1:4318", "127.0.0.1:4317"
	if !otlpDefaults {
		otlpHTTP, otlpGRPC = "", ""
	}
	fs.StringVar(&f.otlpHTTP, "otlp-http", otlpHTTP, "address of the OTLP/HTTP receiver (empty: only on --http)")
	fs.StringVar(&f.otlpGRPC, "otlp-grpc", otlpGRPC, "address of the OTLP/gRPC receiver (empty: off)")
	fs.StringVar(&f.data, "data", "./day2-data", "directory of the embedded SQLite store")
	fs.StringVar(&f.db, "db", os.Getenv("DAY2_DB"), "PostgreSQL URL (postgres://...) to use instead of the embedded store; default $DAY2_DB")
	fs.StringVar(&f.authFile, "auth-file", "", "YAML file of API tokens and scopes; without it day2 only listens on loopback")
	fs.BoolVar(&f.insecure, "insecure", false, "allow non-loopback addresses without --auth-file (anyone who can connect can read and write)")
	fs.StringVar(&f.retention, "retention", "35d", "how long raw spans are kept; task summaries are kept for good")
	fs.Int64Var(&f.maxBody, "max-body", otlp.DefaultMaxBodyBytes, "largest OTLP request body in bytes, after decompression")
	fs.IntVar(&f.maxAttributes, "max-attributes", otlp.DefaultMaxAttributes, "most attributes on one span, event or log record")
	fs.IntVar(&f.maxValueLength, "max-value-length", otlp.DefaultMaxValueLength, "longest attribute value in bytes")
	fs.IntVar(&f.maxQueue, "max-queue", 50_000, "spans and log records waiting for commit before ingest answers 429")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.configDir, "config", "", "directory of OpenSLO and day2/v1 YAML files (SLOs, flags, approval policies, alert rules, notifiers), runbooks/*.md and flagd files; reloaded on SIGHUP")
	fs.StringVar(&f.evalInterval, "eval-interval", "30s", "how often SLOs and alerts are evaluated")
	fs.StringVar(&f.publicURL, "public-url", os.Getenv("DAY2_PUBLIC_URL"), "day2's address as people reach it, for links in notifications (default $DAY2_PUBLIC_URL, else --http)")
	fs.StringVar(&f.pprofAddr, "pprof-addr", "", "serve Go's net/http/pprof profiles on this loopback address (for performance work)")
}

func (f *serveFlags) options() (app.Options, error) {
	logger, err := newLogger(f.logLevel, f.logFormat)
	if err != nil {
		return app.Options{}, err
	}
	ret, err := day2.ParseDuration(f.retention)
	if err != nil {
		return app.Options{}, fmt.Errorf("--retention: %w", err)
	}
	if ret <= 0 {
		return app.Options{}, fmt.Errorf("--retention must be positive, e.g. 35d")
	}
	eval, err := day2.ParseDuration(f.evalInterval)
	if err != nil || eval <= 0 {
		return app.Options{}, fmt.Errorf("--eval-interval %q must be a positive duration such as 30s", f.evalInterval)
	}
	return app.Options{
		ConfigDir: f.configDir, EvalInterval: eval,
		HTTPAddr: f.http, OTLPHTTPAddr: f.otlpHTTP, OTLPGRPCAddr: f.otlpGRPC,
		DataDir: f.data, DB: f.db, AuthFile: f.authFile, Insecure: f.insecure, Retention: ret,
		Limits:         otlp.Limits{MaxBodyBytes: f.maxBody, MaxAttributes: f.maxAttributes, MaxValueLength: f.maxValueLength},
		MaxQueuedItems: f.maxQueue,
		PprofAddr:      f.pprofAddr,
		PublicURL:      f.publicURL,
		CallbackSecret: os.Getenv("DAY2_CALLBACK_SECRET"),
		Logger:         logger,
	}, nil
}

func newLogger(level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	hopts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run day2: OTLP receivers, API and dashboard",
		Long: `Run day2. Agents send OTLP traces and logs to --otlp-http (4318), --otlp-grpc (4317)
or the main --http address; the API and dashboard are on --http.

Data lives in an embedded SQLite database under --data unless --db names a PostgreSQL
database (several replicas may share one). Without --auth-file day2 refuses to listen
on anything but loopback, unless --insecure is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.options()
			if err != nil {
				return err
			}
			a, err := app.New(cmd.Context(), opts)
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}
	f.register(cmd.Flags(), true)
	return cmd
}

// parseDurationFlag parses a flag value with day2's duration syntax (adds d and w).
func parseDurationFlag(name, v string) (time.Duration, error) {
	if v == "" || v == "0" {
		return 0, nil
	}
	d, err := day2.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", name, err)
	}
	return d, nil
}

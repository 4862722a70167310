// Package app wires day2 together: it opens the store, starts the ingest pipeline,
// the OTLP receivers (HTTP and gRPC), the API and the UI, and the background jobs.
// cmd/day2, the demo and the end-to-end tests all start day2 through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/auth"
	"github.com/day2ops/day2/config"
	"github.com/day2ops/day2/httpapi"
	"github.com/day2ops/day2/ingest"
	"github.com/day2ops/day2/otlp"
	"github.com/day2ops/day2/postgres"
	"github.com/day2ops/day2/slo"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/web"
)

// Options configure day2. The zero value of an address disables that listener
// except HTTPAddr, which defaults to 127.0.0.1:8080.
type Options struct {
	HTTPAddr     string // API and UI, also OTLP/HTTP
	OTLPHTTPAddr string // OTLP/HTTP only
	OTLPGRPCAddr string // OTLP/gRPC
	DataDir      string // embedded SQLite lives here
	DB           string // postgres://... selects PostgreSQL instead
	AuthFile     string
	Insecure     bool // allow non-loopback addresses without tokens
	Retention    time.Duration
	Limits       otlp.Limits
	// MaxQueuedItems bounds the ingest queue (spans and log records).
	MaxQueuedItems int
	// PprofAddr serves net/http/pprof when set; it must be a loopback address.
	PprofAddr string
	// ConfigDir holds OpenSLO and day2/v1 files; empty runs on the defaults.
	ConfigDir string
	// EvalInterval is how often SLOs and alerts are evaluated (default 30s).
	EvalInterval time.Duration
	// PublicURL is day2's address as people reach it, for links in
	// notifications; default the --http address.
	PublicURL string
	// CallbackSecret signs approval callbacks; without it, approval requests
	// with a callback_url are refused.
	CallbackSecret string
	Logger         *slog.Logger
	Now            func() time.Time
}

// DefaultRetention is how long raw spans are kept; task summaries are kept for good.
const DefaultRetention = 35 * 24 * time.Hour

// App is a running day2.
type App struct {
	opts     Options
	log      *slog.Logger
	Store    day2.Store
	SLO      *slo.Engine
	Ingest   *ingest.Pipeline
	Registry *prometheus.Registry
	Auth     *auth.Authenticator
	API      *httpapi.Server
	ops

	// stopping is cancelled when shutdown begins, ending long polls.
	stopping context.Context
	stop     context.CancelFunc

	httpLn, otlpHTTPLn, grpcLn net.Listener
	pprofLn                    net.Listener
	grpcServer                 *grpc.Server
	servers                    []*http.Server
}

// New validates opts, opens the store and binds every listener, so that the
// addresses are known (port 0 picks a free one) before Run is called.
func New(ctx context.Context, opts Options) (a *App, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPAddr == "" {
		opts.HTTPAddr = "127.0.0.1:8080"
	}
	if opts.EvalInterval <= 0 {
		opts.EvalInterval = 30 * time.Second
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("--retention must be positive, got %s", opts.Retention)
	}
	if err := opts.Limits.Validate(); err != nil {
		return nil, err
	}
	a = &App{opts: opts, log: opts.Logger, Registry: prometheus.NewRegistry()}
	self := a // the error returns below set a to nil
	defer func() {
		if err != nil {
			self.closeAll()
		}
	}()

	if opts.AuthFile != "" {
		if a.Auth, err = auth.LoadFile(opts.AuthFile); err != nil {
			return nil, err
		}
	} else {
		a.Auth = auth.Open()
	}
	for _, addr := range []struct{ flag, addr string }{{"--http", opts.HTTPAddr}, {"--otlp-http", opts.OTLPHTTPAddr}, {"--otlp-grpc", opts.OTLPGRPCAddr}} {
		if addr.addr == "" {
			continue
		}
		if err := auth.CheckListenAddr(addr.addr, opts.AuthFile != "", opts.Insecure); err != nil {
			return nil, fmt.Errorf("%s %s: %w", addr.flag, addr.addr, err)
		}
	}

	cfg, err := loadConfig(opts.ConfigDir)
	if err != nil {
		return nil, err
	}
	settings := sloSettings(cfg)
	a.stopping, a.stop = context.WithCancel(context.Background())

	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.Store, _, err = OpenStore(ctx, opts.DataDir, opts.DB, a.log); err != nil {
		return nil, err
	}
	a.SLO = slo.NewEngine(a.Store, settings, opts.Now, a.log)
	a.Registry.MustRegister(&sloCollector{engine: a.SLO, store: a.Store})

	a.Ingest = ingest.New(a.Store, ingest.Options{MaxQueuedItems: opts.MaxQueuedItems, Logger: a.log, Registerer: a.Registry})
	recv, err := otlp.NewReceiver(a.Ingest, opts.Limits, otlp.WithRegisterer(a.Registry), otlp.WithLogger(a.log))
	if err != nil {
		return nil, err
	}

	if a.httpLn, err = listen(opts.HTTPAddr, "--http"); err != nil {
		return nil, err
	}
	baseURL := strings.TrimRight(opts.PublicURL, "/")
	if baseURL == "" {
		baseURL = a.HTTPURL()
	}
	if err := a.buildOps(cfg, baseURL); err != nil {
		return nil, err
	}
	logOps(a.log, cfg)

	ui := web.New(web.Options{Store: a.Store, SLO: a.SLO, Rollups: a.Store, Auth: a.Auth, Logger: a.log,
		Releases: a.Releases, Flags: a.Flags, Approvals: a.Approvals, Incidents: a.Incidents})
	a.API = httpapi.New(httpapi.Options{
		Store: a.Store, Ingest: a.Ingest, OTLP: recv, Auth: a.Auth, Gatherer: a.Registry, Logger: a.log,
		UI: ui, Login: ui.Login(),
		SLO: a.SLO, SLOStore: a.Store, State: a.Store,
	})
	a.registerOps(a.API)

	if opts.OTLPHTTPAddr != "" {
		if a.otlpHTTPLn, err = listen(opts.OTLPHTTPAddr, "--otlp-http"); err != nil {
			return nil, err
		}
	}
	if opts.OTLPGRPCAddr != "" {
		if a.grpcLn, err = listen(opts.OTLPGRPCAddr, "--otlp-grpc"); err != nil {
			return nil, err
		}
		gopts := append(otlp.GRPCServerOptions(recv.Limits()),
			grpc.MaxConcurrentStreams(uint32(ingestConcurrency())),
			grpc.ChainUnaryInterceptor(a.Auth.UnaryServerInterceptor(auth.ScopeIngest)),
			grpc.ChainStreamInterceptor(a.Auth.StreamServerInterceptor(auth.ScopeIngest)),
		)
		a.grpcServer = grpc.NewServer(gopts...)
		recv.RegisterGRPC(a.grpcServer)
	}

	if opts.PprofAddr != "" {
		if err := auth.CheckListenAddr(opts.PprofAddr, false, false); err != nil {
			return nil, fmt.Errorf("--pprof-addr: %w", err)
		}
		if a.pprofLn, err = listen(opts.PprofAddr, "--pprof-addr"); err != nil {
			return nil, err
		}
	}

	a.servers = append(a.servers, a.httpServer(limitConcurrency(a.API, ingestConcurrency())))
	if a.otlpHTTPLn != nil {
		mux := http.NewServeMux()
		mux.Handle("/v1/traces", a.Auth.Require(auth.ScopeIngest)(recv.TracesHandler()))
		mux.Handle("/v1/logs", a.Auth.Require(auth.ScopeIngest)(recv.LogsHandler()))
		a.servers = append(a.servers, a.httpServer(limitConcurrency(mux, ingestConcurrency())))
	}
	return a, nil
}

func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		// Requests see shutdown begin, so that long polls (approvals) answer
		// at once instead of holding the graceful shutdown up.
		BaseContext: func(net.Listener) context.Context { return a.stopping },
	}
}

func listen(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w (is another day2 or collector running? pick another address with %s)", flag, addr, err, flag)
	}
	return ln, nil
}

// HTTPURL returns the base URL of the API and UI.
func (a *App) HTTPURL() string { return "http://" + a.httpLn.Addr().String() }

// OTLPHTTPURL returns the base URL of the dedicated OTLP/HTTP listener, or of the
// main address when there is none.
func (a *App) OTLPHTTPURL() string {
	if a.otlpHTTPLn != nil {
		return "http://" + a.otlpHTTPLn.Addr().String()
	}
	return a.HTTPURL()
}

// OTLPGRPCAddr returns the host:port of the OTLP/gRPC listener, or "".
func (a *App) OTLPGRPCAddr() string {
	if a.grpcLn == nil {
		return ""
	}
	return a.grpcLn.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully: listeners stop taking
// requests, queued telemetry is committed, and the store is closed.
func (a *App) Run(ctx context.Context) error {
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.Ingest.Run(runCtx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.retentionLoop(runCtx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.runSLO(runCtx, a.opts.EvalInterval)
	}()
	a.runOps(runCtx, func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				if err := a.Reload(); err != nil {
					a.log.Error("config reload failed; keeping the previous configuration", "dir", a.opts.ConfigDir, "err", err)
				}
			}
		}
	}()
	lns := []net.Listener{a.httpLn}
	if a.otlpHTTPLn != nil {
		lns = append(lns, a.otlpHTTPLn)
	}
	if a.pprofLn != nil {
		a.servers = append(a.servers, a.httpServer(pprofMux()))
		lns = append(lns, a.pprofLn)
	}
	for i, srv := range a.servers {
		go func(srv *http.Server, ln net.Listener) {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}(srv, lns[i])
	}
	if a.grpcServer != nil {
		go func() {
			if err := a.grpcServer.Serve(a.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- err
			}
		}()
	}
	a.log.Info("day2 serving", "http", a.HTTPURL(), "otlp_http", a.OTLPHTTPURL(), "otlp_grpc", a.OTLPGRPCAddr())

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		a.log.Error("listener failed", "err", err)
	}
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer shutCancel()
	a.stop()
	for _, srv := range a.servers {
		_ = srv.Shutdown(shutCtx)
	}
	if a.grpcServer != nil {
		stopped := make(chan struct{})
		go func() { a.grpcServer.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-shutCtx.Done():
			a.grpcServer.Stop()
		}
	}
	a.Ingest.Close(shutCtx)
	cancel()
	wg.Wait()
	if cerr := a.Store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Reload reads the config directory again and swaps the SLO settings in when the
// files are valid; on any problem the running configuration stays. Alert states
// and history are kept across reloads.
func (a *App) Reload() error {
	cfg, err := loadConfig(a.opts.ConfigDir)
	if err != nil {
		return err
	}
	if err := a.reloadOps(cfg); err != nil {
		return fmt.Errorf("--config %s: %w", a.opts.ConfigDir, err)
	}
	s := sloSettings(cfg)
	a.SLO.SetSettings(s)
	a.log.Info("config reloaded", "dir", a.opts.ConfigDir, "custom_slos", len(s.Custom))
	return nil
}

// LoadSettings reads the SLO settings from a config directory ("" for the
// built-in defaults only).
func LoadSettings(dir string) (slo.Settings, error) {
	c, err := loadConfig(dir)
	if err != nil {
		return slo.Settings{}, err
	}
	return sloSettings(c), nil
}

// loadConfig reads the config directory ("" for none).
func loadConfig(dir string) (*config.Config, error) {
	c, err := config.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--config %s:\n%w", dir, err)
	}
	return c, nil
}

// sloSettings are the SLO engine's part of the configuration.
func sloSettings(c *config.Config) slo.Settings {
	return slo.Settings{Custom: c.SLOs, Defaults: c.Defaults, Policy: c.Policy}
}

// OpenStore opens the PostgreSQL store when db is set, else the embedded SQLite
// store under dataDir, and returns it with its close function.
func OpenStore(ctx context.Context, dataDir, db string, log *slog.Logger) (day2.Store, func() error, error) {
	if log == nil {
		log = slog.Default()
	}
	var st day2.Store
	var err error
	switch {
	case isPostgresDSN(db):
		st, err = postgres.Open(ctx, db, postgres.WithLogger(log))
	case db != "":
		return nil, nil, fmt.Errorf("--db %q is not a PostgreSQL connection string: write postgres://user:password@host:5432/dbname (or host=... dbname=...); leave --db empty for the embedded SQLite under --data", redactDSN(db))
	default:
		st, err = sqlite.Open(ctx, dataDir, sqlite.WithLogger(log))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("open store: %w", err)
	}
	return st, st.Close, nil
}

// closeAll releases what New opened when New fails half-way.
func (a *App) closeAll() {
	for _, ln := range []net.Listener{a.httpLn, a.otlpHTTPLn, a.grpcLn, a.pprofLn} {
		if ln != nil {
			ln.Close()
		}
	}
	if a.Store != nil {
		a.Store.Close()
	}
}

// retentionLoop drops raw spans older than the retention period, at start and
// then hourly. Task summaries are kept.
func (a *App) retentionLoop(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		n, err := a.Store.PurgeRawBefore(ctx, a.opts.Now().Add(-a.opts.Retention))
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Error("retention purge failed", "err", err)
		case n > 0:
			a.log.Info("retention purged raw spans", "tasks", n, "retention", a.opts.Retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// isPostgresDSN accepts PostgreSQL URLs and key=value connection strings.
func isPostgresDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") ||
		(strings.Contains(dsn, "=") && (strings.Contains(dsn, "host=") || strings.Contains(dsn, "dbname=")))
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "@"); i >= 0 {
		if j := strings.Index(dsn, "://"); j >= 0 && j < i {
			return dsn[:j+3] + "***" + dsn[i:]
		}
	}
	return dsn
}

// Package pgtest gives tests a real PostgreSQL: it starts one throwaway cluster
// per test binary from the locally installed PostgreSQL binaries and hands every
// test a fresh database in it.
//
// A test package that uses it calls Main from its TestMain, so that the cluster is
// stopped and its files removed when the tests finish:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// When PostgreSQL is not installed the tests that need it are skipped, unless the
// environment sets DAY2_TEST_REQUIRE_PG=1, in which case they fail. Setting
// DAY2_TEST_PG_DSN to the connection string of a superuser on an existing server
// makes the tests create their databases there instead of starting a cluster.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables that change how tests get their PostgreSQL.
const (
	// EnvRequire, set to 1, turns a missing PostgreSQL into a test failure.
	EnvRequire = "DAY2_TEST_REQUIRE_PG"
	// EnvDSN names an existing server to use instead of starting a cluster.
	EnvDSN = "DAY2_TEST_PG_DSN"
	// EnvBin names the directory holding initdb and postgres, overriding the search.
	EnvBin = "DAY2_TEST_PG_BIN"
)

var (
	once     sync.Once
	admin    string // DSN of the maintenance database
	srv      *server
	errStart error
	missing  string // why PostgreSQL could not be found, when it could not
	dbSeq    atomic.Int64
)

// Main runs the tests of m and then stops the cluster, if one was started, and
// removes its files. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// DSN returns the connection string of a new, empty database that is dropped when
// t ends. The first call starts the cluster. It skips t when PostgreSQL is not
// installed (fails it when DAY2_TEST_REQUIRE_PG=1) and fails t when the cluster
// does not start.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if missing != "" {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("PostgreSQL is required (%s=1) but %s", EnvRequire, missing)
		}
		t.Skipf("skipping: %s; install PostgreSQL 15 or set %s", missing, EnvDSN)
	}
	if errStart != nil {
		t.Fatalf("start PostgreSQL: %v", errStart)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("day2_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if err := adminExec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := adminExec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("test database DSN: %v", err)
	}
	return dsn
}

// withDatabase returns dsn, a URL or keyword/value connection string, naming
// database db instead.
func withDatabase(dsn, db string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	// In the keyword/value form a later keyword overrides an earlier one.
	return dsn + " dbname=" + db, nil
}

func adminExec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

func setup() {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		admin = dsn
		return
	}
	bin, err := findBinaries()
	if err != nil {
		missing = err.Error()
		return
	}
	srv, errStart = startServer(bin)
	if errStart == nil {
		admin = srv.dsn
	}
}

// findBinaries returns the directory holding initdb and postgres: $DAY2_TEST_PG_BIN,
// the directory of initdb on PATH, or the newest /usr/lib/postgresql/*/bin.
func findBinaries() (string, error) {
	var dirs []string
	if d := os.Getenv(EnvBin); d != "" {
		dirs = append(dirs, d)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL binaries (initdb, postgres) found on PATH or in /usr/lib/postgresql/*/bin")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// server is a running throwaway cluster.
type server struct {
	dir     string // temporary directory holding data, socket and log
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the postmaster has exited
	dsn     string
}

func startServer(bin string) (*server, error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	// The socket path must stay below the 107-byte limit of unix sockets, so the
	// directory goes to /tmp unless TMPDIR is short.
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "day2-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("create cluster directory: %w", err)
	}
	s := &server{dir: dir, logPath: filepath.Join(dir, "postgres.log"), exited: make(chan struct{})}
	fail := func(err error) (*server, error) {
		err = fmt.Errorf("%w\n--- server log %s ---\n%s", err, s.logPath, s.log())
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("hand cluster directory to uid %d: %w", cred.Uid, err))
		}
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return fail(fmt.Errorf("create socket directory: %w", err))
	}
	if cred != nil {
		if err := os.Chown(sock, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("hand socket directory to uid %d: %w", cred.Uid, err))
		}
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fail(fmt.Errorf("create server log: %w", err))
	}
	defer logf.Close()

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = serverEnv()
	initdb.Stdout, initdb.Stderr = logf, logf
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := initdb.Run(); err != nil {
		return fail(fmt.Errorf("initdb: %w", err))
	}

	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", sock,
		"-c", "listen_addresses=", "-c", "port=5432",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=64MB")
	s.cmd.Dir = dir
	s.cmd.Env = serverEnv()
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Its own process group keeps a terminal's Ctrl-C from reaching the
		// server before the test binary has stopped it in order.
		Setpgid: true,
		// Should the test binary die without calling Main's cleanup, the
		// postmaster gets an immediate-shutdown signal instead of lingering.
		Pdeathsig: syscall.SIGQUIT,
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that started the child exits, so that
		// thread is kept for as long as the server runs.
		runtime.LockOSThread()
		err := s.cmd.Start()
		started <- err
		if err == nil {
			_ = s.cmd.Wait()
		}
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fail(fmt.Errorf("start postgres: %w", err))
	}

	s.dsn = fmt.Sprintf("host=%s port=5432 user=postgres dbname=postgres sslmode=disable", sock)
	if err := s.waitReady(60 * time.Second); err != nil {
		_ = s.kill()
		return fail(err)
	}
	return s, nil
}

// serverCredential returns the unprivileged user to run PostgreSQL as when the
// tests run as root, which PostgreSQL refuses: postgres if it exists, else nobody.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root, and neither user postgres nor nobody exists to run PostgreSQL as")
}

func serverEnv() []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC"}
}

// waitReady retries connecting until the server answers, it exits, or timeout.
func (s *server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during startup: %v", s.cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.dsn)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("postgres not ready after %v: %w", timeout, last)
}

// stop shuts the server down (fast shutdown, then kill) and removes its files.
func (s *server) stop() error {
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.kill()
	}
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("remove cluster directory: %w", err)
	}
	return nil
}

func (s *server) kill() error {
	err := s.cmd.Process.Kill()
	<-s.exited
	return err
}

func (s *server) log() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 16 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}

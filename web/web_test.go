package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/demo"
)

// Test tokens of the auth file of the tests that run with auth on.
const (
	readToken   = "read-token-0123456789abcdef"
	ingestToken = "ingest-token-0123456789abcdef"
	opsToken    = "operate-only-token-0123456789"
)

const authFile = `tokens:
  - name: alice
    token: "` + readToken + `"
    scopes: [read]
  - name: fleet
    token: "` + ingestToken + `"
    scopes: [ingest]
  - name: bob
    token: "` + opsToken + `"
    scopes: [operate]
`

// fixture is a running day2 on free loopback ports with a fresh embedded store.
type fixture struct {
	app  *app.App
	stop func() error
}

// start runs day2, with auth on when withAuth, and sends it backfill of the demo
// fleet's history, ending at the start of the current minute, through the real
// OTLP path; then it evaluates the
// SLOs once so that alert states and their history are stored, as the periodic
// evaluation would.
func start(withAuth bool, backfill time.Duration) (f *fixture, err error) {
	dir, err := os.MkdirTemp("", "day2-web-test-")
	if err != nil {
		return nil, err
	}
	// The history ends at the start of this minute and day2's clock stands
	// still a minute later, so that every evaluation, the periodic one the
	// overview shows and the API's, sees the same data.
	end := time.Now().UTC().Truncate(time.Minute)
	opts := app.Options{HTTPAddr: "127.0.0.1:0", DataDir: dir, EvalInterval: time.Hour, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return end.Add(time.Minute) }}
	token := ""
	if withAuth {
		opts.AuthFile = filepath.Join(dir, "auth.yaml")
		if err := os.WriteFile(opts.AuthFile, []byte(authFile), 0o600); err != nil {
			return nil, err
		}
		token = ingestToken
	}
	a, err := app.New(context.Background(), opts)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("app.New: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	f = &fixture{app: a, stop: func() error {
		cancel()
		err := <-done
		os.RemoveAll(dir)
		return err
	}}
	if backfill > 0 {
		if _, err := demo.Run(context.Background(), demo.Config{Endpoint: a.OTLPHTTPURL(), Token: token, Backfill: backfill, Live: -1, Seed: 1,
			Now: func() time.Time { return end }}); err != nil {
			f.stop()
			return nil, fmt.Errorf("demo backfill: %w", err)
		}
	}
	if _, err := a.SLO.Tick(context.Background()); err != nil {
		f.stop()
		return nil, fmt.Errorf("evaluate SLOs: %w", err)
	}
	return f, nil
}

// startApp is start for one test, stopped at its end.
func startApp(t testing.TB, withAuth bool, backfill time.Duration) *app.App {
	t.Helper()
	f, err := start(withAuth, backfill)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.stop(); err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	return f.app
}

var (
	sharedOnce sync.Once
	shared     *fixture
	sharedErr  error
)

// seeded returns one app, shared by the tests of this package that only read,
// holding three hours of the demo fleet: enough for the scripted CRM outage to
// make support-triage's task-success SLO page.
func seeded(t *testing.T) *app.App {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start(false, 3*time.Hour) })
	if sharedErr != nil {
		t.Fatalf("seeding the shared app: %v", sharedErr)
	}
	return shared.app
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, f := range []*fixture{shared, bench} {
		if f == nil {
			continue
		}
		if err := f.stop(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "app.Run:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// get fetches path from a with the client c (nil for one that follows no
// redirects) and returns the answer with its body.
func get(t *testing.T, c *http.Client, base, path string) (*http.Response, string) {
	t.Helper()
	if c == nil {
		c = noRedirects()
	}
	resp, err := c.Get(base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func noRedirects() *http.Client {
	return &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// apiSLO is an SLO as GET /api/v1/slos reports it.
type apiSLO struct {
	Name      string   `json:"name"`
	SLI       *float64 `json:"sli"`
	Objective float64  `json:"objective"`
	Status    string   `json:"status"`
	Alerts    []struct {
		Severity, State string
	} `json:"alerts"`
}

func apiSLOs(t *testing.T, base string) map[string]apiSLO {
	t.Helper()
	_, body := get(t, nil, base, "/api/v1/slos")
	var ans struct{ SLOs []apiSLO }
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		t.Fatalf("decode /api/v1/slos: %v\n%s", err, body)
	}
	m := map[string]apiSLO{}
	for _, s := range ans.SLOs {
		m[s.Name] = s
	}
	return m
}

// tileValue is what the overview's tile of an SLO must show for the SLI the API
// reports: the success rate, or for the escalation and tool failure SLOs (which
// count the good events) its complement.
func tileValue(short string, sli float64) string {
	switch short {
	case "escalation-rate", "tool-failure":
		sli = 1 - sli
	}
	return fmt.Sprintf("%.2f%%", 100*sli)
}

type apiTask struct {
	TaskID       string `json:"task_id"`
	Success      *bool  `json:"success"`
	ToolCalls    int    `json:"tool_calls"`
	ToolFailures int    `json:"tool_failures"`
	ToolRetries  int    `json:"tool_retries"`
	LLMCalls     int    `json:"llm_calls"`
}

// apiTasks lists every task of service through the API, newest first.
func apiTasks(t *testing.T, base, service string) []apiTask {
	t.Helper()
	var out []apiTask
	q := url.Values{"service": {service}, "limit": {"1000"}}
	for {
		_, body := get(t, nil, base, "/api/v1/tasks?"+q.Encode())
		var page struct {
			Tasks      []apiTask `json:"tasks"`
			NextCursor string    `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("decode /api/v1/tasks: %v", err)
		}
		out = append(out, page.Tasks...)
		if page.NextCursor == "" {
			return out
		}
		q.Set("cursor", page.NextCursor)
	}
}

var taskLink = regexp.MustCompile(`href="/tasks/([0-9a-f]{32})"`)

func TestPages(t *testing.T) {
	a := seeded(t)
	base := a.HTTPURL()
	slos := apiSLOs(t, base)
	page := slos["support-triage/task-success"]
	if page.SLI == nil || page.Alerts[0].State != "firing" {
		t.Fatalf("the demo's outage should make support-triage/task-success page: %+v", page)
	}
	// A failed task that called tools, for the waterfall.
	var taskID string
	for _, tk := range apiTasks(t, base, "support-triage") {
		if tk.Success != nil && !*tk.Success && tk.ToolCalls > 0 && tk.LLMCalls > 0 {
			taskID = tk.TaskID
			break
		}
	}
	if taskID == "" {
		t.Fatal("no failed support-triage task with tool calls")
	}

	tests := []struct {
		name   string
		path   string
		status int
		want   []string
		reject []string
	}{
		{"the overview shows the four SLO tiles of each service", "/", 200, []string{
			`data-slo="support-triage/task-success"`, `data-slo="invoice-agent/cycle-time"`, "Task success", "Escalation rate",
			"Cycle time p95", "Tool failure", tileValue("task-success", *page.SLI), "PAGE since", "releases frozen",
			"Capacity and health", "Tasks", "LLM calls", "Tokens", "Rate-limit hits", "Safety blocks", "Injection attempts",
			"not measured yet", "Cycle time p50 / p95", "Release watch", "baseline", "candidate", "1.5.0", "Cost watch",
			"Tokens / successful task", "Tool retries per task", `aria-current="true">24h<`, "<svg class=\"spark\"",
		}, nil},
		{"the overview switches to 28 days", "/?range=28d", 200, []string{`aria-current="true">28d<`, "last 28d"}, nil},
		{"the overview narrows to one environment and service", "/?env=staging&service=invoice-agent", 200,
			[]string{"narrowed to staging", `data-slo="invoice-agent/task-success"`, "only version"},
			[]string{`data-slo="support-triage/task-success"`}},
		{"the overview refuses an unknown range", "/?range=1y", 400, []string{"is not one of 24h, 7d, 28d"}, nil},
		{"the overview names an unknown service", "/?service=nope", 404, []string{"no service"}, nil},
		{"the SLO list shows every SLO", "/slos", 200, []string{"support-triage/task-success", "invoice-agent/tool-failure", "PAGE firing"}, nil},
		{"an SLO page shows charts, burn rates, alerts and the definition", "/slos/support-triage/task-success", 200, []string{
			"SLI over the window", "Error budget burn-down", `<svg class="chart"`, "Burn rates", "Alert conditions",
			"1h / 5m", "Alert history", "inactive → <strong>firing</strong>", "task_success", "all tasks of the service",
			tileValue("task-success", *page.SLI),
		}, nil},
		{"an SLO page narrows to an environment", "/slos/support-triage/tool-failure?env=prod", 200, []string{"narrowed to prod", "environment = prod"}, nil},
		{"an unknown SLO is a 404 naming the existing ones", "/slos/support-triage/nope", 404, []string{"support-triage/task-success"}, nil},
		{"the task list filters on outcome and escalation", "/tasks?service=support-triage&outcome=failure&escalated=yes", 200,
			[]string{"✕ failed", "matched while reading"}, []string{"✓ succeeded"}},
		{"the task list pages", "/tasks?limit=3", 200, []string{"Next page", "cursor="}, nil},
		{"the task list refuses a bad filter", "/tasks?outcome=maybe", 400, []string{"not one of success, failure, pending"}, nil},
		{"a task page shows the waterfall", "/tasks/" + taskID, 200, []string{
			"Span waterfall", `data-role="root"`, `data-role="LLM"`, `data-role="tool"`, "◆", "support-triage", "✕ failed",
		}, nil},
		{"an unknown task is a 404", "/tasks/0123456789abcdef0123456789abcdef", 404, []string{"Not found"}, nil},
		{"an unknown page is a 404", "/nowhere", 404, []string{"no page at /nowhere"}, nil},
		{"without tokens the login page says none is needed", "/login", 200, []string{"nothing to log in to"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, nil, base, tt.path)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: status %d, want %d\n%s", tt.path, resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy = %q", csp)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: body lacks %q", tt.path, w)
				}
			}
			for _, w := range tt.reject {
				if strings.Contains(body, w) {
					t.Errorf("GET %s: body has %q", tt.path, w)
				}
			}
			if t.Failed() && testing.Verbose() {
				t.Logf("body:\n%s", body)
			}
		})
	}
}

// TestOverviewTilesMatchTheAPI compares every built-in SLO tile with the SLI the
// API reports.
func TestOverviewTilesMatchTheAPI(t *testing.T) {
	a := seeded(t)
	slos := apiSLOs(t, a.HTTPURL())
	_, body := get(t, nil, a.HTTPURL(), "/")
	for _, svc := range []string{"support-triage", "invoice-agent"} {
		for _, short := range []string{"task-success", "escalation-rate", "tool-failure"} {
			s := slos[svc+"/"+short]
			if s.SLI == nil {
				t.Fatalf("%s/%s has no SLI", svc, short)
			}
			want := `data-value="` + short + `">` + tileValue(short, *s.SLI) + "<"
			if !strings.Contains(body, want) {
				got := regexp.MustCompile(`data-value="`+short+`">[^<]*<`).FindAllString(body, -1)
				t.Errorf("overview lacks %s for %s/%s; it has %q", want, svc, short, got)
			}
		}
		s := slos[svc+"/cycle-time"]
		if want := fmt.Sprintf("%.2f%% within 120 s", 100**s.SLI); !strings.Contains(body, want) {
			t.Errorf("overview lacks %q for %s/cycle-time", want, svc)
		}
	}
}

// TestTaskListPagesWithoutGapsOrRepeats walks the failed tasks page by page with
// a filter the store does not apply and checks that the pages join up.
func TestTaskListPagesWithoutGapsOrRepeats(t *testing.T) {
	a := seeded(t)
	base := a.HTTPURL()
	var want []string
	for _, tk := range apiTasks(t, base, "support-triage") {
		if tk.Success != nil && !*tk.Success {
			want = append(want, tk.TaskID)
		}
	}
	if len(want) < 12 {
		t.Fatalf("only %d failed tasks; the outage should have failed more", len(want))
	}
	var got [][]string
	path := "/tasks?service=support-triage&outcome=failure&limit=5"
	for i := 0; path != "" && i < 200; i++ {
		_, body := get(t, nil, base, path)
		rows := taskLink.FindAllStringSubmatch(body, -1)
		if len(rows) > 5 {
			t.Fatalf("page %d has %d tasks, want at most 5", i, len(rows))
		}
		got = append(got, rows...)
		path = ""
		if m := regexp.MustCompile(`href="(/tasks\?[^"]*cursor=[^"]*)" rel="next"`).FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("paging gave %d tasks, the API %d", len(got), len(want))
	}
	for i := range want {
		if got[i][1] != want[i] {
			t.Fatalf("task %d: paging gave %s, the API gave %s", i, got[i][1], want[i])
		}
	}
}

func TestLoginWithAuthOn(t *testing.T) {
	a := startApp(t, true, time.Hour)
	base := a.HTTPURL()

	// A browser without a cookie is sent to the login page, remembering where
	// it was going; the API still answers 401.
	resp, _ := get(t, nil, base, "/slos?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/slos?x=1") {
		t.Fatalf("GET /slos without a token: %d Location %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, nil, base, "/api/v1/tasks"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/tasks without a token: %d, want 401", resp.StatusCode)
	}
	resp, body := get(t, nil, base, "/login?next=/slos")
	if resp.StatusCode != 200 || !strings.Contains(body, `name="token"`) || !strings.Contains(body, `value="/slos"`) {
		t.Fatalf("GET /login: %d\n%s", resp.StatusCode, body)
	}

	post := func(form url.Values, header http.Header) (*http.Response, string) {
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header[k] = v
		}
		resp, err := noRedirects().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	tests := []struct {
		name   string
		token  string
		header http.Header
		status int
		want   string
	}{
		{"an unknown token is refused", "wrong-token-0123456789abcdef", nil, 200, "not known to this server"},
		{"a token without the read scope is refused", opsToken, nil, 200, `lacks the \u0026#34;read\u0026#34; scope`},
		{"an empty token is refused", "", nil, 200, "the token is empty"},
		{"a cross-origin post is refused", readToken, http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(url.Values{"token": {tt.token}, "next": {"/slos"}}, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d\n%s", resp.StatusCode, tt.status, body)
			}
			want := strings.ReplaceAll(tt.want, `\u0026#34;`, "&#34;")
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
			if len(resp.Cookies()) != 0 {
				t.Errorf("a refused login set cookies: %v", resp.Cookies())
			}
		})
	}

	resp, _ = post(url.Values{"token": {readToken}, "next": {"/slos"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/slos" {
		t.Fatalf("login: %d Location %q, want 303 to /slos", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "day2_token" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Value != readToken || cookie.Path != "/" {
		t.Fatalf("login cookie = %+v, want day2_token, HttpOnly, SameSite=Strict, Path=/", cookie)
	}

	// With the cookie every page answers, and shows who is signed in.
	withCookie := func(path string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.AddCookie(cookie)
		resp, err := noRedirects().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, path := range []string{"/", "/slos", "/tasks", "/slos/support-triage/task-success"} {
		resp, body := withCookie(path)
		if resp.StatusCode != 200 || !strings.Contains(body, "Signed in as <strong>alice</strong>") {
			t.Errorf("GET %s with the cookie: %d", path, resp.StatusCode)
		}
	}
	// A cookie holding a token the server does not know goes back to login.
	cookie.Value = "stale-token-0123456789abcdef"
	if resp, _ := withCookie("/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("GET / with a stale cookie: %d, want 303", resp.StatusCode)
	}
	// The login page never sends anyone off-site.
	resp, _ = post(url.Values{"token": {readToken}, "next": {"//evil.example/"}}, nil)
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Errorf("login with next=//evil.example/ redirects to %q, want /", loc)
	}

	req, _ := http.NewRequest("POST", base+"/logout", nil)
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Errorf("logout: %d cookies %v, want 303 and the cookie removed", resp.StatusCode, resp.Cookies())
	}
}

// TestEmptyDashboard opens every page of a day2 that has received nothing yet.
func TestEmptyDashboard(t *testing.T) {
	a := startApp(t, false, 0)
	for _, tt := range []struct{ path, want string }{
		{"/", "No telemetry yet"},
		{"/?range=28d&env=prod", "No telemetry yet"},
		{"/slos", "No SLOs yet"},
		{"/tasks", "No task matches"},
	} {
		resp, body := get(t, nil, a.HTTPURL(), tt.path)
		if resp.StatusCode != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s: %d, want 200 with %q", tt.path, resp.StatusCode, tt.want)
		}
	}
}

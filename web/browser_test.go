package web_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/day2ops/day2/app"
)

// The browser tests drive the dashboard in headless Chromium. They skip when no
// Chromium is installed, unless DAY2_TEST_REQUIRE_BROWSER=1 (CI sets it). Their
// screenshots go to $DAY2_TEST_ARTIFACTS, or to a temporary directory that the
// test log names. DAY2_UPDATE_SCREENSHOTS=1 also writes the documentation's
// screenshots (docs/img) from seven days of the demo fleet:
//
//	DAY2_UPDATE_SCREENSHOTS=1 go test -run TestBrowser ./web/

// browser starts a headless Chromium at 1440x900 for the test, and collects the
// errors its pages write to the console: every test fails on any.
func browser(t *testing.T) (context.Context, *consoleLog) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("DAY2_TEST_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found and DAY2_TEST_REQUIRE_BROWSER=1: install it with apt-get install -y chromium")
		}
		t.Skip("no Chromium found; install it (apt-get install -y chromium) to run the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	log := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				log.add(m.String() + " (" + m.URL + ")")
			}
		}
	}()
	t.Cleanup(func() {
		for _, e := range log.all() {
			t.Errorf("browser console: %s", e)
		}
	})
	return ctx, log
}

type consoleLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *consoleLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, s)
}

func (l *consoleLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// artifacts returns the directory screenshots go to.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DAY2_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, "web")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// shoot saves a screenshot of the viewport as name in dir, and in docs/img too
// when docs is set.
func shoot(t *testing.T, ctx context.Context, dir, docs, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, d := range []string{dir, docs} {
		if d == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// TestBrowser loads the overview of a seeded day2, checks that its tiles show
// what the API reports and that it fits one 1440x900 screen, then clicks through
// to an SLO and to a task's waterfall, in light and dark themes.
func TestBrowser(t *testing.T) {
	ctx, _ := browser(t)
	dir := artifacts(t)
	var a *app.App
	docs := ""
	if os.Getenv("DAY2_UPDATE_SCREENSHOTS") != "1" {
		a = seeded(t)
	} else {
		// The README's picture shows a week of history, not three hours.
		a = startApp(t, false, 7*24*time.Hour)
		docs = filepath.Join("..", "docs", "img")
		if err := os.MkdirAll(docs, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base := a.HTTPURL()
	slos := apiSLOs(t, base)

	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`[data-slo="support-triage/task-success"]`))); err != nil {
		t.Fatalf("load the overview: %v", err)
	}
	for name, s := range slos {
		_, short, _ := strings.Cut(name, "/")
		sel := fmt.Sprintf(`[data-slo=%q]`, name)
		switch short {
		case "task-success", "escalation-rate", "tool-failure":
			if got, want := text(t, ctx, sel+" [data-value]"), tileValue(short, *s.SLI); got != want {
				t.Errorf("tile %s shows %q, the API reports %q", name, got, want)
			}
		case "cycle-time":
			if got, want := text(t, ctx, sel+" .detail"), fmt.Sprintf("%.2f%% within 120 s", 100**s.SLI); !strings.HasPrefix(got, want) {
				t.Errorf("tile %s says %q, want it to start with %q", name, got, want)
			}
		default:
			continue // custom SLOs are links, not tiles
		}
		if st := text(t, ctx, sel+" .st"); !strings.Contains(st, strings.ReplaceAll(s.Status, "_", " ")) {
			t.Errorf("tile %s shows status %q, the API reports %s", name, st, s.Status)
		}
		for _, al := range s.Alerts {
			badge := strings.ToUpper(al.Severity) + " "
			if has := strings.Contains(text(t, ctx, sel+" .alerts"), badge); has != (al.State == "firing") {
				t.Errorf("tile %s: %s alert is %s in the API, badge shown: %v", name, al.Severity, al.State, has)
			}
		}
	}
	// One screen: the tiles, capacity, release and cost watch all fit 1440x900.
	bottoms, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("main section")].map(s => s.getBoundingClientRect().bottom)`))
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bottoms {
		if b > 900 {
			t.Errorf("overview section %d ends at %.0f px, below the 900 px screen", i, b)
		}
	}
	shoot(t, ctx, dir, docs, "overview.png")

	// Dark theme follows the system setting.
	scheme := func(s string) {
		t.Helper()
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: s}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	scheme("dark")
	bg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if err != nil {
		t.Fatal(err)
	}
	if bg != "rgb(13, 17, 23)" {
		t.Errorf("dark theme background = %s, want rgb(13, 17, 23)", bg)
	}
	shoot(t, ctx, dir, docs, "overview-dark.png")
	scheme("light")

	// Click through to the paging SLO.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-slo="support-triage/task-success"] h4 a`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart`)),
	); err != nil {
		t.Fatalf("open the SLO page: %v", err)
	}
	if h := text(t, ctx, "h1"); !strings.HasPrefix(h, "support-triage/task-success") {
		t.Errorf("SLO page heading %q", h)
	}
	if got, want := text(t, ctx, "[data-sli]"), tileValue("task-success", *slos["support-triage/task-success"].SLI); !strings.HasPrefix(got, want) {
		t.Errorf("SLO page SLI %q, want %s", got, want)
	}
	if h := text(t, ctx, "#h-hist + table tbody"); !strings.Contains(h, "firing") {
		t.Errorf("alert history %q lacks the page alert", h)
	}
	shoot(t, ctx, dir, docs, "slo.png")

	// Then to the failed tasks, and the waterfall of one that called tools.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href^="/tasks?"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form.taskfilters`)),
		chromedp.SetValue(chromedp.CSS(`#t-out`), "failure"),
		chromedp.Submit(chromedp.CSS(`form.taskfilters`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-task]`)),
	); err != nil {
		t.Fatalf("filter the tasks: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "outcome=failure") || !strings.Contains(loc, "service=support-triage") {
		t.Errorf("the filtered list's URL %s does not hold its filters", loc)
	}
	shoot(t, ctx, dir, docs, "tasks.png")
	// A failed task whose tool calls failed after retries shows the most.
	var id string
	for _, tk := range apiTasks(t, base, "support-triage") {
		if tk.Success != nil && !*tk.Success && tk.ToolFailures > 0 && tk.ToolRetries > 0 && tk.LLMCalls > 0 {
			id = tk.TaskID
			break
		}
	}
	if id == "" {
		t.Fatal("no failed task with tool calls")
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/tasks/"+id),
		chromedp.WaitVisible(chromedp.CSS(`table.wf`)),
		chromedp.Click(chromedp.CSS(`tr[data-role="tool"] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-role="tool"] details[open] table`)),
	); err != nil {
		t.Fatalf("open the task waterfall: %v", err)
	}
	roles, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("table.wf tr[data-role]")].map(r => r.dataset.role)`))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(roles, " ")
	if !strings.HasPrefix(joined, "root") || !strings.Contains(joined, "LLM") || !strings.Contains(joined, "tool") {
		t.Errorf("waterfall rows %v, want the root, then LLM and tool calls", roles)
	}
	if o := text(t, ctx, "[data-outcome]"); !strings.Contains(o, "failed") {
		t.Errorf("task outcome %q", o)
	}
	shoot(t, ctx, dir, docs, "task.png")
}

// TestBrowserLogin logs in with a token on a day2 with auth on: a page opened
// without the cookie lands on the login form, and after it on that page.
func TestBrowserLogin(t *testing.T) {
	ctx, _ := browser(t)
	dir := artifacts(t)
	a := startApp(t, true, time.Hour)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(a.HTTPURL()+"/slos"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
	); err != nil {
		t.Fatalf("open a page without a token: %v", err)
	}
	shoot(t, ctx, dir, "", "login.png")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#token`), readToken),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-slo]`)),
	); err != nil {
		t.Fatalf("log in: %v", err)
	}
	if who := text(t, ctx, ".who"); who != "Signed in as alice" {
		t.Errorf("header says %q", who)
	}
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	cookies := res.Cookies
	if len(cookies) != 1 || cookies[0].Name != "day2_token" || !cookies[0].HTTPOnly || cookies[0].SameSite != network.CookieSameSiteStrict {
		t.Errorf("cookies after login: %+v", cookies)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.Navigate(a.HTTPURL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
	); err != nil {
		t.Fatalf("log out: %v", err)
	}
}

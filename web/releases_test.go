package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/day2ops/day2/internal/testclock"
	"html"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/canary"
	"github.com/day2ops/day2/demo"
	"github.com/day2ops/day2/release"
)

// Tokens of the releases tests' auth file: a reader, an operator who may also
// read (the dashboard needs read), and the demo fleet.
const (
	relReadToken    = "rel-read-token-0123456789abcdef"
	relOperateToken = "rel-operate-token-0123456789abcdef"
	relIngestToken  = "rel-ingest-token-0123456789abcdef"
)

const releasesAuthFile = `tokens:
  - name: rita
    token: "` + relReadToken + `"
    scopes: [read]
  - name: oscar
    token: "` + relOperateToken + `"
    scopes: [read, operate]
  - name: fleet
    token: "` + relIngestToken + `"
    scopes: [ingest]
`

type testClock = testclock.Clock

// releaseFixture is a day2 with tokens and three hours of the demo fleet, with
// rollouts started 150 minutes before the end of that history and judged once
// at its end, as the judge loop would have by then.
type releaseFixture struct {
	app  *app.App
	base string
	// invoice is a canary of invoice-agent 2.4.0 over 2.3.1 in prod whose
	// steps last a day, so the judge's one look leaves it running at its first
	// step; triage is one of support-triage 1.5.0 over 1.4.0 in prod with
	// ten-minute steps, which the judge advances or rolls back; shadow runs
	// invoice-agent 2.5.0-rc.1 in the shadow of 2.4.0 in staging, where only
	// 2.4.0 has tasks.
	invoice, triage, shadow release.Rollout
}

// startReleases starts a releaseFixture for one test.
func startReleases(t *testing.T) *releaseFixture {
	t.Helper()
	dir := t.TempDir()
	authPath := filepath.Join(dir, "auth.yaml")
	if err := os.WriteFile(authPath, []byte(releasesAuthFile), 0o600); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Truncate(time.Minute)
	clock := testclock.New(end.Add(time.Minute))
	a, err := app.New(context.Background(), app.Options{HTTPAddr: "127.0.0.1:0", DataDir: dir, AuthFile: authPath,
		EvalInterval: time.Hour, Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	if _, err := demo.Run(context.Background(), demo.Config{Endpoint: a.OTLPHTTPURL(), Token: relIngestToken, Backfill: 3 * time.Hour,
		Live: -1, Seed: 1, Now: func() time.Time { return end }}); err != nil {
		t.Fatalf("demo backfill: %v", err)
	}
	f := &releaseFixture{app: a, base: a.HTTPURL()}
	oscar := user{t, f.base, relOperateToken}
	start := func(body string) release.Rollout {
		t.Helper()
		resp, b := oscar.api("POST", "/api/v1/rollouts", body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("start a rollout: %d %s", resp.StatusCode, b)
		}
		var ro release.Rollout
		if err := json.Unmarshal([]byte(b), &ro); err != nil {
			t.Fatal(err)
		}
		return ro
	}
	clock.Set(end.Add(-150 * time.Minute))
	f.invoice = start(`{"service": "invoice-agent", "environment": "prod", "baseline": "2.3.1", "candidate": "2.4.0",
		"strategy": {"type": "canary", "steps": [10, 50, 100], "step_duration": "24h", "min_samples": 20},
		"judge": {"min_samples": 20, "max_looks": 1}, "reason": "faster invoice matching"}`)
	f.triage = start(`{"service": "support-triage", "environment": "prod", "baseline": "1.4.0", "candidate": "1.5.0",
		"strategy": {"type": "canary", "step_duration": "10m", "min_samples": 20},
		"judge": {"min_samples": 20, "max_looks": 1}, "reason": "new CRM client"}`)
	f.shadow = start(`{"service": "invoice-agent", "environment": "staging", "baseline": "2.4.0", "candidate": "2.5.0-rc.1",
		"strategy": {"type": "shadow", "share": 20}, "reason": "try the new model beside 2.4.0"}`)
	clock.Set(end.Add(time.Minute))
	if err := a.Releases.Tick(context.Background()); err != nil {
		t.Fatalf("judge the rollouts: %v", err)
	}
	if _, err := a.SLO.Tick(context.Background()); err != nil {
		t.Fatalf("evaluate SLOs: %v", err)
	}
	return f
}

// user does requests as one token of the releases tests' auth file.
type user struct {
	t     *testing.T
	base  string
	token string
}

// api calls the JSON API with the token in the Authorization header.
func (u user) api(method, path, body string) (*http.Response, string) {
	u.t.Helper()
	req, err := http.NewRequest(method, u.base+path, strings.NewReader(body))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+u.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(u.t, req)
}

// page loads a dashboard page as a browser does, with the login cookie.
func (u user) page(path string) (*http.Response, string) {
	u.t.Helper()
	req, err := http.NewRequest("GET", u.base+path, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: "day2_token", Value: u.token})
	return do(u.t, req)
}

// submit posts a form as a browser does from one of day2's pages: with the
// cookie and same-origin headers, unless header says otherwise.
func (u user) submit(path string, form url.Values, header http.Header) (*http.Response, string) {
	u.t.Helper()
	req, err := http.NewRequest("POST", u.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	req.AddCookie(&http.Cookie{Name: "day2_token", Value: u.token})
	return do(u.t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// rollout reads a rollout through the API.
func (u user) rollout(id string) release.Rollout {
	u.t.Helper()
	resp, body := u.api("GET", "/api/v1/rollouts/"+id, "")
	if resp.StatusCode != http.StatusOK {
		u.t.Fatalf("GET /api/v1/rollouts/%s: %d %s", id, resp.StatusCode, body)
	}
	var ro release.Rollout
	if err := json.Unmarshal([]byte(body), &ro); err != nil {
		u.t.Fatalf("decode rollout: %v\n%s", err, body)
	}
	return ro
}

// element returns the first element of body that starts with open (a tag
// with its attributes, "<tr data-rollout=\"…\">") up to its closing tag.
func element(t *testing.T, body, open string) string {
	t.Helper()
	i := strings.Index(body, open)
	if i < 0 {
		t.Fatalf("the page has no %s", open)
	}
	tag := strings.TrimPrefix(strings.Fields(open)[0], "<")
	tag = strings.TrimSuffix(tag, ">")
	j := strings.Index(body[i:], "</"+tag+">")
	if j < 0 {
		t.Fatalf("%s is not closed", open)
	}
	return body[i : i+j]
}

var cellRe = regexp.MustCompile(`data-col="([a-z_]+)"[^>]*>([^<]*)<`)

// cells returns the data-col cells of an element as text.
func cells(el string) map[string]string {
	m := map[string]string{}
	for _, c := range cellRe.FindAllStringSubmatch(el, -1) {
		m[c[1]] = html.UnescapeString(strings.TrimSpace(c[2]))
	}
	return m
}

// thousands formats n with thousands separators, as the dashboard does.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// wantCells is what the verdict table must show of metric m: its numbers as
// the API reports them.
func wantCells(m canary.MetricVerdict) map[string]string {
	p := func(f float64) string { return strconv.FormatFloat(f, 'g', 3, 64) }
	w := map[string]string{
		"baseline_n": thousands(m.BaselineN), "candidate_n": thousands(m.CandidateN),
		"test": m.Test, "baseline": "–", "candidate": "–", "p_value": "–", "threshold": p(m.Threshold),
	}
	if m.Test == "" {
		w["test"] = "none yet"
		return w
	}
	if m.Metric == canary.MetricCycleTime {
		w["baseline"] = thousands(int64(math.Round(m.Baseline))) + " ms"
		w["candidate"] = thousands(int64(math.Round(m.Candidate))) + " ms"
	} else {
		w["baseline"] = fmt.Sprintf("%.2f%%", 100*m.Baseline)
		w["candidate"] = fmt.Sprintf("%.2f%%", 100*m.Candidate)
	}
	w["p_value"] = p(m.PValue)
	if m.PValue <= m.Threshold {
		w["threshold"] = "≤ " + w["threshold"]
	} else {
		w["threshold"] = "> " + w["threshold"]
	}
	return w
}

// scoreOf is the canary score of v as the dashboard shows it: "–" while no
// metric has passed or failed.
func scoreOf(v release.Verdict) string {
	for _, m := range v.Metrics {
		if m.Verdict == canary.VerdictPass || m.Verdict == canary.VerdictFail {
			return strconv.FormatFloat(math.Round(v.Score*10)/10, 'f', -1, 64)
		}
	}
	return "–"
}

// TestReleasesPages checks the releases list, a rollout's page against
// GET /api/v1/rollouts/{id}, and the overview's release watch.
func TestReleasesPages(t *testing.T) {
	f := startReleases(t)
	rita := user{t, f.base, relReadToken}
	oscar := user{t, f.base, relOperateToken}
	if resp, body := oscar.api("PUT", "/api/v1/flags/new-checkout", `{"state": "DISABLED", "variants": {"on": true, "off": false}, "defaultVariant": "off", "reason": "checkout bug"}`); resp.StatusCode >= 300 {
		t.Fatalf("PUT a flag: %d %s", resp.StatusCode, body)
	}
	for _, v := range []string{
		`{"version": "2.3.1", "bundle": {"model": "gpt-4o", "prompt": "Match each invoice to its order.", "tools": ["erp.lookup"]}, "reason": "baseline"}`,
		`{"version": "2.4.0", "bundle": {"model": "gpt-4o-mini", "prompt": "Match each invoice to its order and its receipt.", "tools": ["erp.lookup", "erp.match"]}, "reason": "faster matching"}`,
	} {
		if resp, body := oscar.api("POST", "/api/v1/services/invoice-agent/versions", v); resp.StatusCode != http.StatusCreated {
			t.Fatalf("register a version: %d %s", resp.StatusCode, body)
		}
	}
	invoice := rita.rollout(f.invoice.ID)
	triage := rita.rollout(f.triage.ID)
	if len(invoice.Verdicts) != 1 || invoice.State != release.StateRunning || invoice.Step != 0 {
		t.Fatalf("the invoice canary should be running at its first step after one look: %s step %d, %d verdicts", invoice.State, invoice.Step, len(invoice.Verdicts))
	}
	latest := invoice.Verdicts[0]
	if len(latest.Metrics) != 4 || latest.Metrics[0].Test == "" {
		t.Fatalf("the judge's look should have tested every metric: %+v", latest)
	}

	t.Run("the list shows the active rollouts with step, weights and verdict", func(t *testing.T) {
		resp, body := rita.page("/releases")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /releases: %d\n%s", resp.StatusCode, body)
		}
		row := element(t, body, `<tr data-rollout="`+invoice.ID+`">`)
		for _, want := range []string{"invoice-agent", "prod", "2.3.1 → 2.4.0", "canary", "step 1 of 3 (10%)", "baseline 90% · candidate 10%",
			`data-state="running"`, "▶ running", canaryVerdict(latest.Verdict), `data-score>` + scoreOf(latest) + "<", `href="/releases/` + invoice.ID + `"`} {
			if !strings.Contains(row, want) {
				t.Errorf("the invoice rollout's row lacks %q:\n%s", want, row)
			}
		}
		shadow := element(t, body, `<tr data-rollout="`+f.shadow.ID+`">`)
		for _, want := range []string{"shadow on 20% of traffic", "candidate shadows 20%"} {
			if !strings.Contains(shadow, want) {
				t.Errorf("the shadow rollout's row lacks %q:\n%s", want, shadow)
			}
		}
		// The triage canary is active or, if the judge rolled it back, ended.
		triageRow := element(t, body, `<tr data-rollout="`+triage.ID+`">`)
		if !strings.Contains(triageRow, `data-state="`+triage.State+`"`) {
			t.Errorf("the triage rollout's row does not show its state %s:\n%s", triage.State, triageRow)
		}
		active := element(t, body, `<section aria-labelledby="h-active">`)
		if strings.Contains(active, triage.ID) != triage.Active() {
			t.Errorf("the triage rollout (%s) is listed as active: %v", triage.State, !triage.Active())
		}
		flag := element(t, body, `<tr data-flag="new-checkout">`)
		for _, want := range []string{"○ disabled", "oscar", "default off"} {
			if !strings.Contains(flag, want) {
				t.Errorf("the flag box's new-checkout lacks %q:\n%s", want, flag)
			}
		}
		if !strings.Contains(body, `<tr data-flag="rollout.invoice-agent">`) {
			t.Error("the flag box lacks the rollout flag of invoice-agent")
		}
	})

	filters := []struct {
		name, query string
		status      int
		has, hasNot []string
	}{
		{"by service", "?service=support-triage", 200, []string{triage.ID}, []string{invoice.ID, f.shadow.ID}},
		{"by environment", "?env=staging", 200, []string{f.shadow.ID}, []string{invoice.ID, triage.ID}},
		{"by state", "?state=running", 200, []string{invoice.ID}, []string{"Recently ended"}},
		{"ended only", "?state=promoted&service=invoice-agent", 200, []string{"Recently ended", "No rollout matching the filters has ended yet"}, []string{invoice.ID, "Active rollouts"}},
		{"an unknown state", "?state=done", 400, []string{"not one of running, paused, promoted, rolled_back"}, nil},
	}
	for _, tt := range filters {
		t.Run("the list filters "+tt.name, func(t *testing.T) {
			resp, body := rita.page("/releases" + tt.query)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET /releases%s: %d, want %d\n%s", tt.query, resp.StatusCode, tt.status, body)
			}
			for _, w := range tt.has {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, w := range tt.hasNot {
				if strings.Contains(body, w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}

	t.Run("a rollout's page shows the verdict's numbers as the API reports them", func(t *testing.T) {
		resp, body := rita.page("/releases/" + invoice.ID)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /releases/%s: %d\n%s", invoice.ID, resp.StatusCode, body)
		}
		for _, m := range latest.Metrics {
			got := cells(element(t, body, `<tr data-metric="`+m.Metric+`">`))
			for col, want := range wantCells(m) {
				if got[col] != want {
					t.Errorf("%s %s: page %q, API %q", m.Metric, col, got[col], want)
				}
			}
			if !strings.Contains(html.UnescapeString(body), m.Reason) {
				t.Errorf("%s: the page lacks the judge's reason %q", m.Metric, m.Reason)
			}
		}
		summary := element(t, body, `<p class="verdict"`)
		for _, want := range []string{canaryVerdict(latest.Verdict), "score <strong data-score>" + scoreOf(latest) + "<",
			thousands(latest.BaselineTasks) + " baseline and " + thousands(latest.CandidateTasks) + " candidate tasks", "look 1 of 1"} {
			if !strings.Contains(summary, want) {
				t.Errorf("the verdict line lacks %q:\n%s", want, summary)
			}
		}
		for _, want := range []string{
			`href="/tasks?env=prod&amp;service=invoice-agent&amp;version=2.3.1"`, `href="/tasks?env=prod&amp;service=invoice-agent&amp;version=2.4.0"`,
			`<li aria-current="step">▶ <strong>step 1</strong> <span class="muted">10% candidate</span>`, "baseline 90% · candidate 10%",
			`data-chart="success"`, `data-chart="toolfail"`, `<path class="line base" d="M`, `<path class="line cand" d="M`,
			`<tr data-event="started">`, "faster invoice matching", "<td><code>model</code></td><td>changed</td>", "gpt-4o-mini", "added: <code>erp.match</code>",
			"<summary>Prompt diff</summary>", "&#43;Match each invoice to its order and its receipt.",
			"need a token with the <code>operate</code> scope",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the rollout page lacks %q", want)
			}
		}
		if strings.Contains(body, `<form method="post" action="/releases/`) {
			t.Error("a read-only token sees the rollout's forms")
		}
	})

	t.Run("an operator sees pause, promote and roll back", func(t *testing.T) {
		_, body := oscar.page("/releases/" + invoice.ID)
		for _, a := range []string{"pause", "promote", "rollback"} {
			form := element(t, body, `<form method="post" action="/releases/`+invoice.ID+`/`+a+`"`)
			if !strings.Contains(form, `name="reason" required`) {
				t.Errorf("the %s form has no required reason:\n%s", a, form)
			}
		}
		if !strings.Contains(body, `<button type="submit" class="danger">Roll back</button>`) {
			t.Error("the rollback button is not styled as danger")
		}
		if strings.Contains(body, `/resume"`) {
			t.Error("a running rollout offers resume")
		}
	})

	t.Run("the judge's decisions show in the history with their evidence", func(t *testing.T) {
		_, body := rita.page("/releases/" + triage.ID)
		last := triage.History[len(triage.History)-1]
		if last.Type == release.HistoryStarted {
			t.Skipf("the judge left the triage canary as it was (%s)", triage.Verdicts[0].Verdict)
		}
		ev := html.UnescapeString(element(t, body, `<tr data-event="`+last.Type+`">`))
		for _, want := range []string{release.JudgeActor, last.Reason} {
			if !strings.Contains(ev, want) {
				t.Errorf("the history's %s lacks %q:\n%s", last.Type, want, ev)
			}
		}
		for _, m := range last.Evidence {
			if !strings.Contains(ev, m.Reason) {
				t.Errorf("the history's %s lacks the evidence %q", last.Type, m.Reason)
			}
		}
	})

	t.Run("the overview's release watch compares by the rollouts", func(t *testing.T) {
		_, body := rita.page("/")
		rw := element(t, body, `<section aria-labelledby="h-rw">`)
		// invoice-agent in prod: the rollout's link, baseline first.
		if !strings.Contains(rw, `href="/releases/`+invoice.ID+`"`) || !strings.Contains(rw, `data-rollout-state="running"`) || !strings.Contains(rw, "▶ 10%") {
			t.Errorf("the release watch lacks the running invoice rollout at 10%%:\n%s", rw)
		}
		got := map[string]string{}
		var order []string
		roleRe := regexp.MustCompile(`</a></td><td>([^<]*)</td>`)
		for _, chunk := range strings.Split(rw, `<tr data-version="`)[1:] {
			v, _, _ := strings.Cut(chunk, `"`)
			if m := roleRe.FindStringSubmatch(chunk); m != nil {
				got[v] = m[1]
			}
			order = append(order, v)
		}
		want := map[string]string{
			"invoice-agent/prod/2.3.1": "baseline", "invoice-agent/prod/2.4.0": "candidate",
			// Only 2.4.0 ran in staging, but the shadow rollout makes it the
			// baseline of 2.5.0-rc.1, which has no task yet.
			"invoice-agent/staging/2.4.0": "baseline", "invoice-agent/staging/2.5.0-rc.1": "candidate",
			"support-triage/prod/1.4.0": "baseline", "support-triage/prod/1.5.0": "candidate",
		}
		for v, role := range want {
			if got[v] != role {
				t.Errorf("release watch: %s is %q, want %q (rows %v)", v, got[v], role, got)
			}
		}
		if !strings.Contains(strings.Join(order, " "), "invoice-agent/staging/2.4.0 invoice-agent/staging/2.5.0-rc.1") {
			t.Errorf("release watch rows in order %v: the shadow's baseline should come before its candidate", order)
		}
		if !strings.Contains(rw, `href="/releases/`+f.shadow.ID+`"`) || !strings.Contains(rw, "shadow 20%") {
			t.Errorf("the release watch lacks the shadow rollout:\n%s", rw)
		}
	})

	t.Run("a rollout of unregistered versions says so", func(t *testing.T) {
		_, body := rita.page("/releases/" + f.shadow.ID)
		for _, want := range []string{"day2 cannot say what changed: version 2.5.0-rc.1 of invoice-agent is not registered",
			"shadow on 20% of traffic", "the candidate also runs on 20% of traffic"} {
			if !strings.Contains(body, want) {
				t.Errorf("the shadow rollout's page lacks %q", want)
			}
		}
	})

	t.Run("the release watch narrowed to an environment shows its rollouts only", func(t *testing.T) {
		_, body := rita.page("/?env=staging")
		rw := element(t, body, `<section aria-labelledby="h-rw">`)
		if !strings.Contains(rw, `href="/releases/`+f.shadow.ID+`"`) || strings.Contains(rw, `href="/releases/`+invoice.ID+`"`) {
			t.Errorf("the staging release watch should link the shadow rollout and not the prod one:\n%s", rw)
		}
	})

	t.Run("an unknown rollout is a 404", func(t *testing.T) {
		resp, body := rita.page("/releases/ro_nope")
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no rollout") {
			t.Errorf("GET /releases/ro_nope: %d\n%s", resp.StatusCode, body)
		}
	})
}

func canaryVerdict(v string) string {
	return map[string]string{"pass": "✓ pass", "fail": "✕ fail", "inconclusive": "? inconclusive"}[v]
}

// TestReleaseForms acts on a rollout through its page's forms.
func TestReleaseForms(t *testing.T) {
	f := startReleases(t)
	rita := user{t, f.base, relReadToken}
	oscar := user{t, f.base, relOperateToken}
	id := f.invoice.ID
	path := "/releases/" + id
	why := url.Values{"reason": {"error rate on invoices from contoso"}}

	steps := []struct {
		name   string
		as     user
		action string
		form   url.Values
		header http.Header
		status int
		flash  string // the message of the page redirected to, "" for no redirect
		state  string // the rollout's state through the API afterwards
	}{
		{"a read-only token is refused", rita, "rollback", why, nil, http.StatusForbidden, "", release.StateRunning},
		{"a cross-origin post is refused", oscar, "rollback", why, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, http.StatusForbidden, "", release.StateRunning},
		{"a post without a reason changes nothing", oscar, "rollback", url.Values{"reason": {"  "}}, nil, http.StatusSeeOther, "✕ nothing was done: say why you roll back the rollout", release.StateRunning},
		{"an unknown action is a 404", oscar, "explode", why, nil, http.StatusNotFound, "", release.StateRunning},
		{"pause", oscar, "pause", why, nil, http.StatusSeeOther, "✓ Paused the rollout of invoice-agent 2.4.0 at step 1 of 3 (10%)", release.StatePaused},
		{"resume", oscar, "resume", url.Values{"reason": {"false alarm"}}, nil, http.StatusSeeOther, "✓ Resumed the rollout", release.StateRunning},
		{"roll back", oscar, "rollback", why, nil, http.StatusSeeOther, "✓ Rolled back invoice-agent 2.4.0 in prod: 2.3.1 serves everyone.", release.StateRolledBack},
		{"an ended rollout cannot be promoted", oscar, "promote", why, nil, http.StatusSeeOther, "✕ rollout " + id + " is rolled_back; it has ended", release.StateRolledBack},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			resp, body := st.as.submit(path+"/"+st.action, st.form, st.header)
			if resp.StatusCode != st.status {
				t.Fatalf("POST %s/%s: %d, want %d\n%s", path, st.action, resp.StatusCode, st.status, body)
			}
			if st.flash != "" {
				loc := resp.Header.Get("Location")
				if !strings.HasPrefix(loc, path+"?flash=") {
					t.Fatalf("redirected to %q, want %s?flash=…", loc, path)
				}
				resp, page := st.as.page(loc)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %d", loc, resp.StatusCode)
				}
				flash := html.UnescapeString(element(t, page, `<p class="flash`))
				if !strings.Contains(flash, st.flash) {
					t.Errorf("the flash says %q, want %q", flash, st.flash)
				}
				if !strings.Contains(page, `data-state="`+st.state+`"`) {
					t.Errorf("the page does not show the state %s", st.state)
				}
			}
			if got := rita.rollout(id); got.State != st.state {
				t.Errorf("the API says the rollout is %s, want %s", got.State, st.state)
			}
		})
	}

	ro := rita.rollout(id)
	last := ro.History[len(ro.History)-1]
	if last.Type != release.HistoryRolledBack || last.Actor != "oscar" || last.Reason != why.Get("reason") {
		t.Errorf("the rollback's history entry: %+v", last)
	}
	_, body := rita.page("/releases?service=invoice-agent")
	row := element(t, body, `<tr data-rollout="`+id+`">`)
	for _, want := range []string{"↩ rolled back", "oscar", why.Get("reason")} {
		if !strings.Contains(row, want) {
			t.Errorf("the ended rollout's row lacks %q:\n%s", want, row)
		}
	}
	if active := element(t, body, `<section aria-labelledby="h-active">`); strings.Contains(active, id) {
		t.Error("the rolled-back rollout is still listed as active")
	}
	_, body = oscar.page(path)
	if strings.Contains(body, `<form method="post" action="/releases/`) {
		t.Error("an ended rollout still offers its forms")
	}
	// The page without the flash is the same rollout, without the message.
	if strings.Contains(body, `class="flash`) {
		t.Error("the flash shows without ?flash=")
	}
}

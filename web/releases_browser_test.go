package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/day2ops/day2/release"
)

// TestBrowserReleases signs in as an operator, opens the releases page,
// follows a rollout to its page, checks its verdict against the API, rolls it
// back with the form and sees the new state, in headless Chromium.
func TestBrowserReleases(t *testing.T) {
	ctx, _ := browser(t)
	dir := artifacts(t)
	f := startReleases(t)
	rita := user{t, f.base, relReadToken}
	id := f.invoice.ID
	before := rita.rollout(id)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.base+"/releases"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), relOperateToken),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-rollout="`+id+`"]`)),
	); err != nil {
		t.Fatalf("sign in and open the releases page: %v", err)
	}
	row := `tr[data-rollout="` + id + `"]`
	if st := text(t, ctx, row+" [data-state]"); st != "▶ running" {
		t.Errorf("the releases page shows the invoice rollout as %q", st)
	}
	if got, want := text(t, ctx, row+" [data-score]"), scoreOf(before.Verdicts[0]); got != want {
		t.Errorf("the releases page shows score %q, the API %q", got, want)
	}
	if got := text(t, ctx, row+" .wtext"); got != "baseline 90% · candidate 10%" {
		t.Errorf("the weights read %q", got)
	}
	shoot(t, ctx, dir, "", "releases.png")

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(row+" td a")),
		chromedp.WaitVisible(chromedp.CSS(`table.vt`)),
	); err != nil {
		t.Fatalf("open the rollout: %v", err)
	}
	for _, m := range before.Verdicts[0].Metrics {
		want := wantCells(m)
		for _, col := range []string{"baseline", "candidate", "p_value"} {
			if got := text(t, ctx, `tr[data-metric="`+m.Metric+`"] [data-col="`+col+`"]`); got != want[col] {
				t.Errorf("%s %s: the page shows %q, the API %q", m.Metric, col, got, want[col])
			}
		}
	}
	// The charts draw both versions.
	paths, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("figure.vchart path.line").length`))
	if err != nil {
		t.Fatal(err)
	}
	if paths != 4 {
		t.Errorf("the charts have %d lines, want a baseline and a candidate line in each of two", paths)
	}
	shoot(t, ctx, dir, "", "release.png")

	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`#why-rollback`), "invoices from contoso fail"),
		chromedp.Click(chromedp.CSS(`form[data-action="rollback"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	); err != nil {
		t.Fatalf("roll back: %v", err)
	}
	if fl := text(t, ctx, "p.flash"); !strings.Contains(fl, "Rolled back invoice-agent 2.4.0 in prod") {
		t.Errorf("the flash says %q", fl)
	}
	if st := text(t, ctx, "h1 + [data-state]"); st != "↩ rolled back" {
		t.Errorf("after the rollback the page shows the state %q", st)
	}
	if got := text(t, ctx, `.facts .wtext`); got != "baseline 100% · candidate 0%" {
		t.Errorf("after the rollback the weights read %q", got)
	}
	if after := rita.rollout(id); after.State != release.StateRolledBack || after.History[len(after.History)-1].Actor != "oscar" {
		t.Errorf("the API says the rollout is %s, last changed by %s", after.State, after.History[len(after.History)-1].Actor)
	}
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form[data-action]").length`))
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the rolled-back rollout still shows %d forms", n)
	}
	shoot(t, ctx, dir, "", "release-rolled-back.png")

	// The overview's release watch now shows the rollback and links to it.
	watch := `#h-rw + table a[href="/releases/` + id + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(watch)),
	); err != nil {
		t.Fatalf("open the overview: %v", err)
	}
	if got := text(t, ctx, watch); !strings.HasPrefix(got, "↩ rolled back") {
		t.Errorf("the release watch links the rollout as %q", got)
	}
	shoot(t, ctx, dir, "", "overview-releases.png")
}

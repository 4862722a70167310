package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/web"
)

var (
	benchOnce sync.Once
	bench     *fixture
	benchErr  error
)

// BenchmarkOverview renders the overview over a store filled through OTLP with
// the demo fleet's last 28 days (about 170,000 tasks; the fill takes a minute or
// two and is not timed). DAY2_BENCH_BACKFILL sets another history, e.g. 7d.
// Over all environments the overview shows the periodic SLO evaluation; with
// env= it evaluates the SLOs of that environment itself.
//
//	go test -run '^$' -bench Overview -benchtime 20x ./web/
func BenchmarkOverview(b *testing.B) {
	benchOnce.Do(func() {
		backfill := 28 * 24 * time.Hour
		if v := os.Getenv("DAY2_BENCH_BACKFILL"); v != "" {
			d, err := day2.ParseDuration(v)
			if err != nil {
				benchErr = err
				return
			}
			backfill = d
		}
		bench, benchErr = start(false, backfill)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	a := bench.app
	ui := web.New(web.Options{Store: a.Store, SLO: a.SLO, Auth: a.Auth})
	for _, c := range []struct{ name, path string }{
		{"24h", "/"},
		{"7d", "/?range=7d"},
		{"28d", "/?range=28d"},
		{"28d-one-service", "/?service=support-triage&range=28d"},
		{"28d-one-environment", "/?env=prod&range=28d"},
	} {
		path := c.path
		b.Run(c.name, func(b *testing.B) {
			// The periodic evaluation, which runs every 30 s in day2, is fresh.
			if _, err := a.SLO.Tick(context.Background()); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				w := httptest.NewRecorder()
				ui.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d\n%s", path, w.Code, w.Body)
				}
			}
		})
	}
}

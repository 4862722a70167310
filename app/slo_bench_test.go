package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/internal/pgtest"
	"github.com/day2ops/day2/sketch"
	"github.com/day2ops/day2/sqlite"
)

// benchServices x benchVersions keys get 28 days of rollups at 50 tasks/s per
// service, written straight into the rollup table (as the issue allows): every
// minute, hour and day row of the window.
const (
	benchServices = 20
	benchDays     = 28
)

var benchVersions = []string{"1.0.0", "1.1.0"}

type rollupRow struct {
	service, version string
	tier             day2.RollupTier
	start            time.Time
	c                day2.Counters
	cycle            []byte
}

// benchRows calls emit for every rollup row of the benchmark data set ending at end.
func benchRows(end time.Time, emit func(r rollupRow) error) error {
	perMinute := int64(50 * 60 / len(benchVersions)) // 50 tasks/s per service, split over versions
	minute := day2.Counters{Tasks: perMinute, Successes: perMinute * 98 / 100, Escalated: perMinute * 4 / 100,
		LLMCalls: 3 * perMinute, SafetyBlocks: 2, ToolCalls: 2 * perMinute, ToolFailures: perMinute / 300,
		ToolRetries: perMinute / 20, RateLimitHits: 3, InputTokens: 900 * perMinute, OutputTokens: 200 * perMinute,
		SuccessTokens: 1100 * perMinute * 98 / 100, Seen: perMinute}
	cycles := map[day2.RollupTier][]byte{}
	for _, tier := range []day2.RollupTier{day2.TierMinute, day2.TierHour, day2.TierDay} {
		var s sketch.Sketch
		n := int64(tier.Duration() / time.Minute)
		for _, v := range []float64{20000, 35000, 50000, 80000, 130000} {
			s.Add(v, perMinute*n/5)
		}
		cycles[tier], _ = s.MarshalBinary()
	}
	start := end.Add(-benchDays * 24 * time.Hour).Truncate(24 * time.Hour)
	for svc := 0; svc < benchServices; svc++ {
		for _, v := range benchVersions {
			for _, tier := range []day2.RollupTier{day2.TierDay, day2.TierHour, day2.TierMinute} {
				d := tier.Duration()
				n := int64(d / time.Minute)
				c := minute
				c.Tasks, c.Successes, c.Escalated = c.Tasks*n, c.Successes*n, c.Escalated*n
				c.LLMCalls, c.SafetyBlocks, c.ToolCalls, c.ToolFailures = c.LLMCalls*n, c.SafetyBlocks*n, c.ToolCalls*n, c.ToolFailures*n
				c.ToolRetries, c.RateLimitHits, c.InputTokens, c.OutputTokens = c.ToolRetries*n, c.RateLimitHits*n, c.InputTokens*n, c.OutputTokens*n
				c.SuccessTokens, c.Seen = c.SuccessTokens*n, c.Seen*n
				for t := start; t.Before(end); t = t.Add(d) {
					if err := emit(rollupRow{fmt.Sprintf("agent-%02d", svc), v, tier, t, c, cycles[tier]}); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func fillSQLite(b *testing.B, dir string, end time.Time) {
	st, err := sqlite.Open(context.Background(), dir) // creates the schema
	if err != nil {
		b.Fatal(err)
	}
	st.Close()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO rollups (service, tier, bucket_start, environment, version, risk_tier, business_process,
		tasks, successes, escalated, llm_calls, safety_blocks, tool_calls, tool_failures, tool_retries, rate_limit_hits,
		input_tokens, output_tokens, success_tokens, seen, cycle) VALUES (?,?,?,'prod',?,'1','triage',?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		b.Fatal(err)
	}
	err = benchRows(end, func(r rollupRow) error {
		c := r.c
		_, err := ins.Exec(r.service, int(r.tier), r.start.UnixNano(), r.version, c.Tasks, c.Successes, c.Escalated, c.LLMCalls,
			c.SafetyBlocks, c.ToolCalls, c.ToolFailures, c.ToolRetries, c.RateLimitHits, c.InputTokens, c.OutputTokens,
			c.SuccessTokens, c.Seen, r.cycle)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for svc := 0; svc < benchServices; svc++ {
		for _, v := range benchVersions {
			if _, err := tx.Exec(`INSERT INTO service_versions VALUES (?, 'prod', ?, 1, ?, ?)`,
				fmt.Sprintf("agent-%02d", svc), v, end.Add(-benchDays*24*time.Hour).UnixNano(), end.UnixNano()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

func fillPostgres(b *testing.B, dsn string, end time.Time) {
	ctx := context.Background()
	st, err := app.OpenStoreForTest(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	st()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows [][]any
	_ = benchRows(end, func(r rollupRow) error {
		c := r.c
		rows = append(rows, []any{r.service, int16(r.tier), r.start.UnixNano(), "prod", r.version, "1", "triage",
			c.Tasks, c.Successes, c.Escalated, c.LLMCalls, c.SafetyBlocks, c.ToolCalls, c.ToolFailures, c.ToolRetries,
			c.RateLimitHits, c.InputTokens, c.OutputTokens, c.SuccessTokens, c.Seen, r.cycle})
		return nil
	})
	cols := []string{"service", "tier", "bucket_start", "environment", "version", "risk_tier", "business_process",
		"tasks", "successes", "escalated", "llm_calls", "safety_blocks", "tool_calls", "tool_failures", "tool_retries",
		"rate_limit_hits", "input_tokens", "output_tokens", "success_tokens", "seen", "cycle"}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"rollups"}, cols, pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	for svc := 0; svc < benchServices; svc++ {
		for _, v := range benchVersions {
			if _, err := conn.Exec(ctx, `INSERT INTO service_versions VALUES ($1, 'prod', $2, 1, $3, $4)`,
				fmt.Sprintf("agent-%02d", svc), v, end.Add(-benchDays*24*time.Hour).UnixNano(), end.UnixNano()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkSLOStatus28Days measures GET /api/v1/slos over HTTP for 20 services x
// 4 SLOs with 28 days of rollups, reporting p50 and p99 latency.
func BenchmarkSLOStatus28Days(b *testing.B) {
	end := time.Now().UTC().Truncate(time.Minute)
	run := func(b *testing.B, opts app.Options) {
		opts.HTTPAddr, opts.EvalInterval = "127.0.0.1:0", time.Hour
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		a, err := app.New(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		defer func() { cancel(); <-done }()
		get := func(query string) time.Duration {
			t0 := time.Now()
			resp, err := http.Get(a.HTTPURL() + "/api/v1/slos" + query)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || n < 1000 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
			return time.Since(t0)
		}
		for a.SLO.Last() == nil { // the first evaluation tick runs at start
			time.Sleep(10 * time.Millisecond)
		}
		for i := 0; i < 3; i++ {
			get("") // warm caches
		}
		at := url.QueryEscape(time.Now().UTC().Format(time.RFC3339))
		for _, q := range []struct{ name, query string }{
			{"all-live", ""},                     // the evaluator's latest snapshot
			{"one-service", "?service=agent-07"}, // evaluated on demand: 4 SLOs
			{"all-as-of", "?at=" + at},           // evaluated on demand: 80 SLOs
		} {
			b.Run(q.name, func(b *testing.B) {
				lat := make([]time.Duration, 0, b.N)
				for i := 0; i < b.N; i++ {
					lat = append(lat, get(q.query))
				}
				sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
			})
		}
	}
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		fillSQLite(b, dir, end)
		run(b, app.Options{DataDir: dir})
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := pgtest.DSN(b)
		fillPostgres(b, dsn, end)
		run(b, app.Options{DB: dsn})
	})
}

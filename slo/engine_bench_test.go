package slo_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/slo"
)

// benchStore serves 28 days of rollups for 20 services and keeps nothing else.
type benchStore struct{ mem map[string]*memRollups }

func (b *benchStore) RollupRows(ctx context.Context, service string, tier day2.RollupTier, from, to time.Time) ([]day2.RollupRow, error) {
	return b.mem[service].RollupRows(ctx, "svc", tier, from, to)
}
func (b *benchStore) ListServices(context.Context) ([]day2.ServiceSummary, error) {
	var out []day2.ServiceSummary
	for s := range b.mem {
		out = append(out, day2.ServiceSummary{Service: s})
	}
	return out, nil
}
func (b *benchStore) SaveAlerts(context.Context, []day2.AlertState, []day2.AlertTransition) error {
	return nil
}
func (b *benchStore) AlertStates(context.Context) ([]day2.AlertState, error) { return nil, nil }
func (b *benchStore) Overrides(context.Context, string, time.Time) ([]day2.Override, error) {
	return nil, nil
}

// BenchmarkEngineStatus28Days evaluates the four built-in SLOs of 20 services
// over 28 days of per-minute rollups (50 tasks/s per service), in memory: the
// cost of the evaluation itself, without the database. "live" is GET
// /api/v1/slos; "as-of" adds, for each firing alert (the tool-failure SLOs here),
// the scan for the minute it began.
func BenchmarkEngineStatus28Days(b *testing.B) {
	end := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	st := &benchStore{mem: map[string]*memRollups{}}
	for s := 0; s < 20; s++ {
		m := newMem()
		for t := end.Add(-28 * 24 * time.Hour); t.Before(end); t = t.Add(time.Minute) {
			m.add(t, 3000, 2950, 40000)
		}
		st.mem[fmt.Sprintf("agent-%02d", s)] = m
	}
	e := slo.NewEngine(st, slo.Settings{}, func() time.Time { return end }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, bc := range []struct {
		name string
		live bool
	}{{"live", true}, {"as-of", false}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				sts, err := e.Status(context.Background(), "", end, bc.live)
				if err != nil || len(sts) != 80 {
					b.Fatalf("%d statuses, %v", len(sts), err)
				}
			}
		})
	}
}

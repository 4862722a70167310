package ingest_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/ingest"
	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// TestConcurrentSubmitsShareCommits submits batches from many goroutines at once
// into a real SQLite store: every batch is stored once, and the writer groups
// them into fewer commits than batches.
func TestConcurrentSubmitsShareCommits(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reg := prometheus.NewRegistry()
	p := ingest.New(st, ingest.Options{Registerer: reg, Linger: 50 * time.Millisecond, LingerItems: 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	const senders = 16
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for n := 0; n < senders; n++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			task := storetest.NewTypical(n, storetest.T0, "svc", "prod", "1")
			errs <- p.Submit(context.Background(), []day2.TaskData{task.All()})
		}(n)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	page, err := st.ListTasks(context.Background(), day2.TaskFilter{Limit: 100})
	if err != nil || len(page.Tasks) != senders {
		t.Fatalf("%d tasks stored (%v), want %d", len(page.Tasks), err, senders)
	}
	if commits := counter(t, reg, "day2_ingest_commits_total"); commits < 1 || commits >= senders {
		t.Fatalf("%v commits for %d concurrent batches, want fewer commits than batches", commits, senders)
	}

	// Once closed, the pipeline refuses new batches with a retryable error.
	p.Close(context.Background())
	cancel()
	<-done
	err = p.Submit(context.Background(), []day2.TaskData{storetest.NewTypical(99, storetest.T0, "svc", "prod", "1").All()})
	var de *day2.Error
	if !errors.As(err, &de) || de.Code != day2.EUnavailable {
		t.Fatalf("Submit after Close: %v, want an unavailable error", err)
	}
	if p.Accepting() {
		t.Fatal("a closed pipeline reports that it accepts batches")
	}
}

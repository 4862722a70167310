package approval_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/day2ops/day2/approval"
)

// BenchmarkCreateTier0 measures Tier 0 requests through the service on SQLite
// from many goroutines: each is one durable write of the request and its audit
// entry, group-committed with the others. It reports requests/s and the p99
// latency of one Create.
func BenchmarkCreateTier0(b *testing.B) {
	e := newEnv(b, nil)
	ctx := context.Background()
	in := approval.CreateInput{Service: "invoice-agent", Environment: "prod", Action: "lookup_vendor", TaskID: "t",
		EntityType: "vendor", Context: map[string]any{"vendor": "ACME", "confidence": 0.99}}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			r, _, err := e.svc.Create(ctx, agent, in)
			if err != nil {
				b.Error(err)
				return
			}
			if r.State != approval.StateApproved {
				b.Errorf("state %s", r.State)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

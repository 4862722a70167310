package storetest

import (
	"encoding/json"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

// BenchCommit measures CommitTasks on the stores open returns, in batches of 1000
// tasks of 7 spans and an outcome log each, and reports spans/s:
//
//   - new: every task arrives complete in one batch;
//   - split: a task's children arrive in one batch and its root span and outcome
//     log in the next, so half the rows written are updates of stored tasks, as
//     when exporters flush before a task ends;
//   - spread: like new, but the tasks belong to 240 rollup keys (20 services,
//     2 environments, 3 versions, 2 risk tiers) and their outcomes to ten
//     minutes, so that a commit changes about 1,500 rollup rows instead of a few.
func BenchCommit(b *testing.B, open func(b *testing.B) day2.TaskStore) {
	const tasks, spans = 1000, 7
	for _, mode := range []string{"new", "split", "spread"} {
		split := mode == "split"
		b.Run(mode, func(b *testing.B) {
			s := open(b)
			b.Cleanup(func() { _ = s.Close() })
			batch := func(i int) []*Task {
				out := make([]*Task, tasks)
				for j := range out {
					n := i*tasks + j
					start := T0.Add(time.Duration(n) * time.Millisecond)
					if mode == "spread" {
						out[j] = newSpread(n, start, spans)
					} else {
						out[j] = NewSized(n, start, spans)
					}
				}
				return out
			}
			var prev []*Task
			if split {
				prev = batch(-1)
				warm := make([]day2.TaskData, 0, tasks)
				for _, x := range prev {
					warm = append(warm, x.Children())
				}
				if _, err := s.CommitTasks(bg, warm); err != nil {
					b.Fatal(err)
				}
			}
			var stored int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				cur := batch(i)
				data := make([]day2.TaskData, 0, 2*tasks)
				for j, x := range cur {
					if split {
						rest := prev[j].RootOnly()
						rest.Logs = prev[j].Logs().Logs
						data = append(data, x.Children(), rest)
					} else {
						data = append(data, x.All())
					}
				}
				prev = cur
				b.StartTimer()
				r, err := s.CommitTasks(bg, data)
				if err != nil {
					b.Fatal(err)
				}
				stored += r.Spans
			}
			b.ReportMetric(float64(stored)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// newSpread returns a complete task like NewSized, of one of 240 rollup keys,
// whose outcome comes up to ten minutes after its start.
func newSpread(n int, start time.Time, spans int) *Task {
	t := NewTask(n, start).Service("agent-"+strconv.Itoa(n%20), []string{"prod", "staging"}[n/20%2], "1.0").
		Root(time.Minute, Str("gen_ai.agent.version", []string{"1.0", "1.1", "2.0"}[n/40%3]), Str("risk_tier", []string{"1", "2"}[n/120%2]))
	for i := 1; i < spans; i++ {
		at := time.Duration(i) * time.Second
		if i%2 == 1 {
			t.LLM(at, 800*time.Millisecond, 800, 120)
		} else {
			t.Tool(at, 300*time.Millisecond, i%6 == 0)
		}
	}
	return t.Outcome(time.Duration(n%600)*time.Second, n%10 != 0, Int("cycle_time_ms", int64(2000+n%600*1000)))
}

// BenchRollupRows measures RollupRows on a store from open holding 28 days of
// one service: 12 rollup keys (2 environments, 3 versions, 2 risk tiers) with a
// task per key and hour, so 336 day rows and 8,064 hour rows, each with a cycle
// time sketch. It reports rows/op:
//
//   - day: the 28 days' day rows;
//   - hour: the 28 days' hour rows;
//   - window: what the status of a 28-day window ending at a half hour reads,
//     as package slo splits it: whole days in the middle, then hours and
//     minutes at both edges.
func BenchRollupRows(b *testing.B, open func(b *testing.B) day2.TaskStore) {
	const days, keys = 28, 12
	s := open(b)
	b.Cleanup(func() { _ = s.Close() })
	rs, ok := s.(day2.RollupStore)
	if !ok {
		b.Fatalf("%T does not implement day2.RollupStore", s)
	}
	begin := T0.Truncate(24 * time.Hour)
	var batch []day2.TaskData
	n := 0
	for h := range days * 24 {
		for k := range keys {
			x := NewTask(n, begin.Add(time.Duration(h)*time.Hour+time.Duration(k)*time.Minute)).
				Service("invoice-agent", []string{"prod", "staging"}[k%2], "1.0").
				Root(time.Minute, Str("gen_ai.agent.version", []string{"1.0", "1.1", "2.0"}[k/2%3]), Str("risk_tier", []string{"1", "2"}[k/6])).
				LLM(time.Second, 2*time.Second, 800, 120).Tool(4*time.Second, time.Second, n%50 == 0).
				Outcome(time.Minute, n%20 != 0, Int("cycle_time_ms", int64(1000+n*7919%600_000)))
			batch = append(batch, x.All())
			n++
			if len(batch) == 1000 {
				if _, err := s.CommitTasks(bg, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	if _, err := s.CommitTasks(bg, batch); err != nil {
		b.Fatal(err)
	}

	type read struct {
		tier     day2.RollupTier
		from, to time.Time
	}
	from, to := begin.Add(12*time.Hour+30*time.Minute), begin.Add(27*24*time.Hour+12*time.Hour+30*time.Minute)
	for _, bm := range []struct {
		name  string
		reads []read
	}{
		{"day", []read{{day2.TierDay, begin, begin.Add(days * 24 * time.Hour)}}},
		{"hour", []read{{day2.TierHour, begin, begin.Add(days * 24 * time.Hour)}}},
		{"window", []read{
			{day2.TierMinute, from, from.Add(30 * time.Minute)},
			{day2.TierHour, from.Add(30 * time.Minute), begin.Add(24 * time.Hour)},
			{day2.TierDay, begin.Add(24 * time.Hour), to.Truncate(24 * time.Hour)},
			{day2.TierHour, to.Truncate(24 * time.Hour), to.Add(-30 * time.Minute)},
			{day2.TierMinute, to.Add(-30 * time.Minute), to},
		}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			rows := 0
			b.ReportAllocs()
			for b.Loop() {
				rows = 0
				for _, r := range bm.reads {
					got, err := rs.RollupRows(bg, "invoice-agent", r.tier, r.from, r.to)
					if err != nil {
						b.Fatal(err)
					}
					rows += len(got)
				}
			}
			b.ReportMetric(float64(rows), "rows/op")
		})
	}
}

// ApprovalWrite returns the write a Tier 0 approval request makes at now: a
// record of about 900 bytes with an idempotency key (n makes it unique, in no
// order), and its audit entry.
func ApprovalWrite(n int64, now time.Time) (day2.Record, day2.AuditEntry) {
	id := day2.NewRecordID("ap_", now)
	r := day2.Record{Kind: "approval", ID: id, Key: "bench-agent/" + strconv.FormatUint(mix(uint64(n)), 36),
		Service: "bench-agent", State: "approved", Body: approvalBody}
	e := day2.AuditEntry{At: now, Actor: "anonymous", Action: "approval.request", Target: "approval/" + id,
		Reason: "Tier 0: approved at once, audit only", After: approvalAfter}
	return r, e
}

var (
	approvalBody = []byte(`{"state":"approved","tier":0,"service":"bench-agent","environment":"prod","action":"lookup_vendor",` +
		`"requester":"anonymous","auto_approved":true,"context":{"confidence":0.99,"in_policy":true},` +
		`"reason":"rules[0] (action lookup_vendor, tier 0) of policy bench matched: Tier 0; Tier 0: approved at once, audit only",` +
		`"history":[{"at":"2026-11-26T14:00:00Z","actor":"anonymous","action":"requested","note":"rules[0] (action lookup_vendor, tier 0) of policy bench matched"},` +
		`{"at":"2026-11-26T14:00:00Z","actor":"day2","action":"auto_approved","note":"Tier 0: approved at once, audit only"}],` +
		`"approvers":{},"created_by":"anonymous","created_at":"2026-11-26T14:00:00Z","decided_at":"2026-11-26T14:00:00Z","decided_by":"day2",` +
		`"padding":"` + strings.Repeat("x", 200) + `"}`)
	approvalAfter = json.RawMessage(`{"state":"approved","tier":0,"service":"bench-agent","environment":"prod","action":"lookup_vendor",` +
		`"requester":"anonymous","auto_approved":true,"reason":"Tier 0: approved at once, audit only","decided_by":"day2"}`)
)

// BenchPutRecords measures PutRecords as approval requests make it: 16
// concurrent writers, each creating one record of about 900 bytes with an
// idempotency key and one audit entry per call. It reports writes/s and the
// p50 and p99 latency of a call.
func BenchPutRecords(b *testing.B, open func(b *testing.B) StateStore) {
	const writers = 16
	s := open(b)
	b.Cleanup(func() { _ = s.Close() })
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			now := time.Now()
			r, e := ApprovalWrite(next.Add(1), now)
			if _, _, err := s.PutRecords(bg, []day2.Record{r}, []day2.AuditEntry{e}); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(now))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/b.Elapsed().Seconds(), "writes/s")
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
}

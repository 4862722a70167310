package storetest

import (
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
//     when exporters flush before a task ends.
func BenchCommit(b *testing.B, open func(b *testing.B) day2.TaskStore) {
	const tasks, spans = 1000, 7
	for _, split := range []bool{false, true} {
		name := "new"
		if split {
			name = "split"
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			b.Cleanup(func() { _ = s.Close() })
			batch := func(i int) []*Task {
				out := make([]*Task, tasks)
				for j := range out {
					n := i*tasks + j
					out[j] = NewSized(n, T0.Add(time.Duration(n)*time.Millisecond), spans)
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

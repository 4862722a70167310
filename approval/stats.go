package approval

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/day2ops/day2"
)

// maxStatsScan caps the requests one Stats call reads; beyond it the result
// says Truncated.
const maxStatsScan = 100_000

// Outcomes of requests, as Stats counts them.
const (
	OutcomeAutoApproved = "auto_approved"
	OutcomeApproved     = "approved"
	OutcomeRejected     = "rejected"
	OutcomeExpired      = "expired"
	OutcomePending      = "pending"
)

// Stats summarises the requests of a service made since a time.
type Stats struct {
	Service string    `json:"service,omitempty"`
	Since   time.Time `json:"since"`
	Total   int       `json:"total"`
	// ByState counts requests by state (pending, approved, rejected, expired).
	ByState map[string]int `json:"by_state"`
	// ByOutcome splits approved into auto_approved and approved (by a person).
	ByOutcome map[string]int `json:"by_outcome"`
	// ByTier counts requests by tier ("0", "1", "2").
	ByTier map[string]int `json:"by_tier"`
	// AutoShare is the share of requests approved without a person.
	AutoShare float64 `json:"auto_share"`
	// LatencyP50 and LatencyP95 are the times people took to decide (approve
	// or reject), over the requests they decided; nil when none.
	LatencyP50 *day2.Duration `json:"latency_p50,omitempty"`
	LatencyP95 *day2.Duration `json:"latency_p95,omitempty"`
	// Truncated says more requests matched than one call reads (100,000);
	// the counts cover the oldest of them.
	Truncated bool `json:"truncated,omitempty"`
}

// Stats counts the requests of service ("" for all) created since since, by
// state, outcome and tier, with the share auto-approved and the latency of
// people's decisions.
func (s *Service) Stats(ctx context.Context, service string, since time.Time) (Stats, error) {
	st := Stats{Service: service, Since: since.UTC(), ByState: map[string]int{}, ByOutcome: map[string]int{}, ByTier: map[string]int{}}
	var latencies []time.Duration
	after := since.Add(-time.Nanosecond)
	seen := map[string]bool{} // ids read at the last page's last time
	scanned := 0
	for {
		recs, err := s.rs.ListRecords(ctx, day2.RecordFilter{Kind: KindRequest, Service: service, CreatedAfter: after,
			Order: day2.OldestFirst, Limit: 1000})
		if err != nil {
			return st, fmt.Errorf("list approval requests: %w", err)
		}
		progress := false
		for _, rec := range recs {
			if seen[rec.ID] {
				continue
			}
			progress = true
			scanned++
			r, err := decodeRequest(rec)
			if err != nil {
				return st, err
			}
			if r.CreatedAt.Before(since) {
				continue
			}
			if r.State == StatePending && !s.now().Before(r.ExpiresAt) {
				r.State = StateExpired // the sweeper will write it
			}
			st.Total++
			st.ByState[r.State]++
			st.ByTier[fmt.Sprint(r.Tier)]++
			switch {
			case r.AutoApproved:
				st.ByOutcome[OutcomeAutoApproved]++
			default:
				st.ByOutcome[r.State]++
			}
			if !r.AutoApproved && (r.State == StateApproved || r.State == StateRejected) {
				latencies = append(latencies, r.DecidedAt.Sub(r.CreatedAt))
			}
		}
		if len(recs) < 1000 || !progress {
			st.Truncated = len(recs) == 1000 && !progress
			break
		}
		if scanned >= maxStatsScan {
			st.Truncated = true
			break
		}
		// Continue from the last creation time, inclusive, skipping what was
		// read at exactly that time.
		last := recs[len(recs)-1].CreatedAt
		clear(seen)
		for _, rec := range recs {
			if rec.CreatedAt.Equal(last) {
				seen[rec.ID] = true
			}
		}
		after = last.Add(-time.Nanosecond)
	}
	if st.Total > 0 {
		st.AutoShare = float64(st.ByOutcome[OutcomeAutoApproved]) / float64(st.Total)
	}
	if len(latencies) > 0 {
		slices.Sort(latencies)
		p50, p95 := day2.Duration(percentile(latencies, 0.50)), day2.Duration(percentile(latencies, 0.95))
		st.LatencyP50, st.LatencyP95 = &p50, &p95
	}
	return st, nil
}

// percentile returns the nearest-rank q-quantile of sorted.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

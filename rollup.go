package day2

import (
	"context"
	"time"
)

// RollupKey is the dimension set of a rollup row: the SLIs of every SLO are sums
// of rollup rows over a time range, filtered on these fields.
type RollupKey struct {
	Service         string `json:"service"`
	Environment     string `json:"environment"`
	Version         string `json:"version"`
	RiskTier        string `json:"risk_tier"`
	BusinessProcess string `json:"business_process"`
}

// Counters are the additive measures of tasks in one rollup bucket. Outcome
// counters count tasks with an outcome; tool and LLM counters count calls of every
// task, finished or not.
type Counters struct {
	Tasks         int64 `json:"tasks"`           // tasks with an outcome
	Successes     int64 `json:"successes"`       // of those, success = true
	Escalated     int64 `json:"escalated"`       // of those, escalated = true
	LLMCalls      int64 `json:"llm_calls"`       // LLM calls
	SafetyBlocks  int64 `json:"safety_blocks"`   // LLM calls blocked by safety
	ToolCalls     int64 `json:"tool_calls"`      // tool calls
	ToolFailures  int64 `json:"tool_failures"`   // failed tool calls
	ToolRetries   int64 `json:"tool_retries"`    // retries of tool calls
	RateLimitHits int64 `json:"rate_limit_hits"` // HTTP 429 answers to tools or models
	InputTokens   int64 `json:"input_tokens"`
	OutputTokens  int64 `json:"output_tokens"`
	// SuccessTokens are the tokens (input + output) of successful tasks, for the
	// cost SLI "tokens per successful task".
	SuccessTokens int64 `json:"success_tokens"`
	// Seen counts every task, with or without an outcome (the volume measure).
	Seen int64 `json:"seen"`
}

// Add adds d to c.
func (c *Counters) Add(d Counters) {
	c.Tasks += d.Tasks
	c.Successes += d.Successes
	c.Escalated += d.Escalated
	c.LLMCalls += d.LLMCalls
	c.SafetyBlocks += d.SafetyBlocks
	c.ToolCalls += d.ToolCalls
	c.ToolFailures += d.ToolFailures
	c.ToolRetries += d.ToolRetries
	c.RateLimitHits += d.RateLimitHits
	c.InputTokens += d.InputTokens
	c.OutputTokens += d.OutputTokens
	c.SuccessTokens += d.SuccessTokens
	c.Seen += d.Seen
}

// Sub subtracts d from c.
func (c *Counters) Sub(d Counters) {
	neg := d
	neg.Tasks, neg.Successes, neg.Escalated = -d.Tasks, -d.Successes, -d.Escalated
	neg.LLMCalls, neg.SafetyBlocks, neg.ToolCalls = -d.LLMCalls, -d.SafetyBlocks, -d.ToolCalls
	neg.ToolFailures, neg.ToolRetries, neg.RateLimitHits = -d.ToolFailures, -d.ToolRetries, -d.RateLimitHits
	neg.InputTokens, neg.OutputTokens, neg.SuccessTokens, neg.Seen = -d.InputTokens, -d.OutputTokens, -d.SuccessTokens, -d.Seen
	c.Add(neg)
}

// IsZero reports whether every counter is zero.
func (c Counters) IsZero() bool { return c == Counters{} }

// Contribution is what one task adds to the rollups: its key, the minute it counts
// in, its counters, and its cycle time when it has one.
type Contribution struct {
	Key      RollupKey
	Minute   time.Time
	Counters Counters
	// CycleTimeMS is the task's cycle time, valid when HasCycle.
	CycleTimeMS int64
	HasCycle    bool
}

// TaskContribution returns what t adds to the rollups. A task counts in the minute
// of its event time: the outcome's time when it has one, else its end (or start)
// time, so late-arriving outcomes land in the minute they happened, not the minute
// they arrived. ok is false for a task with no time at all.
func TaskContribution(t Task) (c Contribution, ok bool) {
	at := t.OutcomeTime
	if at.IsZero() {
		at = t.EndTime
	}
	if at.IsZero() {
		at = t.StartTime
	}
	if at.IsZero() || t.Arm == ArmShadow {
		// Shadow runs did not serve anyone: they never count in SLOs.
		return c, false
	}
	c.Key = RollupKey{Service: t.Service, Environment: t.Environment, Version: t.Version, RiskTier: t.RiskTier, BusinessProcess: t.BusinessProcess}
	c.Minute = at.UTC().Truncate(time.Minute)
	k := &c.Counters
	k.Seen = 1
	k.LLMCalls = int64(t.LLMCalls)
	k.SafetyBlocks = int64(t.SafetyBlocks)
	k.ToolCalls = int64(t.ToolCalls)
	k.ToolFailures = int64(t.ToolFailures)
	k.ToolRetries = int64(t.ToolRetries)
	k.RateLimitHits = int64(t.RateLimitHits)
	k.InputTokens = t.InputTokens
	k.OutputTokens = t.OutputTokens
	if t.Success != nil {
		k.Tasks = 1
		if *t.Success {
			k.Successes = 1
			k.SuccessTokens = t.InputTokens + t.OutputTokens
		}
		if t.Escalated != nil && *t.Escalated {
			k.Escalated = 1
		}
		if t.CycleTimeMS != nil {
			c.CycleTimeMS, c.HasCycle = *t.CycleTimeMS, true
		}
	}
	return c, true
}

// RollupTier is the bucket size of a rollup table. Every commit updates all
// tiers, so a long window is summed from days, its edges from hours and minutes.
type RollupTier int

// Rollup tiers.
const (
	TierMinute RollupTier = iota
	TierHour
	TierDay
)

// Duration returns the bucket length of the tier.
func (t RollupTier) Duration() time.Duration {
	switch t {
	case TierHour:
		return time.Hour
	case TierDay:
		return 24 * time.Hour
	}
	return time.Minute
}

// String names the tier.
func (t RollupTier) String() string {
	switch t {
	case TierHour:
		return "hour"
	case TierDay:
		return "day"
	}
	return "minute"
}

// RollupRow is one bucket of one key: the counters of the tasks whose event time
// falls in [Start, Start+tier), and their cycle times as an encoded sketch
// (package sketch), empty when none.
type RollupRow struct {
	Key      RollupKey
	Tier     RollupTier
	Start    time.Time
	Counters Counters
	Cycle    []byte
}

// RollupStore serves the rollups that CommitTasks maintains alongside tasks.
type RollupStore interface {
	// RollupRows returns the rows of service in tier whose bucket starts in
	// [from, to), in no particular order.
	RollupRows(ctx context.Context, service string, tier RollupTier, from, to time.Time) ([]RollupRow, error)
	// RollupRanges returns the rows of service in several (tier, range) pairs at
	// once: what an SLO evaluation needs, in one round trip.
	RollupRanges(ctx context.Context, service string, ranges []RollupRange) ([]RollupRow, error)
	// RebuildRollups recomputes every rollup from the stored tasks, exactly, and
	// returns the number of tasks read.
	RebuildRollups(ctx context.Context) (int64, error)
}

// RollupRange is the buckets of one tier starting in [From, To).
type RollupRange struct {
	Tier     RollupTier
	From, To time.Time
}

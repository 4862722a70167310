package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/canary"
)

// maxTaskPages bounds the tasks one look reads per arm (pages of 1000, newest
// first): beyond 100,000 tasks more data does not change a verdict.
const maxTaskPages = 100

// Run calls Tick every second until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("release: judging rollouts failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick judges every running rollout whose judge interval has passed since its
// last look: it compares the finished tasks of each arm since the step began
// (canary.Judge), records the report, and acts on it. A fail rolls back at once;
// a pass after the step's duration with enough candidate tasks advances to the
// next step (or promotes after the last) unless the error budget is frozen,
// which holds the step; inconclusive waits. Paused rollouts are not judged.
func (s *Service) Tick(ctx context.Context) error {
	now := s.now().UTC()
	recs, err := s.records.ListRecords(ctx, day2.RecordFilter{Kind: KindRollout, States: []string{StateRunning}, DueBefore: now.Add(lookSlack), Order: day2.DueFirst, Limit: 1000})
	if err != nil {
		return fmt.Errorf("list running rollouts: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := decodeRollout(rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.judge(ctx, r, now); err != nil {
			errs = append(errs, fmt.Errorf("judge rollout %s of %s: %w", r.ID, r.Service, err))
		}
	}
	return errors.Join(errs...)
}

// lookSlack is how early a look may be taken: Run ticks every second, and a
// look due a moment after a tick would otherwise wait a whole second more,
// making every interval a second too long.
const lookSlack = 500 * time.Millisecond

// decision is what the judge does after a look.
type decision int

const (
	decideWait decision = iota
	decideRollback
	decideAdvance
	decideHold
)

// judge takes one look at rollout r.
func (s *Service) judge(ctx context.Context, r Rollout, now time.Time) error {
	if r.State != StateRunning || now.Add(lookSlack).Before(r.NextLookAt) {
		return nil
	}
	// With no baseline traffic in this step (the candidate serves everyone),
	// compare with the baseline's tasks since the rollout began.
	baseSince := r.StepStartedAt
	if r.Weights.Baseline == 0 {
		baseSince = r.CreatedAt
	}
	base, err := s.sample(ctx, r.Service, r.Environment, r.Baseline, baseSince, now)
	if err != nil {
		return err
	}
	cand, err := s.sample(ctx, r.Service, r.Environment, r.Candidate, r.StepStartedAt, now)
	if err != nil {
		return err
	}
	look := r.Looks + 1
	rep := canary.Judge(r.Judge.Thresholds, look, base, cand)
	v := Verdict{At: now, Step: r.Step, Look: look, Verdict: rep.Verdict, Score: rep.Score,
		BaselineTasks: base.Tasks, CandidateTasks: cand.Tasks, Metrics: rep.Metrics}
	if v.Metrics == nil {
		v.Metrics = []canary.MetricVerdict{}
	}

	d, reason := decideWait, ""
	var evidence []canary.MetricVerdict
	elapsed := now.Sub(r.StepStartedAt)
	switch {
	case rep.Verdict == canary.VerdictFail:
		d = decideRollback
		for _, m := range rep.Metrics {
			if m.Verdict == canary.VerdictFail {
				evidence = append(evidence, m)
			}
		}
		reason = fmt.Sprintf("the canary judge failed %s at %s (look %d): %s", r.Candidate, stepName(&r), look, describe(evidence))
	case rep.Verdict == canary.VerdictPass && r.Strategy.Type != StrategyShadow &&
		elapsed >= r.Strategy.StepDuration.D() && cand.Tasks >= r.Strategy.MinSamples:
		d, evidence = decideAdvance, rep.Metrics
		if s.freeze != nil {
			frozen, why, err := s.freeze(ctx, r.Service, r.Environment)
			switch {
			case err != nil:
				// Not knowing the budget is not a reason to push on: wait.
				s.log.Warn("release: cannot read the error budget policy; holding the step", "rollout", r.ID, "service", r.Service, "err", err)
				d = decideWait
			case frozen:
				d = decideHold
				reason = "held: error budget frozen"
				if why != "" {
					reason += ": " + why
				}
				if r.heldThisStep() {
					d = decideWait
				}
			}
		}
		if d == decideAdvance {
			next := "advancing to " + stepNameAt(&r, r.Step+1)
			if r.Step+1 >= r.Steps() {
				next = "promoting"
			}
			reason = fmt.Sprintf("the canary judge passed %s at %s after %s with %d candidate and %d baseline tasks; %s",
				r.Candidate, stepName(&r), elapsed.Round(time.Second), cand.Tasks, base.Tasks, next)
		}
	}

	action := map[decision]string{decideRollback: "rollout.rollback", decideAdvance: "rollout.advance", decideHold: "rollout.hold"}[d]
	_, ev, err := s.update(ctx, r.ID, JudgeActor, action, reason, func(r2 *Rollout, now2 time.Time) (*Event, error) {
		// Another replica's judge or a person may have acted since we read r.
		if r2.State != StateRunning || r2.Step != r.Step || r2.Looks != r.Looks || !r2.StepStartedAt.Equal(r.StepStartedAt) {
			return nil, errSkip
		}
		r2.addVerdict(v)
		r2.Looks = look
		r2.NextLookAt = now.Add(r2.Judge.Interval.D())
		r2.UpdatedAt = now
		switch d {
		case decideRollback:
			r2.rollback(JudgeActor, reason, now, evidence)
			return endEvent(r2, JudgeActor, reason, evidence), nil
		case decideHold:
			r2.addHistory(HistoryHeld, JudgeActor, reason, now, nil)
			return &Event{Type: EventHeld, Actor: JudgeActor, Reason: reason}, nil
		case decideAdvance:
			if r2.Step+1 >= r2.Steps() {
				r2.promote(JudgeActor, reason, now, evidence)
				return endEvent(r2, JudgeActor, reason, evidence), nil
			}
			r2.setStep(r2.Step+1, now)
			r2.addHistory(HistoryAdvanced, JudgeActor, reason, now, evidence)
			return &Event{Type: EventAdvanced, Actor: JudgeActor, Reason: reason, Evidence: evidence}, nil
		}
		return nil, nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	if d == decideRollback {
		s.log.Warn("release: rolled back", "rollout", r.ID, "service", r.Service, "environment", r.Environment, "candidate", r.Candidate, "reason", reason)
	}
	s.emit(ctx, ev)
	return nil
}

// sample sums the finished tasks of one version started in [since, until).
func (s *Service) sample(ctx context.Context, service, environment, version string, since, until time.Time) (canary.Sample, error) {
	var smp canary.Sample
	f := day2.TaskFilter{Service: service, Environment: environment, Version: version, Since: since, Until: until, Limit: 1000}
	for range maxTaskPages {
		page, err := s.tasks.ListTasks(ctx, f)
		if err != nil {
			return smp, fmt.Errorf("read tasks of %s %s: %w", service, version, err)
		}
		for i := range page.Tasks {
			t := &page.Tasks[i]
			if t.Success == nil || t.StartTime.Before(since) {
				continue
			}
			smp.Tasks++
			if *t.Success {
				smp.Successes++
			}
			if t.Escalated != nil && *t.Escalated {
				smp.Escalations++
			}
			smp.ToolCalls += int64(t.ToolCalls)
			smp.ToolFailures += int64(t.ToolFailures)
			if t.CycleTimeMS != nil {
				smp.CycleTimesMS = append(smp.CycleTimesMS, float64(*t.CycleTimeMS))
			}
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	return smp, nil
}

// stepName describes the rollout's current step for people.
func stepName(r *Rollout) string { return stepNameAt(r, r.Step) }

func stepNameAt(r *Rollout, step int) string {
	switch r.Strategy.Type {
	case StrategyCanary:
		if step < len(r.Strategy.Steps) {
			return fmt.Sprintf("step %d (%d%% candidate)", step+1, r.Strategy.Steps[step])
		}
	case StrategyRings:
		if step < len(r.Strategy.Rings) {
			return fmt.Sprintf("ring %q", r.Strategy.Rings[step].Name)
		}
	case StrategyShadow:
		return fmt.Sprintf("shadow (%d%% of traffic)", r.Strategy.Share)
	}
	return fmt.Sprintf("step %d", step+1)
}

// describe summarizes metric verdicts in one line.
func describe(ms []canary.MetricVerdict) string {
	if len(ms) == 0 {
		return "no metric detail"
	}
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		if m.Reason != "" {
			parts = append(parts, m.Reason)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.4g vs baseline %.4g", m.Metric, m.Candidate, m.Baseline))
	}
	return strings.Join(parts, "; ")
}

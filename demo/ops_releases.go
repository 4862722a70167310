package demo

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/day2ops/day2"
)

// The releases scenario's agent and versions.
const (
	kbService     = "kb-answer-agent"
	kbEnvironment = "prod"
	kbV230        = "2.3.0" // serving
	kbV240        = "2.4.0" // new prompt, CRM client that gives up on 429
	kbV241        = "2.4.1" // 2.4.0 with the CRM client fixed
)

// kbProfiles is how each version of kb-answer-agent behaves.
var kbProfiles = map[string]profile{kbV230: kbBaseline, kbV240: kbRegressed, kbV241: kbFixed}

const (
	kbPromptV23 = `You answer customers' questions about their orders and our products.
Look the customer and their recent orders up in the CRM, search the knowledge base,
and answer in the customer's language. Quote order numbers and dates exactly.
If you are not sure, say so and offer to hand the question to a person.`
	kbPromptV24 = `You answer customers' questions about their orders and our products.
Look the customer and their recent orders up in the CRM, search the knowledge base,
and answer in at most four sentences, citing the knowledge base article you used.
Quote order numbers and dates exactly.
If you are not sure, say so and offer to hand the question to a person.`
)

// kbBundles are the versions the scenario registers, oldest first.
var kbBundles = []struct {
	version, reason string
	bundle          map[string]any
}{
	{kbV230, "the version serving customers", map[string]any{
		"prompt": kbPromptV23, "model": "gpt-4o-mini", "temperature": 0.2,
		"tools":  []string{"crm.get_customer", "crm.list_orders", "kb.search"},
		"params": map[string]any{"crm_client": "1.9", "crm_honours_retry_after": true, "max_answer_tokens": 400},
		"notes":  "Answers from the customer's account and the knowledge base.",
	}},
	{kbV240, "shorter answers that cite their source; CRM client 2.0", map[string]any{
		"prompt": kbPromptV24, "model": "gpt-4o-mini", "temperature": 0.2,
		"tools":  []string{"crm.get_customer", "crm.list_orders", "kb.search"},
		"params": map[string]any{"crm_client": "2.0", "crm_honours_retry_after": false, "max_answer_tokens": 250},
		"notes":  "New prompt: at most four sentences, citing the article. CRM client 2.0.",
	}},
	{kbV241, "2.4.0's prompt; CRM client 2.0.1 honours Retry-After again", map[string]any{
		"prompt": kbPromptV24, "model": "gpt-4o-mini", "temperature": 0.2,
		"tools":  []string{"crm.get_customer", "crm.list_orders", "kb.search"},
		"params": map[string]any{"crm_client": "2.0.1", "crm_honours_retry_after": true, "max_answer_tokens": 250},
		"notes":  "2.4.0's prompt. CRM client 2.0.1 waits for Retry-After on HTTP 429 instead of giving up.",
	}},
}

// rolloutView is the part of a rollout (GET /api/v1/rollouts/{id}) the story
// reads.
type rolloutView struct {
	ID        string `json:"id"`
	Service   string `json:"service"`
	Baseline  string `json:"baseline"`
	Candidate string `json:"candidate"`
	State     string `json:"state"`
	Step      int    `json:"step"`
	Strategy  struct {
		Steps []int `json:"steps"`
	} `json:"strategy"`
	Weights struct {
		Baseline  int `json:"baseline"`
		Candidate int `json:"candidate"`
	} `json:"weights"`
	Verdicts []struct {
		At             time.Time `json:"at"`
		Step           int       `json:"step"`
		Look           int       `json:"look"`
		Verdict        string    `json:"verdict"`
		BaselineTasks  int64     `json:"baseline_tasks"`
		CandidateTasks int64     `json:"candidate_tasks"`
		Metrics        []struct {
			Metric  string `json:"metric"`
			Verdict string `json:"verdict"`
			Reason  string `json:"reason"`
		} `json:"metrics"`
	} `json:"verdicts"`
	History []struct {
		Type   string    `json:"type"`
		At     time.Time `json:"at"`
		Actor  string    `json:"actor"`
		Reason string    `json:"reason"`
		Step   int       `json:"step"`
	} `json:"history"`
	Reason string `json:"reason"`
}

// rolloutRequest is the body of POST /api/v1/rollouts.
type rolloutRequest struct {
	Service     string `json:"service"`
	Environment string `json:"environment"`
	Baseline    string `json:"baseline"`
	Candidate   string `json:"candidate"`
	Strategy    struct {
		Type         string        `json:"type"`
		Steps        []int         `json:"steps"`
		StepDuration day2.Duration `json:"step_duration"`
		MinSamples   int64         `json:"min_samples"`
	} `json:"strategy"`
	Judge struct {
		Interval   day2.Duration `json:"interval"`
		MinSamples int64         `json:"min_samples"`
	} `json:"judge"`
	Reason string `json:"reason"`
}

// releases tells the releases scenario: register the versions, run
// kb-answer-agent's traffic (until ctx ends, in agents), canary 2.4.0 until
// the judge rolls it back, then canary 2.4.1 until it is promoted.
func (s *opsRun) releases(ctx context.Context, agents *sync.WaitGroup) {
	const scenario = "releases"
	for _, b := range kbBundles {
		body := map[string]any{"version": b.version, "bundle": b.bundle, "reason": b.reason}
		if err := s.agent.call(ctx, "POST", "/api/v1/services/"+kbService+"/versions", body, nil); err != nil {
			s.fail("%s: register %s %s: %v", scenario, kbService, b.version, err)
			return
		}
	}
	s.say(scenario, "registered %s %s, %s and %s (what changed: GET /api/v1/services/%s/versions/%s?diff=%s)",
		kbService, kbV230, kbV240, kbV241, kbService, kbV240, kbV230)
	if err := s.endStaleRollouts(ctx); err != nil {
		s.fail("%s: %v", scenario, err)
		return
	}

	kb := s.newAnswerAgent(kbService, kbEnvironment, kbV230, kbProfiles, s.t.releaseRate, s.ops.opts.Seed)
	kb.assign = true
	// The version serving now has a history: a canary is judged against it,
	// and the error budget it leaves decides whether releases may go on.
	started := time.Now()
	n, err := kb.sendHistory(ctx, s.t.history, s.t.historyRate)
	if err != nil {
		if ctx.Err() == nil {
			s.fail("%s: send %s's history: %v", scenario, kbService, err)
		}
		return
	}
	s.say(scenario, "sent %s's last %s: %s questions answered by %s (in %s)", kbService, shortDuration(s.t.history),
		count(n), kbV230, time.Since(started).Round(100*time.Millisecond))
	agents.Go(func() { kb.loop(ctx) })
	s.say(scenario, "%s %s answers %.0f questions a second, asking day2 which version serves each customer", kbService, kbV230, s.t.releaseRate)
	if sleep(ctx, s.t.warmup) != nil {
		return
	}

	bad, err := s.canary(ctx, kbV240, "prompt 2.4: shorter answers that cite their source")
	if err != nil {
		s.fail("%s: canary of %s: %v", scenario, kbV240, err)
		return
	}
	if bad.State == "rolled_back" {
		s.canaryIncident(ctx, bad.ID)
	}
	good, err := s.canary(ctx, kbV241, "2.4.0's prompt with the CRM client fixed: it honours Retry-After again")
	if err != nil {
		s.fail("%s: canary of %s: %v", scenario, kbV241, err)
		return
	}
	if good.State == "promoted" {
		s.say(scenario, "%s now serves every customer of %s (%d questions answered by it so far)", kbV241, kbService, kb.completed(kbV241))
	}
}

// endStaleRollouts rolls back a rollout of kb-answer-agent left running by an
// earlier demo on the same data, so that the scenario can start its own.
func (s *opsRun) endStaleRollouts(ctx context.Context) error {
	q := url.Values{"service": {kbService}, "environment": {kbEnvironment}, "state": {"running,paused"}}
	var list struct {
		Rollouts []rolloutView `json:"rollouts"`
	}
	if err := s.agent.call(ctx, "GET", "/api/v1/rollouts?"+q.Encode(), nil, &list); err != nil {
		return err
	}
	for _, ro := range list.Rollouts {
		body := map[string]string{"reason": "the demo starts its release story again"}
		if err := s.agent.call(ctx, "POST", "/api/v1/rollouts/"+ro.ID+"/rollback", body, nil); err != nil && statusOf(err) != 409 {
			return err
		}
	}
	return nil
}

// canary starts a canary of candidate against 2.3.0 and follows it until it
// ends, printing the judge's looks and decisions. It returns the rollout as
// it ended.
func (s *opsRun) canary(ctx context.Context, candidate, reason string) (rolloutView, error) {
	const scenario = "releases"
	var req rolloutRequest
	req.Service, req.Environment, req.Baseline, req.Candidate, req.Reason = kbService, kbEnvironment, kbV230, candidate, reason
	req.Strategy.Type, req.Strategy.Steps = "canary", s.t.steps
	req.Strategy.StepDuration, req.Strategy.MinSamples = day2.Duration(s.t.stepDuration), s.t.minSamples
	req.Judge.Interval, req.Judge.MinSamples = day2.Duration(s.t.judgeInterval), s.t.judgeMinSamples
	var ro rolloutView
	if err := s.agent.call(ctx, "POST", "/api/v1/rollouts", req, &ro); err != nil {
		return ro, err
	}
	steps := make([]string, len(ro.Strategy.Steps))
	for i, w := range ro.Strategy.Steps {
		steps[i] = fmt.Sprintf("%d%%", w)
	}
	s.say(scenario, "canary %s started: %s %s at %d%%, %s at %d%%; steps %s of at least %s, judged every %s (%s)",
		ro.ID, kbService, candidate, ro.Weights.Candidate, kbV230, ro.Weights.Baseline,
		strings.Join(steps, ", "), shortDuration(s.t.stepDuration), shortDuration(s.t.judgeInterval), "/releases/"+ro.ID)
	result := RolloutResult{ID: ro.ID, Service: kbService, Baseline: kbV230, Candidate: candidate, State: ro.State}
	s.record(func(r *OpsReport) { r.Rollouts = append(r.Rollouts, result) })
	update := func(ro rolloutView) {
		s.record(func(r *OpsReport) {
			for i := range r.Rollouts {
				if r.Rollouts[i].ID == ro.ID {
					r.Rollouts[i].State, r.Rollouts[i].Reason = ro.State, ro.Reason
				}
			}
		})
	}

	var lastVerdict time.Time
	history := len(ro.History)
	err := s.pollUntil(ctx, "rollout "+ro.ID+" to end", func() (bool, error) {
		if err := s.agent.call(ctx, "GET", "/api/v1/rollouts/"+ro.ID, nil, &ro); err != nil {
			return false, err
		}
		for i := len(ro.Verdicts) - 1; i >= 0; i-- {
			v := ro.Verdicts[i]
			if !v.At.After(lastVerdict) {
				continue
			}
			lastVerdict = v.At
			line := fmt.Sprintf("%s %s at %s, look %d: %s (%d candidate, %d baseline tasks)",
				ro.ID, candidate, stepLabel(ro, v.Step), v.Look, v.Verdict, v.CandidateTasks, v.BaselineTasks)
			if v.Verdict == "fail" {
				for _, m := range v.Metrics {
					if m.Verdict == "fail" {
						line += "\n    " + m.Metric + ": " + m.Reason
					}
				}
			}
			s.say(scenario, "%s", line)
		}
		for ; history < len(ro.History); history++ {
			h := ro.History[history]
			switch h.Type {
			case "advanced":
				s.say(scenario, "%s %s advanced to %s by %s", ro.ID, candidate, stepLabel(ro, h.Step), h.Actor)
			case "held":
				s.say(scenario, "%s %s held at %s: %s", ro.ID, candidate, stepLabel(ro, h.Step), h.Reason)
			case "rolled_back":
				s.say(scenario, "%s %s ROLLED BACK by %s: %s; every customer is back on %s", ro.ID, candidate, h.Actor, h.Reason, kbV230)
			case "promoted":
				s.say(scenario, "%s %s PROMOTED by %s: %s", ro.ID, candidate, h.Actor, h.Reason)
			default:
				s.say(scenario, "%s %s %s by %s: %s", ro.ID, candidate, h.Type, h.Actor, h.Reason)
			}
		}
		update(ro)
		return ro.State == "promoted" || ro.State == "rolled_back", nil
	})
	return ro, err
}

// stepLabel names a canary step for people: "step 2 (50%)".
func stepLabel(ro rolloutView, step int) string {
	if step >= 0 && step < len(ro.Strategy.Steps) {
		return fmt.Sprintf("step %d (%d%%)", step+1, ro.Strategy.Steps[step])
	}
	return fmt.Sprintf("step %d", step+1)
}

// canaryIncident prints the incident day2 opened for the rollback, which it
// raises as a ticket.
func (s *opsRun) canaryIncident(ctx context.Context, rolloutID string) {
	q := url.Values{"service": {kbService}, "state": {"open"}}
	var list struct {
		Incidents []incidentView `json:"incidents"`
	}
	for range 5 {
		if err := s.agent.call(ctx, "GET", "/api/v1/incidents?"+q.Encode(), nil, &list); err != nil {
			return
		}
		for _, inc := range list.Incidents {
			for _, a := range inc.Alerts {
				if a.Labels["rollout"] == rolloutID {
					s.say("releases", "the rollback raised incident %s (%s): %s (/incidents/%s)", inc.ID, inc.Severity, inc.Title, inc.ID)
					return
				}
			}
		}
		if sleep(ctx, s.t.poll) != nil {
			return
		}
	}
}

package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// The question-answering agents of the operations story.
var (
	// kb-answer-agent 2.3.0 answers customers' questions from the CRM and the
	// knowledge base. The CRM it reads throttles: a quarter of its attempts
	// answer 429 with Retry-After, which the client honours, retrying up to
	// five times, so that about two calls in ten thousand fail for good.
	kbBaseline = profile{
		kind: kindAnswer, businessProcess: "customer_question", weight: 1,
		genAILLM: 0.8, genAITool: 0.8,
		toolTransient: 0.02, maxRetries: 5,
		throttled: "crm", throttle: 0.25,
		cycleMedian: 4 * time.Second, cycleSigma: 0.25, slowTail: 0.005,
		lowConfidence: 0.006, injection: 0.002, outputFilter: 0.0005,
	}
	// kb-answer-agent 2.4.0: a new prompt, and a new CRM client that gives up
	// on the first 429. A quarter of its CRM calls fail: it answers without
	// the customer's account, and its tool failures rise tenfold.
	kbRegressed = func() profile {
		p := kbBaseline
		p.giveUpOn429 = "crm"
		p.cycleMedian = 3600 * time.Millisecond
		return p
	}()
	// kb-answer-agent 2.4.1: 2.4.0's prompt with the CRM client fixed.
	kbFixed = func() profile {
		p := kbBaseline
		p.cycleMedian = 3600 * time.Millisecond
		return p
	}()
	// account-agent answers questions about customers' accounts, from a CRM
	// that does not throttle it: its tool calls practically never fail, so
	// that the CRM outage stands out.
	accountProfile = profile{
		kind: kindAnswer, businessProcess: "account_question", weight: 1,
		genAILLM: 0.8, genAITool: 0.8,
		toolTransient: 0.03, maxRetries: 3,
		cycleMedian: 4 * time.Second, cycleSigma: 0.25, slowTail: 0.005,
		lowConfidence: 0.006, injection: 0.002, outputFilter: 0.0005,
	}
)

// answerAgent runs one question-answering agent at a steady rate: each
// question comes from a customer, whose id is the assignment key. With assign
// set, the agent asks day2 which version serves the customer (GET
// /api/v1/assign) and sends the task as that version, with the root attribute
// day2.arm; otherwise it runs the fallback version.
type answerAgent struct {
	run         *opsRun
	service     string
	environment string
	rate        float64 // questions a second
	seed        int64
	fallback    string
	profiles    map[string]profile
	assign      bool
	// prepare, when set, is called before each question is drawn, with the
	// customer's key. It returns what to apply to the generator of the
	// question's version: what the agent's flags say, whether its CRM is
	// down.
	prepare func(ctx context.Context, key string) func(g *Generator)

	mu        sync.Mutex
	gens      map[string]*Generator
	emitters  map[string]*emitter
	done      map[string]int64 // completed tasks per version
	assignErr error
}

// newAnswerAgent returns an agent of service in environment, running
// fallback unless day2 assigns another version.
func (s *opsRun) newAnswerAgent(service, environment, fallback string, profiles map[string]profile, rate float64, seed int64) *answerAgent {
	return &answerAgent{run: s, service: service, environment: environment, fallback: fallback, profiles: profiles,
		rate: rate, seed: seed, gens: map[string]*Generator{}, emitters: map[string]*emitter{}, done: map[string]int64{}}
}

// generator returns the generator and emitter of version, creating them on
// first use; a version without a profile behaves as the fallback. Call with
// a.mu held.
func (a *answerAgent) generator(ctx context.Context, version string) (*Generator, *emitter, error) {
	if g := a.gens[version]; g != nil {
		return g, a.emitters[version], nil
	}
	p, ok := a.profiles[version]
	if !ok {
		p = a.profiles[a.fallback]
	}
	s := Stream{Service: a.service, Version: version, Environment: a.environment}
	e, err := newEmitter(ctx, s, a.run.otlp, a.run.ops.opts.Token, a.run.delivery)
	if err != nil {
		return nil, nil, err
	}
	g := newGenerator(s, p, a.seed)
	a.gens[version], a.emitters[version] = g, e
	return g, e, nil
}

// completed returns the tasks version completed.
func (a *answerAgent) completed(version string) int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.done[version]
}

// assignment is the answer of GET /api/v1/assign.
type assignment struct {
	Version string `json:"version"`
	Arm     string `json:"arm"`
	Rollout string `json:"rollout"`
	Step    int    `json:"step"`
}

// versionFor asks day2 which version serves key; without an answer (no
// rollout has ever run, or day2 cannot be reached) the agent runs its
// fallback.
func (a *answerAgent) versionFor(ctx context.Context, key string) (version, arm string) {
	if !a.assign {
		return a.fallback, ""
	}
	q := url.Values{"service": {a.service}, "environment": {a.environment}, "key": {key}}
	var as assignment
	err := a.run.agent.call(ctx, "GET", "/api/v1/assign?"+q.Encode(), nil, &as)
	switch {
	case err == nil && as.Version != "":
		return as.Version, as.Arm
	case err != nil && statusOf(err) != 404 && ctx.Err() == nil:
		a.mu.Lock()
		first := a.assignErr == nil
		a.assignErr = err
		a.mu.Unlock()
		if first {
			a.run.fail("%s cannot get its assignment, running %s: %v", a.service, a.fallback, err)
		}
	}
	return a.fallback, ""
}

// loop sends questions until ctx ends, then waits for the running ones to be
// abandoned and flushes the telemetry.
func (a *answerAgent) loop(ctx context.Context) {
	clk := a.run.clock()
	self := Stream{Service: a.service, Version: a.fallback, Environment: a.environment}
	arr := newArrivals(self, a.seed, 3, clk.now(), a.rate*60, false, surge{})
	customers := rand.New(rand.NewPCG(uint64(a.seed), streamHash(self, 4)))
	var tasks sync.WaitGroup
	defer func() {
		tasks.Wait()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), exportTimeout+5*time.Second)
		defer cancel()
		a.mu.Lock()
		defer a.mu.Unlock()
		var errs []error
		for _, e := range a.emitters {
			errs = append(errs, e.shutdown(sctx))
		}
		if err := errors.Join(errs...); err != nil {
			a.run.fail("%s: flush telemetry: %v", a.service, err)
		}
	}()
	for {
		at := arr.next
		arr.advance()
		if err := clk.sleepUntil(ctx, at); err != nil {
			return
		}
		key := fmt.Sprintf("cust-%05d", customers.IntN(20000))
		version, arm := a.versionFor(ctx, key)
		var apply func(*Generator)
		if a.prepare != nil {
			apply = a.prepare(ctx, key)
		}
		a.mu.Lock()
		g, e, err := a.generator(ctx, version)
		if err != nil {
			a.mu.Unlock()
			a.run.fail("%s %s: %v", a.service, version, err)
			return
		}
		if apply != nil {
			apply(g)
		}
		p := g.Next(at)
		a.mu.Unlock()
		if arm != "" {
			p.Root.Attrs = append(p.Root.Attrs, attribute.String("day2.arm", arm))
		}
		compress(&p, a.run.t.scale)
		tasks.Go(func() {
			if _, err := e.emit(ctx, &p, func(t time.Time) error { return clk.sleepUntil(ctx, t) }); err == nil {
				a.mu.Lock()
				a.done[version]++
				a.mu.Unlock()
			}
		})
	}
}

// sendHistory sends what the agent's fallback version did over the last d,
// at perMin tasks a minute on average following the daily traffic pattern,
// with the tasks' own timestamps, as the fleet's backfill does. It returns the
// number of tasks sent. Call it before loop.
func (a *answerAgent) sendHistory(ctx context.Context, d time.Duration, perMin float64) (int64, error) {
	now := a.run.now()
	a.mu.Lock()
	g, e, err := a.generator(ctx, a.fallback)
	a.mu.Unlock()
	if err != nil {
		return 0, err
	}
	self := Stream{Service: a.service, Version: a.fallback, Environment: a.environment}
	arr := newArrivals(self, a.seed, 5, now.Add(-d), perMin, true, surge{})
	var n int64
	for arr.next.Before(now) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		at := arr.next
		arr.advance()
		a.mu.Lock()
		p := g.Next(at)
		a.mu.Unlock()
		if !p.End.Before(now) {
			continue // still running now: not history
		}
		if _, err := e.emit(ctx, &p, nil); err != nil {
			return n, err
		}
		n++
		if p.Outcome.AsLog {
			e.logsSinceFlush++
		}
		if e.logsSinceFlush >= logFlushEvery {
			if err := e.flush(ctx); err != nil {
				return n, err
			}
		}
	}
	if err := e.flush(ctx); err != nil {
		return n, err
	}
	return n, a.run.delivery.err()
}

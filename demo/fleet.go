package demo

import (
	"fmt"
	"time"
)

// Stream identifies one agent version running in one environment: the unit day2
// compares when it judges a canary.
type Stream struct {
	Service     string `json:"service"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
}

// String returns the stream as "service version (environment)".
func (s Stream) String() string {
	return fmt.Sprintf("%s %s (%s)", s.Service, s.Version, s.Environment)
}

type agentKind int

const (
	kindTriage agentKind = iota
	kindInvoice
	// kindAnswer answers customers' questions from the CRM and the knowledge
	// base: the agents of the operations scenarios (ops.go).
	kindAnswer
)

// profile is how one agent version behaves. Probabilities are per task unless the
// field says otherwise.
type profile struct {
	kind            agentKind
	businessProcess string
	// weight scales the traffic of the stream relative to a production stream.
	weight float64
	// oldGenAI makes GenAI spans use the pre-1.30 attribute names (gen_ai.system,
	// gen_ai.usage.prompt_tokens), as an older instrumentation library would.
	oldGenAI bool
	// oldEnvKey puts the environment in the resource attribute
	// deployment.environment rather than deployment.environment.name.
	oldEnvKey bool
	// genAILLM and genAITool are the shares of LLM and tool calls instrumented
	// with the GenAI conventions; the rest use the seed's llm.* span names.
	genAILLM  float64
	genAITool float64
	// toolTransient is the chance that one attempt of a tool call fails with a
	// retryable error (429, 503, 504, timeout); toolPermanent the chance that a
	// call fails with an error no retry fixes (400, 404, 409, 422).
	toolTransient float64
	toolPermanent float64
	maxRetries    int
	// giveUpOn429 names a tool whose client fails on the first 429 instead of
	// waiting for Retry-After.
	giveUpOn429 string
	// throttled names a tool that rate-limits: a share throttle of its
	// attempts answer 429 with Retry-After, besides toolTransient's failures.
	throttled string
	throttle  float64
	// cycleMedian and cycleSigma shape the log-normal cycle time; slowTail is the
	// chance that a task waits behind something and takes 3.5-6 times as long.
	cycleMedian time.Duration
	cycleSigma  float64
	slowTail    float64
	// lowConfidence is the chance that the agent hands the task to a human
	// (triage) or rejects it in validation (invoices).
	lowConfidence float64
	// injection is the chance that the input carries a prompt injection attempt;
	// outputFilter the chance, per generating LLM call, of a content filter block.
	injection    float64
	outputFilter float64
}

var (
	triageBaseline = profile{
		kind: kindTriage, businessProcess: "support_ticket_triage", weight: 1,
		oldGenAI: true, genAILLM: 0.3, genAITool: 0.3,
		toolTransient: 0.04, toolPermanent: 0.002, maxRetries: 3,
		cycleMedian: 34 * time.Second, cycleSigma: 0.3, slowTail: 0.012,
		lowConfidence: 0.015, injection: 0.012, outputFilter: 0.002,
	}
	// The candidate answers with more confidence, but its new CRM client gives
	// up on the first 429 instead of honouring Retry-After: tool failures and
	// rate-limit hits are several times the baseline's.
	triageCandidate = profile{
		kind: kindTriage, businessProcess: "support_ticket_triage", weight: 1,
		genAILLM: 0.5, genAITool: 0.5,
		toolTransient: 0.04, toolPermanent: 0.003, maxRetries: 3, giveUpOn429: "crm",
		cycleMedian: 32 * time.Second, cycleSigma: 0.3, slowTail: 0.012,
		lowConfidence: 0.012, injection: 0.012, outputFilter: 0.002,
	}
	invoiceBaseline = profile{
		kind: kindInvoice, businessProcess: "invoice_processing", weight: 1,
		oldEnvKey: true, genAILLM: 0.7, genAITool: 0.6,
		toolTransient: 0.05, toolPermanent: 0.002, maxRetries: 3,
		cycleMedian: 78 * time.Second, cycleSigma: 0.28, slowTail: 0.005,
		lowConfidence: 0.015, injection: 0.004, outputFilter: 0.001,
	}
	// The invoice candidate is a healthy release: a little faster, as reliable.
	invoiceCandidate = profile{
		kind: kindInvoice, businessProcess: "invoice_processing", weight: 1,
		genAILLM: 0.7, genAITool: 0.6,
		toolTransient: 0.045, toolPermanent: 0.0015, maxRetries: 3,
		cycleMedian: 70 * time.Second, cycleSigma: 0.28, slowTail: 0.005,
		lowConfidence: 0.014, injection: 0.004, outputFilter: 0.001,
	}
)

func staging(p profile) profile {
	p.weight = 0.1
	return p
}

type fleetEntry struct {
	stream  Stream
	profile profile
}

// fleet is the simulated fleet: two agents with a baseline and a candidate each in
// production, and a trickle of candidate traffic in staging.
var fleet = []fleetEntry{
	{Stream{"support-triage", "1.4.0", "prod"}, triageBaseline},
	{Stream{"support-triage", "1.5.0", "prod"}, triageCandidate},
	{Stream{"invoice-agent", "2.3.1", "prod"}, invoiceBaseline},
	{Stream{"invoice-agent", "2.4.0", "prod"}, invoiceCandidate},
	{Stream{"support-triage", "1.5.0", "staging"}, staging(triageCandidate)},
	{Stream{"invoice-agent", "2.4.0", "staging"}, staging(invoiceCandidate)},
}

// Streams returns the agent versions and environments the demo simulates, in a
// fixed order.
func Streams() []Stream {
	out := make([]Stream, len(fleet))
	for i, f := range fleet {
		out[i] = f.stream
	}
	return out
}

func lookupProfile(s Stream) (profile, bool) {
	for _, f := range fleet {
		if f.stream == s {
			return f.profile, true
		}
	}
	return profile{}, false
}

// EnvironmentKey returns the resource attribute key that carries the stream's
// environment: deployment.environment.name, or the older deployment.environment
// for agents still on an old SDK (the demo keeps one such agent so that day2's
// fallback is exercised).
func EnvironmentKey(s Stream) string {
	if p, ok := lookupProfile(s); ok && p.oldEnvKey {
		return "deployment.environment"
	}
	return "deployment.environment.name"
}

// hourWeight is the relative traffic of each UTC hour on a weekday: quiet at
// night, busiest in business hours.
var hourWeight = [24]float64{
	0.2, 0.2, 0.2, 0.2, 0.2, 0.25, 0.35, 0.6, // 00-07
	1.0, 1.7, 2.0, 2.0, 1.8, 2.0, 2.0, 1.9, // 08-15
	1.6, 1.2, 0.8, 0.6, 0.45, 0.35, 0.3, 0.25, // 16-23
}

const weekendFactor = 0.35

// meanWeight normalises the traffic pattern so that its weekly mean is 1.
var meanWeight = func() float64 {
	var sum float64
	for _, w := range hourWeight {
		sum += w
	}
	return (5*sum + 2*weekendFactor*sum) / (7 * 24)
}()

// maxWeight bounds trafficWeight, for thinning.
var maxWeight = func() float64 {
	m := 0.0
	for _, w := range hourWeight {
		m = max(m, w)
	}
	return m / meanWeight
}()

// trafficWeight is the traffic at t relative to the weekly average, on UTC
// business hours with quieter weekends.
func trafficWeight(t time.Time) float64 {
	t = t.UTC()
	w := hourWeight[t.Hour()]
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		w *= weekendFactor
	}
	return w / meanWeight
}

// rateLimitStorm reports whether the CRM used by support-triage is throttling
// everyone at t: for an hour at 13:00 UTC every seventh day, as a shared
// dependency would. It gives the incident tooling a tool-failure burst to find.
func rateLimitStorm(t time.Time) bool {
	t = t.UTC()
	day := t.Unix() / 86400
	return day%7 == 3 && t.Hour() == 13
}

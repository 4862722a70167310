package demo

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tuesdayMorning is a busy hour outside any rate-limit storm.
var tuesdayMorning = time.Date(2025, 3, 11, 10, 0, 0, 0, time.UTC)

// rates summarises many plans of one stream.
type rates struct {
	n                                           int
	toolFailure, success, escalation, safety    float64 // shares
	outcomeAsLog, boolsAsStrings                float64
	genAILLM, genAITool                         float64 // shares of calls
	rateLimitHits                               int
	cycleP50, cycleP95                          time.Duration
	over120s                                    float64
	spansPerTask, llmCallsPerTask, toolsPerTask float64
}

func drawRates(t *testing.T, s Stream, n int, start time.Time) rates {
	t.Helper()
	g, err := NewGenerator(s, 42)
	if err != nil {
		t.Fatal(err)
	}
	var r rates
	var tools, toolFails, llm, spans, genAILLM, genAITool int
	var success, esc, safety, asLog, asString, over int
	cycles := make([]time.Duration, 0, n)
	for i := range n {
		p := g.Next(start.Add(time.Duration(i) * time.Second))
		tools += p.ToolCalls
		toolFails += p.ToolFailures
		llm += p.LLMCalls
		spans += p.SpanCount()
		r.rateLimitHits += p.RateLimitHits
		for _, c := range p.Children {
			switch {
			case strings.HasPrefix(c.Name, "chat "), strings.HasPrefix(c.Name, "embeddings "):
				genAILLM++
			case strings.HasPrefix(c.Name, "execute_tool "):
				genAITool++
			}
		}
		o := p.Outcome
		if o.Success {
			success++
		}
		if o.Escalation {
			esc++
		}
		if p.SafetyBlocks > 0 {
			safety++
		}
		if o.AsLog {
			asLog++
		}
		if o.BoolsAsStrings {
			asString++
		}
		if o.CycleTime > 120*time.Second {
			over++
		}
		cycles = append(cycles, o.CycleTime)
	}
	slices.Sort(cycles)
	f := float64(n)
	r.n = n
	r.toolFailure = float64(toolFails) / float64(tools)
	r.success = float64(success) / f
	r.escalation = float64(esc) / f
	r.safety = float64(safety) / f
	r.outcomeAsLog = float64(asLog) / f
	r.boolsAsStrings = float64(asString) / f
	r.genAILLM = float64(genAILLM) / float64(llm)
	r.genAITool = float64(genAITool) / float64(tools)
	r.cycleP50 = cycles[n/2]
	r.cycleP95 = cycles[n*95/100]
	r.over120s = float64(over) / f
	r.spansPerTask = float64(spans) / f
	r.llmCallsPerTask = float64(llm) / f
	r.toolsPerTask = float64(tools) / f
	return r
}

type bounds struct{ lo, hi float64 }

func (b bounds) check(t *testing.T, what string, got float64) {
	t.Helper()
	if got < b.lo || got > b.hi {
		t.Errorf("%s = %.4f, want within [%.4f, %.4f]", what, got, b.lo, b.hi)
	}
}

func TestGeneratorRates(t *testing.T) {
	if rateLimitStorm(tuesdayMorning) {
		t.Fatal("test start time falls in a rate-limit storm")
	}
	const draws = 20000
	tests := []struct {
		name          string
		stream        Stream
		toolFailure   bounds
		success       bounds
		escalation    bounds
		rateLimitHits bool
		cycleP50      bounds // seconds
		cycleP95      bounds // seconds
		over120s      bounds
	}{
		{
			name:        "support-triage 1.4.0 keeps tool failures under the 0.5% SLO",
			stream:      Stream{"support-triage", "1.4.0", "prod"},
			toolFailure: bounds{0.001, 0.004}, success: bounds{0.965, 0.98}, escalation: bounds{0.035, 0.05},
			cycleP50: bounds{30, 38}, cycleP95: bounds{50, 65}, over120s: bounds{0.003, 0.02},
		},
		{
			name:        "support-triage 1.5.0 fails several times as many tool calls, on rate limits",
			stream:      Stream{"support-triage", "1.5.0", "prod"},
			toolFailure: bounds{0.007, 0.013}, success: bounds{0.94, 0.96}, escalation: bounds{0.05, 0.07},
			rateLimitHits: true,
			cycleP50:      bounds{28, 36}, cycleP95: bounds{48, 62}, over120s: bounds{0.003, 0.02},
		},
		{
			name:        "invoice-agent 2.3.1 escalates approvals and misses the 2-minute p95",
			stream:      Stream{"invoice-agent", "2.3.1", "prod"},
			toolFailure: bounds{0.001, 0.004}, success: bounds{0.965, 0.98}, escalation: bounds{0.03, 0.05},
			cycleP50: bounds{72, 84}, cycleP95: bounds{120, 135}, over120s: bounds{0.04, 0.09},
		},
		{
			name:        "invoice-agent 2.4.0 is as reliable and meets the 2-minute p95",
			stream:      Stream{"invoice-agent", "2.4.0", "prod"},
			toolFailure: bounds{0.0005, 0.003}, success: bounds{0.965, 0.985}, escalation: bounds{0.03, 0.05},
			cycleP50: bounds{64, 76}, cycleP95: bounds{100, 119}, over120s: bounds{0.01, 0.05},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := drawRates(t, tt.stream, draws, tuesdayMorning)
			tt.toolFailure.check(t, "tool failure share", r.toolFailure)
			tt.success.check(t, "task success share", r.success)
			tt.escalation.check(t, "escalation share", r.escalation)
			tt.cycleP50.check(t, "cycle time p50 (s)", r.cycleP50.Seconds())
			tt.cycleP95.check(t, "cycle time p95 (s)", r.cycleP95.Seconds())
			tt.over120s.check(t, "share of tasks over 120 s", r.over120s)
			if got := r.rateLimitHits > 0; got != tt.rateLimitHits {
				t.Errorf("rate-limit hits = %d, want some: %v", r.rateLimitHits, tt.rateLimitHits)
			}
			// The same for every agent.
			bounds{0.47, 0.53}.check(t, "outcomes sent as log records", r.outcomeAsLog)
			bounds{0.22, 0.28}.check(t, "outcomes with string booleans", r.boolsAsStrings)
			bounds{0.002, 0.015}.check(t, "tasks with a safety block", r.safety)
			bounds{0.2, 0.8}.check(t, "GenAI share of LLM calls", r.genAILLM)
			bounds{0.2, 0.7}.check(t, "GenAI share of tool calls", r.genAITool)
			bounds{6, 9}.check(t, "spans per task", r.spansPerTask)
			bounds{1.9, 2.6}.check(t, "LLM calls per task", r.llmCallsPerTask)
			bounds{2.5, 5}.check(t, "tool calls per task", r.toolsPerTask)
		})
	}
}

func TestRateLimitStormRaisesBaselineToolFailures(t *testing.T) {
	var storm time.Time
	for d := tuesdayMorning; ; d = d.Add(time.Hour) {
		if rateLimitStorm(d) {
			storm = d
			break
		}
	}
	s := Stream{"support-triage", "1.4.0", "prod"}
	calm := drawRates(t, s, 3000, tuesdayMorning)
	// Spread 3000 tasks over the storm hour.
	g, _ := NewGenerator(s, 42)
	var hits, fails, tools int
	for i := range 3000 {
		p := g.Next(storm.Add(time.Duration(i) * time.Second))
		hits += p.RateLimitHits
		fails += p.ToolFailures
		tools += p.ToolCalls
	}
	if hits == 0 || calm.rateLimitHits != 0 {
		t.Errorf("rate-limit hits: %d in the storm, %d outside; want some in and none out", hits, calm.rateLimitHits)
	}
	if got := float64(fails) / float64(tools); got < 3*calm.toolFailure {
		t.Errorf("tool failure share in the storm = %.4f, want at least three times the calm %.4f", got, calm.toolFailure)
	}
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestPlansAreWellFormed(t *testing.T) {
	seenTrace := map[trace.TraceID]bool{}
	// The CRM outage falls in the first hour of the 14 the plans cover.
	inc := crmOutage(tuesdayMorning.Add(90 * time.Minute))
	for _, s := range Streams() {
		g, err := NewGenerator(s, 7)
		if err != nil {
			t.Fatal(err)
		}
		g.SetIncident(inc)
		for i := range 3000 {
			p := g.Next(tuesdayMorning.Add(time.Duration(i) * 17 * time.Second))
			if !p.TraceID.IsValid() || seenTrace[p.TraceID] {
				t.Fatalf("%s plan %d: trace id %s is zero or repeated", s, i, p.TraceID)
			}
			seenTrace[p.TraceID] = true
			checkPlan(t, s, &p)
			if t.Failed() {
				t.Fatalf("%s plan %d is malformed", s, i)
			}
		}
	}
}

func checkPlan(t *testing.T, s Stream, p *Plan) {
	t.Helper()
	if p.End.Sub(p.Start) != p.Outcome.CycleTime || !p.Outcome.Time.Equal(p.End) {
		t.Errorf("cycle time %s and outcome time %s do not match the root span [%s, %s]", p.Outcome.CycleTime, p.Outcome.Time, p.Start, p.End)
	}
	if !p.Root.Start.Equal(p.Start) || !p.Root.End.Equal(p.End) {
		t.Errorf("root span [%s, %s] is not the task [%s, %s]", p.Root.Start, p.Root.End, p.Start, p.End)
	}
	root := attrMap(p.Root.Attrs)
	for _, k := range []attribute.Key{"business_process", "flow_run_id", "tenant", "risk_tier", "environment", "gen_ai.agent.version"} {
		if _, ok := root[k]; !ok {
			t.Errorf("root span lacks %s", k)
		}
	}
	if root["environment"].AsString() != s.Environment || root["gen_ai.agent.version"].AsString() != s.Version {
		t.Errorf("root names environment %q version %q, want %q %q", root["environment"].AsString(), root["gen_ai.agent.version"].AsString(), s.Environment, s.Version)
	}
	if tier := root["risk_tier"].AsInt64(); tier < 0 || tier > 2 {
		t.Errorf("risk_tier = %d", tier)
	}
	spanIDs := map[trace.SpanID]bool{p.Root.SpanID: true}
	prevEnd := p.Start
	var llm, tools, toolFails, blocks int
	var tokensIn, tokensOut int64
	for _, c := range p.Children {
		if !c.SpanID.IsValid() || spanIDs[c.SpanID] {
			t.Errorf("span %q has a zero or repeated id", c.Name)
		}
		spanIDs[c.SpanID] = true
		if c.Start.Before(prevEnd) || c.End.Before(c.Start) || c.End.After(p.End) {
			t.Errorf("span %q [%s, %s] overlaps its predecessor or leaves the task", c.Name, c.Start, c.End)
		}
		prevEnd = c.End
		a := attrMap(c.Attrs)
		switch {
		case c.Name == "llm.prompt":
			tokensIn += a["input_tokens"].AsInt64()
		case c.Name == "llm.completion":
			llm++
			tokensOut += a["output_tokens"].AsInt64()
			if a["finish_reason"].AsString() == "content_filter" {
				blocks++
			}
		case strings.HasPrefix(c.Name, "chat "), strings.HasPrefix(c.Name, "embeddings "):
			llm++
			op := a["gen_ai.operation.name"].AsString()
			if c.Name != op+" "+a["gen_ai.request.model"].AsString() {
				t.Errorf("GenAI span %q is not named after operation %q and model", c.Name, op)
			}
			tokensIn += a["gen_ai.usage.input_tokens"].AsInt64() + a["gen_ai.usage.prompt_tokens"].AsInt64()
			tokensOut += a["gen_ai.usage.output_tokens"].AsInt64() + a["gen_ai.usage.completion_tokens"].AsInt64()
			if slices.Contains(a["gen_ai.response.finish_reasons"].AsStringSlice(), "content_filter") {
				blocks++
			}
		case c.Name == "llm.tool":
			tools++
			if a["status"].AsString() == "error" {
				toolFails++
				if c.Status != codes.Error {
					t.Errorf("failed llm.tool span has status %v", c.Status)
				}
			}
		case strings.HasPrefix(c.Name, "execute_tool "):
			tools++
			if c.Status == codes.Error {
				toolFails++
				if a["error.type"].AsString() == "" {
					t.Errorf("failed %q span has no error.type", c.Name)
				}
			}
		default:
			t.Errorf("unexpected span %q", c.Name)
		}
	}
	if llm != p.LLMCalls || tools != p.ToolCalls || toolFails != p.ToolFailures || blocks != p.SafetyBlocks {
		t.Errorf("spans show %d LLM calls, %d tool calls, %d tool failures, %d safety blocks; plan says %d, %d, %d, %d",
			llm, tools, toolFails, blocks, p.LLMCalls, p.ToolCalls, p.ToolFailures, p.SafetyBlocks)
	}
	if tokensIn != p.InputTokens || tokensOut != p.OutputTokens {
		t.Errorf("spans carry %d/%d tokens, plan says %d/%d", tokensIn, tokensOut, p.InputTokens, p.OutputTokens)
	}
	o := p.Outcome
	switch {
	case p.SafetyBlocks > 0 && (o.Success || o.ReasonCode != reasonSafetyBlock):
		t.Errorf("a safety block ended in outcome %+v", o)
	case (o.ReasonCode == reasonToolError || o.ReasonCode == "crm_unavailable") && (o.Success || p.ToolFailures == 0):
		t.Errorf("outcome %+v blames a tool, but %d tool calls failed", o, p.ToolFailures)
	case o.ReasonCode == "crm_unavailable" && (s.Service != outageService || !o.Escalation):
		t.Errorf("%s task ended with outcome %+v", s, o)
	}
	if amount, ok := root["invoice.amount"]; ok && amount.AsFloat64() > approvalLimit && o.Success && !o.Escalation {
		t.Errorf("invoice of %.2f was posted without approval", amount.AsFloat64())
	}
	if (p.Root.Status == codes.Error) == o.Success {
		t.Errorf("root status %v does not match success %v", p.Root.Status, o.Success)
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	s := Stream{"invoice-agent", "2.4.0", "prod"}
	a, _ := NewGenerator(s, 99)
	b, _ := NewGenerator(s, 99)
	c, _ := NewGenerator(s, 100)
	for i := range 200 {
		at := tuesdayMorning.Add(time.Duration(i) * time.Minute)
		pa, pb, pc := a.Next(at), b.Next(at), c.Next(at)
		if !reflect.DeepEqual(pa, pb) {
			t.Fatalf("plan %d differs between two generators with the same seed", i)
		}
		if pa.TraceID == pc.TraceID {
			t.Fatalf("plan %d has the same trace id under another seed", i)
		}
	}
}

func TestTraceIDsDependOnStartTime(t *testing.T) {
	// Two runs with the same seed at different times must not collide in day2,
	// which would take the second run's spans for redeliveries.
	s := Stream{"support-triage", "1.4.0", "prod"}
	a, _ := NewGenerator(s, 1)
	b, _ := NewGenerator(s, 1)
	if a.Next(tuesdayMorning).TraceID == b.Next(tuesdayMorning.Add(time.Hour)).TraceID {
		t.Error("same seed at different start times gave the same trace id")
	}
}

func TestNewGeneratorRejectsUnknownStream(t *testing.T) {
	if _, err := NewGenerator(Stream{"support-triage", "9.9.9", "prod"}, 1); err == nil {
		t.Error("NewGenerator accepted a version the fleet does not run")
	}
}

func TestTrafficPattern(t *testing.T) {
	var sum float64
	week := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC) // a Monday
	for h := range 7 * 24 {
		sum += trafficWeight(week.Add(time.Duration(h) * time.Hour))
	}
	if mean := sum / (7 * 24); math.Abs(mean-1) > 1e-9 {
		t.Errorf("weekly mean traffic weight = %g, want 1", mean)
	}
	if night, noon := trafficWeight(week.Add(3*time.Hour)), trafficWeight(week.Add(11*time.Hour)); noon < 5*night {
		t.Errorf("weekday 11:00 weight %.2f is not well above 03:00 weight %.2f", noon, night)
	}
	if sat, mon := trafficWeight(week.Add(5*24*time.Hour+11*time.Hour)), trafficWeight(week.Add(11*time.Hour)); sat >= mon/2 {
		t.Errorf("Saturday 11:00 weight %.2f is not well below Monday's %.2f", sat, mon)
	}

	// Over four weeks the arrivals average the configured rate.
	s := Stream{"support-triage", "1.4.0", "prod"}
	a := newArrivals(s, 3, 1, week, 1.5, true, surge{})
	end := week.Add(28 * 24 * time.Hour)
	n := 0
	var business, night int
	for a.next.Before(end) {
		switch h := a.next.Hour(); {
		case h >= 10 && h < 12:
			business++
		case h >= 2 && h < 4:
			night++
		}
		n++
		a.advance()
	}
	bounds{0.97, 1.03}.check(t, "arrivals / expected over 28 days", float64(n)/(1.5*28*24*60))
	if business < 5*night {
		t.Errorf("%d arrivals between 10:00 and 12:00 but %d between 02:00 and 04:00; want business hours far busier", business, night)
	}
}

func TestOutcomeAttrs(t *testing.T) {
	tests := []struct {
		name string
		o    Outcome
		want map[attribute.Key]attribute.Value
	}{
		{
			name: "booleans as booleans",
			o:    Outcome{Success: true, ReasonCode: "resolved", CycleTime: 1500 * time.Millisecond},
			want: map[attribute.Key]attribute.Value{
				"success": attribute.BoolValue(true), "escalation": attribute.BoolValue(false),
				"reason_code": attribute.StringValue("resolved"), "cycle_time_ms": attribute.Int64Value(1500),
			},
		},
		{
			name: "booleans as strings, the way Application Insights sends them",
			o:    Outcome{Escalation: true, ReasonCode: "low_confidence", CycleTime: time.Minute, BoolsAsStrings: true},
			want: map[attribute.Key]attribute.Value{
				"success": attribute.StringValue("false"), "escalation": attribute.StringValue("true"),
				"reason_code": attribute.StringValue("low_confidence"), "cycle_time_ms": attribute.Int64Value(60000),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := attrMap(tt.o.Attrs()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Attrs() = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkGenerator(b *testing.B) {
	g, _ := NewGenerator(Stream{"invoice-agent", "2.3.1", "prod"}, 1)
	at := tuesdayMorning
	for b.Loop() {
		at = at.Add(time.Second)
		_ = g.Next(at)
	}
}

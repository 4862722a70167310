package demo

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/day2ops/day2/canary"
)

// canaryRun is how a simulated canary of kb-answer-agent ended.
type canaryRun struct {
	state string // "rolled_back" or "promoted"
	step  int    // the step it ended at (0-based)
	after time.Duration
	// toolCalls and toolFailures count the finished tasks' tool calls of
	// both arms.
	toolCalls, toolFailures int64
}

// simulateCanary replays what day2's judge does with kb-answer-agent's
// traffic under timing tm: questions arrive at tm.releaseRate a second, each
// goes to the candidate with the step's weight, and every judge interval the
// finished tasks of each arm since the step began are judged as
// release.Service does (canary.Judge, max_looks one per interval of a step,
// advance after the step's duration with min_samples candidate tasks). It
// draws the tasks with the generator, without I/O.
func simulateCanary(t *testing.T, tm opsTiming, candidate string, seed int64) canaryRun {
	t.Helper()
	start := tuesdayMorning
	base := newGenerator(Stream{kbService, kbV230, kbEnvironment}, kbProfiles[kbV230], seed)
	cand := newGenerator(Stream{kbService, candidate, kbEnvironment}, kbProfiles[candidate], seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 99))
	th := canary.Thresholds{MinSamples: tm.judgeMinSamples, MaxLooks: max(1, int(tm.stepDuration/tm.judgeInterval))}

	type task struct {
		start, end time.Time
		p          Plan
	}
	var baseTasks, candTasks []task
	arrival := start
	draw := func(until time.Time, weight int) {
		for arrival.Before(until) {
			arrival = arrival.Add(time.Duration(rng.ExpFloat64() / tm.releaseRate * float64(time.Second)))
			g, into := base, &baseTasks
			if rng.IntN(100) < weight {
				g, into = cand, &candTasks
			}
			p := g.Next(arrival)
			compress(&p, tm.scale)
			*into = append(*into, task{p.Start, p.End, p})
		}
	}
	sample := func(tasks []task, since, now time.Time) canary.Sample {
		var s canary.Sample
		for _, tk := range tasks {
			if tk.start.Before(since) || !tk.end.Before(now) {
				continue
			}
			s.Tasks++
			if tk.p.Outcome.Success {
				s.Successes++
			}
			if tk.p.Outcome.Escalation {
				s.Escalations++
			}
			s.ToolCalls += int64(tk.p.ToolCalls)
			s.ToolFailures += int64(tk.p.ToolFailures)
			s.CycleTimesMS = append(s.CycleTimesMS, float64(tk.p.Outcome.CycleTime.Milliseconds()))
		}
		return s
	}

	ended := func(state string, step int, now time.Time) canaryRun {
		r := canaryRun{state: state, step: step, after: now.Sub(start)}
		for _, arm := range [][]task{baseTasks, candTasks} {
			all := sample(arm, start, now)
			r.toolCalls += all.ToolCalls
			r.toolFailures += all.ToolFailures
		}
		return r
	}
	now, stepStart := start, start
	for step := 0; step < len(tm.steps); {
		for look := 1; ; look++ {
			now = now.Add(tm.judgeInterval)
			draw(now, tm.steps[step])
			baseSince := stepStart
			if tm.steps[step] == 100 {
				baseSince = start
			}
			rep := canary.Judge(th, look, sample(baseTasks, baseSince, now), sample(candTasks, stepStart, now))
			if rep.Verdict == canary.VerdictFail {
				return ended("rolled_back", step, now)
			}
			c := sample(candTasks, stepStart, now)
			if rep.Verdict == canary.VerdictPass && now.Sub(stepStart) >= tm.stepDuration && c.Tasks >= tm.minSamples {
				break
			}
			if look > 1000 {
				t.Fatalf("%s: step %d never ends", candidate, step)
			}
		}
		step++
		stepStart = now
	}
	return ended("promoted", len(tm.steps)-1, now)
}

// The releases scenario's claims, for the demo's pace and the compressed one
// of TestOpsStory: day2's judge rolls 2.4.0 back in its first step within a
// minute or two, and promotes 2.4.1.
func TestCanaryJudgeTellsTheVersionsApart(t *testing.T) {
	for name, tm := range map[string]opsTiming{"demo": defaultOpsTiming, "test": testOpsTiming} {
		t.Run(name, func(t *testing.T) {
			const runs = 10
			var badLate, goodFailed int
			var slowest, promoted time.Duration
			histCalls, histFailures := historyToolCalls(t, tm)
			worstBudget := 0.0
			for seed := range int64(runs) {
				bad := simulateCanary(t, tm, kbV240, seed)
				if bad.state != "rolled_back" || bad.step != 0 {
					badLate++
					t.Logf("seed %d: 2.4.0 %s at step %d", seed, bad.state, bad.step+1)
				}
				slowest = max(slowest, bad.after)
				// The budget of the built-in tool-failure SLO (at most 0.5% of
				// tool calls fail) that 2.4.0 leaves to the rest of the story.
				used := float64(histFailures+bad.toolFailures) / float64(histCalls+bad.toolCalls) / 0.005
				worstBudget = max(worstBudget, used)
				good := simulateCanary(t, tm, kbV241, seed)
				promoted = max(promoted, good.after)
				if good.state != "promoted" {
					goodFailed++
					t.Logf("seed %d: 2.4.1 %s at step %d after %s", seed, good.state, good.step+1, good.after)
				}
			}
			t.Logf("2.4.0 rolled back within %s in every run but %d, using up to %.0f%% of the tool-failure budget with %d tool calls of history; 2.4.1 promoted within %s in all but %d of %d runs",
				slowest, badLate, 100*worstBudget, histCalls, promoted, goodFailed, runs)
			// A budget under a quarter left would put the service at risk; none
			// left would freeze it, and the judge would hold 2.4.1.
			if worstBudget > 0.75 {
				t.Errorf("2.4.0 leaves kb-answer-agent %.0f%% of its tool-failure budget, want at least 25%%", 100*(1-worstBudget))
			}
			if badLate > 0 {
				t.Errorf("2.4.0 survived its first step in %d of %d runs", badLate, runs)
			}
			if limit := 2 * time.Minute; name == "demo" && slowest > limit {
				t.Errorf("2.4.0 took up to %s to roll back, want at most %s", slowest, limit)
			}
			if limit := 4 * time.Minute; name == "demo" && promoted > limit {
				t.Errorf("2.4.1 took up to %s to be promoted, want at most %s", promoted, limit)
			}
			if goodFailed > runs/20 {
				t.Errorf("2.4.1 was rolled back in %d of %d runs", goodFailed, runs)
			}
		})
	}
}

// historyToolCalls counts the tool calls and failures of the history the
// releases scenario sends for kb-answer-agent at pace tm.
func historyToolCalls(t *testing.T, tm opsTiming) (calls, failures int64) {
	t.Helper()
	now := tuesdayMorning
	s := Stream{kbService, kbV230, kbEnvironment}
	g := newGenerator(s, kbProfiles[kbV230], 1)
	arr := newArrivals(s, 1, 5, now.Add(-tm.history), tm.historyRate, true, surge{})
	for arr.next.Before(now) {
		p := g.Next(arr.next)
		arr.advance()
		calls += int64(p.ToolCalls)
		failures += int64(p.ToolFailures)
	}
	return calls, failures
}

// testOpsTiming compresses the story for TestOpsStory.
var testOpsTiming = opsTiming{
	scale: 0.1, poll: 100 * time.Millisecond, patience: 45 * time.Second,

	history: 6 * time.Hour, historyRate: 4,
	releaseRate: 40, warmup: time.Second, steps: []int{20, 50, 100},
	stepDuration: 3 * time.Second, judgeInterval: time.Second, minSamples: 10, judgeMinSamples: 10,

	approvalTimeout: 3 * time.Second, approvalGap: 100 * time.Millisecond, thinkTime: 300 * time.Millisecond,

	accountRate: 10, outageAfter: time.Second, ruleWindow: time.Minute,
	recovery: time.Second, verify: time.Second,
}

// Package canary is day2's canary judge. During a rollout step, part of the
// traffic goes to the candidate version and the rest stays on the baseline;
// every so often the release engine asks Judge whether the candidate is worse.
// Judge compares the two arms on four metrics and answers pass, fail or
// inconclusive for each metric and for the whole step, with the reason in plain
// words. It is pure: counts in, verdicts out; the statistics live in package
// stats.
//
// # What is compared
//
//   - task_success: the share of tasks with an outcome that succeeded. Lower is
//     worse.
//   - escalation_rate: the share of tasks with an outcome that were escalated to
//     a human. Higher is worse.
//   - tool_failure: the share of tool calls that failed, counted over tool calls,
//     not tasks. Higher is worse.
//   - cycle_time: how long tasks took. Longer is worse.
//
// Each look passes the counts of the whole step so far (not only the news since
// the previous look). The arms must be comparable: tasks assigned to baseline
// or candidate at random, at the same time.
//
// # Minimum sample
//
// Until both arms have MinSamples tasks with an outcome (default 100), every
// metric is inconclusive: a handful of tasks can look alarming or reassuring by
// chance alone. Cycle time also needs MinSamples cycle times in each arm. Once
// the step has enough tasks, a metric that neither arm has any data for (no
// tool calls at all, no cycle times) passes with the reason "no data"; if only
// one arm has data, it is inconclusive.
//
// # Tolerance: what "worse" means
//
// A candidate fails a metric only when the data show it is worse than the
// baseline by more than the metric's tolerance, not merely worse. With the
// default success tolerance of 1 point, a candidate at 94.6% against a baseline
// at 95% is within tolerance and does not fail however many tasks are seen. In
// statistical terms each metric tests the null hypothesis "the candidate is
// worse by at most the tolerance" and fails when the data reject it. The
// tolerances are in proportion points for the rates (success 0.01, escalation
// 0.01, tool failure 0.005 by default) and relative for cycle time (0.25: up to
// 25% slower).
//
// # The tests
//
// Rates are compared as a difference of two proportions with the
// Farrington-Manning score test, the standard test of a difference with a
// margin (the one used for non-inferiority trials): z = (candidate rate -
// baseline rate - tolerance) / SE, where SE is computed from the rates that the
// null hypothesis makes most likely. When any of the four counts expected under
// the null hypothesis (bad and good outcomes in each arm) is below 5, which
// happens with rare events such as tool failures early in a step, the normal
// approximation is too optimistic in exactly the tail that matters, so the
// judge uses the exact version of the same test instead: the probability of a z
// at least as large is summed over all possible outcomes of two binomial
// distributions (the E-test of Krishnamoorthy and Thomson). The report names
// the test: "z" or "exact". Fisher's exact test is not used because it
// conditions on the total number of bad outcomes and therefore tests equality
// of the odds, not "worse by more than 1 point".
//
// Cycle times are compared with the Mann-Whitney U test, a rank test that needs
// no assumption about the shape of the distribution and is not thrown by a few
// very slow tasks. To build the tolerance in, the baseline's cycle times are
// stretched by (1 + tolerance) before the one-sided test: the metric fails when
// the candidate's times are significantly longer than the baseline's times plus
// 25%. The report shows the medians and the Hodges-Lehmann estimate of the
// slowdown, the median of all candidate/baseline ratios of cycle times, which is
// the estimate that goes with this test ("typically 12% slower").
//
// Absolute limits are optional. MinSuccess, MaxEscalation and MaxToolFailure
// are tested with the exact binomial test of the candidate's count against the
// limit; MaxCycleTimeP95MS with the exact binomial test of the share of the
// candidate's tasks slower than the limit against 5% (the 95th percentile is
// above the limit exactly when more than 5% of tasks are). A limit fails the
// metric when the candidate is significantly beyond it, so a single unlucky
// task does not.
//
// # Repeated looks and alpha spending
//
// The judge looks again and again at data that keep accumulating. Testing at
// 5% at every look would raise a false alarm far more often than 5% of the
// time: with ten looks, in about 17% of steps in which nothing is wrong. The
// judge therefore spends the false-alarm budget Alpha over the MaxLooks
// planned looks of a step (default 10) with the Lan-DeMets
// O'Brien-Fleming-type spending function, and holds each look to the
// significance level that the group-sequential boundaries for that spending
// allow (computed exactly by numerical integration, so the looks' correlation
// is accounted for rather than wasted as in a Bonferroni split). Look k is
// taken to have seen k/MaxLooks of the step's data. With the defaults (Alpha
// 0.05, 10 looks) the levels are:
//
//	look   1        2        3        4       5       6       7      8      9      10
//	level  5.7e-10  1.2e-05  0.00034  0.0018  0.0050  0.0096  0.015  0.022  0.029  0.036
//
// Each metric's MetricVerdict.Threshold is the level of its look. O'Brien-Fleming
// spending was chosen over Pocock's for how canaries go wrong: a broken
// candidate (a tool that always fails, success down by tens of points) gives
// p-values far below even the first look's level and fails at once, while a
// subtle regression of a few points needs the whole step's data, and
// O'Brien-Fleming keeps the last look's level (0.036) close to a single test at
// 0.05; Pocock's spending would hold every look, the last included, to about
// 0.015, losing power where it is needed. Looks after MaxLooks are held to the
// final look's level, which spends a little more than Alpha: set MaxLooks to
// the number of looks the step will really have, roughly equally spaced in
// tasks.
//
// # Verdicts
//
// A metric:
//
//   - fails when the candidate is significantly worse than the baseline beyond
//     the tolerance at this look's level, or significantly beyond an absolute
//     limit;
//   - passes early, at any look, when the opposite test shows at this look's
//     level that the candidate is not worse than tolerated (and within any
//     absolute limit): the data rule out a regression beyond the tolerance. This
//     takes a lot of data (for success at 95% with a 1-point tolerance, about
//     3,000 tasks per arm at the last look and many more earlier);
//   - passes at the final look (look >= MaxLooks) when it has not failed: after
//     all planned looks, no significant regression was found. The reason then
//     states the largest regression the data still allow at 1 - Alpha
//     confidence (for rates), so a reader can see what the pass is worth with
//     the sample at hand;
//   - is inconclusive otherwise: too few tasks, or no decision yet at this look.
//
// The report fails if any critical metric fails (all four are critical unless
// Critical lists fewer), passes if every metric passes, and is inconclusive
// otherwise; a failing metric that is not critical makes the report
// inconclusive rather than failed. Score follows Kayenta: passes / (passes +
// fails) * 100 over the metrics with a verdict ("no data" counts as a pass), 0
// when a critical metric fails or when no metric has a verdict yet.
//
// # How often it is wrong
//
// Alpha is the probability that one metric's test falsely fails during a whole
// step, in the worst case, where the candidate is worse by exactly the
// tolerance. When the candidate is as good as the baseline, false alarms are
// far rarer, because the tolerance is then a margin the noise must also cross.
// With several critical metrics, the chance that at least one fails falsely is
// at most Alpha times their number (an absolute limit is one more test). The
// simulations in simulation_test.go (seeded, so repeatable) measured, with the
// default thresholds and ten equally spaced looks:
//
//   - identical arms (95% success, 5% escalations, 1% of three tool calls per
//     task failing), 1,500 tasks per arm by the last look: the step failed in
//     0.45% of 2,000 steps, all four metrics together; 99.6% passed;
//   - task success exactly 1 point (the tolerance) worse: failed in 5.3% of
//     2,000 steps (Alpha 5%, Monte Carlo error ±0.5%);
//   - task success dropping from 95% to 92%: caught in 71% of steps with 1,500
//     tasks per arm by the last look and in 88% with 2,500, typically at look 6
//     or 7. Because the first point of the drop is within the tolerance, the
//     test has to see a 2-point excess; no test at 5% can have more than about
//     72% power for that at 1,500 tasks per arm, even with a single look;
//   - cycle times 40% slower (tolerance 25%), lognormal, 600 tasks per arm:
//     caught in 99% of steps; identical cycle times never failed.
//
// # Limits of the model
//
// The tests treat every task, and every tool call, as an independent trial.
// Tool calls within one task are not independent (a task that goes wrong often
// fails several calls), which makes the tool-failure test somewhat more eager
// to fail than its level says; the tolerance absorbs part of it. The exact
// test for small counts is exact in its sums but evaluates them at the most
// likely baseline rate, so its level is very close to, not guaranteed at,
// Alpha. Drift over time that hits both arms alike does not matter; drift that
// hits only one (different traffic mixes) does, which is why the arms must be
// split at random.
package canary

// Package stats holds the statistical tests behind day2's canary judge: exact and
// approximate tests for comparing two proportions (the pooled two-proportion z
// test, the Farrington-Manning score test of a difference with a tolerance and its
// exact small-sample counterpart), the Mann-Whitney U test and the Hodges-Lehmann
// shift for continuous values such as cycle times, the exact binomial test against
// a fixed proportion, and alpha spending functions with the group-sequential
// boundaries they imply for repeated looks at accumulating data.
//
// The package is pure and uses only the standard library. Functions never panic on
// input: counts that cannot be (negative, or more successes than trials) and NaN
// values give NaN results, and comparisons without any data give p-values of 1
// (no evidence of anything).
//
// Conventions. A one-sided p-value is named after its alternative hypothesis:
// pGreater is small when the second sample (x2/n2, or y) is larger than the first,
// pLess when it is smaller. Every test here is a published one, cited where it is
// defined, and the tests of this package check the results against published
// values (R's examples, textbook tables) or against values worked out
// independently of this code and written next to them.
//
// What the canary judge uses: RiskDifferenceTest (the Farrington-Manning test,
// exact for small counts) for rates with a tolerance, MannWhitneyU and
// HodgesLehmann for cycle times, BinomialTest for absolute limits, and
// SequentialBoundaries with OBrienFlemingSpend for its repeated looks, because
// O'Brien-Fleming spending lets a broken candidate fail at the first look while
// keeping nearly full power at the last (Pocock's would hold the last look to
// about a third of alpha). Fisher's exact test is not here: it conditions on the
// total count and so cannot test "worse by more than a tolerance"; nor is a
// Bayesian posterior probability, which promises no false-alarm rate over
// repeated looks.
package stats

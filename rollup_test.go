package day2_test

import (
	"testing"

	"github.com/day2ops/day2"
)

func TestShadowTasksDoNotCountInRollups(t *testing.T) {
	task := day2.Task{Service: "triage", Environment: "prod", Version: "2.4.0", StartTime: t0, EndTime: t0,
		OutcomeTime: t0, Success: ptr(false)}
	for _, arm := range []string{"", day2.ArmBaseline, day2.ArmCandidate} {
		task.Arm = arm
		c, ok := day2.TaskContribution(task)
		if !ok || c.Counters.Tasks != 1 {
			t.Errorf("arm %q: contribution %+v, %v; want one task", arm, c.Counters, ok)
		}
	}
	task.Arm = day2.ArmShadow
	if c, ok := day2.TaskContribution(task); ok {
		t.Errorf("a shadow task contributes %+v to the rollups", c.Counters)
	}
}

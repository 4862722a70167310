package incident

import (
	"strings"
	"time"

	"github.com/day2ops/day2"
)

// Settings are the incident settings of the config directory, the
// IncidentSettings document:
//
//	apiVersion: day2/v1
//	kind: IncidentSettings
//	metadata: {name: incidents}
//	spec:
//	  group_by: [service, environment]   # alert fields or labels; one incident per distinct value
//	  group_interval: 5m                 # least time between two incident.updated messages
//	  repeat_interval: 4h                # an unmitigated incident is announced again after this
//
// Fields left out keep their defaults (and the intervals the shortest a
// Notifier sets).
type Settings struct {
	GroupBy        []string      `yaml:"group_by,omitempty" json:"group_by,omitempty"`
	GroupInterval  day2.Duration `yaml:"group_interval,omitempty" json:"group_interval,omitempty"`
	RepeatInterval day2.Duration `yaml:"repeat_interval,omitempty" json:"repeat_interval,omitempty"`
}

// Validate reports the first problem of s.
func (s *Settings) Validate() error {
	seen := map[string]bool{}
	for _, g := range s.GroupBy {
		g = strings.TrimSpace(g)
		if g == "" {
			return day2.Errorf(day2.EInvalid, "group_by has an empty name; list alert fields (service, environment, source, severity) or label names")
		}
		if seen[g] {
			return day2.Errorf(day2.EInvalid, "group_by names %q twice", g)
		}
		seen[g] = true
	}
	if d := s.GroupInterval.D(); d != 0 && d < time.Second {
		return day2.Errorf(day2.EInvalid, "group_interval %s is under a second; batch updates over at least 1s (Alertmanager's default is 5m)", d)
	}
	if d := s.RepeatInterval.D(); d != 0 && d < time.Minute {
		return day2.Errorf(day2.EInvalid, "repeat_interval %s is under a minute; repeating pages that often drowns on-call (Alertmanager's default is 4h)", d)
	}
	return nil
}

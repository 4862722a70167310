package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/day2ops/day2/approval"
	"github.com/day2ops/day2/flags"
	"github.com/day2ops/day2/incident"
	"github.com/day2ops/day2/notify"
	"github.com/day2ops/day2/slo"
)

// DefaultAtRiskBelow is the remaining budget share under which a service is at
// risk when no BudgetPolicy document says otherwise.
const DefaultAtRiskBelow = 0.25

// DefaultMinEvents is the fewest events a window needs before its burn rate may
// fire an alert when no AlertCondition sets day2.minEvents.
const DefaultMinEvents = 10

// MaxProblems caps how many problems one load reports, so that a directory of
// broken files still gives a readable answer.
const MaxProblems = 100

// maxFileSize bounds one config file. Config files are a few kilobytes; a file
// this large is almost certainly not meant to be read as config.
const maxFileSize = 4 << 20

// Config is everything read from a config directory, resolved and checked.
type Config struct {
	// SLOs are the custom SLOs, one per objective of each OpenSLO SLO document,
	// with indicators and alert policies resolved.
	SLOs []slo.Definition
	// Services are the OpenSLO Service documents.
	Services []Service
	// Defaults configure the built-in SLOs, from the SLODefaults document.
	Defaults slo.DefaultsSettings
	// Policy is the error budget policy, from the BudgetPolicy document.
	Policy slo.PolicySettings
	// Alerting holds, per SLO name (slo.Definition.Name), what its alert
	// policies say beyond the burn-rate pairs in slo.Definition.AlertPairs.
	// SLOs without alertPolicies have no entry.
	Alerting map[string]Alerting
	// NotificationTargets are the OpenSLO AlertNotificationTarget documents.
	NotificationTargets []NotificationTarget
	// ApprovalPolicies are the ApprovalPolicy documents, one per service.
	ApprovalPolicies []approval.Policy
	// Notifiers are the Notifier documents: where incident and approval
	// messages go.
	Notifiers []notify.Notifier
	// Incidents are the incident settings (grouping and notification rhythm),
	// from the IncidentSettings document.
	Incidents incident.Settings
	// AlertRules are the AlertRule documents: threshold rules on SLIs.
	AlertRules []incident.Rule
	// Flags are the feature flags of FeatureFlags documents and flagd files
	// (*.flagd.json, or .json files in a flags directory), by key.
	Flags map[string]flags.Flag
	// Runbooks are the Markdown templates in runbooks/ directories, by name
	// (the file name without .md).
	Runbooks map[string]string
	// Files are the files read, in the order they were read.
	Files []string
}

// Service is an OpenSLO Service document: a name SLOs refer to in spec.service.
type Service struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Description string `json:"description,omitempty"`
	// Source is "file:line" of the document.
	Source string `json:"source"`
}

// NotificationTarget is an OpenSLO AlertNotificationTarget document. day2 keeps it
// so that alert policies can name it; delivery is configured elsewhere.
type NotificationTarget struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	Target      string `json:"target"`
	Description string `json:"description,omitempty"`
	Source      string `json:"source"`
}

// Alerting is what the alert policies of one SLO say beyond its burn-rate pairs.
type Alerting struct {
	// Policies are the names of the SLO's alert policies, in order.
	Policies []string `json:"policies"`
	// Conditions are the policies' burn-rate conditions, in the order of
	// slo.Definition.AlertPairs.
	Conditions []AlertCondition `json:"conditions"`
	// NotificationTargets are the names of the policies' notification targets,
	// without repeats.
	NotificationTargets []string `json:"notification_targets,omitempty"`
}

// AlertCondition is one OpenSLO burn-rate AlertCondition as day2 evaluates it.
type AlertCondition struct {
	// Name is the condition's metadata.name, or "<policy>-<n>" for an inline
	// condition without one.
	Name string `json:"name"`
	// Pair is the multiwindow condition: Long is the lookbackWindow, Short the
	// day2.shortWindow (lookbackWindow/12 by default), Threshold the burn rate.
	Pair slo.WindowPair `json:"pair"`
	// Op is "gte" (fire at or above the threshold) or "gt" (strictly above).
	Op string `json:"op"`
	// AlertAfter is how long the condition must hold before the alert fires.
	AlertAfter time.Duration `json:"alert_after"`
	// Source is "file:line" of the condition.
	Source string `json:"source"`
}

// Problem is one thing wrong in a config file, at a line, written for the person
// who has to fix it.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Message string `json:"message"`
}

// String returns the problem as "file:line: message" ("file: message" when the
// problem has no line).
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Message)
	}
	if p.File == "" {
		return p.Message
	}
	return p.File + ": " + p.Message
}

// Problems is the error LoadDir and Parse return: every problem found, in file
// and line order, at most MaxProblems of them.
type Problems []Problem

// Error lists the problems, one "file:line: message" per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// empty returns a Config with nothing configured: built-in defaults and the
// default budget policy.
func empty() *Config {
	return &Config{Policy: slo.PolicySettings{AtRiskBelow: DefaultAtRiskBelow}}
}

// LoadDir reads every *.yaml and *.yml file under dir (recursively, in sorted
// order, skipping hidden files and directories), each possibly holding several
// YAML documents, the runbooks (*.md files in directories named runbooks) and
// flagd flag sets (*.flagd.json, and .json files in directories named flags),
// and returns the resolved configuration. dir may also name a
// single file. An empty dir means "no config directory" and gives an empty
// Config; a dir that does not exist is an error. On any problem LoadDir returns
// a Problems error listing all of them, found across all files.
func LoadDir(dir string) (*Config, error) {
	if dir == "" {
		return empty(), nil
	}
	files, err := listFiles(dir)
	if err != nil {
		return nil, Problems{{File: dir, Message: err.Error()}}
	}
	l := newLoader()
	l.dir = true
	for _, name := range files {
		data, err := readFile(name)
		if err != nil {
			l.addAt(name, 0, "%v", err)
			continue
		}
		if isRunbook(name) {
			l.runbook(name, data)
			continue
		}
		if isFlagFile(name) {
			l.flagFile(name, data)
			continue
		}
		l.readFile(name, data)
	}
	return l.finish()
}

// Parse reads one file's contents as LoadDir would, with name used in messages.
// References (indicatorRef, alertPolicies, conditionRef) must resolve within the
// file.
func Parse(name string, data []byte) (*Config, error) {
	l := newLoader()
	l.readFile(name, data)
	return l.finish()
}

// listFiles returns the config files of path: path itself when it is a file, or
// the *.yaml and *.yml files under it, sorted.
func listFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("config directory does not exist; check --config (it names a directory of OpenSLO and day2 YAML files)")
		}
		return nil, fmt.Errorf("cannot read config directory: %v", err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != path && strings.HasPrefix(d.Name(), ".") {
			// Hidden: editor swap files, .git, and the ..data directories of
			// Kubernetes ConfigMap volumes, whose files are also linked from
			// the top level and would otherwise be read twice.
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(p))
		if ext != ".yaml" && ext != ".yml" && !isRunbook(p) && !isFlagFile(p) {
			return nil
		}
		// Follow symbolic links to files (ConfigMap volumes consist of them),
		// but read only regular files.
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot list config directory: %v", err)
	}
	slices.Sort(files)
	return files, nil
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read file: %v", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d MiB; config files are small, so check that this is the right directory", maxFileSize>>20)
	}
	return data, nil
}

// Summary describes the configuration in a few lines, for `day2 validate`.
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config OK: %s, %s", plural(len(c.Files), "file"), plural(len(c.SLOs), "SLO"))
	if len(c.SLOs) > 0 {
		names := make([]string, 0, len(c.SLOs))
		for _, d := range c.SLOs {
			names = append(names, d.Name)
		}
		if len(names) > 10 {
			names = append(names[:10], fmt.Sprintf("and %d more", len(c.SLOs)-10))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, ", %s\n", plural(len(c.Services), "service"))
	b.WriteString("defaults: ")
	if c.Defaults.Disabled {
		b.WriteString("off")
	} else {
		parts := make([]string, 0, len(builtins))
		for _, bi := range builtins {
			parts = append(parts, describeBuiltin(bi, *bi.slot(&c.Defaults)))
		}
		b.WriteString(strings.Join(parts, "; "))
	}
	fmt.Fprintf(&b, "\nbudget policy: at risk below %s of the error budget left", percent(c.Policy.AtRiskBelow))
	return b.String()
}

func describeBuiltin(b builtin, s *slo.DefaultSLO) string {
	if s == nil {
		return b.name + " built-in"
	}
	if s.Disabled {
		return b.name + " off"
	}
	var parts []string
	if s.Objective > 0 {
		if b.rate {
			parts = append(parts, "at most "+percent(round12(1-s.Objective)))
		} else {
			parts = append(parts, "at least "+percent(s.Objective))
		}
	}
	if s.CycleTimeMS > 0 {
		parts = append(parts, "within "+(time.Duration(s.CycleTimeMS)*time.Millisecond).String())
	}
	if s.Window != nil {
		parts = append(parts, "over "+s.Window.Text)
	}
	if s.BusinessHours != nil {
		parts = append(parts, "in business hours "+s.BusinessHours.Text)
	}
	if len(parts) == 0 {
		return b.name + " built-in"
	}
	return b.name + " " + strings.Join(parts, " ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

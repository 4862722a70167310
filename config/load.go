package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// OpenSLOVersion is the apiVersion of the OpenSLO documents day2 reads.
const OpenSLOVersion = "openslo/v1"

// Day2Version is the apiVersion of day2's own settings documents.
const Day2Version = "day2/v1"

// kindDef describes one kind of document: how to read its spec. The tables below
// are the only place kinds are registered; a new day2 kind is one more entry in
// day2Kinds, a handler, and a field in Config for its result.
type kindDef struct {
	// unique kinds may appear at most once in a whole config directory.
	unique bool
	// specOptional kinds may omit spec.
	specOptional bool
	// example is a minimal spec, shown when spec is missing.
	example string
	// parse reads the document's spec into the loader.
	parse func(l *loader, o *object)
}

// openSLOKinds are the OpenSLO v1 kinds.
var openSLOKinds = map[string]kindDef{
	"SLO": {parse: (*loader).sloDoc,
		example: "spec: {service: checkout-agent, indicatorRef: task-success, timeWindow: [{duration: 28d, isRolling: true}], budgetingMethod: Occurrences, objectives: [{target: 0.99}]}"},
	"SLI":                     {parse: (*loader).sliDoc, example: "spec: " + ratioExample},
	"Service":                 {parse: (*loader).serviceDoc, specOptional: true},
	"AlertPolicy":             {parse: (*loader).alertPolicyDoc, example: "spec: {conditions: [{conditionRef: fast-burn}]}"},
	"AlertCondition":          {parse: (*loader).alertConditionDoc, example: "spec: " + conditionExample},
	"AlertNotificationTarget": {parse: (*loader).notificationTargetDoc, example: "spec: {target: slack}"},
	"DataSource":              {parse: (*loader).dataSourceDoc, specOptional: true},
}

// day2Kinds are day2's own settings, in the same envelope as OpenSLO.
var day2Kinds = map[string]kindDef{
	"SLODefaults":      {unique: true, parse: (*loader).sloDefaultsDoc, example: "spec: {task_success: {target: 0.98}}"},
	"BudgetPolicy":     {unique: true, parse: (*loader).budgetPolicyDoc, example: "spec: {at_risk_below: 0.25}"},
	"ApprovalPolicy":   {parse: (*loader).approvalPolicyDoc, example: approvalPolicyExample},
	"Notifier":         {parse: (*loader).notifierDoc, example: notifierExample},
	"AlertRule":        {parse: (*loader).alertRuleDoc, example: alertRuleExample},
	"FeatureFlags":     {parse: (*loader).featureFlagsDoc, example: featureFlagsExample},
	"IncidentSettings": {unique: true, parse: (*loader).incidentSettingsDoc, example: incidentSettingsExample},
}

// apiVersions maps each accepted apiVersion to its kinds.
var apiVersions = map[string]map[string]kindDef{
	OpenSLOVersion: openSLOKinds,
	Day2Version:    day2Kinds,
}

// collectCap bounds the problems kept while loading; the report shows MaxProblems.
const collectCap = 1000

// maxAliases bounds how many YAML aliases one file may dereference, so that a
// small file of nested aliases cannot make loading take forever.
const maxAliases = 1000

// pos is where a document or value was written.
type pos struct {
	file string
	line int
}

func (p pos) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

// object is one document (or an inline object) after its envelope was read.
type object struct {
	pos
	apiVersion, kind  string
	name, displayName string
	// dup is set when an earlier document of the same kind has the same name;
	// the spec is still checked, but the object is not registered.
	dup  bool
	spec field
}

// loader reads files into definitions, collecting every problem it finds.
type loader struct {
	file     string
	problems []Problem
	dropped  int
	aliases  int

	cfg        *Config
	slis       map[string]*sliDef
	slos       []*sloDef
	policies   map[string]*policyDef
	inlinePols []*policyDef
	conditions map[string]*conditionDef
	names      map[string]map[string]pos // "apiVersion kind" -> name -> first document
	unique     map[string]pos            // "apiVersion kind" -> the document of a unique kind
	// dir is set when a whole config directory is read, so that references
	// to runbooks can be checked.
	dir bool
	// runbookFiles maps runbook names to their files.
	runbookFiles map[string]string
	// flagKeys maps flag keys to where they were defined.
	flagKeys map[string]pos
}

func newLoader() *loader {
	return &loader{
		cfg:          empty(),
		slis:         map[string]*sliDef{},
		policies:     map[string]*policyDef{},
		conditions:   map[string]*conditionDef{},
		names:        map[string]map[string]pos{},
		unique:       map[string]pos{},
		runbookFiles: map[string]string{},
		flagKeys:     map[string]pos{},
	}
}

func (l *loader) addf(line int, format string, args ...any) {
	l.addAt(l.file, line, format, args...)
}

func (l *loader) addAt(file string, line int, format string, args ...any) {
	if len(l.problems) >= collectCap {
		l.dropped++
		return
	}
	l.problems = append(l.problems, Problem{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// count is the number of problems so far; comparing it before and after checking
// something tells whether that thing was valid.
func (l *loader) count() int { return len(l.problems) + l.dropped }

// report returns the problems sorted by file and line, at most MaxProblems.
func (l *loader) report() Problems {
	ps := slices.Clone(l.problems)
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	if more := len(ps) + l.dropped - MaxProblems; more > 0 {
		ps = append(ps[:MaxProblems], Problem{Message: fmt.Sprintf("... and %d more problems; fix these and run again", more)})
	}
	return Problems(ps)
}

// readFile reads the documents of one file.
func (l *loader) readFile(name string, data []byte) {
	l.file = name
	l.aliases = maxAliases
	l.cfg.Files = append(l.cfg.Files, name)
	if !l.checkText(data) {
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			l.syntax(data, err)
			return
		}
		l.document(&doc)
	}
}

// checkText reports bytes YAML does not allow, at their line: yaml.v3 names no
// line for them.
func (l *loader) checkText(data []byte) bool {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			l.addf(line, "the file is not UTF-8 text; save it as UTF-8 (is this a YAML file?)")
			return false
		case r == '\n':
			line++
		case r == '\t' || r == '\r' || r == 0xFEFF && i == 0:
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xA0):
			l.addf(line, "the file contains a control character (%U), which YAML does not allow; remove it", r)
			return false
		}
		i += size
	}
	return true
}

// yamlLine matches the "yaml: line N: " prefix of yaml.v3 syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntax records a YAML syntax error. yaml.v3 names a line for most errors,
// but for many parser errors it is the line before the problem, and for some
// there is none; so the line reported is the first line n such that the first n
// lines of the file fail with the same error.
func (l *loader) syntax(data []byte, err error) {
	msg := err.Error()
	line := errorLine(data, msg)
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if strings.Contains(msg, "cannot start any token") {
		msg += " (YAML indents with spaces; a tab at the start of a line causes this)"
	}
	l.addf(line, "not valid YAML: %s", msg)
}

// errorLine returns the first line n such that the first n lines of data fail
// to decode with the message msg, or 1. It tries the line the message names and
// the one after it first; otherwise it searches by halving, decoding the file
// about log2(lines) times.
func errorLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(n int) bool {
		dec := yaml.NewDecoder(bytes.NewReader(bytes.Join(lines[:n], nil)))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if err == nil {
				continue
			}
			return err.Error() == msg
		}
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		for _, c := range []int{n, n + 1} {
			if c >= 1 && c <= len(lines) && fails(c) && (c == 1 || !fails(c-1)) {
				return c
			}
		}
	}
	lo, hi := 1, len(lines)
	if hi == 0 || !fails(hi) {
		return 1
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// document reads one YAML document: its envelope, then its spec through the
// handler of its kind.
func (l *loader) document(doc *yaml.Node) {
	if len(doc.Content) == 0 {
		return
	}
	root := l.deref(doc.Content[0])
	if isNull(root) {
		return // an empty document, e.g. a trailing ---
	}
	if root.Kind != yaml.MappingNode {
		l.addf(root.Line, "a document must be a mapping that starts with apiVersion: and kind: (such as apiVersion: openslo/v1 and kind: SLO), not %s", describe(root))
		return
	}
	f, _ := l.mapping(root, root.Line, "the top level of a document (settings go under spec:)", "",
		"apiVersion", "kind", "metadata", "spec")
	o := &object{pos: pos{l.file, root.Line}, spec: f["spec"]}

	av := f["apiVersion"]
	if !av.ok() {
		l.need(av, root.Line, "missing apiVersion; every document starts with %s. Every .yaml and .yml file under the config directory is read as day2 config", versionsHelp())
		return
	}
	var ok bool
	if o.apiVersion, ok = l.text(av, OpenSLOVersion); !ok {
		return
	}
	kinds, known := apiVersions[o.apiVersion]
	if !known {
		hint := ""
		if strings.HasPrefix(strings.ToLower(o.apiVersion), "openslo/") {
			hint = "day2 reads OpenSLO v1 only; "
		}
		l.addf(av.line(), "apiVersion %q is not supported; %suse %s", o.apiVersion, hint, versionsHelp())
		return
	}
	kf := f["kind"]
	if !kf.ok() {
		l.need(kf, root.Line, "missing kind; add kind: with one of %s", strings.Join(sortedKeys(kinds), ", "))
		return
	}
	if o.kind, ok = l.text(kf, "SLO"); !ok {
		return
	}
	k, known := kinds[o.kind]
	if !known {
		l.addf(kf.line(), "unknown kind %q for apiVersion %s; %s", o.kind, o.apiVersion, kindHint(o.apiVersion, o.kind))
		return
	}
	kindKey := o.apiVersion + " " + o.kind
	l.metadata(f["metadata"], root.Line, o, true)

	if k.unique {
		if first, seen := l.unique[kindKey]; seen {
			l.addf(root.Line, "a second %s document; the first is at %s. Keep one %s document with all its settings", o.kind, first, o.kind)
			return
		}
		l.unique[kindKey] = o.pos
	}
	if o.name != "" {
		names := l.names[kindKey]
		if names == nil {
			names = map[string]pos{}
			l.names[kindKey] = names
		}
		if first, dup := names[o.name]; dup {
			l.addf(o.line, "there is already %s named %q at %s; names must be unique per kind", withArticle(o.kind), o.name, first)
			o.dup = true
		} else {
			names[o.name] = o.pos
		}
	}
	if !o.spec.ok() {
		if !k.specOptional {
			l.need(o.spec, root.Line, "missing spec; for example %s", k.example)
			return
		}
		o.spec = field{key: root, val: nullNode(root.Line)}
	}
	k.parse(l, o)
}

// versionsHelp names the accepted apiVersions and their kinds.
func versionsHelp() string {
	return fmt.Sprintf("apiVersion: %s (kinds %s) or apiVersion: %s (kinds %s)",
		OpenSLOVersion, strings.Join(sortedKeys(openSLOKinds), ", "),
		Day2Version, strings.Join(sortedKeys(day2Kinds), ", "))
}

// kindHint explains an unknown kind: the kinds of the apiVersion, and whether the
// kind belongs to the other apiVersion.
// kindAliases are hints for kinds people write that day2 names differently.
var kindAliases = map[string]string{
	"flag":         "feature flags are kind: FeatureFlags, with a flagd flag set as spec",
	"flags":        "feature flags are kind: FeatureFlags, with a flagd flag set as spec",
	"featureflag":  "feature flags are kind: FeatureFlags, with a flagd flag set as spec",
	"runbook":      "runbooks are Markdown files in a runbooks/ directory of the config, not YAML documents",
	"notification": "notification targets are kind: Notifier",
	"alert":        "threshold alerts are kind: AlertRule",
	"policy":       "did you mean ApprovalPolicy or BudgetPolicy?",
}

func kindHint(apiVersion, kind string) string {
	known := sortedKeys(apiVersions[apiVersion])
	for v, kinds := range apiVersions {
		if _, ok := kinds[kind]; ok && v != apiVersion {
			return fmt.Sprintf("%s is a kind of apiVersion %s, so write apiVersion: %s", kind, v, v)
		}
	}
	hint := ""
	if s := kindAliases[strings.ToLower(kind)]; s != "" && apiVersion == Day2Version {
		hint = s + "; "
	} else if s := suggest(kind, known); s != "" {
		hint = fmt.Sprintf("did you mean %s? ", s)
	}
	return fmt.Sprintf("%svalid kinds are %s", hint, strings.Join(known, ", "))
}

// metadata reads metadata into o. Documents require a name; inline objects may
// omit it.
func (l *loader) metadata(f field, at int, o *object, required bool) {
	if !f.ok() {
		if required {
			l.need(f, at, "missing metadata; add metadata: {name: my-%s} (lowercase letters, digits and -)", strings.ToLower(o.kind))
		}
		return
	}
	m, ok := l.mapping(f.val, f.line(), "metadata", "metadata: {name: checkout-availability}",
		"name", "displayName", "labels", "annotations")
	if !ok {
		return
	}
	n := m["name"]
	if n.ok() {
		if name, ok := l.text(n, "checkout-availability"); ok && l.checkName(n.line(), "metadata.name", name) {
			o.name = name
		}
	} else if required {
		l.need(n, f.line(), "metadata needs a name, such as name: checkout-availability")
	}
	if d := m["displayName"]; d.ok() {
		o.displayName, _ = l.text(d, "Checkout availability")
	}
	if lb := m["labels"]; lb.ok() {
		l.labels(lb)
	}
	if an := m["annotations"]; an.ok() {
		if am, ok := l.anyMapping(an, "annotations: {example.com/owner: team-a}"); ok {
			for _, v := range am {
				if v := l.deref(v.val); v.Kind != yaml.ScalarNode {
					l.addf(v.Line, "annotation values must be text, not %s", describe(v))
				}
			}
		}
	}
}

// labels checks metadata.labels: a mapping whose values are text or lists of text.
func (l *loader) labels(f field) {
	m, ok := l.anyMapping(f, "labels: {team: payments, tags: [checkout, tier-1]}")
	if !ok {
		return
	}
	for _, e := range m {
		v := l.deref(e.val)
		switch v.Kind {
		case yaml.ScalarNode:
		case yaml.SequenceNode:
			for _, item := range v.Content {
				if item = l.deref(item); item.Kind != yaml.ScalarNode {
					l.addf(item.Line, "label %s: list items must be text, not %s", e.key.Value, describe(item))
				}
			}
		default:
			l.addf(e.key.Line, "label %s must be text or a list of text, not %s", e.key.Value, describe(v))
		}
	}
}

// inline reads an object written inside another document, such as an SLO's
// indicator: metadata and spec, optionally with apiVersion and kind, which must
// then match.
func (l *loader) inline(f field, kind, example string) (*object, bool) {
	before := l.count()
	if n := l.deref(f.val); n.Kind == yaml.MappingNode && !hasKey(n, "spec") {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; slices.Contains(inlineSpecKeys[kind], k.Value) {
				l.addf(k.Line, "%s belongs under spec: here; an inline %s is written as {metadata: {name: ...}, spec: {%s: ...}}", k.Value, kind, k.Value)
				return nil, false
			}
		}
	}
	m, ok := l.mapping(f.val, f.line(), "an inline "+kind, example, "apiVersion", "kind", "metadata", "spec")
	if !ok {
		return nil, false
	}
	o := &object{pos: pos{l.file, f.line()}, apiVersion: OpenSLOVersion, kind: kind, spec: m["spec"]}
	if av := m["apiVersion"]; av.ok() {
		if v, ok := l.text(av, OpenSLOVersion); ok && v != OpenSLOVersion {
			l.addf(av.line(), "apiVersion of an inline %s must be %s (or left out), not %q", kind, OpenSLOVersion, v)
		}
	}
	if kf := m["kind"]; kf.ok() {
		if v, ok := l.text(kf, kind); ok && v != kind {
			l.addf(kf.line(), "kind %q cannot be written here; this must be %s (or leave kind out)", v, withArticle(kind))
		}
	}
	l.metadata(m["metadata"], f.line(), o, false)
	if !o.spec.ok() {
		l.addf(f.line(), "the inline %s needs spec:; for example %s", kind, example)
		return nil, false
	}
	return o, l.count() == before
}

// field is one entry of a mapping: the key node (for its line) and the value.
type field struct {
	key, val *yaml.Node
}

// ok reports whether the field was present. A misspelt key (reported as
// unknown) marks the field it was probably meant to be, but that is not ok.
func (f field) ok() bool { return f.key != nil && f.val != nil }

// line is the line of the field's key, where problems with the field are reported.
func (f field) line() int { return f.key.Line }

// name is the key as written.
func (f field) name() string { return f.key.Value }

// mapping checks that n is a mapping and returns its entries by key. It reports
// keys not in known (suggesting the nearest known key), repeated keys, merge keys
// and keys that are not text. what names the mapping in messages; at is the line
// to report a value that is not a mapping; example, when set, shows a valid one.
func (l *loader) mapping(n *yaml.Node, at int, what, example string, known ...string) (map[string]field, bool) {
	n = l.deref(n)
	if n.Kind != yaml.MappingNode {
		l.addf(at, "%s must be a mapping of key: value lines, not %s%s", what, describe(n), forExample(example))
		return nil, false
	}
	out := map[string]field{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := l.deref(n.Content[i])
		if !l.key(k, what) {
			continue
		}
		if !slices.Contains(known, k.Value) {
			hint := ""
			if s := suggest(k.Value, known); s != "" {
				hint = fmt.Sprintf("did you mean %s? ", s)
				if !hasKey(n, s) {
					// Mark the key as written, misspelt, so that it is not
					// also reported as missing.
					out[s] = field{key: k}
				}
			}
			l.addf(k.Line, "unknown key %s in %s; %svalid keys are %s", quote(k.Value), what, hint, strings.Join(known, ", "))
			continue
		}
		if first, dup := out[k.Value]; dup && first.val != nil {
			l.addf(k.Line, "%s appears twice in %s (first at line %d); keep one", k.Value, what, first.line())
			continue
		}
		out[k.Value] = field{key: k, val: n.Content[i+1]}
	}
	return out, true
}

// hasKey reports whether mapping n has the key.
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Kind == yaml.ScalarNode && n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// need reports the required field f as missing, unless it was written with a
// misspelt key, which is reported already.
func (l *loader) need(f field, line int, format string, args ...any) {
	if f.key == nil {
		l.addf(line, format, args...)
	}
}

// anyMapping checks that f is a mapping with text keys and returns its entries in
// order, for mappings whose keys are the user's (labels, annotations).
func (l *loader) anyMapping(f field, example string) ([]field, bool) {
	n := l.deref(f.val)
	if n.Kind != yaml.MappingNode {
		l.addf(f.line(), "%s must be a mapping of key: value lines, not %s%s", f.name(), describe(n), forExample(example))
		return nil, false
	}
	var out []field
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := l.deref(n.Content[i])
		if !l.key(k, f.name()) {
			continue
		}
		if first, dup := seen[k.Value]; dup {
			l.addf(k.Line, "%s appears twice in %s (first at line %d); keep one", quote(k.Value), f.name(), first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, field{key: k, val: n.Content[i+1]})
	}
	return out, true
}

// key checks that k is usable as a mapping key.
func (l *loader) key(k *yaml.Node, what string) bool {
	switch {
	case k.Kind != yaml.ScalarNode || isNull(k):
		l.addf(k.Line, "keys in %s must be plain words, not %s", what, describe(k))
		return false
	case k.Value == "<<" && k.Style == 0:
		l.addf(k.Line, "merge keys (<<) are not supported in day2 config; write the keys out")
		return false
	}
	return true
}

// deref follows an alias to the node it names. Each file may dereference at most
// maxAliases aliases; past that the alias reads as an empty value.
func (l *loader) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 16 {
			return nullNode(n.Line)
		}
		if l.aliases <= 0 {
			if l.aliases == 0 {
				l.addf(n.Line, "this file uses more than %d aliases (*name); write the values out", maxAliases)
				l.aliases = -1
			}
			return nullNode(n.Line)
		}
		l.aliases--
		n = n.Alias
	}
	return n
}

func nullNode(line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Line: line}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node holds, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.DocumentNode:
		return "a document"
	case isNull(n):
		return "empty"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "the number " + clip(n.Value)
	case "!!bool":
		return n.Value
	case "!!str":
		return "the text " + quote(n.Value)
	}
	return n.ShortTag() + " " + quote(n.Value)
}

// text returns the field's value as text. Untagged numbers and booleans read as
// written; empty values, lists, mappings and tags other than !!str are refused.
func (l *loader) text(f field, example string) (string, bool) {
	v := l.deref(f.val)
	if v.Kind != yaml.ScalarNode || isNull(v) || (v.Style&yaml.TaggedStyle != 0 && v.ShortTag() != "!!str") {
		l.addf(f.line(), "%s must be text such as %s, not %s", f.name(), example, describe(v))
		return "", false
	}
	if strings.TrimSpace(v.Value) == "" {
		l.addf(f.line(), "%s is empty; write e.g. %s: %s", f.name(), f.name(), example)
		return "", false
	}
	return v.Value, true
}

// number returns the field's value as a finite number.
func (l *loader) number(f field, example string) (float64, bool) {
	v := l.deref(f.val)
	var x float64
	var err error
	switch {
	case v.Kind != yaml.ScalarNode:
		err = errors.New("not a scalar")
	case v.ShortTag() == "!!int":
		var i int64
		i, err = strconv.ParseInt(v.Value, 0, 64)
		x = float64(i)
	case v.ShortTag() == "!!float":
		x, err = strconv.ParseFloat(v.Value, 64)
		if err == nil && (x != x || x > 1e300 || x < -1e300) {
			err = errors.New("not finite")
		}
	default:
		err = errors.New("not a number")
	}
	if err != nil {
		extra := ""
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
			if _, perr := strconv.ParseFloat(v.Value, 64); perr == nil {
				extra = " (remove the quotes)"
			}
		}
		l.addf(f.line(), "%s must be a number such as %s, not %s%s", f.name(), example, describe(v), extra)
		return 0, false
	}
	return x, true
}

// integer returns the field's value as a whole number.
func (l *loader) integer(f field, example string) (int64, bool) {
	v := l.deref(f.val)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
		if i, err := strconv.ParseInt(v.Value, 0, 64); err == nil {
			return i, true
		}
	}
	l.addf(f.line(), "%s must be a whole number such as %s, not %s", f.name(), example, describe(v))
	return 0, false
}

// boolean returns the field's value as true or false.
func (l *loader) boolean(f field) (bool, bool) {
	v := l.deref(f.val)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(v.Value)); err == nil {
			return b, true
		}
	}
	l.addf(f.line(), "%s must be true or false, not %s", f.name(), describe(v))
	return false, false
}

// list returns the items of a list field, dereferenced.
func (l *loader) list(f field, example string) ([]*yaml.Node, bool) {
	v := l.deref(f.val)
	if v.Kind != yaml.SequenceNode {
		l.addf(f.line(), "%s must be a list (lines starting with -), not %s%s", f.name(), describe(v), forExample(example))
		return nil, false
	}
	items := make([]*yaml.Node, len(v.Content))
	for i, item := range v.Content {
		items[i] = l.deref(item)
	}
	return items, true
}

func forExample(example string) string {
	if example == "" {
		return ""
	}
	return "; for example " + example
}

// withArticle puts "a" or "an" before a kind, as it is spoken: an SLO, a Service.
func withArticle(kind string) string {
	if kind == "SLO" || kind == "SLI" || strings.ContainsAny(kind[:1], "AEIOU") {
		return "an " + kind
	}
	return "a " + kind
}

// quote quotes s for a message, shortening long values.
func quote(s string) string { return strconv.Quote(clip(s)) }

func clip(s string) string {
	if len(s) > 60 {
		i := 57
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		return s[:i] + "..."
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// suggest returns the option closest to s (the same letters ignoring case, '_'
// and '-', or at most a third of its letters, and at least two, away), or "".
func suggest(s string, options []string) string {
	norm := func(x string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(x))
	}
	best, bestDist := "", max(2, len(s)/3)+1
	for _, o := range options {
		if norm(o) == norm(s) {
			return o
		}
		if d := editDistance(strings.ToLower(s), strings.ToLower(o)); d < bestDist && d < len(o) {
			best, bestDist = o, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, bounded for long inputs.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

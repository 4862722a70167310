package release

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/day2ops/day2"
)

func TestSemverValidation(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		hint string
	}{
		{"2.4.0", true, ""},
		{"0.0.1", true, ""},
		{"1.0.0-rc.1", true, ""},
		{"1.0.0-alpha-beta.7+build.2024-01", true, ""},
		{"v2.4.0", false, "leading v"},
		{"2.4", false, "three numbers"},
		{"2.4.0.1", false, "three numbers"},
		{"02.4.0", false, "leading zeros"},
		{"2.4.x", false, "number"},
		{"1.0.0-01", false, "pre-release"},
		{"1.0.0-", false, "pre-release"},
		{"1.0.0+", false, "build"},
		{"1.0.0-a..b", false, "pre-release"},
		{"", false, "empty"},
		{"99999999999999999999.0.0", false, "too large"},
	} {
		_, err := parseSemver(tc.in)
		if tc.ok {
			if err != nil {
				t.Errorf("parseSemver(%q) = %v, want nil", tc.in, err)
			}
			continue
		}
		if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), tc.hint) || !strings.Contains(err.Error(), "MAJOR.MINOR.PATCH") {
			t.Errorf("parseSemver(%q) = %v, want EInvalid mentioning %q and how to write one", tc.in, err, tc.hint)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	// Precedence itself is internal/semver's (tested there); here: labels that
	// are not versions rank below versions, and equal precedence falls back to
	// string order, so that any list sorts stably.
	want := []string{"canary", "latest", "1.0.0-rc.1", "1.0.0+a", "1.0.0+b", "1.10.0"}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, CompareVersions)
	if !slices.Equal(got, want) {
		t.Fatalf("sorted = %v\nwant     %v", got, want)
	}
}

func TestParseBundleHashIsCanonical(t *testing.T) {
	yamlDoc := `
model: gpt-4o-2024-08-06
temperature: 0.2
prompt: |
  You approve invoices.
  Escalate above 10k.
tools: [erp.lookup, mail.send]
params:
  max_retries: 3
  nested: {b: 2, a: 1}
notes: first cut
`
	jsonDoc := `{"notes": "first cut", "params": {"nested": {"a": 1.0, "b": 2}, "max_retries": 3},
		"tools": ["erp.lookup", "mail.send"], "prompt": "You approve invoices.\nEscalate above 10k.\n",
		"temperature": 0.20, "model": "gpt-4o-2024-08-06"}`
	a, err := ParseBundle([]byte(yamlDoc))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseBundle([]byte(jsonDoc))
	if err != nil {
		t.Fatal(err)
	}
	if a.Hash() != b.Hash() {
		t.Fatalf("the same bundle in YAML and JSON hashes differently: %s vs %s", a.Hash(), b.Hash())
	}
	if !strings.HasPrefix(a.Hash(), "sha256:") || len(a.Hash()) != len("sha256:")+64 {
		t.Fatalf("hash %q is not sha256:<64 hex>", a.Hash())
	}
	c, _ := ParseBundle([]byte(strings.Replace(yamlDoc, "temperature: 0.2", "temperature: 0.3", 1)))
	if c.Hash() == a.Hash() {
		t.Fatal("a changed temperature must change the hash")
	}
}

func TestParseBundleErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"empty", "  \n", "bundle is empty"},
		{"empty object", "{}", "bundle is empty"},
		{"unknown part in YAML", "modle: gpt-4o", "field modle not found"},
		{"unknown part in JSON", `{"modle": "gpt-4o"}`, "unknown field"},
		{"both prompt and prompt_ref", "prompt: hi\nprompt_ref: prompts/x.md", "keep one"},
		{"temperature too high", "temperature: 3", "from 0 to 2"},
		{"top_p negative", "top_p: -0.1", "from 0 to 1"},
		{"tools not a list", "tools: erp.lookup", "cannot unmarshal"},
		{"empty tool", `tools: ["", a]`, "tools[0] is empty"},
		{"duplicate tool", "tools: [a, a]", "twice"},
		{"two documents", "model: a\n---\nmodel: b\n", "more than one YAML document"},
		{"not YAML", "model: [", "not valid YAML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBundle([]byte(tc.doc))
			if day2.ErrorCode(err) != day2.EInvalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseBundle = %v, want EInvalid containing %q", err, tc.want)
			}
		})
	}
}

func TestDiffVersions(t *testing.T) {
	bundle := func(doc string) Bundle {
		b, err := ParseBundle([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := Version{Service: "invoice-agent", Version: "2.3.1", Bundle: bundle(`
prompt: "You approve invoices.\nCheck the PO number.\nBe polite.\nEscalate above 10k.\n"
model: gpt-4o
temperature: 0.2
tools: [erp.lookup, mail.send]
params: {max_retries: 3, region: eu}
`)}
	b := Version{Service: "invoice-agent", Version: "2.4.0", Bundle: bundle(`
prompt: "You approve invoices.\nCheck the PO number.\nBe polite.\nEscalate above 5k.\n"
model: gpt-4o-mini
tools: [erp.lookup, erp.approve]
params: {max_retries: 3, timeout_s: 30}
policy: finance-v2
`)}
	a.Hash, b.Hash = a.Bundle.Hash(), b.Bundle.Hash()
	d := DiffVersions(a, b)
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.Field+" "+c.Change)
	}
	want := []string{"prompt changed", "model changed", "temperature removed", "policy added", "tools changed", "params.region removed", "params.timeout_s added"}
	if !slices.Equal(got, want) {
		t.Fatalf("changes = %v\nwant      %v", got, want)
	}
	for _, c := range d.Changes {
		if c.Field == "tools" && (!slices.Equal(c.Added, []string{"erp.approve"}) || !slices.Equal(c.Removed, []string{"mail.send"})) {
			t.Errorf("tools added %v removed %v, want [erp.approve] [mail.send]", c.Added, c.Removed)
		}
		if c.Field == "model" && (c.From != "gpt-4o" || c.To != "gpt-4o-mini") {
			t.Errorf("model change %v -> %v", c.From, c.To)
		}
	}
	wantDiff := `--- invoice-agent@2.3.1/prompt
+++ invoice-agent@2.4.0/prompt
@@ -1,4 +1,4 @@
 You approve invoices.
 Check the PO number.
 Be polite.
-Escalate above 10k.
+Escalate above 5k.
`
	if d.PromptDiff != wantDiff {
		t.Fatalf("prompt diff:\n%s\nwant:\n%s", d.PromptDiff, wantDiff)
	}
	if d.Same {
		t.Error("Same is true for different versions")
	}
	if same := DiffVersions(a, a); !same.Same || len(same.Changes) != 0 || same.PromptDiff != "" {
		t.Errorf("a version compared with itself: %+v", same)
	}
}

func TestUnifiedDiffHunks(t *testing.T) {
	var from, to []string
	for i := 1; i <= 20; i++ {
		from = append(from, "line "+strconv.Itoa(i))
	}
	to = slices.Clone(from)
	to[1] = "changed 2"               // hunk 1
	to = slices.Insert(to, 15, "new") // hunk 2, after line 15
	got := unifiedDiff("a", "b", strings.Join(from, "\n")+"\n", strings.Join(to, "\n")+"\n")
	want := `--- a
+++ b
@@ -1,5 +1,5 @@
 line 1
-line 2
+changed 2
 line 3
 line 4
 line 5
@@ -13,6 +13,7 @@
 line 13
 line 14
 line 15
+new
 line 16
 line 17
 line 18
`
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	// Applying the edit script to the old text gives the new one, for texts
	// that share nothing, everything, or are empty.
	for _, tc := range [][2][]string{
		{{"a", "b", "c"}, {"x", "y"}},
		{{"a", "b", "c"}, {"a", "b", "c"}},
		{nil, {"a"}},
		{{"a"}, nil},
		{{"a", "b", "a", "b", "c"}, {"b", "a", "c", "a"}},
	} {
		var rebuilt, old []string
		for _, op := range lineDiff(tc[0], tc[1]) {
			if op.kind != '+' {
				old = append(old, op.line)
			}
			if op.kind != '-' {
				rebuilt = append(rebuilt, op.line)
			}
		}
		if !slices.Equal(rebuilt, tc[1]) || !slices.Equal(old, tc[0]) {
			t.Errorf("lineDiff(%v, %v) rebuilds %v from %v", tc[0], tc[1], rebuilt, old)
		}
	}
}

func FuzzParseBundle(f *testing.F) {
	for _, s := range []string{
		"model: gpt-4o\ntemperature: 0.2\n",
		`{"prompt": "hi", "tools": ["a"], "params": {"x": [1, {"y": null}]}}`,
		"params: {a: 2024-01-01, b: !!binary aGk=}\n",
		"prompt: |\n  a\n  b\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		b, err := ParseBundle(doc)
		if err != nil {
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Fatalf("ParseBundle error %v is not EInvalid", err)
			}
			return
		}
		// A parsed bundle re-parses from its canonical JSON to the same hash.
		b2, err := ParseBundle(mustJSON(b))
		if err != nil {
			t.Fatalf("canonical JSON %s does not parse: %v", mustJSON(b), err)
		}
		if b.Hash() != b2.Hash() {
			t.Fatalf("hash changed on round trip: %s", mustJSON(b))
		}
	})
}

func FuzzParseSemver(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-rc.1+b", "v1", "1..2", "0.0.0-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseSemver(s)
		if err != nil {
			return
		}
		if CompareVersions(s, s) != 0 {
			t.Fatalf("%q does not equal itself", s)
		}
		if n := v.NextPatch(); CompareVersions(n, s) <= 0 && v.Patch != "18446744073709551615" {
			t.Fatalf("next patch %q of %q does not rank above it", n, s)
		}
	})
}

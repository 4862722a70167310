package semver

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, err string // err: a phrase of the error, "" if valid
	}{
		{"2.4.0", ""},
		{"0.0.1", ""},
		{"1.0.0-rc.1", ""},
		{"1.0.0-alpha-beta.7+build.2024-01", ""},
		{"1.2.3+build.007", ""},
		{"v2.4.0", "leading v"},
		{"2.4", "three numbers"},
		{"2.4.0.1", "three numbers"},
		{"02.4.0", "leading zeros"},
		{"2.4.x", "number"},
		{"1.0.0-01", "pre-release"},
		{"1.0.0-", "pre-release"},
		{"1.0.0+", "build"},
		{"1.0.0-a..b", "pre-release"},
		{"1.0.0-a_b", "pre-release"},
		{"", "empty"},
		{strings.Repeat("1", 130), "longer than 128"},
		{"99999999999999999999.0.0", "too large"},
	} {
		_, err := Parse(tc.in)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Parse(%q) = %v; want an error mentioning %q (none if empty)", tc.in, err, tc.err)
		}
	}
}

func TestParseLoose(t *testing.T) {
	for _, s := range []string{"1.2.3", "v1.2.3", "0.0.0", "v1", "v1.2", "1.2.3-rc.1", "1.2.3-alpha-1.0a", "1.2.3+build.007",
		"1.2.3-rc.1+b", "10.20.30", "99999999999999999999.0.0"} {
		if _, ok := ParseLoose(s); !ok {
			t.Errorf("ParseLoose(%q) rejected a valid version", s)
		}
	}
	for _, s := range []string{"", "v", "1.2.3.4", "01.2.3", "1.02.3", "1.2-rc.1", "1+b", "1.2.3-", "1.2.3-01", "1.2.3-a..b",
		"1.2.3+", "a.b.c", "1.2.x", "vv1.2.3", " 1.2.3", "1.2.3-a_b"} {
		if _, ok := ParseLoose(s); ok {
			t.Errorf("ParseLoose(%q) accepted an invalid version", s)
		}
	}
	if v, _ := ParseLoose("v1.2"); v.Major != "1" || v.Minor != "2" || v.Patch != "0" {
		t.Errorf("ParseLoose(v1.2) = %+v; want 1.2.0", v)
	}
}

func TestCompare(t *testing.T) {
	// The specification's own example order, plus numbers that sort
	// differently as strings.
	want := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "10.0.0",
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	slices.SortFunc(got, func(a, b string) int {
		va, _ := Parse(a)
		vb, _ := Parse(b)
		return Compare(va, vb)
	})
	if !slices.Equal(got, want) {
		t.Fatalf("sorted = %v\nwant     %v", got, want)
	}
	a, _ := Parse("1.0.0+a")
	b, _ := Parse("1.0.0+b")
	if Compare(a, b) != 0 {
		t.Error("build metadata took part in precedence")
	}
}

func TestNextPatch(t *testing.T) {
	for in, want := range map[string]string{"2.4.0": "2.4.1", "2.4.9": "2.4.10", "1.0.99-rc.1": "1.0.100", "0.0.0": "0.0.1"} {
		v, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := v.NextPatch(); got != want {
			t.Errorf("NextPatch(%s) = %s; want %s", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-rc.1+b", "v1", "v1.2", "1..2", "0.0.0-0", "1.2.3-a.01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		lv, lok := ParseLoose(s)
		if err != nil {
			return
		}
		if !lok || Compare(v, lv) != 0 {
			t.Fatalf("%q is strictly valid but ParseLoose gives %+v, %v", s, lv, lok)
		}
		if Compare(v, v) != 0 {
			t.Fatalf("%q does not equal itself", s)
		}
		n, ok := ParseLoose(v.NextPatch())
		if !ok || Compare(n, v) <= 0 {
			t.Fatalf("next patch %q of %q does not rank above it", v.NextPatch(), s)
		}
	})
}

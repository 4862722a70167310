package release

import (
	"strconv"
	"strings"

	"github.com/day2ops/day2"
)

// semver is a parsed semantic version (https://semver.org, 2.0.0).
type semver struct {
	major, minor, patch uint64
	pre                 []string // dot-separated pre-release identifiers; build metadata is checked, not kept (it does not order)
}

// parseSemver parses MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] strictly: no "v"
// prefix, no leading zeros in numbers, identifiers of [0-9A-Za-z-] only.
func parseSemver(s string) (semver, error) {
	var v semver
	bad := func(why string) (semver, error) {
		return semver{}, day2.Errorf(day2.EInvalid, "version %q is not a semantic version (%s); write MAJOR.MINOR.PATCH such as 2.4.0, optionally with -rc.1 or +build.7", s, why)
	}
	if s == "" {
		return bad("it is empty")
	}
	if len(s) > 128 {
		return bad("it is longer than 128 characters")
	}
	if s[0] == 'v' || s[0] == 'V' {
		return bad("drop the leading v")
	}
	rest := s
	if i := strings.IndexByte(rest, '+'); i >= 0 {
		build := rest[i+1:]
		rest = rest[:i]
		if !validIdents(build, false) {
			return bad("the build metadata after + must be dot-separated [0-9A-Za-z-] identifiers")
		}
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		pre := rest[i+1:]
		rest = rest[:i]
		if !validIdents(pre, true) {
			return bad("the pre-release after - must be dot-separated [0-9A-Za-z-] identifiers without leading zeros in numbers")
		}
		v.pre = strings.Split(pre, ".")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return bad("it needs exactly three numbers separated by dots")
	}
	nums := [3]*uint64{&v.major, &v.minor, &v.patch}
	for i, p := range parts {
		if !isNumeric(p) || (len(p) > 1 && p[0] == '0') {
			return bad("each of MAJOR, MINOR and PATCH must be a number without leading zeros")
		}
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad("a number is too large")
		}
		*nums[i] = n
	}
	return v, nil
}

// validIdents reports whether s is a non-empty dot-separated list of non-empty
// [0-9A-Za-z-] identifiers; with noLeadingZero, numeric ones may not start with 0.
func validIdents(s string, noLeadingZero bool) bool {
	if s == "" {
		return false
	}
	for id := range strings.SplitSeq(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			c := id[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
		if noLeadingZero && isNumeric(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compare returns -1, 0 or +1 as v has lower, equal or higher precedence than
// w. Build metadata does not count, as the specification says.
func (v semver) compare(w semver) int {
	for _, d := range [3][2]uint64{{v.major, w.major}, {v.minor, w.minor}, {v.patch, w.patch}} {
		if d[0] != d[1] {
			if d[0] < d[1] {
				return -1
			}
			return 1
		}
	}
	// A version without pre-release ranks above any pre-release of it.
	switch {
	case len(v.pre) == 0 && len(w.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(w.pre) == 0:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(w.pre); i++ {
		if c := compareIdent(v.pre[i], w.pre[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(v.pre) < len(w.pre):
		return -1
	case len(v.pre) > len(w.pre):
		return 1
	}
	return 0
}

// compareIdent compares pre-release identifiers: numbers numerically and below
// alphanumerics, alphanumerics in ASCII order.
func compareIdent(a, b string) int {
	an, bn := isNumeric(a), isNumeric(b)
	switch {
	case an && bn:
		if len(a) != len(b) {
			if len(a) < len(b) {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// nextPatch returns the version after v that a user should register instead of
// changing v: the next patch release.
func (v semver) nextPatch() string {
	return strconv.FormatUint(v.major, 10) + "." + strconv.FormatUint(v.minor, 10) + "." + strconv.FormatUint(v.patch+1, 10)
}

// CompareVersions orders two version strings by semantic version precedence
// (-1, 0, +1). Strings that are not semantic versions rank below those that are,
// and among themselves in string order, so any list of versions sorts stably.
func CompareVersions(a, b string) int {
	va, ea := parseSemver(a)
	vb, eb := parseSemver(b)
	switch {
	case ea == nil && eb == nil:
		if c := va.compare(vb); c != 0 {
			return c
		}
	case ea == nil:
		return 1
	case eb == nil:
		return -1
	}
	return strings.Compare(a, b)
}

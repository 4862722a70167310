// Package semver parses and orders semantic versions (https://semver.org,
// 2.0.0), for release versions (strictly) and for the sem_ver operator of flag
// targeting (as flagd does).
package semver

import (
	"cmp"
	"errors"
	"strconv"
	"strings"
)

// Version is a parsed semantic version. The numbers are kept as their decimal
// digits, without leading zeros. Build metadata is checked but not kept: it
// does not take part in precedence.
type Version struct {
	Major, Minor, Patch string
	Pre                 []string // dot-separated pre-release identifiers
}

// maxLength bounds what Parse accepts.
const maxLength = 128

// Parse parses MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] strictly: no "v" prefix,
// no leading zeros in numbers, numbers that fit in 64 bits, identifiers of
// [0-9A-Za-z-] only. The error says what is wrong, as a phrase such as "drop the
// leading v", for the caller to put in its own message.
func Parse(s string) (Version, error) {
	switch {
	case s == "":
		return Version{}, errors.New("it is empty")
	case len(s) > maxLength:
		return Version{}, errors.New("it is longer than " + strconv.Itoa(maxLength) + " characters")
	case s[0] == 'v' || s[0] == 'V':
		return Version{}, errors.New("drop the leading v")
	}
	core, pre, _, err := split(s)
	if err != nil {
		return Version{}, err
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, errors.New("it needs exactly three numbers separated by dots")
	}
	for _, p := range parts {
		if !number(p) {
			return Version{}, errors.New("each of MAJOR, MINOR and PATCH must be a number without leading zeros")
		}
		if _, err := strconv.ParseUint(p, 10, 64); err != nil {
			return Version{}, errors.New("a number is too large")
		}
	}
	return Version{Major: parts[0], Minor: parts[1], Patch: parts[2], Pre: pre}, nil
}

// ParseLoose parses a version as flagd's sem_ver does (golang.org/x/mod/semver
// after adding a missing "v"): "1.2.3", "v1.2.3-rc.1+build.5", and the
// shorthands "v1" and "v1.2" (v1.0.0 and v1.2.0) without pre-release or build
// parts. Numbers may be of any size.
func ParseLoose(s string) (Version, bool) {
	s = strings.TrimPrefix(s, "v")
	if s == "" {
		return Version{}, false
	}
	core, pre, hasBuild, err := split(s)
	if err != nil {
		return Version{}, false
	}
	parts := strings.Split(core, ".")
	if len(parts) > 3 || len(parts) < 3 && (pre != nil || hasBuild) {
		return Version{}, false
	}
	for _, p := range parts {
		if !number(p) {
			return Version{}, false
		}
	}
	v := Version{Major: parts[0], Minor: "0", Patch: "0", Pre: pre}
	if len(parts) > 1 {
		v.Minor = parts[1]
	}
	if len(parts) > 2 {
		v.Patch = parts[2]
	}
	return v, true
}

// split checks and removes the build metadata and the pre-release of s: it
// returns the numbers before them, the pre-release identifiers (nil without a
// pre-release), and whether there was build metadata.
func split(s string) (core string, pre []string, hasBuild bool, err error) {
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !identifiers(build, false) {
		return "", nil, false, errors.New("the build metadata after + must be dot-separated [0-9A-Za-z-] identifiers")
	}
	core, p, hasPre := strings.Cut(core, "-")
	if hasPre {
		if !identifiers(p, true) {
			return "", nil, false, errors.New("the pre-release after - must be dot-separated [0-9A-Za-z-] identifiers without leading zeros in numbers")
		}
		pre = strings.Split(p, ".")
	}
	return core, pre, hasBuild, nil
}

// digits reports whether s is a non-empty string of decimal digits.
func digits(s string) bool {
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

// number reports whether s is a decimal number without leading zeros.
func number(s string) bool { return digits(s) && (len(s) == 1 || s[0] != '0') }

// identifiers reports whether s is a non-empty dot-separated list of non-empty
// [0-9A-Za-z-] identifiers; in a pre-release, numeric ones may not start with 0.
func identifiers(s string, pre bool) bool {
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
		if pre && digits(id) && !number(id) {
			return false
		}
	}
	return true
}

// compareNumbers compares two decimal numbers without leading zeros.
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// Compare returns -1, 0 or +1 as a has lower, equal or higher precedence than b.
func Compare(a, b Version) int {
	for _, n := range [3][2]string{{a.Major, b.Major}, {a.Minor, b.Minor}, {a.Patch, b.Patch}} {
		if c := compareNumbers(n[0], n[1]); c != 0 {
			return c
		}
	}
	// A version without pre-release ranks above any pre-release of it.
	switch {
	case len(a.Pre) == 0 && len(b.Pre) == 0:
		return 0
	case len(a.Pre) == 0:
		return 1
	case len(b.Pre) == 0:
		return -1
	}
	for i := 0; i < len(a.Pre) && i < len(b.Pre); i++ {
		if c := compareIdentifiers(a.Pre[i], b.Pre[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a.Pre), len(b.Pre))
}

// compareIdentifiers compares pre-release identifiers: numbers numerically and
// below alphanumerics, alphanumerics in ASCII order.
func compareIdentifiers(a, b string) int {
	an, bn := digits(a), digits(b)
	switch {
	case an && bn:
		return compareNumbers(a, b)
	case an:
		return -1
	case bn:
		return 1
	}
	return strings.Compare(a, b)
}

// NextPatch returns the release after v with the patch number one higher, such
// as 2.4.1 after 2.4.0 or 2.4.0-rc.1.
func (v Version) NextPatch() string {
	p := []byte(v.Patch)
	i := len(p) - 1
	for ; i >= 0 && p[i] == '9'; i-- {
		p[i] = '0'
	}
	if i < 0 {
		p = append([]byte{'1'}, p...)
	} else {
		p[i]++
	}
	return v.Major + "." + v.Minor + "." + string(p)
}

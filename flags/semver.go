package flags

import "strings"

// semVer is a parsed semantic version (semver.org 2.0). Build metadata is
// dropped: it does not take part in comparisons.
type semVer struct {
	major, minor, patch string // decimal digits, no leading zeros
	pre                 []string
}

// parseSemVer parses a version as flagd's sem_ver does (golang.org/x/mod/semver
// after adding a missing "v"): "1.2.3", "v1.2.3-rc.1+build.5", and the
// shorthands "v1" and "v1.2" (meaning v1.0.0 and v1.2.0) without pre-release
// or build parts.
func parseSemVer(s string) (semVer, bool) {
	var v semVer
	s = strings.TrimPrefix(s, "v")
	if s == "" {
		return v, false
	}
	core, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !identifiers(build, false) {
		return v, false
	}
	core, pre, hasPre := strings.Cut(core, "-")
	if hasPre {
		if !identifiers(pre, true) {
			return v, false
		}
		v.pre = strings.Split(pre, ".")
	}
	parts := strings.Split(core, ".")
	if len(parts) > 3 {
		return v, false
	}
	for _, p := range parts {
		if !numeric(p) {
			return v, false
		}
	}
	if len(parts) < 3 && (hasPre || hasBuild) {
		return v, false
	}
	v.major, v.minor, v.patch = parts[0], "0", "0"
	if len(parts) > 1 {
		v.minor = parts[1]
	}
	if len(parts) > 2 {
		v.patch = parts[2]
	}
	return v, true
}

// numeric reports whether s is a number without leading zeros.
func numeric(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// identifiers checks dot-separated pre-release or build identifiers.
func identifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		digits := true
		for i := 0; i < len(id); i++ {
			c := id[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
		if pre && digits && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

// compareNum compares two numbers without leading zeros written in decimal.
func compareNum(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// compareSemVer orders versions by semver.org's precedence rules.
func compareSemVer(a, b semVer) int {
	if c := compareNum(a.major, b.major); c != 0 {
		return c
	}
	if c := compareNum(a.minor, b.minor); c != 0 {
		return c
	}
	if c := compareNum(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		xn, yn := numeric(x), numeric(y)
		var c int
		switch {
		case xn && yn:
			c = compareNum(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(a.pre) < len(b.pre):
		return -1
	case len(a.pre) > len(b.pre):
		return 1
	}
	return 0
}

func validSemVerOp(op string) bool {
	switch op {
	case "=", "!=", "<", "<=", ">", ">=", "^", "~":
		return true
	}
	return false
}

// semVerMatch evaluates flagd's sem_ver: a op b, where ^ means the same major
// version and ~ the same major and minor. Anything that is not a version or
// operator gives false.
func semVerMatch(a, op, b string) bool {
	x, ok1 := parseSemVer(a)
	y, ok2 := parseSemVer(b)
	if !ok1 || !ok2 {
		return false
	}
	c := compareSemVer(x, y)
	switch op {
	case "=":
		return c == 0
	case "!=":
		return c != 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "^":
		return x.major == y.major
	case "~":
		return x.major == y.major && x.minor == y.minor
	}
	return false
}

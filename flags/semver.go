package flags

import "github.com/day2ops/day2/internal/semver"

func validSemVerOp(op string) bool {
	switch op {
	case "=", "!=", "<", "<=", ">", ">=", "^", "~":
		return true
	}
	return false
}

// semVerMatch evaluates flagd's sem_ver: a op b, where ^ means the same major
// version and ~ the same major and minor. Versions are read as flagd reads
// them (semver.ParseLoose); anything that is not a version or operator gives
// false.
func semVerMatch(a, op, b string) bool {
	x, ok1 := semver.ParseLoose(a)
	y, ok2 := semver.ParseLoose(b)
	if !ok1 || !ok2 {
		return false
	}
	c := semver.Compare(x, y)
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
		return x.Major == y.Major
	case "~":
		return x.Major == y.Major && x.Minor == y.Minor
	}
	return false
}

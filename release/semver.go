package release

import (
	"strings"

	"github.com/day2ops/day2"
	"github.com/day2ops/day2/internal/semver"
)

// parseSemver parses a release version strictly (semver.Parse): the error says
// what is wrong and how to write one.
func parseSemver(s string) (semver.Version, error) {
	v, err := semver.Parse(s)
	if err != nil {
		return v, day2.Errorf(day2.EInvalid, "version %q is not a semantic version (%v); write MAJOR.MINOR.PATCH such as 2.4.0, optionally with -rc.1 or +build.7", s, err)
	}
	return v, nil
}

// CompareVersions orders two version strings by semantic version precedence
// (-1, 0, +1). Strings that are not semantic versions rank below those that are,
// and among themselves in string order, so any list of versions sorts stably.
func CompareVersions(a, b string) int {
	va, ea := semver.Parse(a)
	vb, eb := semver.Parse(b)
	switch {
	case ea == nil && eb == nil:
		if c := semver.Compare(va, vb); c != 0 {
			return c
		}
	case ea == nil:
		return 1
	case eb == nil:
		return -1
	}
	return strings.Compare(a, b)
}

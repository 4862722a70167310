package day2

import (
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses durations as people write them for SLO windows and
// retention: Go's units (s, m, h, ...) plus d (24h) and w (7d), e.g. "28d", "1h30m".
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, Errorf(EInvalid, "empty duration; write e.g. 30s, 15m, 6h, 28d")
	}
	var total time.Duration
	rest := in
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		j := i
		for j < len(rest) && (rest[j] < '0' || rest[j] > '9') && rest[j] != '.' {
			j++
		}
		if i == 0 || j == i {
			break
		}
		unit := rest[i:j]
		var mult time.Duration
		switch unit {
		case "d":
			mult = 24 * time.Hour
		case "w":
			mult = 7 * 24 * time.Hour
		default:
			d, err := time.ParseDuration(rest[:j])
			if err != nil {
				return 0, Errorf(EInvalid, "duration %q: unknown unit %q; use s, m, h, d or w (e.g. 28d)", in, unit)
			}
			total += d
			rest = rest[j:]
			continue
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, Errorf(EInvalid, "duration %q is not a number followed by a unit (e.g. 28d)", in)
		}
		total += time.Duration(n * float64(mult))
		rest = rest[j:]
	}
	if rest != "" {
		if in == "0" {
			return 0, nil
		}
		return 0, Errorf(EInvalid, "duration %q is not a number followed by a unit; write e.g. 30s, 15m, 6h, 28d", in)
	}
	return total, nil
}

// Duration is a time.Duration written as ParseDuration reads it ("90s", "15m",
// "28d") in YAML and JSON documents. It marshals back in Go's form ("1h0m0s")
// except for whole days, written as "Nd".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d as MarshalText does.
func (d Duration) String() string {
	td := time.Duration(d)
	if td > 0 && td%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(td/(24*time.Hour)), 10) + "d"
	}
	return td.String()
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; negative durations are
// refused.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return Errorf(EInvalid, "duration %q is negative; durations count forward (e.g. 15m)", string(b))
	}
	*d = Duration(v)
	return nil
}

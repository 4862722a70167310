package web

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// The pages format numbers in one place so that a value reads the same on every
// page, and so that the browser test can compare a tile with the API.

// pct formats a ratio (0..1) as a percentage with two decimals: 0.93818 → "93.82%".
func pct(r float64) string {
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return "–"
	}
	return strconv.FormatFloat(100*r, 'f', 2, 64) + "%"
}

// pctp formats an optional ratio, "–" when absent.
func pctp(r *float64) string {
	if r == nil {
		return "–"
	}
	return pct(*r)
}

// objective formats an SLO objective without trailing zeros: 0.995 → "99.5%".
func objective(r float64) string {
	return strconv.FormatFloat(math.Round(r*1e6)/1e4, 'f', -1, 64) + "%"
}

// count formats a whole number with thousands separators: 12345 → "12,345".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// num formats a rate or average compactly: 4.25 → "4.3", 1234.5 → "1,235",
// 2.5e6 → "2.5M".
func num(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "–"
	case math.Abs(f) >= 1e6:
		return strconv.FormatFloat(f/1e6, 'f', 1, 64) + "M"
	case math.Abs(f) >= 100:
		return count(int64(math.Round(f)))
	case math.Abs(f) >= 10:
		return strconv.FormatFloat(f, 'f', 1, 64)
	default:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
}

// seconds formats a duration given in milliseconds for cycle times: "850 ms",
// "34.2 s", "4.5 min".
func seconds(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "–"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	case ms < 600_000:
		return strings.TrimSuffix(strconv.FormatFloat(ms/1000, 'f', 1, 64), ".0") + " s"
	default:
		return strconv.FormatFloat(ms/60_000, 'f', 1, 64) + " min"
	}
}

// signed formats a difference with its sign and unit: "+3.10 pp", "−1.2 s".
func signed(s string, f float64) string {
	switch {
	case f > 0:
		return "+" + s
	case f < 0:
		return "−" + strings.TrimPrefix(s, "-")
	}
	return "±" + s
}

// stamp formats a time in UTC to the minute, as every page shows times.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// stampSec formats a time in UTC to the second.
func stampSec(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// human formats a duration compactly: 90m → "1h30m", 28d → "28d".
func human(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	d = d.Round(time.Minute)
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

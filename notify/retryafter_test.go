package notify

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	cases := []struct {
		name, v string
		want    time.Duration
		ok      bool
	}{
		{"seconds", "120", 120 * time.Second, true},
		{"zero", "0", 0, true},
		{"an HTTP date", "Sat, 14 Mar 2026 09:31:30 GMT", 90 * time.Second, true},
		{"a past date means now", "Sat, 14 Mar 2026 09:00:00 GMT", 0, true},
		{"capped at an hour", "86400", time.Hour, true},
		{"huge", "99999999999999999999", 0, false},
		{"negative", "-5", 0, false},
		{"missing", "", 0, false},
		{"garbage", "soon", 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseRetryAfter(c.v, now)
			if got != c.want || ok != c.ok {
				t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.v, got, ok, c.want, c.ok)
			}
		})
	}
}

// FuzzParseRetryAfter reads destinations' Retry-After headers: never a
// negative wait or one over the cap.
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Sat, 14 Mar 2026 09:31:30 GMT", "-1", "1e9", " 5 "} {
		f.Add(s)
	}
	now := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfter || !ok && d != 0 {
			t.Errorf("parseRetryAfter(%q) = %v, %v", v, d, ok)
		}
	})
}

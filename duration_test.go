package day2_test

import (
	"testing"
	"time"

	"github.com/day2ops/day2"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"28d", 28 * 24 * time.Hour, true},
		{"1w", 7 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"90s", 90 * time.Second, true},
		{"1.5h", 90 * time.Minute, true},
		{"0", 0, true},
		{"", 0, false},
		{"5 days", 0, false},
		{"d", 0, false},
		{"10x", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := day2.ParseDuration(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseDuration(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if got != tt.want {
				t.Fatalf("ParseDuration(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	for in, want := range map[string]string{"15m": "15m0s", "28d": "28d", "1h30m": "1h30m0s", "90s": "1m30s"} {
		var d day2.Duration
		if err := d.UnmarshalText([]byte(in)); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if got := d.String(); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
		var back day2.Duration
		if err := back.UnmarshalText([]byte(d.String())); err != nil || back != d {
			t.Errorf("%q does not round-trip: %v %v", in, back, err)
		}
	}
	var d day2.Duration
	if err := d.UnmarshalText([]byte("-5m")); err == nil {
		t.Error("a negative duration was accepted")
	}
}

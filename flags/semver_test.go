package flags

import "testing"

func TestSemVerMatch(t *testing.T) {
	tests := []struct {
		a, op, b string
		want     bool
	}{
		{"1.2.3", "=", "v1.2.3", true},
		{"1.2.3", "=", "1.2.3+build.5", true},
		{"v1", "=", "1.0.0", true},
		{"v1.2", "=", "1.2.0", true},
		{"1.2.3", "!=", "1.2.4", true},
		{"1.2.3", "!=", "1.2.3", false},
		{"1.2.3", "<", "1.10.0", true},
		{"1.10.0", "<", "1.9.9", false},
		{"1.0.0-rc.1", "<", "1.0.0", true},
		{"1.0.0-alpha", "<", "1.0.0-alpha.1", true},
		{"1.0.0-alpha.1", "<", "1.0.0-alpha.beta", true},
		{"1.0.0-alpha.beta", "<", "1.0.0-beta", true},
		{"1.0.0-beta.2", "<", "1.0.0-beta.11", true},
		{"1.0.0-rc.1", "<", "1.0.0-rc.1", false},
		{"1.2.3", "<=", "1.2.3", true},
		{"1.2.4", "<=", "1.2.3", false},
		{"2.0.0", ">", "1.99.99", true},
		{"1.2.3", ">", "1.2.3", false},
		{"1.2.3", ">=", "1.2.3", true},
		{"1.2.2", ">=", "1.2.3", false},
		{"1.5.0", "^", "1.0.0", true},
		{"2.0.0", "^", "1.9.0", false},
		{"1.2.9", "~", "1.2.0", true},
		{"1.3.0", "~", "1.2.0", false},
		{"1.2.3", "=~", "1.2.3", false},
		{"not-a-version", "=", "not-a-version", false},
		{"1.2.3", "=", "", false},
	}
	for _, tt := range tests {
		if got := semVerMatch(tt.a, tt.op, tt.b); got != tt.want {
			t.Errorf("sem_ver %q %s %q = %v, want %v", tt.a, tt.op, tt.b, got, tt.want)
		}
	}
}

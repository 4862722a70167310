package loadgen

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 250 and 50 ticks below.
	tail := " S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 12 0 999 1000 200"
	for name, tt := range map[string]struct {
		line string
		want time.Duration
		err  string
	}{
		"plain":                     {"4242 (day2)" + tail, 3 * time.Second, ""},
		"a command name with ) ( ":  {"4242 (day2 ) (x)" + tail, 3 * time.Second, ""},
		"no command name":           {"4242 day2" + tail, 0, "no command name"},
		"cut short":                 {"4242 (day2) S 1 2 3 4 5 6 7 8 9 10 250", 0, "want 13 or more"},
		"a CPU time is not a count": {strings.Replace("4242 (day2)"+tail, " 250 ", " 2.5 ", 1), 0, "not a count of ticks"},
		"a CPU time is negative":    {strings.Replace("4242 (day2)"+tail, " 50 ", " -50 ", 1), 0, "not a count of ticks"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseProcStat(tt.line)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("parseProcStat = %v, %v; want an error mentioning %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseProcStat = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestProcessCPUGrows burns 300 ms of CPU and reads this process's CPU time
// before and after from /proc.
func TestProcessCPUGrows(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	after, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 200*time.Millisecond {
		t.Errorf("after 300 ms of spinning (%d turns) /proc shows %v more CPU time; want 200 ms or more", x, d)
	}
	if _, err := processCPU(-1); err == nil {
		t.Error("processCPU(-1) succeeded")
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("4242 (day2) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 12 0 999 1000 200")
	f.Add("1 (a) b) R 0 0 0 0 0 0 0 0 0 0 0 0")
	f.Fuzz(func(t *testing.T, line string) {
		d, err := parseProcStat(line)
		if err == nil && d < 0 {
			t.Fatalf("parseProcStat(%q) = %v, a negative CPU time", line, d)
		}
	})
}

//go:build !unix

package loadgen

import "time"

// cpuTime reports that this system's CPU time is not read.
func cpuTime() (time.Duration, bool) { return 0, false }

//go:build !linux

package loadgen

import (
	"fmt"
	"time"
)

// processCPU reports that another process's CPU time is read on Linux only.
func processCPU(pid int) (time.Duration, error) {
	return 0, fmt.Errorf("loadgen: the CPU time of process %d is read from /proc, on Linux only", pid)
}

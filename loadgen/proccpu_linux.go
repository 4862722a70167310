package loadgen

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: the kernel reports
// them in USER_HZ ticks, 100 a second on every Linux architecture.
const userHZ = 100

// processCPU returns the user and system CPU time process pid has used, from
// /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("loadgen: read the CPU time of process %d: %w", pid, err)
	}
	return parseProcStat(string(data))
}

// parseProcStat reads utime and stime, the 14th and 15th fields of a
// /proc/PID/stat line. The second field, the command name in parentheses, may
// hold spaces and parentheses itself, so the fields are counted from the last
// ")".
func parseProcStat(line string) (time.Duration, error) {
	end := strings.LastIndexByte(line, ')')
	if end < 0 {
		return 0, fmt.Errorf("loadgen: /proc stat line %.40q has no command name", line)
	}
	f := strings.Fields(line[end+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("loadgen: /proc stat line %.40q has %d fields after the command name, want 13 or more", line, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("loadgen: /proc stat line %.40q: CPU time %q is not a count of ticks", line, s)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

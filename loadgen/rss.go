package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// rssSampleEvery is how often the resident set size is sampled. VmHWM catches
// peaks between samples on Linux; the samples cover kernels that reset it.
const rssSampleEvery = 100 * time.Millisecond

// rssSampler tracks the peak resident memory of a process, in KiB.
type rssSampler struct {
	pid  int
	mu   sync.Mutex
	peak int64
	stop chan struct{}
	done chan struct{}
}

func newRSSSampler(pid int) (*rssSampler, error) {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.sample(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *rssSampler) start() {
	go func() {
		defer close(s.done)
		tick := time.NewTicker(rssSampleEvery)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				// The process may have exited; keep the peak seen so far.
				_ = s.sample()
			}
		}
	}()
}

// finish stops sampling and returns the peak in KiB.
func (s *rssSampler) finish() int64 {
	close(s.stop)
	<-s.done
	_ = s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peak
}

func (s *rssSampler) sample() error {
	rss, hwm, err := readRSS(s.pid)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.peak = max(s.peak, rss, hwm)
	s.mu.Unlock()
	return nil
}

// readRSS returns VmRSS and VmHWM of pid in KiB.
func readRSS(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("loadgen: read memory of process %d: %w", pid, err)
	}
	rss, hwm, err = parseStatus(data)
	if err != nil {
		return 0, 0, fmt.Errorf("loadgen: /proc/%d/status: %w", pid, err)
	}
	return rss, hwm, nil
}

// parseStatus reads the VmRSS and VmHWM lines ("VmRSS:	  12345 kB") of a
// /proc/PID/status file.
func parseStatus(data []byte) (rss, hwm int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	var seen int
	for sc.Scan() {
		key, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *int64
		switch string(key) {
		case "VmRSS":
			dst = &rss
		case "VmHWM":
			dst = &hwm
		default:
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		v, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("unexpected %s line %q: %w", key, sc.Text(), err)
		}
		*dst = v
		seen++
	}
	if seen == 0 {
		return 0, 0, fmt.Errorf("no VmRSS or VmHWM line (a kernel thread, or not Linux?)")
	}
	return rss, hwm, nil
}

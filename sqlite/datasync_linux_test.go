package sqlite

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestWriteOutPaced writes out a file of several slices plus a partial one,
// and fails on a file that is closed.
func TestWriteOutPaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	data := bytes.Repeat([]byte("day2"), (3*writeOutSlice+1000)/4)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeOutPaced(f); err != nil {
		t.Fatalf("writeOutPaced: %v", err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file after writeOutPaced: %d bytes, %v; want its %d bytes unchanged", len(got), err, len(data))
	}
	f.Close()
	if err := writeOutPaced(f); err == nil {
		t.Fatal("writeOutPaced of a closed file succeeded")
	}
}

// TestSliceSize: 64 KiB slices up to 256 MiB, larger ones beyond, never more
// than writeOutSlices of them.
func TestSliceSize(t *testing.T) {
	for size, want := range map[int64]int64{
		0: 64 << 10, 1 << 20: 64 << 10, 256 << 20: 64 << 10, 256<<20 + 1: 128 << 10,
		1 << 30: 256 << 10, 10 << 30: 2560 << 10,
	} {
		got := sliceSize(size)
		if got != want || (size+got-1)/got > writeOutSlices {
			t.Errorf("sliceSize(%d) = %d (%d slices); want %d, at most %d slices", size, got, (size+got-1)/got, want, writeOutSlices)
		}
	}
}

// BenchmarkWriteSync writes a commit's worth of WAL pages and syncs them, as a
// commit does: the time it takes shows as ns/op (docs/benchmarks.md, seventh
// session), what the system charges for it in CPU as cpu-µs/op (sixth
// session). go test -run x -bench WriteSync ./sqlite
func BenchmarkWriteSync(b *testing.B) {
	for _, pages := range []int{1, 4, 8, 12, 16, 18, 22} {
		b.Run(fmt.Sprintf("pages=%d", pages), func(b *testing.B) {
			cpu0 := processCPU(b)
			writeAndSync(b, pages)
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// writeAndSync writes pages WAL frames to a file and syncs them, once per
// b.Loop turn, and returns how long each turn took.
func writeAndSync(b *testing.B, pages int) []time.Duration {
	f, err := os.Create(filepath.Join(b.TempDir(), "wal"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, pages*4120)
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		if _, err := f.WriteAt(buf, int64(i%64)*int64(len(buf))); err != nil {
			b.Fatal(err)
		}
		if err := datasync(f); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	return took
}

// BenchmarkWriteSyncBusy writes and syncs 8 pages, as a small commit does,
// while other processes keep 0, 1 or 2 cores busy, and reports the p50 and
// p99 of the time each takes: what a durable answer waits for at the least
// when a server and its load generator fill the cores (docs/benchmarks.md,
// eighth session). go test -run x -bench WriteSyncBusy -benchtime 10s ./sqlite
func BenchmarkWriteSyncBusy(b *testing.B) {
	for _, busy := range []int{0, 1, 2} {
		b.Run(fmt.Sprintf("busy=%d", busy), func(b *testing.B) {
			for range busy {
				spin := exec.Command(os.Args[0], "-test.run=^TestHelperSpin$")
				spin.Env = append(os.Environ(), "DAY2_HELPER_SPIN=1")
				if err := spin.Start(); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { spin.Process.Kill(); spin.Wait() })
			}
			took := writeAndSync(b, 8)
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// TestHelperSpin is not a test: BenchmarkWriteSyncBusy runs the test binary
// with it to keep a core busy until killed, or until its parent is gone.
func TestHelperSpin(t *testing.T) {
	if os.Getenv("DAY2_HELPER_SPIN") != "1" {
		t.Skip("a helper process of BenchmarkWriteSyncBusy")
	}
	parent := os.Getppid()
	for n := 1; ; n++ {
		if n%(1<<24) == 0 && os.Getppid() != parent {
			return
		}
	}
}

// BenchmarkPwrite writes a frame's page and a commit's 18 frames at once into
// the page cache: the system call that gathering WAL writes saves.
func BenchmarkPwrite(b *testing.B) {
	for _, size := range []int{4096, 18 * 4120} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "wal"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, size)
			for i := 0; b.Loop(); i++ {
				if _, err := f.WriteAt(buf, int64(i%64)*int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// processCPU returns the user and system CPU time of this process.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

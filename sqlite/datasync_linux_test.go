package sqlite

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
			f, err := os.Create(filepath.Join(b.TempDir(), "wal"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			buf := make([]byte, pages*4120)
			cpu0 := processCPU(b)
			for i := 0; b.Loop(); i++ {
				if _, err := f.WriteAt(buf, int64(i%64)*int64(len(buf))); err != nil {
					b.Fatal(err)
				}
				if err := datasync(f); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
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

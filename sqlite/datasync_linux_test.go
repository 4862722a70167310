package sqlite

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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

//go:build !linux

package sqlite

import "os"

// datasync writes f to disk; os.File.Sync uses F_FULLFSYNC on macOS, as
// SQLite's fullfsync does.
func datasync(f *os.File) error { return f.Sync() }

// writeOutPaced does nothing where sync_file_range(2) does not exist.
func writeOutPaced(*os.File) error { return nil }

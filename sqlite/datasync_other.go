//go:build !linux

package sqlite

import "os"

// datasync writes f to disk; os.File.Sync uses F_FULLFSYNC on macOS, as
// SQLite's fullfsync does.
func datasync(f *os.File) error { return f.Sync() }

//go:build !linux || !(amd64 || arm64)

package sqlite

const gatherVFSName = ""

// gatherVFSReady reports false: WAL writes are gathered on 64-bit Linux only
// (see walgather.go); elsewhere the write connection uses SQLite's own VFS.
func gatherVFSReady() bool { return false }

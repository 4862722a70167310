//go:build linux && (amd64 || arm64)

package sqlite

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// The write connection opens the database through gatherVFSName: SQLite's unix
// VFS with one change, that writes to a WAL file are gathered in memory and
// reach the file as one pwrite(2) when SQLite next syncs, reads, sizes,
// truncates or closes it, or publishes its frames to readers. SQLite writes a
// WAL frame as two writes, its 24-byte header and its page, so a commit of n
// pages costs 2n system calls; gathered, it costs one, and on a virtual machine
// a system call costs microseconds.
//
// Nothing gathered is visible before it is written: SQLite publishes new frames
// by writing the WAL index header in shared memory, with a memory barrier
// (xShmBarrier, a method of the database file) between its two copies, and
// readers take the header only when both copies agree. The barrier of a
// database file opened here first writes out its WAL. With synchronous=FULL, as
// the store runs, a commit syncs the WAL before it publishes, so the barrier
// finds nothing left to write. A crash loses what SQLite had not synced, as it
// would without gathering.
//
// Every other file and every other method is the unix VFS's own.

const (
	gatherVFSName = "day2-gather"
	// gatherSize is the most a WAL file gathers, the frames of 30 pages of 4
	// KiB: the unix VFS writes at most 128 KiB - 1 at once (seekAndWriteFd). A
	// larger transaction goes out in pieces of this size.
	gatherSize = 124 << 10
)

var (
	gatherOnce sync.Once
	gatherOK   bool

	gatherName = [...]byte{'d', 'a', 'y', '2', '-', 'g', 'a', 't', 'h', 'e', 'r', 0}
	// gatherVFS, walMethods and dbMethods are Go globals: SQLite keeps
	// pointers to them for as long as the process runs, and globals never move.
	gatherVFS  sqlite3.Tsqlite3_vfs
	walMethods sqlite3.Tsqlite3_io_methods
	dbMethods  sqlite3.Tsqlite3_io_methods

	unixVFS  uintptr // the unix VFS, which opens every file
	unixOpen uintptr // its xOpen

	gatherMu sync.Mutex // guards what follows
	// The unix VFS's methods of a WAL file and of a database file, taken from
	// the first of each opened, and copies of them to call through.
	unixWAL, unixDB   uintptr
	unixWALM, unixDBM sqlite3.Tsqlite3_io_methods
	walFiles          = map[uintptr]*gatheredWAL{} // open WAL files by their sqlite3_file
	dbFiles           = map[uintptr]string{}       // open database files: the path of their WAL

	// gatherWrites and gatherFlushes count the WAL writes taken and the
	// pwrites made of them, gatherBytes the bytes of those, for tests and
	// benchmarks.
	gatherWrites, gatherFlushes, gatherBytes atomic.Int64
)

// setMethod stores Go function f in slot, a C function pointer of an SQLite
// struct, as modernc's transpiled code stores its own.
func setMethod[F any](slot *uintptr, f F) { *(*F)(unsafe.Pointer(slot)) = f }

// method returns the Go function that p, a C function pointer of an SQLite
// struct, holds; F must be its signature.
func method[F any](p uintptr) F { return *(*F)(unsafe.Pointer(&p)) }

// gatheredWAL is the gathered, not yet written, tail of one open WAL file: n
// bytes at buf (libc memory, allocated at the first write) that belong at
// offset start.
type gatheredWAL struct {
	mu    sync.Mutex // a barrier on the database file flushes from its own connection
	path  string
	buf   uintptr
	start int64
	n     int64
}

// gatherVFSReady registers the gathering VFS once and reports whether it can
// be used; when not, the write connection uses the unix VFS as it is.
func gatherVFSReady() bool {
	gatherOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		unixVFS = sqlite3.Xsqlite3_vfs_find(tls, 0)
		if unixVFS == 0 {
			return
		}
		gatherVFS = *(*sqlite3.Tsqlite3_vfs)(unsafe.Add(nil, unixVFS))
		gatherVFS.FpNext = 0
		gatherVFS.FzName = uintptr(unsafe.Pointer(&gatherName[0]))
		unixOpen = gatherVFS.FxOpen
		setMethod(&gatherVFS.FxOpen, gatherOpen)
		gatherOK = sqlite3.Xsqlite3_vfs_register(tls, uintptr(unsafe.Pointer(&gatherVFS)), 0) == sqlite3.SQLITE_OK
	})
	return gatherOK
}

// gatherOpen is the VFS's xOpen. The unix VFS opens the file, told that it is
// its own VFS (which it keeps in the file); a WAL file then gets walMethods, a
// database file dbMethods.
func gatherOpen(tls *libc.TLS, _ uintptr, zName uintptr, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	rc := method[func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32](unixOpen)(tls, unixVFS, zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || zName == 0 {
		return rc
	}
	f := (*sqlite3.Tsqlite3_file)(unsafe.Add(nil, pFile))
	if f.FpMethods == 0 {
		return rc
	}
	gatherMu.Lock()
	defer gatherMu.Unlock()
	switch {
	case flags&sqlite3.SQLITE_OPEN_WAL != 0:
		if unixWAL == 0 {
			unixWAL = f.FpMethods
			unixWALM = *(*sqlite3.Tsqlite3_io_methods)(unsafe.Add(nil, unixWAL))
			walMethods = unixWALM
			setMethod(&walMethods.FxClose, walClose)
			setMethod(&walMethods.FxRead, walRead)
			setMethod(&walMethods.FxWrite, walWrite)
			setMethod(&walMethods.FxTruncate, walTruncate)
			setMethod(&walMethods.FxSync, walSync)
			setMethod(&walMethods.FxFileSize, walFileSize)
			setMethod(&walMethods.FxFileControl, walFileControl)
		}
		if f.FpMethods != unixWAL {
			return rc // not of the kind seen first: left as the unix VFS made it
		}
		walFiles[pFile] = &gatheredWAL{path: libc.GoString(zName)}
		f.FpMethods = uintptr(unsafe.Pointer(&walMethods))
	case flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0:
		if unixDB == 0 {
			unixDB = f.FpMethods
			unixDBM = *(*sqlite3.Tsqlite3_io_methods)(unsafe.Add(nil, unixDB))
			if unixDBM.FiVersion < 2 || unixDBM.FxShmBarrier == 0 {
				unixDB = ^uintptr(0) // no shared memory: nothing to patch, ever
				return rc
			}
			dbMethods = unixDBM
			setMethod(&dbMethods.FxClose, dbClose)
			setMethod(&dbMethods.FxShmBarrier, dbShmBarrier)
		}
		if f.FpMethods != unixDB {
			return rc
		}
		dbFiles[pFile] = libc.GoString(zName) + "-wal"
		f.FpMethods = uintptr(unsafe.Pointer(&dbMethods))
	}
	return rc
}

// walFile returns the gathered tail of an open WAL file, locked.
func walFile(pFile uintptr) *gatheredWAL {
	gatherMu.Lock()
	w := walFiles[pFile]
	gatherMu.Unlock()
	w.mu.Lock()
	return w
}

func unixWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	return method[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](unixWALM.FxWrite)(tls, pFile, zBuf, iAmt, iOfst)
}

// flush writes what w holds with the unix VFS's xWrite. What fails to be
// written is dropped: SQLite learns of the error from the method that flushed
// (its next sync, read, ...) and does not count on those frames.
func (w *gatheredWAL) flush(tls *libc.TLS, pFile uintptr) int32 {
	if w.n == 0 {
		return sqlite3.SQLITE_OK
	}
	n := w.n
	w.n = 0
	gatherFlushes.Add(1)
	gatherBytes.Add(n)
	return unixWrite(tls, pFile, w.buf, int32(n), w.start)
}

func walWrite(tls *libc.TLS, pFile uintptr, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	w := walFile(pFile)
	defer w.mu.Unlock()
	gatherWrites.Add(1)
	amt := int64(iAmt)
	if w.n > 0 && iOfst >= w.start && iOfst+amt <= w.start+w.n {
		// A frame written again (SQLite rewrites frames of the transaction in
		// progress): overwrite it where it is gathered.
		libc.Xmemcpy(tls, w.buf+uintptr(iOfst-w.start), zBuf, uint64(amt))
		return sqlite3.SQLITE_OK
	}
	if w.n > 0 && (iOfst != w.start+w.n || w.n+amt > gatherSize) {
		if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if amt > gatherSize {
		return unixWrite(tls, pFile, zBuf, iAmt, iOfst)
	}
	if w.buf == 0 {
		if w.buf = libc.Xmalloc(tls, gatherSize); w.buf == 0 {
			return unixWrite(tls, pFile, zBuf, iAmt, iOfst)
		}
	}
	if w.n == 0 {
		w.start = iOfst
	}
	libc.Xmemcpy(tls, w.buf+uintptr(w.n), zBuf, uint64(amt))
	w.n += amt
	return sqlite3.SQLITE_OK
}

// flushFirst writes out what pFile holds gathered and then runs method, the
// unix VFS's own, with the file locked: every method but xWrite sees the file
// as SQLite wrote it. With synchronous=FULL only the sync, the barrier and a
// read of a page spilled to the WAL before its commit find frames gathered
// (TestGatherTransactionLargerThanTheCache); the others flush for the same
// reason, should SQLite ever call them with frames pending.
func flushFirst(tls *libc.TLS, pFile uintptr, method func() int32) int32 {
	w := walFile(pFile)
	defer w.mu.Unlock()
	if rc := w.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return method()
}

func walRead(tls *libc.TLS, pFile uintptr, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	return flushFirst(tls, pFile, func() int32 {
		return method[func(*libc.TLS, uintptr, uintptr, int32, int64) int32](unixWALM.FxRead)(tls, pFile, zBuf, iAmt, iOfst)
	})
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	return flushFirst(tls, pFile, func() int32 {
		return method[func(*libc.TLS, uintptr, int32) int32](unixWALM.FxSync)(tls, pFile, flags)
	})
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	return flushFirst(tls, pFile, func() int32 {
		return method[func(*libc.TLS, uintptr, int64) int32](unixWALM.FxTruncate)(tls, pFile, size)
	})
}

func walFileSize(tls *libc.TLS, pFile uintptr, pSize uintptr) int32 {
	return flushFirst(tls, pFile, func() int32 {
		return method[func(*libc.TLS, uintptr, uintptr) int32](unixWALM.FxFileSize)(tls, pFile, pSize)
	})
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	return flushFirst(tls, pFile, func() int32 {
		return method[func(*libc.TLS, uintptr, int32, uintptr) int32](unixWALM.FxFileControl)(tls, pFile, op, pArg)
	})
}

func walClose(tls *libc.TLS, pFile uintptr) int32 {
	gatherMu.Lock()
	w := walFiles[pFile]
	delete(walFiles, pFile)
	gatherMu.Unlock()
	w.mu.Lock()
	rc := w.flush(tls, pFile)
	if w.buf != 0 {
		libc.Xfree(tls, w.buf)
		w.buf = 0
	}
	w.mu.Unlock()
	// The unix VFS's xClose closes the file whatever happened before.
	(*sqlite3.Tsqlite3_file)(unsafe.Add(nil, pFile)).FpMethods = unixWAL
	if crc := method[func(*libc.TLS, uintptr) int32](unixWALM.FxClose)(tls, pFile); rc == sqlite3.SQLITE_OK {
		rc = crc
	}
	return rc
}

// dbShmBarrier writes out the gathered frames of the database's WAL before the
// barrier, so that the WAL index header that follows it never publishes frames
// not in the file. The barrier returns nothing: a write that fails here leaves
// the frames unwritten, and readers then get an I/O error reading them. That
// happens only when SQLite did not sync the WAL at commit (synchronous below
// FULL); at FULL, the sync has written the frames and reported any error.
func dbShmBarrier(tls *libc.TLS, pFile uintptr) {
	gatherMu.Lock()
	path := dbFiles[pFile]
	for p, w := range walFiles {
		if w.path == path {
			w.mu.Lock()
			w.flush(tls, p)
			w.mu.Unlock()
		}
	}
	gatherMu.Unlock()
	method[func(*libc.TLS, uintptr)](unixDBM.FxShmBarrier)(tls, pFile)
}

func dbClose(tls *libc.TLS, pFile uintptr) int32 {
	gatherMu.Lock()
	delete(dbFiles, pFile)
	gatherMu.Unlock()
	(*sqlite3.Tsqlite3_file)(unsafe.Add(nil, pFile)).FpMethods = unixDB
	return method[func(*libc.TLS, uintptr) int32](unixDBM.FxClose)(tls, pFile)
}

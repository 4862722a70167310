package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// datasync writes f's data and size to disk with fdatasync(2), which unlike
// fsync(2) skips the modification time: on ext4 that spares each sync a
// journal commit.
func datasync(f *os.File) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := conn.Control(func(fd uintptr) {
		for {
			if serr = syscall.Fdatasync(int(fd)); !errors.Is(serr, syscall.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The WAL-index header (https://www.sqlite.org/walformat.html, "The
// WAL-Index Header") is the first 48 bytes of the database's -shm file,
// written by a committing writer after the commit's frames and before the
// commit is visible to any reader. Of its fields, these change at every
// commit: iChange (offset 8), mxFrame (16, the last valid frame), the salts
// (32, 36, new at every WAL restart) and the header checksum (40, 44). Any
// commit therefore changes at least one of the six words.
var walHeaderOffsets = [walHeaderWords]int{8, 16, 32, 36, 40, 44}

const walHeaderWords = 6

func readWALHeader(mem []byte) (h [walHeaderWords]uint32) {
	for i, off := range walHeaderOffsets {
		h[i] = atomic.LoadUint32((*uint32)(unsafe.Pointer(&mem[off])))
	}
	return h
}

// watchWAL maps the WAL-index header of an SQLite database in WAL mode, or
// returns nil (AuthVersion then reads auth_version at every call). It maps
// the -shm file through the descriptor SQLite itself opened: closing a
// descriptor of our own on that file would drop the POSIX locks SQLite
// holds on it, and a mapping outlives the descriptor anyway.
func (s *Store) watchWAL(ctx context.Context) *walWatcher {
	if s.dialect != "sqlite" {
		return nil
	}
	hold, err := s.sqlDB.Conn(ctx)
	if err != nil {
		return nil
	}
	w, err := mapWAL(ctx, hold)
	if err != nil {
		_ = hold.Close()
		return nil
	}
	return w
}

func mapWAL(ctx context.Context, hold *sql.Conn) (*walWatcher, error) {
	var mode string
	if err := hold.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, err
	}
	if mode != "wal" {
		return nil, fmt.Errorf("journal_mode is %s", mode)
	}
	var seq int
	var name, file string
	if err := hold.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		return nil, err
	}
	if file == "" {
		return nil, errors.New("no database file")
	}
	// A read makes this connection open the shared memory, and keeps the
	// file sized: the header is read only while this connection is open.
	var v int64
	if err := hold.QueryRowContext(ctx, authVersionSQL).Scan(&v); err != nil {
		return nil, err
	}
	var want syscall.Stat_t
	if err := syscall.Stat(file+"-shm", &want); err != nil {
		return nil, err
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err != nil || filepath.Base(target) != filepath.Base(file)+"-shm" {
			continue
		}
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino || st.Size < 4096 {
			continue
		}
		mem, err := syscall.Mmap(fd, 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			return nil, err
		}
		// The descriptor may have been closed and its number reused
		// between Fstat and Mmap: check what was mapped.
		if syscall.Fstat(fd, &st) != nil || st.Dev != want.Dev || st.Ino != want.Ino {
			_ = syscall.Munmap(mem)
			continue
		}
		return &walWatcher{hold: hold, mem: mem, unmap: syscall.Munmap}, nil
	}
	return nil, errors.New("SQLite's -shm descriptor not found")
}

package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"
)

// FlushIDs runs an index flush now, for tests.
func (s *Store) FlushIDs(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushIDs(ctx)
}

// RecentIDs returns how many tasks are not in task_ids yet, for tests.
func (s *Store) RecentIDs() int {
	s.idsMu.RLock()
	defer s.idsMu.RUnlock()
	return len(s.recent)
}

// Checkpoint runs a checkpoint now, for tests.
func (s *Store) Checkpoint() error { return s.checkpoint() }

// LastCheckpointHold returns how long the last checkpoint held commits.
func (s *Store) LastCheckpointHold() time.Duration { return time.Duration(s.lastHold.Load()) }

// DiscardWriteConn makes database/sql close the write connection and open
// another for the next write, as it does when the driver reports the
// connection unusable.
func (s *Store) DiscardWriteConn() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.wdb.Conn(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Raw(func(any) error { return driver.ErrBadConn }); !errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("raw: %v, want driver.ErrBadConn", err)
	}
	return nil
}

package sqlite

import (
	"context"
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

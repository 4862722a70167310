package sqlite

import "context"

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

// WrapWALSync replaces the store's WAL sync with wrap(the real sync), for tests.
func (s *Store) WrapWALSync(wrap func(sync func() error) error) {
	s.dur.mu.Lock()
	defer s.dur.mu.Unlock()
	real := s.dur.syncFile
	s.dur.sync = func() error { return wrap(real) }
}

// WALSyncs returns how many WAL syncs the store ran.
func (s *Store) WALSyncs() uint64 {
	s.dur.mu.Lock()
	defer s.dur.mu.Unlock()
	return s.dur.syncs
}

package approval

// Waiting returns how many Wait calls in this process watch request id, for tests.
func (s *Service) Waiting(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.waiters[id]; w != nil {
		return w.n
	}
	return 0
}

package web

// releaseRoutes registers the releases pages (owned by the releases page work).
func (u *UI) releaseRoutes() {}

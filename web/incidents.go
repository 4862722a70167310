package web

// incidentRoutes registers the incidents pages.
func (u *UI) incidentRoutes() {}

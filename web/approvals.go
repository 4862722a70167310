package web

// approvalRoutes registers the approvals pages.
func (u *UI) approvalRoutes() {}

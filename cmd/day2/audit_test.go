package main

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/day2ops/day2/app"
	"github.com/day2ops/day2/sqlite"
)

func TestAuditVerifyDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	a := serveApp(t, app.Options{DataDir: dir})

	// 150 flag changes: more than one page of the audit API.
	for i := range 150 {
		state := []string{"ENABLED", "DISABLED"}[i%2]
		body := `{"state": "` + state + `", "variants": {"on": true, "off": false}, "defaultVariant": "off", "reason": "test"}`
		req, _ := http.NewRequest(http.MethodPut, a.HTTPURL()+"/api/v1/flags/kill-crm", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT flag: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	out, code := runCLI(t, "audit", "verify", "--server", a.HTTPURL())
	if code != 0 || !strings.Contains(out, "audit log intact: 150 entries") {
		t.Fatalf("verify of an intact log: exit %d\n%s", code, out)
	}
	out, code = runCLI(t, "audit", "list", "--server", a.HTTPURL(), "--action", "flag.put", "--limit", "2")
	if code != 0 || !strings.Contains(out, "flag.put") || !strings.Contains(out, "flag/kill-crm") {
		t.Fatalf("audit list: exit %d\n%s", code, out)
	}

	// Someone with access to the database rewrites who made change 77.
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE audit_log SET actor = 'mallory' WHERE id = 77"); err != nil {
		t.Fatal(err)
	}
	out, code = runCLI(t, "audit", "verify", "--server", a.HTTPURL())
	if code != 1 || !strings.Contains(out, "TAMPERED at entry 77") {
		t.Fatalf("verify of a tampered log: exit %d, want 1 naming entry 77\n%s", code, out)
	}
}

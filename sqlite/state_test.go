package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/day2ops/day2/sqlite"
	"github.com/day2ops/day2/storetest"
)

func TestStateStore(t *testing.T) {
	base := t.TempDir()
	var mu sync.Mutex
	dirs := map[string]string{}
	// dir returns the directory of t's database: every call in one test gets
	// the same one.
	dir := func(t *testing.T) string {
		mu.Lock()
		defer mu.Unlock()
		d, ok := dirs[t.Name()]
		if !ok {
			d = filepath.Join(base, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
			dirs[t.Name()] = d
		}
		return d
	}
	open := func(t *testing.T) storetest.StateStore {
		s, err := sqlite.Open(context.Background(), dir(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	exec := func(t *testing.T, query string, args ...any) {
		db, err := sql.Open("sqlite", filepath.Join(dir(t), sqlite.FileName)+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatalf("open the database: %v", err)
		}
		defer db.Close()
		if _, err := db.Exec(query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	storetest.RunState(t, open, exec)
}

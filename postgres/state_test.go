package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/day2ops/day2/internal/pgtest"
	"github.com/day2ops/day2/postgres"
	"github.com/day2ops/day2/storetest"
)

func TestStateStore(t *testing.T) {
	var mu sync.Mutex
	dsns := map[string]string{}
	// dsn returns the database of t: every call in one test gets the same one.
	dsn := func(t *testing.T) string {
		mu.Lock()
		defer mu.Unlock()
		d, ok := dsns[t.Name()]
		if !ok {
			d = pgtest.DSN(t)
			dsns[t.Name()] = d
		}
		return d
	}
	open := func(t *testing.T) storetest.StateStore {
		s, err := postgres.Open(context.Background(), dsn(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
	exec := func(t *testing.T, query string, args ...any) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn(t))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, query, args...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}
	storetest.RunState(t, open, exec)
}

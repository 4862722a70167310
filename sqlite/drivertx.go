package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/day2ops/day2"
)

// The record committer runs its batches on the write connection's driver
// connection, past database/sql. database/sql starts a goroutine for every
// transaction and for every query inside one (to watch their contexts), locks
// the connection around every call and converts every argument; the committer
// has no context to watch and its own lock (Store.mu), and the transaction is
// on the one path every approval request waits for: the committer is busy
// nearly all the time under load, and what it spends per batch decides how
// far latency climbs.

// driverStmts are statements prepared on one driver connection. They are used
// only inside (*sql.Conn).Raw on that same connection, and prepared again when
// database/sql has replaced it (after the driver found it unusable, which
// takes a write interrupted by its context at the wrong moment).
type driverStmts struct {
	conn  any
	stmts []driver.Stmt
}

// prepare makes sure ds holds queries prepared on conn. It reports whether
// ds held statements of a connection database/sql has since closed: those
// cannot be finalized any more (the driver freed what finalizing needs), so
// SQLite keeps that connection's memory and files until the process ends.
func (ds *driverStmts) prepare(ctx context.Context, conn any, queries []string) (dropped bool, err error) {
	if ds.conn == conn {
		return false, nil
	}
	dropped = ds.conn != nil
	ds.conn, ds.stmts = nil, nil
	p, ok := conn.(driver.ConnPrepareContext)
	if !ok {
		return dropped, fmt.Errorf("the driver connection %T cannot prepare statements", conn)
	}
	stmts := make([]driver.Stmt, 0, len(queries))
	for _, q := range queries {
		st, err := p.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range stmts {
				_ = st.Close()
			}
			return dropped, fmt.Errorf("prepare %q: %w", q, err)
		}
		stmts = append(stmts, st)
	}
	ds.conn, ds.stmts = conn, stmts
	return dropped, nil
}

// closeDriverStmts finalizes ds on its connection; the caller holds s.mu.
func (s *Store) closeDriverStmts(ds *driverStmts) error {
	c, err := s.wdb.Conn(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(conn any) error {
		if conn != ds.conn {
			ds.conn, ds.stmts = nil, nil // see prepare
			return nil
		}
		var errs []error
		for _, st := range ds.stmts {
			errs = append(errs, st.Close())
		}
		ds.conn, ds.stmts = nil, nil
		return errors.Join(errs...)
	})
}

// inDriverTx runs fn in a write transaction on the write connection's driver
// connection, with queries prepared on it (kept in st), and commits it if fn
// returns nil. Like inWriteTx, it holds s.mu throughout.
func (s *Store) inDriverTx(what string, st *driverStmts, queries []string, fn func(stmts []driver.Stmt) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return day2.Errorf(day2.EUnavailable, "the store is closed")
	}
	ctx := context.Background() // no deadline: a batch has several callers
	c, err := s.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer c.Close()
	return c.Raw(func(conn any) error {
		dropped, err := st.prepare(ctx, conn, queries)
		if dropped {
			s.log.Warn("sqlite: the write connection was replaced; its prepared statements stay allocated", "path", s.path, "what", what)
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
		b, ok := conn.(driver.ConnBeginTx)
		if !ok {
			return fmt.Errorf("sqlite: %s: the driver connection %T cannot begin transactions", what, conn)
		}
		tx, err := b.BeginTx(ctx, driver.TxOptions{})
		if err != nil {
			return fmt.Errorf("sqlite: %s: begin: %w", what, err)
		}
		if err := fn(st.stmts); err != nil {
			if rerr := tx.Rollback(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
			}
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
		if err := tx.Commit(); err != nil { // the driver ends a transaction its COMMIT left open
			return fmt.Errorf("sqlite: %s: commit: %w", what, err)
		}
		return nil
	})
}

// namedArgs converts args, which must be driver values already (int64,
// string, []byte, nil), to the form the driver takes.
func namedArgs(args []any) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}

// stmtExec runs st with args and returns the number of rows it changed.
func stmtExec(st driver.Stmt, args ...any) (int64, error) {
	res, err := st.(driver.StmtExecContext).ExecContext(context.Background(), namedArgs(args))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// stmtQueryRow runs st with args and stores the first row's columns in dest
// (*int64 or *string); it returns sql.ErrNoRows when there is no row.
func stmtQueryRow(st driver.Stmt, args []any, dest ...any) error {
	rows, err := st.(driver.StmtQueryContext).QueryContext(context.Background(), namedArgs(args))
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	if err := rows.Next(vals); err != nil {
		if errors.Is(err, io.EOF) {
			return sql.ErrNoRows
		}
		return err
	}
	if len(vals) != len(dest) {
		return fmt.Errorf("the query returned %d columns, not %d", len(vals), len(dest))
	}
	for i, d := range dest {
		if err := assignValue(d, vals[i]); err != nil {
			return fmt.Errorf("column %d: %w", i+1, err)
		}
	}
	return nil
}

func assignValue(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *int64:
		if n, ok := v.(int64); ok {
			*d = n
			return nil
		}
	case *string:
		switch t := v.(type) {
		case string:
			*d = t
			return nil
		case []byte:
			*d = string(t)
			return nil
		}
	}
	return fmt.Errorf("cannot store %T in %T", v, dest)
}

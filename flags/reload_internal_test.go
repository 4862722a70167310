package flags

import (
	"context"
	"testing"
	"time"

	"github.com/day2ops/day2/sqlite"
)

// TestReloadKeepsUnchangedEntries checks that a reload compiles only the flag
// records that changed since the last one, and picks those changes up.
func TestReloadKeepsUnchangedEntries(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := NewService(st, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	flag := func(key, def string) Flag {
		return Flag{Key: key, State: StateEnabled, Variants: map[string]any{"a": "A", "b": "B"}, DefaultVariant: def}
	}
	for _, k := range []string{"one", "two"} {
		if _, err := svc.Put(ctx, "test", flag(k, "a"), "set up"); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	before := svc.snap.Load().runtime
	// Another replica changes "two": a reload must see it and recompile it only.
	other, err := NewService(st, nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Put(ctx, "test", flag("two", "b"), "change"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	after := svc.snap.Load().runtime
	if after["one"] != before["one"] {
		t.Error("the unchanged flag was compiled again")
	}
	if after["two"] == before["two"] || after["two"].compiled.flag.DefaultVariant != "b" {
		t.Errorf("the changed flag was not reloaded: %+v", after["two"].compiled)
	}
}

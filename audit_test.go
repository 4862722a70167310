package day2_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/day2ops/day2"
)

// auditChain returns n correctly chained entries with IDs 1..n.
func auditChain(n int) []day2.AuditEntry {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	var out []day2.AuditEntry
	prev := ""
	for i := range n {
		e := day2.AuditEntry{
			ID: int64(i + 1), At: t0.Add(time.Duration(i) * time.Minute), Actor: "alice",
			Action: "policy.override", Target: "service/invoice-agent", Reason: "release the fix",
			Before: json.RawMessage(`{"frozen": true}`), After: json.RawMessage(`{"frozen":false}`),
			PrevHash: prev,
		}
		e.Hash = day2.AuditHash(prev, &e)
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

// rehash recomputes the hash of entry i of es, as someone covering an edit would.
func rehash(es []day2.AuditEntry, i int) {
	es[i].Hash = day2.AuditHash(es[i].PrevHash, &es[i])
}

func TestVerifyAudit(t *testing.T) {
	full := auditChain(5)
	tests := []struct {
		name     string
		entries  func() []day2.AuditEntry
		prevHash string
		badID    int64
	}{
		{"no entries verify", func() []day2.AuditEntry { return nil }, "", 0},
		{"an intact chain from the first entry verifies", func() []day2.AuditEntry { return auditChain(5) }, "", 0},
		{"a page continuing from the previous page's last hash verifies",
			func() []day2.AuditEntry { return auditChain(5)[2:] }, full[1].Hash, 0},
		{"a page checked against the wrong previous hash fails at its first entry",
			func() []day2.AuditEntry { return auditChain(5)[2:] }, full[0].Hash, 3},
		{"a chain that does not start at the log's beginning fails at its first entry",
			func() []day2.AuditEntry { return auditChain(5)[1:] }, "", 2},
		{"an edited reason fails at the edited entry", func() []day2.AuditEntry {
			es := auditChain(5)
			es[2].Reason = "nothing to see"
			return es
		}, "", 3},
		{"an edited time fails at the edited entry", func() []day2.AuditEntry {
			es := auditChain(5)
			es[1].At = es[1].At.Add(time.Nanosecond)
			return es
		}, "", 2},
		{"reformatted JSON fails at the edited entry", func() []day2.AuditEntry {
			es := auditChain(5)
			es[3].Before = json.RawMessage(`{"frozen":true}`)
			return es
		}, "", 4},
		{"an edited hash of the last entry fails at that entry", func() []day2.AuditEntry {
			es := auditChain(5)
			es[4].Hash = full[3].Hash
			return es
		}, "", 5},
		{"an edit covered by a recomputed hash fails at the next entry", func() []day2.AuditEntry {
			es := auditChain(5)
			es[1].Actor = "mallory"
			rehash(es, 1)
			return es
		}, "", 3},
		{"a removed entry fails at the entry after the gap", func() []day2.AuditEntry {
			return slices.Delete(auditChain(5), 2, 3)
		}, "", 4},
		{"a removed entry with the rest renumbered and rehashed fails at the entry after the gap",
			func() []day2.AuditEntry {
				es := slices.Delete(auditChain(5), 2, 3)
				for i := 2; i < len(es); i++ {
					es[i].ID--
					rehash(es, i)
				}
				return es
			}, "", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			badID, err := day2.VerifyAudit(tt.entries(), tt.prevHash)
			if badID != tt.badID {
				t.Errorf("VerifyAudit: bad entry %d (%v), want %d", badID, err, tt.badID)
			}
			if (err != nil) != (tt.badID != 0) || (err != nil && !errors.Is(err, day2.ErrAuditChain)) {
				t.Errorf("VerifyAudit: error %v; want one wrapping ErrAuditChain exactly when an entry is bad", err)
			}
		})
	}
}

func TestAuditHashIgnoresTheTimeZone(t *testing.T) {
	e := auditChain(1)[0]
	h := day2.AuditHash("", &e)
	e.At = e.At.In(time.FixedZone("CEST", 2*60*60))
	if got := day2.AuditHash("", &e); got != h {
		t.Errorf("hash of the same instant in another zone %s, want %s", got, h)
	}
}

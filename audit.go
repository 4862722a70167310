package day2

import (
	"errors"
	"fmt"
)

// ErrAuditChain is wrapped by the errors of VerifyAudit: the audit log was
// edited, or entries were removed, after they were written.
var ErrAuditChain = errors.New("audit chain broken")

// VerifyAudit checks that entries, consecutive entries of the audit log oldest
// first, form an unbroken hash chain that continues from prevHash (the hash of the
// entry before the first, "" when the first is the log's first entry). It
// recomputes every hash and returns the ID of the first entry whose hash, link to
// the previous entry, or number does not match, with an error wrapping
// ErrAuditChain; 0 and nil when the chain holds. A long log is verified a page at
// a time, passing the last hash of one page as prevHash of the next.
func VerifyAudit(entries []AuditEntry, prevHash string) (badID int64, err error) {
	for i := range entries {
		e := &entries[i]
		if i > 0 && e.ID != entries[i-1].ID+1 {
			return e.ID, fmt.Errorf("audit entry %d follows entry %d; the entries between them are missing: %w",
				e.ID, entries[i-1].ID, ErrAuditChain)
		}
		if e.PrevHash != prevHash {
			if i == 0 {
				return e.ID, fmt.Errorf("audit entry %d does not continue from the expected previous hash: %w", e.ID, ErrAuditChain)
			}
			return e.ID, fmt.Errorf("audit entry %d does not link to entry %d, which was changed or replaced: %w",
				e.ID, entries[i-1].ID, ErrAuditChain)
		}
		if AuditHash(e.PrevHash, e) != e.Hash {
			return e.ID, fmt.Errorf("audit entry %d does not match its hash; it was changed after it was written: %w", e.ID, ErrAuditChain)
		}
		prevHash = e.Hash
	}
	return 0, nil
}

package etcd

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors the etcd client returns (rpctypes.ErrAuthFailed,
// rpctypes.ErrPermissionDenied, rpctypes.ErrCompacted, context errors) are
// wrapped, so errors.Is keeps matching them.
var (
	// ErrNoDocument: the key holds no flag document (never published, or
	// deleted). A source keeps the flags in force.
	ErrNoDocument = errors.New("etcd: no flag document under the key")

	// ErrUnreachable: no etcd endpoint answered within the dial timeout.
	ErrUnreachable = errors.New("etcd: unreachable")

	// ErrConflict is wrapped by a *ConflictError: the document changed
	// since the revision a publish was based on.
	ErrConflict = errors.New("etcd: flag document changed since it was read")

	// ErrRefused is wrapped by a *RefusedError: the linter refused the
	// document (a provider would keep its previous flags), so it was not
	// published.
	ErrRefused = errors.New("etcd: flag document refused")

	// ErrNoRevision: a rollback named a revision that did not write the
	// document, or whose document etcd and the history no longer hold.
	ErrNoRevision = errors.New("etcd: no such document revision")

	// ErrConfig is wrapped by every error about a Config field.
	ErrConfig = errors.New("etcd: invalid config")
)

// ConflictError reports a compare-and-swap that found another document in
// place: someone published in between.
type ConflictError struct {
	Key string
	// Expected is the revision the publish was based on (0: no document).
	Expected int64
	// Actual is the revision of the document in place now (0: none).
	Actual int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("etcd: %s: the document is at revision %d, not %d as read: someone published in between; review the new document (sshpool flags history) and retry",
		e.Key, e.Actual, e.Expected)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// configError names the Config field that is wrong.
func configError(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
}

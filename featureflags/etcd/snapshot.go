package etcd

import (
	"fmt"
	"strconv"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/sshpool/sshpool/featureflags"
)

// snapshot is the key's state as the source last observed it. Snapshots
// are immutable; the source keeps the most recent one, ordered by observed.
type snapshot struct {
	// observed is the etcd revision at which the state was seen: a read's
	// header revision, or an event's revision. 0 for a state etcd did not
	// give (the cache, a placeholder), which any observation replaces.
	observed int64
	// modRev is the document's revision (when it was written); 0 when the
	// key holds none.
	modRev int64
	// present tells whether the key holds a document.
	present bool
	// cached marks a document read from the cache file.
	cached bool
	doc    featureflags.Document
}

// newer reports whether s supersedes old (nil or observed earlier).
func (s *snapshot) newer(old *snapshot) bool {
	return old == nil || s.observed > old.observed
}

// liveSnapshot is the state a read or an event gave: kv (nil when the key
// holds nothing) at revision observed.
func (src *Source) liveSnapshot(kv *mvccpb.KeyValue, observed int64) *snapshot {
	if kv == nil {
		return &snapshot{observed: observed}
	}
	return &snapshot{observed: observed, modRev: kv.ModRevision, present: true, doc: featureflags.Document{
		Data:    kv.Value,
		Origin:  src.name,
		Version: revisionVersion(kv.ModRevision),
	}}
}

// revisionVersion is a Document.Version for revision rev: "rev 42".
func revisionVersion(rev int64) string { return "rev " + strconv.FormatInt(rev, 10) }

// placeholderDoc is the document served when the key holds none, or when
// etcd cannot be reached at start and there is no cache: no flags, so the
// router sends every call to the legacy pool (FLAG_NOT_FOUND), the safe
// side. Its metadata says why, so the two cases differ in the provider's
// document hash and Document().
func (src *Source) placeholderDoc(why string) featureflags.Document {
	data := fmt.Appendf(nil, `{"flags": {}, "metadata": {"sshpool-etcd": %q}}`, why)
	return featureflags.Document{Data: data, Format: featureflags.FormatJSON, Origin: src.name + " (" + why + ")"}
}

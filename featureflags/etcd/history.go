package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// historyPrefix is where the publish records of key live.
func historyPrefix(key string) string { return key + "/history/" }

// recordKey names the record of a publish based on a read at revision
// readAt. Two successful publishes never share it (the second must have
// read after the first wrote), and its order is the publishes' order.
func recordKey(key string, readAt int64) string {
	return fmt.Sprintf("%s%020d", historyPrefix(key), readAt)
}

// pruneOp returns the delete that keeps the newest historyLimit-1 records
// (the publish adds one), or nil when there are fewer.
func (p *Publisher) pruneOp(ctx context.Context) (*clientv3.Op, error) {
	prefix := historyPrefix(p.cfg.Key)
	resp, err := p.cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(p.historyLimit-1)))
	if err != nil {
		return nil, fmt.Errorf("etcd: read history %s: %w", prefix, classify(err))
	}
	if !resp.More {
		return nil, nil
	}
	oldestKept := string(resp.Kvs[len(resp.Kvs)-1].Key)
	op := clientv3.OpDelete(prefix, clientv3.WithRange(oldestKept))
	return &op, nil
}

// records returns up to limit publish records, newest first.
func (p *Publisher) records(ctx context.Context, limit int) ([]Record, error) {
	prefix := historyPrefix(p.cfg.Key)
	resp, err := p.cli.Get(ctx, prefix, clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("etcd: read history %s: %w", prefix, classify(err))
	}
	out := make([]Record, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var r Record
		if json.Unmarshal(kv.Value, &r) != nil {
			continue // not ours, or damaged: etcd's own history still lists the revision
		}
		r.Revision = kv.ModRevision
		out = append(out, r)
	}
	return out, nil
}

// Entry is one revision of the document, as History lists it.
type Entry struct {
	// Revision wrote the document; Current marks the one in place.
	Revision int64 `json:"revision"`
	Current  bool  `json:"current,omitempty"`
	// Action, Author, EtcdUser, Time and Message come from the publish
	// record; empty (zero Time) for a document written by another tool.
	Action   string    `json:"action,omitempty"`
	Author   string    `json:"author,omitempty"`
	EtcdUser string    `json:"etcd_user,omitempty"`
	Time     time.Time `json:"time,omitzero"`
	Message  string    `json:"message,omitempty"`
	// RollbackOf is the revision a rollback republished.
	RollbackOf int64 `json:"rollback_of,omitempty"`
	// SHA256, Size and Summary describe the document.
	SHA256  string `json:"sha256"`
	Size    int    `json:"size"`
	Summary string `json:"summary"`
	// InEtcd tells whether etcd still holds the revision (not compacted);
	// Recorded whether sshpool's history holds it. Rollback needs either.
	InEtcd   bool `json:"in_etcd"`
	Recorded bool `json:"recorded"`
}

// History lists up to limit revisions of the document, newest first: the
// revisions etcd still holds (until its compaction), merged with the
// records of the publishes sshpool made (kept past compaction, up to the
// history limit). Revisions written by other tools have no author.
func (p *Publisher) History(ctx context.Context, limit int) ([]Entry, error) {
	ctx, cancel := p.requestContext(ctx)
	defer cancel()
	recs, err := p.records(ctx, limit)
	if err != nil {
		return nil, err
	}
	entries := map[int64]*Entry{}
	for _, r := range recs {
		e := entryOf(r.Revision, []byte(r.Document))
		e.Action, e.Author, e.EtcdUser, e.Time, e.Message, e.RollbackOf = r.Action, r.Author, r.EtcdUser, r.Time, r.Message, r.RollbackOf
		e.Recorded = true
		entries[r.Revision] = e
	}
	if err := p.walkEtcd(ctx, limit, func(rev int64, doc []byte, current bool) {
		e := entries[rev]
		if e == nil {
			e = entryOf(rev, doc)
			entries[rev] = e
		}
		e.InEtcd, e.Current = true, current
	}); err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Revision > out[j].Revision })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func entryOf(rev int64, doc []byte) *Entry {
	return &Entry{Revision: rev, SHA256: sha256Hex(doc), Size: len(doc), Summary: Summarize(doc)}
}

// walkEtcd calls fn for the document in place and its earlier revisions,
// newest first, until limit, the document's creation or etcd's
// compaction.
func (p *Publisher) walkEtcd(ctx context.Context, limit int, fn func(rev int64, doc []byte, current bool)) error {
	var opts []clientv3.OpOption
	for i := 0; i < limit; i++ {
		resp, err := p.cli.Get(ctx, p.cfg.Key, opts...)
		if errors.Is(err, rpctypes.ErrCompacted) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("etcd: read %s: %w", p.cfg.Key, classify(err))
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		kv := resp.Kvs[0]
		fn(kv.ModRevision, kv.Value, i == 0)
		if kv.ModRevision == kv.CreateRevision {
			return nil
		}
		opts = []clientv3.OpOption{clientv3.WithRev(kv.ModRevision - 1)}
	}
	return nil
}

// document returns the document that revision rev wrote: from etcd while
// it holds the revision, else from the publish records.
func (p *Publisher) document(ctx context.Context, rev int64) ([]byte, error) {
	ctx, cancel := p.requestContext(ctx)
	defer cancel()
	resp, err := p.cli.Get(ctx, p.cfg.Key, clientv3.WithRev(rev))
	switch {
	case err == nil && len(resp.Kvs) > 0 && resp.Kvs[0].ModRevision == rev:
		return resp.Kvs[0].Value, nil
	case err != nil && !errors.Is(err, rpctypes.ErrCompacted) && !errors.Is(err, rpctypes.ErrFutureRev):
		return nil, fmt.Errorf("etcd: read %s at revision %d: %w", p.cfg.Key, rev, classify(err))
	}
	recs, rerr := p.records(ctx, p.historyLimit)
	if rerr != nil {
		return nil, rerr
	}
	for _, r := range recs {
		if r.Revision == rev {
			return []byte(r.Document), nil
		}
	}
	why := "no publish wrote the document at that revision"
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		why = "etcd compacted it and sshpool's history does not hold it"
	case errors.Is(err, rpctypes.ErrFutureRev):
		why = "etcd has not reached it"
	case len(resp.Kvs) > 0:
		why = fmt.Sprintf("the document in force then was written at revision %d", resp.Kvs[0].ModRevision)
	}
	return nil, fmt.Errorf("%w: %s at revision %d: %s (see sshpool flags history)", ErrNoRevision, p.cfg.Key, rev, why)
}

// PlanRollback prepares republishing the document that revision rev
// wrote, with the same lint and compare-and-swap as any publish.
func (p *Publisher) PlanRollback(ctx context.Context, rev int64, o PlanOptions) (*Plan, error) {
	doc, err := p.document(ctx, rev)
	if err != nil {
		return nil, err
	}
	return p.plan(ctx, &Plan{Action: "rollback", RollbackOf: rev, Origin: revisionVersion(rev), Document: doc}, o)
}

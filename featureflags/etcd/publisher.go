package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/sshpool/sshpool/featureflags"
)

// DefaultHistoryLimit is how many publish records Publisher keeps.
const DefaultHistoryLimit = 100

// Publisher publishes flag documents to the key with compare-and-swap and
// keeps their history. A publish is two steps: a Plan (PlanDocument,
// PlanRollback, PlanKillSwitch) lints the new document and reads the one
// in place with its revision; Publish writes the plan's document only if
// the key is still at that revision. Between the two, a caller shows what
// will change (Plan.Diff). Its methods are safe for concurrent use.
type Publisher struct {
	cfg          Config
	cli          *clientv3.Client
	historyLimit int
}

// PublisherOption configures a Publisher.
type PublisherOption func(*Publisher)

// WithHistoryLimit sets how many publish records are kept under
// Key + "/history/" (older ones are deleted by the publish that goes past
// the limit); default DefaultHistoryLimit, at least 2.
func WithHistoryLimit(n int) PublisherOption {
	return func(p *Publisher) { p.historyLimit = max(n, 2) }
}

// NewPublisher returns a publisher for cfg.Key (cfg.CacheFile is not
// used). It connects lazily, except that with a Username it authenticates
// at once (bounded by DialTimeout). Close releases the connection.
func NewPublisher(ctx context.Context, cfg Config, opts ...PublisherOption) (*Publisher, error) {
	c, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	cli, err := newClient(ctx, c)
	if err != nil {
		return nil, err
	}
	p := &Publisher{cfg: c, cli: cli, historyLimit: DefaultHistoryLimit}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Close closes the connection.
func (p *Publisher) Close() error { return p.cli.Close() }

// Key returns the key the publisher writes.
func (p *Publisher) Key() string { return p.cfg.Key }

// Revision is a document as etcd holds it.
type Revision struct {
	// Revision is the revision that wrote the document; 0 when the key
	// holds none.
	Revision int64
	// Document is its content; nil when the key holds none.
	Document []byte
}

// SHA256 is the hex SHA-256 of the document, "" when there is none.
func (r Revision) SHA256() string {
	if r.Document == nil {
		return ""
	}
	return sha256Hex(r.Document)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Current returns the document in place (a linearizable read).
func (p *Publisher) Current(ctx context.Context) (Revision, error) {
	ctx, cancel := p.requestContext(ctx)
	defer cancel()
	resp, err := p.cli.Get(ctx, p.cfg.Key)
	if err != nil {
		return Revision{}, fmt.Errorf("etcd: read %s: %w", p.cfg.Key, classify(err))
	}
	if len(resp.Kvs) == 0 {
		return Revision{}, nil
	}
	return Revision{Revision: resp.Kvs[0].ModRevision, Document: resp.Kvs[0].Value}, nil
}

// requestContext bounds one request by RequestTimeout.
func (p *Publisher) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.cfg.RequestTimeout)
}

// Note is what a publish records besides the document.
type Note struct {
	// Author names who publishes (e.g. "alice@ops-host"); the etcd user,
	// when authenticating, is recorded too.
	Author string
	// Message says why (optional).
	Message string
}

// Record is one publish as the history keeps it.
type Record struct {
	// Revision is the revision the publish wrote (the document's
	// version); set from etcd, not stored.
	Revision int64 `json:"-"`
	// Action is "push", "rollback" or "kill-switch on|off".
	Action string `json:"action"`
	// RollbackOf is the revision a rollback republished, else 0.
	RollbackOf int64 `json:"rollback_of,omitempty"`
	// BaseRevision is the revision the publish replaced (0: none).
	BaseRevision int64 `json:"base_revision"`
	// Author and EtcdUser say who published; Time when (the publishing
	// machine's clock); Message why.
	Author   string    `json:"author,omitempty"`
	EtcdUser string    `json:"etcd_user,omitempty"`
	Time     time.Time `json:"time"`
	Message  string    `json:"message,omitempty"`
	// SHA256 is the document's hex SHA-256; Document the document itself,
	// so that a rollback works after etcd compacted the revision.
	SHA256   string `json:"sha256"`
	Document string `json:"document"`
}

// Publish writes plan's document if the key is still at plan.Base's
// revision (compare-and-swap), together with its history record, in one
// transaction. Someone who published in between makes it fail with a
// *ConflictError and nothing is written. A plan whose document the linter
// refused is never published (*RefusedError).
func (p *Publisher) Publish(ctx context.Context, plan *Plan, note Note) (Record, error) {
	if plan.Lint.Refused() {
		return Record{}, &RefusedError{Report: plan.Lint}
	}
	rec := Record{Action: plan.Action, RollbackOf: plan.RollbackOf, BaseRevision: plan.Base.Revision,
		Author: note.Author, EtcdUser: p.cfg.Username, Time: time.Now().UTC(), Message: note.Message,
		SHA256: sha256Hex(plan.Document), Document: string(plan.Document)}
	recJSON, err := json.Marshal(rec)
	if err != nil {
		return Record{}, fmt.Errorf("etcd: history record: %w", err)
	}
	ctx, cancel := p.requestContext(ctx)
	defer cancel()
	ops := []clientv3.Op{
		clientv3.OpPut(p.cfg.Key, string(plan.Document)),
		clientv3.OpPut(recordKey(p.cfg.Key, plan.readAt), string(recJSON)),
	}
	if prune, err := p.pruneOp(ctx); err != nil {
		return Record{}, err
	} else if prune != nil {
		ops = append(ops, *prune)
	}
	resp, err := p.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(p.cfg.Key), "=", plan.Base.Revision)).
		Then(ops...).
		Else(clientv3.OpGet(p.cfg.Key)).
		Commit()
	if err != nil {
		return Record{}, fmt.Errorf("etcd: publish %s: %w", p.cfg.Key, classify(err))
	}
	if !resp.Succeeded {
		actual := int64(0)
		if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
			actual = kvs[0].ModRevision
		}
		return Record{}, &ConflictError{Key: p.cfg.Key, Expected: plan.Base.Revision, Actual: actual}
	}
	rec.Revision = resp.Header.Revision
	return rec, nil
}

// RefusedError reports a document the linter refused: a provider would
// keep its previous flags, so it is not published.
type RefusedError struct {
	Report featureflags.Report
}

func (e *RefusedError) Error() string {
	return "etcd: " + e.Report.Summary() + "; not published"
}

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

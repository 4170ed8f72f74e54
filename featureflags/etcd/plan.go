package etcd

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/routes"
)

// Plan is a publish prepared: the document to write, the one it replaces
// and what the linter says. Make one with PlanDocument, PlanRollback or
// PlanKillSwitch; Publish writes it.
type Plan struct {
	// Action is what the publish does: "push", "rollback" or
	// "kill-switch on|off".
	Action string
	// RollbackOf is the revision a rollback republishes, else 0.
	RollbackOf int64
	// Origin names the new document (a file, "rev 42", "kill-switch on").
	Origin string
	// Document is the document to publish.
	Document []byte
	// Base is the document in place, whose revision the publish compares.
	Base Revision
	// Lint is the linter's report on Document (never refused in a plan
	// that a Plan method returned without error).
	Lint featureflags.Report
	// Changes describes a generated document's edits (kill switch), one
	// line each; nil otherwise.
	Changes []string

	readAt int64 // header revision of the read of Base: names the history record
}

// Unchanged reports whether the document is the one in place already.
func (pl *Plan) Unchanged() bool {
	return pl.Base.Document != nil && bytes.Equal(pl.Base.Document, pl.Document)
}

// PlanOptions qualify a plan.
type PlanOptions struct {
	// ExpectRevision, when not 0, is the revision the caller reviewed: the
	// plan fails with a *ConflictError if the document in place is at
	// another one (-1 expects no document). 0 takes the revision read now.
	ExpectRevision int64
}

// PlanDocument prepares publishing doc (from origin, a file name whose
// extension selects the syntax as for a flag file): it lints it and reads
// the document in place. A document the linter refuses, or larger than
// MaxDocumentBytes, is an error (*RefusedError, ErrDocumentTooLarge).
func (p *Publisher) PlanDocument(ctx context.Context, origin string, doc []byte, o PlanOptions) (*Plan, error) {
	return p.plan(ctx, &Plan{Action: "push", Origin: origin, Document: doc}, o)
}

// plan lints pl's document, reads the base and checks o's expectation.
func (p *Publisher) plan(ctx context.Context, pl *Plan, o PlanOptions) (*Plan, error) {
	if int64(len(pl.Document)) > p.cfg.MaxDocumentBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the %d-byte cap", featureflags.ErrDocumentTooLarge,
			pl.Origin, len(pl.Document), p.cfg.MaxDocumentBytes)
	}
	pl.Lint = featureflags.Lint(pl.Origin, pl.Document)
	if pl.Lint.Refused() {
		return nil, &RefusedError{Report: pl.Lint}
	}
	if pl.readAt == 0 {
		base, readAt, err := p.current(ctx)
		if err != nil {
			return nil, err
		}
		pl.Base, pl.readAt = base, readAt
	}
	switch want := o.ExpectRevision; {
	case want == 0:
	case want == -1 && pl.Base.Revision != 0, want > 0 && pl.Base.Revision != want:
		return nil, &ConflictError{Key: p.cfg.Key, Expected: max(want, 0), Actual: pl.Base.Revision}
	}
	return pl, nil
}

// current reads the document in place and the header revision of the
// read.
func (p *Publisher) current(ctx context.Context) (Revision, int64, error) {
	ctx, cancel := p.requestContext(ctx)
	defer cancel()
	resp, err := p.cli.Get(ctx, p.cfg.Key)
	if err != nil {
		return Revision{}, 0, fmt.Errorf("etcd: read %s: %w", p.cfg.Key, classify(err))
	}
	if len(resp.Kvs) == 0 {
		return Revision{}, resp.Header.Revision, nil
	}
	kv := resp.Kvs[0]
	return Revision{Revision: kv.ModRevision, Document: kv.Value}, resp.Header.Revision, nil
}

// Diff decides every target with the document in place and with the
// plan's, as `sshpool flags diff` does (package routes): which servers
// change pool. No kill-switch variable applies. With no document in place,
// "before" is the empty document (everything to legacy).
func (pl *Plan) Diff(ctx context.Context, targets []routes.Target) (routes.Diff, error) {
	before := pl.Base.Document
	if before == nil {
		before = []byte(`{"flags": {}}`)
	}
	oldFlags, err := startStatic(ctx, "rev", before)
	if err != nil {
		return routes.Diff{}, fmt.Errorf("etcd: the document in place: %w", err)
	}
	defer oldFlags.Shutdown(context.Background())
	newFlags, err := startStatic(ctx, pl.Origin, pl.Document)
	if err != nil {
		return routes.Diff{}, err
	}
	defer newFlags.Shutdown(context.Background())
	return routes.Compare(ctx, oldFlags.Client(), newFlags.Client(), targets), nil
}

// startStatic returns started flags serving doc.
func startStatic(ctx context.Context, origin string, doc []byte) (*featureflags.Flags, error) {
	p, err := featureflags.NewProvider(staticSource{featureflags.Document{Data: doc, Origin: origin}})
	if err != nil {
		return nil, err
	}
	f := featureflags.NewFlags(p)
	if err := f.Start(ctx); err != nil {
		f.Shutdown(context.Background())
		return nil, err
	}
	return f, nil
}

// staticSource is a Source holding one document, for Diff.
type staticSource struct{ doc featureflags.Document }

func (s staticSource) Name() string                                        { return s.doc.Origin }
func (s staticSource) Read(context.Context) (featureflags.Document, error) { return s.doc, nil }
func (staticSource) Start(context.Context, featureflags.Sink) error        { return nil }
func (staticSource) Stop(context.Context) error                            { return nil }

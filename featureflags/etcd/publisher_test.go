package etcd_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sshpool/sshpool/featureflags"
	"github.com/sshpool/sshpool/featureflags/etcd"
	"github.com/sshpool/sshpool/featureflags/etcd/etcdtest"
	"github.com/sshpool/sshpool/featureflags/routes"
	"github.com/sshpool/sshpool/legacy"
)

func newPublisher(t *testing.T, srv *etcdtest.Server, opts ...etcd.PublisherOption) *etcd.Publisher {
	t.Helper()
	p, err := etcd.NewPublisher(ctxT(t, 10*time.Second), sourceConfig(srv), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// push plans and publishes doc, failing the test on any error.
func push(t *testing.T, p *etcd.Publisher, doc, msg string) etcd.Record {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	pl, err := p.PlanDocument(ctx, "flags.json", []byte(doc), etcd.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := p.Publish(ctx, pl, etcd.Note{Author: "alice@ops", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestCASConflict: two plans read the same revision; the first publish
// wins, the second fails with a *ConflictError naming both revisions and
// writes nothing. A plan expecting a revision the key is not at fails at
// once.
func TestCASConflict(t *testing.T) {
	srv := etcdtest.Start(t)
	p := newPublisher(t, srv)
	ctx := ctxT(t, 20*time.Second)
	base := push(t, p, routingDoc(false, false), "start")
	a, err := p.PlanDocument(ctx, "a.json", []byte(routingDoc(false, true)), etcd.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.PlanDocument(ctx, "b.json", []byte(routingDoc(true, false)), etcd.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	won, err := p.Publish(ctx, a, etcd.Note{Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Publish(ctx, b, etcd.Note{Author: "bob"})
	var ce *etcd.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, etcd.ErrConflict) {
		t.Fatalf("second publish: %v", err)
	}
	if ce.Expected != base.Revision || ce.Actual != won.Revision {
		t.Errorf("conflict %+v, want expected %d actual %d", ce, base.Revision, won.Revision)
	}
	cur, err := p.Current(ctx)
	if err != nil || string(cur.Document) != routingDoc(false, true) || cur.Revision != won.Revision {
		t.Errorf("in place: rev %d %q, %v", cur.Revision, cur.Document, err)
	}
	hist, err := p.History(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range hist {
		if e.Author == "bob" {
			t.Errorf("the refused publish left a history record: %+v", e)
		}
	}
	_, err = p.PlanDocument(ctx, "c.json", []byte(routingDoc(true, true)), etcd.PlanOptions{ExpectRevision: base.Revision})
	if !errors.As(err, &ce) || ce.Actual != won.Revision {
		t.Errorf("a plan expecting the reviewed revision %d: %v", base.Revision, err)
	}
	if _, err := p.PlanDocument(ctx, "c.json", []byte(routingDoc(true, true)), etcd.PlanOptions{ExpectRevision: won.Revision}); err != nil {
		t.Errorf("a plan expecting the revision in place: %v", err)
	}
}

// TestRefusedDocumentNotPublished: a document the linter refuses is never
// written; the report says why, with its line.
func TestRefusedDocumentNotPublished(t *testing.T) {
	srv := etcdtest.Start(t)
	p := newPublisher(t, srv)
	rec := push(t, p, routingDoc(false, true), "good")
	ctx := ctxT(t, 10*time.Second)
	bad := "{\"flags\": {\n  \"kill-switch\": {\"state\": \"ON\", \"variants\": {\"on\": true}}\n}}"
	_, err := p.PlanDocument(ctx, "bad.json", []byte(bad), etcd.PlanOptions{})
	var re *etcd.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, etcd.ErrRefused) || !re.Report.Refused() {
		t.Fatalf("err = %v", err)
	}
	if len(re.Report.Problems) == 0 || re.Report.Problems[0].Line != 2 {
		t.Errorf("problems %+v", re.Report.Problems)
	}
	big := `{"flags": {}, "pad": "` + strings.Repeat("x", featureflags.DefaultMaxDocumentBytes) + `"}`
	if _, err := p.PlanDocument(ctx, "big.json", []byte(big), etcd.PlanOptions{}); !errors.Is(err, featureflags.ErrDocumentTooLarge) {
		t.Errorf("oversized document: %v", err)
	}
	cur, err := p.Current(ctx)
	if err != nil || cur.Revision != rec.Revision {
		t.Errorf("in place: rev %d, %v; want %d", cur.Revision, err, rec.Revision)
	}
}

// TestRollbackByRevision: rolling back to a revision republishes its
// document (a new revision, with the same compare-and-swap) and a
// following instance routes as it did; after etcd compacts the revision
// the history record still serves it; a revision no publish wrote is
// refused with the revision that was in force then.
func TestRollbackByRevision(t *testing.T) {
	srv := etcdtest.Start(t)
	p := newPublisher(t, srv)
	ctx := ctxT(t, 30*time.Second)
	v1 := push(t, p, routingDoc(false, false), "v1: legacy")
	in := startInstance(t, sourceConfig(srv))
	push(t, p, routingDoc(false, true), "v2: new pool")
	eventually(t, hang, "v2 not applied", in.routesNew)

	pl, err := p.PlanRollback(ctx, v1.Revision, etcd.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Action != "rollback" || pl.RollbackOf != v1.Revision || string(pl.Document) != routingDoc(false, false) {
		t.Fatalf("plan %+v", pl)
	}
	rb, err := p.Publish(ctx, pl, etcd.Note{Author: "oncall", Message: "v2 broke"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, hang, "the rollback did not reach the instance", func() bool { return !in.routesNew() })
	if v := in.provider.Document().Version; v != "rev "+itoa(rb.Revision) {
		t.Errorf("instance at %s, want rev %d", v, rb.Revision)
	}
	hist, err := p.History(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || !hist[0].Current || hist[0].Action != "rollback" || hist[0].RollbackOf != v1.Revision || hist[0].Author != "oncall" {
		t.Fatalf("history %+v", hist)
	}
	if hist[0].SHA256 != hist[2].SHA256 {
		t.Errorf("the rollback's document differs from v1's")
	}

	// Past compaction: etcd no longer holds v1's revision; the record does.
	if _, err := srv.Client(t).Compact(ctx, rb.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PlanRollback(ctx, v1.Revision, etcd.PlanOptions{}); err != nil {
		t.Errorf("rollback to a compacted revision with a record: %v", err)
	}
	put(t, srv.Client(t), "/unrelated", "x")
	_, err = p.PlanRollback(ctx, rb.Revision+1, etcd.PlanOptions{})
	if !errors.Is(err, etcd.ErrNoRevision) || !strings.Contains(err.Error(), "written at revision "+itoa(rb.Revision)) {
		t.Errorf("rollback to a revision that wrote nothing: %v", err)
	}
}

// TestHistory: revisions newest first with author, time and message where
// sshpool published them, none for a document written by another tool;
// records beyond the limit are pruned by the publish that passes it.
func TestHistory(t *testing.T) {
	srv := etcdtest.Start(t)
	p := newPublisher(t, srv, etcd.WithHistoryLimit(3))
	ctx := ctxT(t, 30*time.Second)
	before := time.Now().Add(-time.Minute)
	for i := range 4 {
		push(t, p, routingDoc(false, i%2 == 0), "change "+itoa(int64(i)))
	}
	raw := put(t, srv.Client(t), etcd.DefaultKey, routingDoc(true, false))
	hist, err := p.History(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 5 {
		t.Fatalf("%d entries: %+v", len(hist), hist)
	}
	if h := hist[0]; h.Revision != raw || !h.Current || h.Author != "" || h.Recorded || !h.InEtcd {
		t.Errorf("the raw put: %+v", h)
	}
	if !strings.HasPrefix(hist[0].Summary, "kill-switch: on; use-new-pool: off") {
		t.Errorf("summary %q", hist[0].Summary)
	}
	h := hist[1]
	if h.Author != "alice@ops" || h.Message != "change 3" || h.Action != "push" || h.Time.Before(before) || !h.Recorded {
		t.Errorf("newest publish: %+v", h)
	}
	recorded := 0
	for _, e := range hist {
		if e.Recorded {
			recorded++
		}
	}
	if recorded != 3 {
		t.Errorf("%d recorded entries, want 3 (the limit)", recorded)
	}
	if short, _ := p.History(ctx, 2); len(short) != 2 {
		t.Errorf("limit 2: %d entries", len(short))
	}
}

// TestKillSwitchPlan: turning the switch on through the publisher sends
// every server of the diff to legacy and reaches a following instance; a
// second "on" changes nothing.
func TestKillSwitchPlan(t *testing.T) {
	srv := etcdtest.Start(t)
	p := newPublisher(t, srv)
	ctx := ctxT(t, 30*time.Second)
	push(t, p, routingDoc(false, true), "all new")
	in := startInstance(t, sourceConfig(srv))
	pl, err := p.PlanKillSwitch(ctx, true, etcd.PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Unchanged() || len(pl.Changes) != 1 {
		t.Fatalf("changes %q", pl.Changes)
	}
	targets := []routes.Target{
		{Server: legacy.Server{ID: "a", Host: "10.0.0.1", AppUsername: "app"}},
		{Server: legacy.Server{ID: "b", Host: "10.0.0.2", AppUsername: "app"}},
	}
	d, err := pl.Diff(ctx, targets)
	if err != nil {
		t.Fatal(err)
	}
	if d.Summary.ToLegacy != 2 || d.Summary.NewAfter != 0 {
		t.Errorf("diff %+v", d.Summary)
	}
	if _, err := p.Publish(ctx, pl, etcd.Note{Author: "oncall"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, hang, "the kill switch did not reach the instance", func() bool { return !in.routesNew() })
	again, err := p.PlanKillSwitch(ctx, true, etcd.PlanOptions{})
	if err != nil || !again.Unchanged() || len(again.Changes) != 0 {
		t.Errorf("second on: %v, changes %q", err, again.Changes)
	}
}

package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/connectivity"

	"github.com/sshpool/sshpool/featureflags"
)

// Reasons a follow ends and the next one starts at once (no backoff).
var (
	errCompacted   = errors.New("etcd: watched revision compacted")
	errReconnected = errors.New("etcd: reconnected")
)

// follower is the goroutine Start runs: connect, read, watch; on any
// failure report it, back off and start over. Its fields are its own.
type follower struct {
	src  *Source
	sink featureflags.Sink
	ctx  context.Context // cancelled by Stop

	cli       *clientv3.Client
	delivered *snapshot // the state last handed to sink
	cachedRev int64     // revision of the document in the cache file
	down      bool      // health reported as not connected
	detail    string    // the detail reported with it
}

// run follows until Stop, then closes the client and done.
func (f *follower) run(done chan<- struct{}) {
	defer close(done)
	defer f.closeClient()
	wait := time.Duration(0)
	for {
		err := f.follow(&wait)
		if f.ctx.Err() != nil {
			return
		}
		if errors.Is(err, errCompacted) || errors.Is(err, errReconnected) {
			continue // read the key again at once
		}
		f.reportDown(err)
		if permanent(err) {
			f.src.log.Error("etcd: authentication refused: not retrying; fix the credentials and restart",
				"key", f.src.cfg.Key, "user", f.src.cfg.Username, "error", err)
			<-f.ctx.Done()
			return
		}
		wait = nextBackoff(wait, f.src.cfg.MinBackoff, f.src.cfg.MaxBackoff)
		select {
		case <-f.ctx.Done():
			return
		case <-time.After(jitter(wait)):
		}
	}
}

// nextBackoff doubles wait within [lo, hi].
func nextBackoff(wait, lo, hi time.Duration) time.Duration {
	return min(max(2*wait, lo), hi)
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// follow makes one attempt: connect, read the key, then watch it from the
// read's revision + 1 until the watch or the connection fails. A
// successful read resets *wait.
func (f *follower) follow(wait *time.Duration) error {
	if err := f.connect(); err != nil {
		return err
	}
	snap, err := f.src.fetch(f.ctx, f.cli)
	if err != nil {
		return err
	}
	f.deliver(f.src.advance(snap))
	f.reportUp()
	*wait = 0
	if f.src.afterRead != nil {
		f.src.afterRead()
	}
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(f.ctx))
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	states := watchStates(ctx, &wg, f.cli)
	events := watchKey(ctx, &wg, f.cli, f.src.cfg.Key, snap.observed+1)
	for {
		select {
		case wr, ok := <-events:
			if !ok {
				return fmt.Errorf("etcd: watch %s ended", f.src.cfg.Key)
			}
			if err := f.handle(wr); err != nil {
				return err
			}
		case st := <-states:
			if err := f.connection(st); err != nil {
				return err
			}
		}
	}
}

// connect creates the client, if there is none, and publishes it for Read.
func (f *follower) connect() error {
	if f.cli != nil {
		return nil
	}
	cli, err := newClient(f.ctx, f.src.cfg)
	if err != nil {
		return err
	}
	f.cli = cli
	f.src.setClient(cli)
	return nil
}

func (f *follower) closeClient() {
	if f.cli != nil {
		f.src.clearClient(f.cli)
		f.cli.Close()
	}
}

// handle applies one watch response.
func (f *follower) handle(wr clientv3.WatchResponse) error {
	if wr.CompactRevision != 0 {
		f.src.log.Info("etcd: the watched revision was compacted, reading the key again",
			"key", f.src.cfg.Key, "compact_revision", wr.CompactRevision)
		return errCompacted
	}
	if err := wr.Err(); err != nil {
		return fmt.Errorf("etcd: watch %s: %w", f.src.cfg.Key, err)
	}
	if f.down { // events flow again: the connection came back
		return errReconnected
	}
	var latest *snapshot
	for _, ev := range wr.Events {
		kv := ev.Kv
		if ev.Type == mvccpb.DELETE {
			latest = f.src.advance(&snapshot{observed: kv.ModRevision})
		} else {
			latest = f.src.advance(f.src.liveSnapshot(kv, kv.ModRevision))
		}
	}
	if latest != nil {
		f.deliver(latest)
	}
	return nil
}

// connection reacts to a change of the connection's state: anything but
// ready is reported as not connected; ready after that ends the follow,
// so that the next one reads the key afresh and watches from there.
func (f *follower) connection(st connectivity.State) error {
	if st == connectivity.Ready {
		if f.down {
			return errReconnected
		}
		return nil
	}
	f.reportDown(fmt.Errorf("%w: connection %s", ErrUnreachable, lower(st)))
	return nil
}

// deliver hands the latest state to the sink until what it handed is the
// latest: a Read may have put a newer state in force meanwhile, or the
// provider may have applied an older one after it.
func (f *follower) deliver(latest *snapshot) {
	for latest != f.delivered {
		f.offer(latest)
		f.delivered = latest
		f.src.mu.Lock()
		latest = f.src.latest
		f.src.mu.Unlock()
	}
}

// offer hands one state to the sink: a document to Update (and, when it is
// in force, to the cache file); no document to ReadFailed, unless what is
// served is the placeholder, which stays.
func (f *follower) offer(snap *snapshot) {
	if !snap.present {
		if doc, err := f.src.serve(snap); err == nil {
			f.sink.Update(doc)
		} else {
			f.sink.ReadFailed(err)
		}
		return
	}
	err := f.sink.Update(snap.doc)
	if err == nil {
		f.src.mu.Lock()
		f.src.served, f.src.placeholder, f.src.lastDoc = true, false, snap.doc
		f.src.mu.Unlock()
	}
	if err == nil && !snap.cached && snap.modRev != f.cachedRev {
		f.writeCache(snap)
	}
}

// reportDown tells the sink that changes are not arriving.
func (f *follower) reportDown(err error) {
	detail := err.Error()
	if f.down && f.detail == detail {
		return
	}
	f.down, f.detail = true, detail
	f.sink.SetHealth(featureflags.SourceHealth{Connected: false, Detail: detail})
}

// reportUp tells the sink that changes arrive.
func (f *follower) reportUp() {
	f.down, f.detail = false, ""
	f.sink.SetHealth(featureflags.SourceHealth{Connected: true})
}

// watchKey watches key from revision rev and forwards the responses until
// the watch ends (the channel is then closed) or ctx does; wg tracks the
// goroutine. clientv3's Watch blocks until the watch is registered, which
// waits for a connection: in its own goroutine it cannot keep the follower
// from noticing that etcd is gone.
func watchKey(ctx context.Context, wg *sync.WaitGroup, cli *clientv3.Client, key string, rev int64) <-chan clientv3.WatchResponse {
	ch := make(chan clientv3.WatchResponse)
	wg.Go(func() {
		defer close(ch)
		for wr := range cli.Watch(ctx, key, clientv3.WithRev(rev)) {
			select {
			case ch <- wr:
			case <-ctx.Done():
				return
			}
		}
	})
	return ch
}

// lower names a connection state as the detail shows it ("transient_failure").
func lower(st connectivity.State) string { return strings.ToLower(st.String()) }

// watchStates reports the client connection's state changes, the latest
// first, until ctx ends; wg tracks the goroutine. An idle connection is
// asked to connect.
func watchStates(ctx context.Context, wg *sync.WaitGroup, cli *clientv3.Client) <-chan connectivity.State {
	ch := make(chan connectivity.State, 1)
	conn := cli.ActiveConnection()
	wg.Go(func() {
		st := conn.GetState()
		for conn.WaitForStateChange(ctx, st) {
			st = conn.GetState()
			if st == connectivity.Idle {
				conn.Connect()
			}
			select { // keep only the latest state
			case <-ch:
			default:
			}
			ch <- st
		}
	})
	return ch
}

package pool

import (
	"hash/maphash"
	"sync/atomic"
)

// keyShards is the number of shards of a keyTable.
const keyShards = 256

// keyTable maps keys to their state for the lock-free Get path: sharded,
// copy-on-write, open-addressing hash tables. A key with exactly one
// connection (the common case) is found without reading its key state: its
// slot holds the connection's entry, whose first cache line has the name
// to confirm the match and everything Get and Release touch. A lookup is
// one hash, one atomic load, usually one slot read and that entry line;
// at 10,000 keys each of those is a likely cache miss, so every line kept
// off the path counts. A key or slot change (under pool.mu) copies one
// shard, O(keys/256); keys live only while they hold connections, dials or
// waiters. Go maps (and sync.Map's trie) cost several dependent cache
// misses per lookup at 10,000 keys, which made Get 3× slower there than at
// 10 keys.
type keyTable struct {
	seed   maphash.Seed
	shards [keyShards]atomic.Pointer[keyShard]
}

// keyShard is one open-addressing table (linear probing, load factor at
// most 1/2). Its set of keys is immutable; only slots' single pointers
// change in place, under pool.mu.
type keyShard struct {
	mask   uint64
	slots  []keySlot
	states []*keyState // parallel to slots: read only for keys without a single connection
	n      int
}

// keySlot is 16 bytes, four to a cache line.
type keySlot struct {
	hash uint64 // the key's hash with the low bit set; 0 marks an empty slot
	// single is the key's only connection (keyState.only), else nil.
	// A reader holding a superseded shard may see an older value; that is
	// harmless, since an entry that left its key is draining and refuses
	// new leases, and nil sends the reader through the key state.
	single atomic.Pointer[poolEntry]
}

func (t *keyTable) hash(key string) (uint64, *atomic.Pointer[keyShard]) {
	h := maphash.String(t.seed, key)
	return h | 1, &t.shards[h>>56]
}

// load returns key's only connection when it has exactly one, else key's
// state; both nil for an unknown key. The entry may be stale (retired);
// the caller's lease attempt finds out.
func (t *keyTable) load(key string) (*poolEntry, *keyState) {
	h, sp := t.hash(key)
	sh := sp.Load()
	if sh == nil {
		return nil, nil
	}
	for i := sh.home(h); ; i = (i + 1) & sh.mask {
		s := &sh.slots[i]
		switch s.hash {
		case 0:
			return nil, nil
		case h:
			if e := s.single.Load(); e != nil {
				if e.name == key {
					return e, nil
				}
			} else if ks := sh.states[i]; ks.name == key {
				return nil, ks
			}
		}
	}
}

// state returns key's state, or nil. Off the hot path.
func (t *keyTable) state(key string) *keyState {
	sh, i := t.find(key)
	if sh == nil {
		return nil
	}
	return sh.states[i]
}

// find returns the current shard holding key and key's slot index, or nil.
func (t *keyTable) find(key string) (*keyShard, uint64) {
	h, sp := t.hash(key)
	sh := sp.Load()
	if sh == nil {
		return nil, 0
	}
	for i := sh.home(h); ; i = (i + 1) & sh.mask {
		switch s := &sh.slots[i]; s.hash {
		case 0:
			return nil, 0
		case h:
			if sh.states[i].name == key {
				return sh, i
			}
		}
	}
}

// storeLocked adds key's state (the key must not be present). Caller holds
// pool.mu.
func (t *keyTable) storeLocked(key string, ks *keyState) {
	h, sp := t.hash(key)
	old := sp.Load()
	n := 1
	if old != nil {
		n += old.n
	}
	sh := newKeyShard(n)
	if old != nil {
		sh.copyFrom(old, nil)
	}
	sh.insert(h, ks.only(), ks)
	sp.Store(sh)
}

// deleteLocked removes ks. Caller holds pool.mu.
func (t *keyTable) deleteLocked(ks *keyState) {
	_, sp := t.hash(ks.name)
	old := sp.Load()
	if old == nil {
		return
	}
	sh := newKeyShard(old.n)
	sh.copyFrom(old, ks)
	sp.Store(sh)
}

// setSingleLocked publishes ks.only() in ks's slot. Caller holds pool.mu,
// as do all writers of slots, so copyFrom never misses an update.
func (t *keyTable) setSingleLocked(ks *keyState) {
	if sh, i := t.find(ks.name); sh != nil && sh.states[i] == ks {
		sh.slots[i].single.Store(ks.only())
	}
}

// newKeyShard returns an empty shard with room for n keys.
func newKeyShard(n int) *keyShard {
	size := 4
	for size < 2*n {
		size *= 2
	}
	return &keyShard{mask: uint64(size - 1), slots: make([]keySlot, size), states: make([]*keyState, size)}
}

// copyFrom inserts old's keys except skip.
func (sh *keyShard) copyFrom(old *keyShard, skip *keyState) {
	for i := range old.slots {
		if ks := old.states[i]; ks != nil && ks != skip {
			sh.insert(old.slots[i].hash, old.slots[i].single.Load(), ks)
		}
	}
}

// home returns the slot where the search for hash h starts. The low bit of
// h is always set (hash), so the slot is taken from the bits above it:
// taken from the low bits, only odd slots would start a search, and keys
// would cluster in half the table.
func (sh *keyShard) home(h uint64) uint64 { return (h >> 1) & sh.mask }

func (sh *keyShard) insert(h uint64, single *poolEntry, ks *keyState) {
	i := sh.home(h)
	for sh.slots[i].hash != 0 {
		i = (i + 1) & sh.mask
	}
	sh.slots[i].hash = h
	sh.slots[i].single.Store(single)
	sh.states[i] = ks
	sh.n++
}

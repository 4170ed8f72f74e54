package pool

import (
	"fmt"
	"hash/maphash"
	"testing"
)

// TestKeyShardHomesUseEverySlot: the searches of a shard's keys start at
// even slots as well as odd ones (hashes always have their low bit set),
// and each key is found where its search starts or after it.
func TestKeyShardHomesUseEverySlot(t *testing.T) {
	kt := keyTable{seed: maphash.MakeSeed()}
	sh := newKeyShard(32)
	even, displaced := 0, 0
	for i := range 32 {
		name := fmt.Sprintf("key-%d", i)
		h, _ := kt.hash(name)
		if sh.home(h)%2 == 0 {
			even++
		}
		sh.insert(h, nil, &keyState{name: name})
		slot := sh.home(h)
		for sh.states[slot].name != name {
			slot = (slot + 1) & sh.mask
			displaced++
		}
	}
	if even == 0 {
		t.Errorf("no key of 32 starts its search at an even slot of %d: half the shard is never a home", sh.mask+1)
	}
	t.Logf("32 keys in %d slots: %d at even homes, %d probes past the home in all", sh.mask+1, even, displaced)
}

package etcd

// SetAfterRead makes the follower call fn between its read of the key and
// the start of its watch, so that a test can change the key in that window.
// Call it before Start.
func SetAfterRead(s *Source, fn func()) { s.afterRead = fn }

package faultproxy

import "errors"

// ErrClosed is returned by methods that change the proxy's state after
// Close.
var ErrClosed = errors.New("faultproxy: proxy closed")

// ErrDirection is returned when a fault is given a Direction other than
// Upstream, Downstream or Both.
var ErrDirection = errors.New("faultproxy: invalid direction")

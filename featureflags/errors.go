package featureflags

import "errors"

// ErrInvalidFlagFile is wrapped by every error that refuses a flag document
// for a structural problem: bad syntax, a missing "flags" object, a flag
// without state or variants, variants of mixed types, a defaultVariant that
// is not a variant. The whole document is refused and the previous flags
// stay in force.
var ErrInvalidFlagFile = errors.New("featureflags: invalid flag file")

// ErrDocumentTooLarge is wrapped by the error that refuses a flag document
// larger than the provider's cap ([WithMaxDocumentBytes]).
var ErrDocumentTooLarge = errors.New("featureflags: flag document too large")

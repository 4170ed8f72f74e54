package featureflags

import (
	"context"
	"time"
)

// Source delivers flag documents to a [Provider]: a file ([FileSource]), a
// key in a distributed store, or anything else that holds a document in
// flagd's flag-definition format. Whatever the source, every document goes
// through the provider's one path — decode, validate, swap atomically, report
// the change — so the provider's guarantees hold for all of them: a refused
// document keeps the previous flags in force, reloads are counted, logged and
// reported as events, and evaluation never waits on the source's I/O.
//
// A source is driven by the provider's lifecycle: Read once when the
// provider is constructed (and on [Provider.Reload]), Start when the provider
// is initialised by the OpenFeature API, Stop when it is shut down. A source
// may be started again after Stop. Its methods may be called from different
// goroutines, but the provider never calls Start and Stop concurrently.
type Source interface {
	// Name identifies the source in logs, events and errors, e.g.
	// "file /etc/sshpool/flags.json" or "etcd /sshpool/flags". It must not
	// contain credentials.
	Name() string

	// Read returns the current document, bounded by ctx and by the source's
	// own limits on size and time. An error means the document could not be
	// fetched (the provider keeps its flags and reports the failure); a
	// document that was fetched but is invalid is not Read's concern.
	Read(ctx context.Context) (Document, error)

	// Start begins following changes and returns once the source is set up
	// (an error here fails the provider's initialisation). From then until
	// Stop returns, the source hands every new document to sink.Update (or
	// asks for a fresh Read with sink.Refresh), every failed fetch to
	// sink.ReadFailed and changes of its connection state to
	// sink.SetHealth, from goroutines it owns. A source that cannot follow
	// changes may deliver nothing. ctx bounds only the setup.
	Start(ctx context.Context, sink Sink) error

	// Stop stops following changes and waits for the goroutines Start
	// started, bounded by ctx (they must still end promptly on their own).
	// After Stop returns the source calls sink no more. Stop without Start,
	// or twice, does nothing.
	Stop(ctx context.Context) error
}

// Sink receives what a [Source] observes. The provider implements it; a
// source calls it from its own goroutines. Calls are serialised by the
// provider and return once the document is in force or refused: they do
// decoding and validation (CPU only, no I/O) and never wait on evaluations.
type Sink interface {
	// Update offers a document. The provider decodes and validates it and,
	// if it is valid and differs from the document in force, swaps the
	// flags and emits PROVIDER_CONFIGURATION_CHANGED. It returns the error
	// that kept the previous flags in force (wrapping [ErrInvalidFlagFile]
	// or [ErrDocumentTooLarge]), or nil. An identical document is a no-op.
	Update(doc Document) error

	// Refresh tells the provider that the document may have changed: the
	// provider calls the source's Read and handles the result as Reload
	// does, serialised with Reload and Update so that an older read never
	// replaces a newer one. A source that learns of changes without their
	// contents (a file watcher) calls Refresh; one that receives them (a
	// watch stream) calls Update, and must then not deliver a document
	// older than one its Read has returned.
	Refresh()

	// ReadFailed reports that the source could not fetch its document (a
	// deleted or unreadable file, a failed request). The flags in force stay;
	// the failure is logged, counted and emitted as PROVIDER_ERROR once per
	// distinct error.
	ReadFailed(err error)

	// SetHealth reports the source's connection state. While a source is
	// not connected, the flags in force keep being served but may be behind
	// the source of truth: the provider reports it in its stats and emits
	// PROVIDER_STALE (evaluations go on); reconnecting emits PROVIDER_READY.
	SetHealth(h SourceHealth)
}

// Format is the syntax of a flag document.
type Format uint8

// The formats.
const (
	// FormatAuto picks the syntax from the origin's extension (".json",
	// ".yaml", ".yml"), else from the content: a document starting with '{'
	// is JSON, anything else YAML.
	FormatAuto Format = iota
	// FormatJSON is JSON.
	FormatJSON
	// FormatYAML is YAML (a single document).
	FormatYAML
)

// String returns "auto", "json" or "yaml".
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "json"
	case FormatYAML:
		return "yaml"
	}
	return "auto"
}

// Document is one flag document as a [Source] delivers it.
type Document struct {
	// Data is the document: flagd's flag-definition format, JSON or YAML.
	// The provider does not retain it (only its hash).
	Data []byte
	// Format is its syntax; FormatAuto sniffs it.
	Format Format
	// Origin names where the document came from, as error messages and
	// the linter show it ("flags.json", "etcd /sshpool/flags"). Its
	// extension, if any, selects the syntax under FormatAuto.
	Origin string
	// Version is the source's version of the document, opaque to the
	// provider and shown with it: a file's modification time, an etcd
	// revision. Empty when the source has none.
	Version string
}

// SourceHealth is a source's connection state.
type SourceHealth struct {
	// Connected is true while the source follows its document and changes
	// reach the provider. A file source is always connected.
	Connected bool
	// Detail says why the source is not connected (no secrets), or "".
	Detail string
}

// DocumentInfo describes the document whose flags are in force.
type DocumentInfo struct {
	// Origin and Version are the document's, as its source gave them.
	Origin  string `json:"origin"`
	Version string `json:"version,omitempty"`
	// SHA256 is the hex SHA-256 of the document's bytes.
	SHA256 string `json:"sha256"`
	// Size is the document's length in bytes.
	Size int `json:"size"`
	// LoadedAt is when the document was put in force.
	LoadedAt time.Time `json:"loaded_at"`
}

package otelsshpool_test

import (
	"context"
	"testing"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"
	"github.com/open-feature/go-sdk/openfeature/memprovider"
)

// openfeatureAPI returns an isolated API with an empty in-memory provider,
// shut down at the end of the test.
func openfeatureAPI(t *testing.T) *openfeature.EvaluationAPI {
	t.Helper()
	api := isolated.NewAPI()
	if err := api.SetProviderAndWait(context.Background(), memprovider.NewInMemoryProvider(nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Shutdown(context.Background()) })
	return api
}

package app

import "context"

// OpenStoreForTest opens (and migrates) the store at dsn and returns its close function.
func OpenStoreForTest(ctx context.Context, dsn string) (func() error, error) {
	_, closeFn, err := OpenStore(ctx, "", dsn, nil)
	return closeFn, err
}

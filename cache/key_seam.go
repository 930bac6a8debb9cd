package cache

import "errors"

// ErrNotFound is the metadata cache's contract (issue 9): a Loader returns
// it for a key that does not exist, and Cache.Get answers it. The cache's
// own files define it once merged; this file is removed then.
var ErrNotFound = errors.New("cache: not found")

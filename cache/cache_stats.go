package cache

// Stats counts what a Cache's lookups found since it was made. A fresh hit
// is counted on its shard's own counter (a cache line apart from anything
// else), so hits on different shards write different lines; Loads and the
// others count what is not a hit.
type Stats struct {
	Hits          int64 // Gets answered a fresh value
	StaleHits     int64 // stale values served while a refresh ran
	NegHits       int64 // keys answered ErrNotFound from the negative cache
	Rejected      int64 // keys the Bloom filter answered ErrNotFound
	Loads         int64 // loads started (misses and refreshes; not the Gets that joined them)
	Entries       int   // values held now
	NegEntries    int   // not-found answers held now
	LoadsInFlight int   // loads running now
}

// Stats returns the counts so far, summed over the shards; it locks each
// shard in turn, so it is not for a hot path.
func (c *Cache[K, V]) Stats() Stats {
	var t Stats
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		t.Hits += s.hits.Load()
		t.StaleHits += s.stats.StaleHits
		t.NegHits += s.stats.NegHits
		t.Rejected += s.reject.Load()
		t.Loads += s.stats.Loads
		t.Entries += s.lru.Len()
		t.NegEntries += s.neg.Len()
		t.LoadsInFlight += len(s.flights)
		s.mu.Unlock()
	}
	return t
}

package config

// EmbeddedName names Embedded in error messages (as Parse's file).
const EmbeddedName = "<embedded default>"

// Embedded is the main job's configuration without -config (kept here, so
// that a service's tests and examples build the same gateway): three simulated
// providers, so the gateway runs with no provider key and no network, and
// one demo virtual key, made at start and printed. sim-a and
// sim-b share tier 0; sim-b is flaky (errors with Retry-After, connection
// resets, streams cut before their first token), and the router, breakers
// and retry absorb it. sim-backup, in tier 1, serves only when tier 0
// cannot. Each sim signs its reply, so a caller sees who served it. They
// serve the chat models and the embedding models SDK users try first
// (8-dimension vectors unless a call asks for "dimensions").
//
// It is written in the configuration's own schema (README.md) and parsed by
// the same code as a file.
const Embedded = `
listen: 127.0.0.1:8080

providers:
  - name: sim-a
    type: sim
    models: [gpt-4o-mini, gpt-4.1, text-embedding-3-small, text-embedding-3-large, text-embedding-ada-002]
    sim:
      latency: 20ms
      ttft: 100ms
      tokens_per_second: 40
      reply: "Hello! This is sim-a, a simulated model behind the llmgate gateway."
      completion_tokens: 11
      seed: 1

  - name: sim-b
    type: sim
    models: [gpt-4o-mini, gpt-4.1, text-embedding-3-small, text-embedding-3-large, text-embedding-ada-002]
    sim:
      latency: 20ms
      ttft: 100ms
      tokens_per_second: 40
      reply: "Hello! This is sim-b, the flaky one; this time it worked."
      completion_tokens: 11
      seed: 2
      faults:
        error_rate: 0.2               # one call in five: 503, 500 or 429
        error_statuses: [503, 500, 429]
        retry_after: 1s               # on the 429s and 503s
        reset_rate: 0.05              # connection reset, no response
        cut_rate: 0.05                # a stream cut before its first token
        cut_after: 0

  - name: sim-backup
    type: sim
    models: [gpt-4o-mini, gpt-4.1, text-embedding-3-small, text-embedding-3-large, text-embedding-ada-002]
    sim:
      latency: 50ms
      ttft: 200ms
      tokens_per_second: 40
      reply: "Hello from sim-backup: tier 0 could not serve this call."
      completion_tokens: 10
      seed: 3

router:
  strategy: weighted_round_robin
  first_token_timeout: 10s
  budget:
    # sim-b fails far more often than a real provider: a higher floor
    # keeps fallbacks going while the budget's 20% builds up.
    min_retries: 50
  targets:
    - {provider: sim-a, weight: 1, tier: 0}
    - {provider: sim-b, weight: 1, tier: 0}
    - {provider: sim-backup, weight: 1, tier: 1}

retry:
  max_attempts: 3
  deadline: 30s

keys:
  store: memory
  demo: true          # a fresh key "demo" (tenant demo) at each start, printed with the curl lines

limits:
  # Limits to hit by hand, on gpt-4.1 only: gpt-4o-mini stays unlimited so
  # that load tests of the default run freely. Kept per key: the demo
  # key's calls (KeyID "demo") share one bucket of each.
  rules:
    - {name: gpt-4.1-rpm, dimensions: [key], models: [gpt-4.1], unit: requests, limit: 5, per: minute}
    # A call without max_tokens reserves its prompt + 4096 tokens while it
    # runs: two at once do not fit in 6000, though each settles to its
    # usage (about 20 tokens) when it ends.
    - {name: gpt-4.1-tpm, dimensions: [key], models: [gpt-4.1], unit: tokens, limit: 6000, per: minute}

timeouts:
  header: 30s
  first_token: 30s
  idle: 30s
  total: 5m
`

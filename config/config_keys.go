package config

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/health"
)

// keysConf is the keys section: virtual keys (cache.Auth) and their admin.
// Without it the gateway serves every caller.
type keysConf struct {
	// Store holds the keys: memory (the default: the keys listed under
	// memory, by digest) or postgres.
	Store string `yaml:"store"`
	// Demo adds a fresh key, id "demo", tenant "demo", to the memory
	// store at each start and prints it: for trying the gateway out.
	Demo     bool             `yaml:"demo"`
	Memory   []memoryKeyConf  `yaml:"memory"`
	Postgres *postgresKeyConf `yaml:"postgres"`
	// Redis is the metadata cache's shared level and invalidation channel.
	Redis *redisKeyConf `yaml:"redis"`
	// AdminKey, when set, mounts the admin API at /admin/keys for callers
	// that send it as Authorization: Bearer. Write it as ${VARIABLE}.
	AdminKey string `yaml:"admin_key"`
	// TrustedProxies are the addresses or prefixes whose X-Forwarded-For
	// the IP allowlists believe.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// memoryKeyConf is one key of the memory store: its secret's digest (the
// keys subcommand prints one), never the secret.
type memoryKeyConf struct {
	ID       string           `yaml:"id"`
	Digest   string           `yaml:"digest"`
	Tenant   string           `yaml:"tenant"`
	Priority int              `yaml:"priority"`
	Models   []string         `yaml:"models"`
	IPs      []string         `yaml:"ips"`
	Limits   map[string]int64 `yaml:"limits"`
	Budget   *keyBudgetConf   `yaml:"budget"`
	Status   string           `yaml:"status"` // active (default), disabled or revoked
}

// keyBudgetConf is a key's own spending cap.
type keyBudgetConf struct {
	LimitUSD float64 `yaml:"limit_usd"`
	Period   string  `yaml:"period"` // day, month, or empty for a cap that never resets
}

type postgresKeyConf struct {
	DSN    string `yaml:"dsn"`
	Schema string `yaml:"schema"` // default cache.DefaultPostgresSchema
}

type redisKeyConf struct {
	Addr   string `yaml:"addr"`
	Prefix string `yaml:"prefix"` // default cache.DefaultRedisPrefix
}

// Key stores.
const (
	storeMemory   = "memory"
	storePostgres = "postgres"
)

// minAdminKeyLen is the shortest admin key accepted.
const minAdminKeyLen = 24

// demoKeyID names the embedded default's demo key (and its tenant).
const demoKeyID = "demo"

// openStoreTimeout bounds connecting to a key store and migrating it.
const openStoreTimeout = 10 * time.Second

// keySetup is the keys section built: the middleware, the admin, the demo
// key's secret, and what to close when the server has stopped.
type keySetup struct {
	auth       gateway.Middleware
	guard      func(http.Handler) http.Handler // cache.AuthGuard: refuses before the body is read
	admin      *cache.KeyAdmin
	adminAPI   http.Handler // nil without an admin key
	store      cache.Store
	lookup     keyLookup // the metadata cache in front of the store
	demoSecret string
	memory     bool // the store is the file's (memory): the keys subcommand cannot change it
	close      []func()
	checks     []health.Check // what readiness asks: the PostgreSQL store, the Redis level
}

func (k *keySetup) Close() {
	for i := len(k.close) - 1; i >= 0; i-- {
		k.close[i]()
	}
	k.close = nil
}

// keys checks and builds the keys section; nil when there is none (or when
// c.checkOnly: it is checked, and nothing is opened). Every mistake is
// reported at its key.
func (c *checker) keys(k *keysConf) *keySetup {
	if k == nil {
		return nil
	}
	ks := &keySetup{}
	var cfg cache.AuthConfig
	for i, s := range k.TrustedProxies {
		p, err := ParsePrefix(s)
		if err != nil {
			c.fail(fmt.Sprintf("keys.trusted_proxies[%d]", i), "want an address or a prefix (10.0.0.0/8)")
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	switch k.Store {
	case "", storeMemory:
		ks.memory = true
		if k.Postgres != nil {
			c.fail("keys.postgres", "is used only with store: postgres")
		}
		ks.store = c.memoryStore(k)
	case storePostgres:
		for _, key := range []string{"memory", "demo"} {
			if c.src.has("keys." + key) {
				c.fail("keys."+key, "is used only with store: memory")
			}
		}
		ks.store = c.postgresStore(ks, k.Postgres)
	default:
		c.fail("keys.store", "unknown store %q: want memory or postgres", k.Store)
	}
	if k.Demo && ks.store != nil && ks.memory {
		ks.demoSecret = cache.NewSecret()
		now := time.Now().UTC()
		c.lib("keys.demo", ks.store.Create(context.Background(), cache.KeyMeta{ID: demoKeyID, Digest: cache.DigestOf(ks.demoSecret),
			Tenant: demoKeyID, Status: cache.StatusActive, Created: now, Updated: now}))
	}
	redisOK := true // keys.redis, when set, names an address to dial
	if k.Redis != nil {
		if k.Redis.Addr == "" {
			c.fail("keys.redis.addr", "is required (host:port)")
			redisOK = false
		} else {
			redisOK = c.hostPort("keys.redis.addr", k.Redis.Addr, "127.0.0.1:6379")
		}
	}
	if k.AdminKey != "" && len(k.AdminKey) < minAdminKeyLen {
		c.fail("keys.admin_key", "must be at least %d characters (cache.NewSecret makes one)", minAdminKeyLen)
	}
	if c.checkOnly { // what the lookup and Auth would check, with nothing opened
		c.lib("keys.trusted_proxies", cfg.Validate())
		return nil
	}
	if ks.store == nil {
		return ks
	}
	if !redisOK {
		return ks // its mistake is reported; dialing it would report it again
	}
	lookup, rdb, closeLookup, err := newKeyLookup(ks.store, k.Redis)
	if !c.lib("keys.redis", err) {
		return ks
	}
	ks.close = append(ks.close, closeLookup)
	ks.lookup = lookup
	if rdb != nil {
		ks.checks = append(ks.checks, redisCheck("keys.redis", rdb))
	}
	auth, err := cache.Auth(lookup, cfg)
	if !c.lib("keys.trusted_proxies", err) {
		return ks
	}
	ks.auth = auth
	if ks.guard, err = cache.AuthGuard(lookup, cfg); !c.lib("keys.trusted_proxies", err) {
		return ks
	}
	ks.admin = cache.NewKeyAdmin(ks.store, lookup, nil)
	if len(k.AdminKey) >= minAdminKeyLen {
		ks.adminAPI, err = ks.admin.Handler(cache.DigestOf(k.AdminKey))
		c.lib("keys.admin_key", err)
	}
	return ks
}

// memoryStore builds the memory store from the keys listed, each checked
// at its key.
func (c *checker) memoryStore(k *keysConf) cache.Store {
	var metas []cache.KeyMeta
	now := time.Now().UTC()
	for i := range k.Memory {
		mk, path := &k.Memory[i], fmt.Sprintf("keys.memory[%d]", i)
		d, err := cache.ParseDigest(mk.Digest)
		if err != nil {
			c.fail(path+".digest", "want sha256: and 64 hex digits (the keys subcommand prints it)")
		}
		m := cache.KeyMeta{ID: mk.ID, Digest: d, Tenant: mk.Tenant, Priority: mk.Priority, Models: mk.Models,
			Limits: mk.Limits, Status: cache.Status(mk.Status), Created: now, Updated: now}
		if m.Status == "" {
			m.Status = cache.StatusActive
		}
		for j, s := range mk.IPs {
			p, err := ParsePrefix(s)
			if err != nil {
				c.fail(fmt.Sprintf("%s.ips[%d]", path, j), "want an address or a prefix (203.0.113.0/24)")
				continue
			}
			m.IPs = append(m.IPs, p)
		}
		if mk.Budget != nil {
			m.Budget = gateway.Budget{Limit: int64(math.Round(mk.Budget.LimitUSD * 1e9)), Period: mk.Budget.Period}
			positive(c, path+".budget.limit_usd", mk.Budget.LimitUSD)
		}
		if d.Valid() && !c.lib(path, m.Validate()) {
			continue
		}
		metas = append(metas, m)
	}
	s, err := cache.NewMemoryStore(metas...)
	if !c.lib("keys.memory", err) { // a taken id or digest
		return nil
	}
	return s
}

// postgresStore opens the PostgreSQL store, migrating its schema.
func (c *checker) postgresStore(ks *keySetup, p *postgresKeyConf) cache.Store {
	if p == nil || p.DSN == "" {
		c.fail("keys.postgres.dsn", "is required with store: postgres")
		return nil
	}
	pc := cache.PostgresConfig{Schema: p.Schema}
	if !c.lib("keys.postgres.schema", pc.Validate()) {
		return nil
	}
	pcfg, err := pgxpool.ParseConfig(p.DSN)
	if err != nil {
		c.fail("keys.postgres.dsn", "is no PostgreSQL connection string") // its text may hold a password
		return nil
	}
	if len(c.errs) > 0 || c.checkOnly {
		return nil // no connection for a configuration that will not run, or is only checked
	}
	ctx, cancel := context.WithTimeout(context.Background(), openStoreTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		c.fail("keys.postgres.dsn", "cannot open the key store: %v", err)
		return nil
	}
	s, err := cache.NewPostgresStore(ctx, pool, pc)
	if err != nil {
		pool.Close()
		c.fail("keys.postgres", "cannot open the key store: %v", err)
		return nil
	}
	ks.close = append(ks.close, pool.Close)
	ks.checks = append(ks.checks, health.Check{Name: "keys.postgres", Fn: pool.Ping})
	return s
}

// ParsePrefix reads a prefix (10.0.0.0/8) or a lone address (one host), as
// the keys section reads its ips and trusted_proxies.
func ParsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

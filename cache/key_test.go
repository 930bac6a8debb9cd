package cache_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

func TestDigestTextForm(t *testing.T) {
	d := cache.DigestOf("sk-test")
	require.True(t, d.Valid())
	sum := sha256.Sum256([]byte("sk-test"))
	assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), d.String())
	for _, s := range []string{d.String(), strings.TrimPrefix(d.String(), "sha256:")} {
		p, err := cache.ParseDigest(s)
		require.NoError(t, err)
		assert.Equal(t, d, p)
	}
	for _, bad := range []string{"", "sha256:", "sha256:zz" + strings.Repeat("0", 62), strings.Repeat("0", 63)} {
		_, err := cache.ParseDigest(bad)
		assert.Error(t, err, bad)
	}
	// JSON (the Redis level's codec) keeps a digest whole.
	m := cache.KeyMeta{ID: "k", Digest: d, Status: cache.StatusActive, IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Budget: gateway.Budget{Limit: 1}}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var back cache.KeyMeta
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, m, back)
}

func TestNewSecretIsFreshAndPrefixed(t *testing.T) {
	a, b := cache.NewSecret(), cache.NewSecret()
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, cache.SecretPrefix))
	assert.Len(t, a, len(cache.SecretPrefix)+43)
}

func TestKeyMetaValidate(t *testing.T) {
	_, ok := newKey("k", "t")
	require.NoError(t, ok.Validate())
	bad := cache.KeyMeta{ID: "a\nb", Status: "x", Priority: 7, Models: []string{""}, IPs: []netip.Prefix{{}},
		Limits: map[string]int64{"rpm": 0}, Budget: gateway.Budget{Limit: -1, Period: "week"}}
	err := bad.Validate()
	require.Error(t, err)
	assert.Len(t, strings.Split(err.Error(), "\n"), 9, err.Error())
}

func TestKeyMetaCallerAndIPs(t *testing.T) {
	m := cache.KeyMeta{ID: "k", Tenant: "t", Priority: 1, Models: []string{"a"}, IPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	assert.Equal(t, gateway.Caller{KeyID: "k", Tenant: "t", Priority: 1, Models: []string{"a"}}, m.Caller())
	assert.True(t, m.AllowsIP(netip.MustParseAddr("192.0.2.9")))
	assert.True(t, m.AllowsIP(netip.MustParseAddr("::ffff:192.0.2.9")))
	assert.False(t, m.AllowsIP(netip.MustParseAddr("192.0.3.9")))
	assert.False(t, m.AllowsIP(netip.Addr{}))
	assert.True(t, (&cache.KeyMeta{}).AllowsIP(netip.Addr{}))
}

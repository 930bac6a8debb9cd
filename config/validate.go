package config

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/llmgate/gateway"
)

// checker collects the mistakes of a configuration, each at its key's line:
// the rules of the YAML schema itself (names, what a provider type requires,
// zero is never "off") and, mapped to the key they belong to, whatever the
// libraries' Validate methods and constructors report. The libraries' own
// rules (ranges, ratios, weights, fault rates…) are checked there only.
type checker struct {
	src     *source
	errs    []*configError
	refused map[string]bool // keys positive refused
	// usageFile is where usage records go without billing.sinks
	// (Options.UsageFile).
	usageFile string
	// checkOnly checks what needs a restart (the key store, its cache and
	// connections) without opening it: Reload's checker.
	checkOnly bool
	// obs is what the metrics and tracing sections built (observe.go):
	// the providers, targets and Meter built next are wired to it.
	obs *observe
	// clock is Options.Clock, for the breakers, the router and the health
	// checks; nil means the system clock.
	clock gateway.Clock
}

// newChecker returns a checker that starts with the mistakes found while
// reading the file.
func newChecker(src *source) *checker {
	return &checker{src: src, errs: append([]*configError(nil), src.errs...), refused: map[string]bool{}, usageFile: defaultUsageFile}
}

// fail reports a mistake at path, unless the value there, or one enclosing
// it, could not be read: that is reported already, and the zero value left
// in its place is no mistake of the user's.
func (c *checker) fail(path, format string, args ...any) {
	if c.src.isUnread(path) {
		return
	}
	c.errs = append(c.errs, c.src.errorf(path, format, args...))
}

// dropped reports whether the value at path does not reach its library: it
// could not be read, or positive refused it.
func (c *checker) dropped(path string) bool { return c.refused[path] || c.src.isUnread(path) }

// lib reports err, from a library's Validate or constructor, at path: each
// of the errors it joins (one per line) becomes a configError of its own. It
// reports whether err is nil. Library errors never hold a secret.
func (c *checker) lib(path string, err error) bool {
	if err == nil {
		return true
	}
	for msg := range strings.SplitSeq(err.Error(), "\n") {
		c.fail(path, "%s", msg)
	}
	return false
}

// err returns every mistake found, in the order of the file, or nil.
func (c *checker) err() error {
	slices.SortStableFunc(c.errs, func(a, b *configError) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, len(c.errs))
	for i, e := range c.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// positive is the schema's rule for a count, duration or share whose zero
// means the library's default: written as zero or negative, it is an error,
// never "off" or "unlimited". It returns v, or 0 for a value it refused, so
// that the library, which takes 0 for its default, does not report it again.
func positive[T int | int64 | float64 | time.Duration](c *checker, path string, v T) T {
	if c.src.has(path) && v <= 0 {
		c.fail(path, "must be positive (leave it out for the default)")
		c.refused[path] = true
		return 0
	}
	return v
}

// unpair leaves out both of two keys that a library compares with each other
// (a ≤ b) when either does not reach it: compared with the default that
// takes the dropped key's place, the other would be blamed for a mistake it
// is no part of.
func unpair[T int | time.Duration](c *checker, pathA string, a *T, pathB string, b *T) {
	if c.dropped(pathA) || c.dropped(pathB) {
		*a, *b = 0, 0
	}
}

// top checks the main job's own keys.
func (c *checker) top(cfg *File) {
	if cfg.Listen != "" {
		c.hostPort("listen", cfg.Listen, "127.0.0.1:8080")
	}
	positive(c, "shutdown_timeout", cfg.ShutdownTimeout)
	positive(c, "max_conns", cfg.MaxConns)
	if len(cfg.Providers) == 0 {
		c.fail("providers", "at least one provider is required")
	}
}

// provider checks a provider's name (required, unique among names) and what
// its type requires and accepts. It reports whether the provider can be
// built (and so checked by its library): named, of a known type, with the
// keys its type requires.
func (c *checker) provider(path string, p *providerConf, names map[string]bool) bool {
	ok := true
	switch {
	case p.Name == "":
		c.fail(path+".name", "is required")
		ok = false
	case names[p.Name]:
		c.fail(path+".name", "duplicate provider name %q", p.Name)
	}
	names[p.Name] = true
	c.anthropicKeys(path, p)
	switch p.Type {
	case typeOpenAI, typeAzure:
		if p.BaseURL == "" {
			c.fail(path+".base_url", "is required")
			ok = false
		}
		if p.Sim != nil {
			c.fail(path+".sim", "only a provider of type sim takes sim options")
		}
	case typeAnthropic: // base_url defaults to Anthropic's API
	case typeGemini:
		ok = c.geminiKeys(path, p) && ok
	case typeSim:
		for _, k := range []string{"base_url", "api_key", "headers", "azure"} {
			if c.src.has(path + "." + k) {
				c.fail(path+"."+k, "is not used by a provider of type sim")
			}
		}
	case "":
		c.fail(path+".type", "is required: openai, azure, anthropic, gemini or sim")
		ok = false
	default:
		c.fail(path+".type", "unknown type %q: want openai, azure, anthropic, gemini or sim", p.Type)
		ok = false
	}
	switch {
	case p.Type == typeAzure && (p.Azure == nil || p.Azure.APIVersion == ""):
		c.fail(path+".azure.api_version", "is required for type azure (e.g. 2024-10-21)")
		ok = false
	case p.Type == typeOpenAI && p.Azure != nil:
		c.fail(path+".azure", "only a provider of type azure takes azure options")
	}
	return ok
}

// target checks that a target names a provider of the configuration, and
// that its name (by default the provider's) is unique among names.
func (c *checker) target(path string, t *targetConf, providers, names map[string]bool) {
	switch {
	case t.Provider == "":
		c.fail(path+".provider", "is required: the name of a provider")
	case !providers[t.Provider]:
		c.fail(path+".provider", "unknown provider %q", t.Provider)
	}
	name := cmp.Or(t.Name, t.Provider)
	if name != "" && names[name] {
		c.fail(path+".name", "duplicate target name %q (give each target of one provider its own name)", name)
	}
	names[name] = true
}

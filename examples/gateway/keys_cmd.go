package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/config"
)

const keysUsage = `usage: gateway keys VERB [flags]

Manages the virtual keys of the configured key store (keys.store), through
the same rules as the admin API:

  create  -id ID -tenant T [metadata flags]   a new key; its secret is printed once
  list                                         every key, one JSON object a line
  disable ID | enable ID | revoke ID           a revoked key never comes back
  update  ID [metadata flags]                  replaces each field given

metadata flags: -priority N, -models a,b* (empty: any), -ips 10.0.0.0/8,…
(empty: anywhere), -limit name=N (repeated), -budget-usd X, -budget-period day|month
every verb takes -config FILE (without it, the embedded default).

With store: memory the keys live in the configuration file: create prints
the entry to add to keys.memory, and the other changes are made there.
`

// runKeys is the keys subcommand: 0 when done, 1 when the store refused or
// failed, 2 for a usage or configuration error.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprint(stderr, keysUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	verb, args := args[0], args[1:]
	fs := flag.NewFlagSet("gateway keys "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage) }
	cfgPath := fs.String("config", "", "YAML configuration `file`; without it, the embedded default")
	var spec keyFlags
	switch verb {
	case "create", "update":
		spec.register(fs, verb == "create")
	case "list", "disable", "enable", "revoke":
	default:
		fmt.Fprintf(stderr, "gateway keys: unknown verb %q\n", verb)
		fs.Usage()
		return 2
	}
	// The id comes first (update ID -models …) or after the flags.
	var id string
	if verb != "create" && verb != "list" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gateway keys %s: unexpected argument %q\n", verb, fs.Arg(0))
		return 2
	}
	needsID := verb != "create" && verb != "list"
	if needsID != (id != "") {
		fmt.Fprintf(stderr, "gateway keys %s: %s\n", verb, map[bool]string{true: "needs the key's id", false: "takes no id"}[needsID])
		return 2
	}
	spec.parsedIPs = spec.prefixes()
	if spec.err != nil {
		fmt.Fprintf(stderr, "gateway keys %s: %v\n", verb, spec.err)
		return 2
	}

	f, err := loadFile(*cfgPath)
	if err == nil && f.Keys == nil {
		err = errors.New("gateway keys: the configuration has no keys section")
	}
	var gw *config.Gateway
	if err == nil {
		gw, err = config.Build(f, config.Options{UsageFile: usageFile})
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer gw.Close()
	admin, inFile := gw.KeyAdmin()
	if inFile && verb != "create" && verb != "list" {
		fmt.Fprintf(stderr, "gateway keys %s: the memory store is the configuration file: change keys.memory there\n", verb)
		return 2
	}

	var m cache.KeyMeta
	switch verb {
	case "list":
		err = admin.List(ctx, func(m cache.KeyMeta) error { return printKey(stdout, m) })
	case "create":
		var secret string
		secret, m, err = admin.Create(ctx, spec.spec())
		if secret != "" {
			fmt.Fprintf(stdout, "secret: %s\n(shown once: give it to the key's user; the store keeps its digest only)\n", secret)
		}
		if err == nil && inFile {
			fmt.Fprintf(stdout, "add to keys.memory in the configuration:\n%s", memoryEntry(m))
			return 0
		}
	case "update":
		m, err = admin.Update(ctx, id, spec.patch(fs))
	default:
		m, err = admin.SetStatus(ctx, id, map[string]cache.Status{"disable": cache.StatusDisabled,
			"enable": cache.StatusActive, "revoke": cache.StatusRevoked}[verb])
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway keys %s: %v\n", verb, err)
		return 1
	}
	if verb != "list" {
		if err := printKey(stdout, m); err != nil {
			return 1
		}
	}
	return 0
}

func printKey(w io.Writer, m cache.KeyMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// memoryEntry is m as an entry of keys.memory.
func memoryEntry(m cache.KeyMeta) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  - id: %s\n    digest: %q\n    tenant: %s\n", strconv.Quote(m.ID), m.Digest.String(), strconv.Quote(m.Tenant))
	if m.Priority != 0 {
		fmt.Fprintf(&b, "    priority: %d\n", m.Priority)
	}
	if len(m.Models) > 0 {
		q := make([]string, len(m.Models))
		for i, s := range m.Models {
			q[i] = strconv.Quote(s)
		}
		fmt.Fprintf(&b, "    models: [%s]\n", strings.Join(q, ", "))
	}
	if len(m.IPs) > 0 {
		q := make([]string, len(m.IPs))
		for i, p := range m.IPs {
			q[i] = strconv.Quote(p.String())
		}
		fmt.Fprintf(&b, "    ips: [%s]\n", strings.Join(q, ", "))
	}
	if len(m.Limits) > 0 {
		var q []string
		for k, v := range m.Limits {
			q = append(q, fmt.Sprintf("%s: %d", strconv.Quote(k), v))
		}
		fmt.Fprintf(&b, "    limits: {%s}\n", strings.Join(q, ", "))
	}
	if m.Budget.Limit != 0 || m.Budget.Period != "" {
		fmt.Fprintf(&b, "    budget: {limit_usd: %s, period: %q}\n", strconv.FormatFloat(float64(m.Budget.Limit)/1e9, 'f', -1, 64), m.Budget.Period)
	}
	return b.String()
}

// keyFlags are the metadata flags of create and update.
type keyFlags struct {
	id, tenant, models, ips, period string
	priority                        int
	budgetUSD                       float64
	limits                          map[string]int64
	parsedIPs                       []netip.Prefix
	err                             error // a flag's value that could not be read
}

func (k *keyFlags) register(fs *flag.FlagSet, create bool) {
	if create {
		fs.StringVar(&k.id, "id", "", "the key's `id` (names it in logs and records)")
	}
	fs.StringVar(&k.tenant, "tenant", "", "the key's tenant")
	fs.IntVar(&k.priority, "priority", 0, "priority group: 1 core, 2 realtime, 3 batch")
	fs.StringVar(&k.models, "models", "", "models it may use, comma-separated, * at the end a prefix; empty: any")
	fs.StringVar(&k.ips, "ips", "", "addresses or prefixes it may be used from, comma-separated; empty: anywhere")
	fs.Float64Var(&k.budgetUSD, "budget-usd", 0, "its own spending cap in USD")
	fs.StringVar(&k.period, "budget-period", "", "the cap's period: day, month, or empty for none")
	fs.Func("limit", "a limit override `name=N` (repeat for more)", func(s string) error {
		name, v, ok := strings.Cut(s, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || name == "" || err != nil {
			return errors.New("want name=N")
		}
		if k.limits == nil {
			k.limits = map[string]int64{}
		}
		k.limits[name] = n
		return nil
	})
}

func split(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (k *keyFlags) prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range split(k.ips) {
		p, err := config.ParsePrefix(s)
		if err != nil {
			k.err = fmt.Errorf("-ips: %q is no address or prefix", s)
			continue
		}
		out = append(out, p)
	}
	return out
}

func (k *keyFlags) budget() gateway.Budget {
	return gateway.Budget{Limit: int64(math.Round(k.budgetUSD * 1e9)), Period: k.period}
}

func (k *keyFlags) spec() cache.KeySpec {
	return cache.KeySpec{ID: k.id, Tenant: k.tenant, Priority: k.priority, Models: split(k.models),
		IPs: k.parsedIPs, Limits: k.limits, Budget: k.budget()}
}

// patch returns the fields the flags set.
func (k *keyFlags) patch(fs *flag.FlagSet) cache.KeyPatch {
	var p cache.KeyPatch
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "tenant":
			p.Tenant = &k.tenant
		case "priority":
			p.Priority = &k.priority
		case "models":
			m := split(k.models)
			p.Models = &m
		case "ips":
			p.IPs = &k.parsedIPs
		case "limit":
			p.Limits = &k.limits
		case "budget-usd", "budget-period":
			b := k.budget()
			p.Budget = &b
		}
	})
	return p
}

package billing

import (
	"errors"
	"fmt"
	"strings"
)

// Price is what one model costs, in nano-dollars (1e-9 USD) per million
// tokens, so that a price such as $0.075 per million is an exact integer.
//
// A zero cache price means the price list did not give one, never that the
// tokens are free: cached reads and cache writes are then billed at Input,
// and one-hour writes at CacheWrite (or Input). So a list that omits the
// cache-write price bills writes at the input rate, not at zero.
type Price struct {
	Input        int64 // fresh prompt tokens
	Output       int64 // completion tokens, reasoning included
	CacheRead    int64 // prompt tokens read from the prompt cache
	CacheWrite   int64 // prompt tokens written to the cache (the default, 5-minute lifetime)
	CacheWrite1h int64 // prompt tokens written with a one-hour lifetime
	// Checked is the date (YYYY-MM-DD) the price was last checked against
	// the provider's published list; empty when unknown.
	Checked string
}

// PerM converts dollars per million tokens to a Price field: PerM(3) is
// $3.00 per million. It is for literals; loaders parse decimal text exactly.
func PerM(usd float64) int64 { return int64(usd*1e9 + 0.5) }

// Validate reports every negative field.
func (p Price) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{{"input", p.Input}, {"output", p.Output}, {"cache_read", p.CacheRead},
		{"cache_write", p.CacheWrite}, {"cache_write_1h", p.CacheWrite1h}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("billing: price %s is negative", f.name))
		}
	}
	return errors.Join(errs...)
}

// rates returns the price of each kind of token, with the fallbacks for
// missing cache prices applied.
func (p Price) rates() (in, out, read, write, write1h int64) {
	read, write = p.CacheRead, p.CacheWrite
	if read == 0 {
		read = p.Input
	}
	if write == 0 {
		write = p.Input
	}
	write1h = p.CacheWrite1h
	if write1h == 0 {
		write1h = write
	}
	return p.Input, p.Output, read, write, write1h
}

// PriceTable prices models by name, with optional overrides for one target
// (a deployment with a negotiated price, a proxy that marks up). It is
// immutable once made and safe for concurrent use.
type PriceTable struct {
	models    map[string]Price
	overrides map[targetModel]Price
}

type targetModel struct{ target, model string }

// NewPriceTable returns a table of models (model name -> price) and of
// overrides (target name -> model name -> price), or every invalid row's
// error.
func NewPriceTable(models map[string]Price, overrides map[string]map[string]Price) (*PriceTable, error) {
	t := &PriceTable{models: make(map[string]Price, len(models)), overrides: map[targetModel]Price{}}
	var errs []error
	for m, p := range models {
		if m == "" {
			errs = append(errs, errors.New("billing: a price row has no model name"))
			continue
		}
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("model %q: %w", m, err))
		}
		t.models[m] = p
	}
	for target, ms := range overrides {
		for m, p := range ms {
			if target == "" || m == "" {
				errs = append(errs, errors.New("billing: a price override needs a target and a model"))
				continue
			}
			if err := p.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("target %q model %q: %w", target, m, err))
			}
			t.overrides[targetModel{target, m}] = p
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Merge returns a table with t's rows and then other's, other's winning
// where both price a model (a user's price file over the embedded table).
func (t *PriceTable) Merge(other *PriceTable) *PriceTable {
	out := &PriceTable{models: make(map[string]Price, len(t.models)+len(other.models)), overrides: map[targetModel]Price{}}
	for _, src := range []*PriceTable{t, other} {
		for k, v := range src.models {
			out.models[k] = v
		}
		for k, v := range src.overrides {
			out.overrides[k] = v
		}
	}
	return out
}

// Len returns how many models the table prices (overrides not counted).
func (t *PriceTable) Len() int { return len(t.models) }

// Lookup returns the price of model when served by target, trying in turn:
// the target's override, a row named "target/model" (the form LiteLLM uses
// for a provider's own price, "azure/gpt-4o"), the model's row, and the
// model's row without a trailing date ("gpt-4o-2024-08-06" -> "gpt-4o",
// "claude-sonnet-4-5-20250929" -> "claude-sonnet-4-5"). No other fuzzy
// matching is done: a model the table does not know has no price (ok
// false), and its cost is unknown, never zero.
func (t *PriceTable) Lookup(target, model string) (Price, bool) {
	if t == nil || model == "" {
		return Price{}, false
	}
	if target != "" {
		if p, ok := t.overrides[targetModel{target, model}]; ok {
			return p, true
		}
		if p, ok := t.models[target+"/"+model]; ok {
			return p, true
		}
	}
	if p, ok := t.models[model]; ok {
		return p, true
	}
	if base, ok := withoutDate(model); ok {
		return t.Lookup(target, base)
	}
	return Price{}, false
}

// withoutDate strips a trailing "-YYYY-MM-DD" or "-YYYYMMDD" from a model
// name.
func withoutDate(model string) (string, bool) {
	i := strings.LastIndexByte(model, '-')
	if i <= 0 {
		return "", false
	}
	suffix := model[i+1:]
	if len(suffix) == 8 && digits(suffix) {
		return model[:i], true
	}
	// -YYYY-MM-DD: three dash-separated groups at the end.
	if len(model) > 11 && model[len(model)-11] == '-' {
		d := model[len(model)-10:]
		if d[4] == '-' && d[7] == '-' && digits(d[:4]) && digits(d[5:7]) && digits(d[8:]) {
			return model[:len(model)-11], true
		}
	}
	return "", false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

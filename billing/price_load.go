package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
)

// maxPriceFile bounds a price file read into memory (LiteLLM's full list is
// about 1.5 MB).
const maxPriceFile = 64 << 20

// LoadPrices reads a price file in either format it knows, told apart by
// its shape: LiteLLM's model_prices_and_context_window.json (an object of
// models) or pydantic's genai-prices data.json (an array of providers).
func LoadPrices(path string) (*PriceTable, error) {
	b, err := readPriceFile(path)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		return parseGenAIPrices(b)
	}
	return parseLiteLLM(b)
}

// LoadLiteLLM reads LiteLLM's model_prices_and_context_window.json format:
// an object from model name to its costs in USD per token
// (input_cost_per_token, output_cost_per_token, cache_read_input_token_cost,
// cache_creation_input_token_cost and
// cache_creation_input_token_cost_above_1hr). Rows with neither an input nor
// an output cost (images, audio, the sample_spec row) are skipped, as are
// tiered surcharges: the base rate applies. A key with a provider prefix
// ("azure/gpt-4o") is kept as it is, which Lookup reads as that target's
// price.
func LoadLiteLLM(path string) (*PriceTable, error) {
	b, err := readPriceFile(path)
	if err != nil {
		return nil, err
	}
	return parseLiteLLM(b)
}

// LoadGenAIPrices reads pydantic's genai-prices format (data.json or
// data_slim.json): an array of providers, each with models whose prices are
// in USD per million tokens (input_mtok, output_mtok, cache_read_mtok,
// cache_write_mtok). Each model is priced under its id, under
// "provider/id", and under every name its match lists with "equals". A
// tiered price is read at its base; of conditional prices, the one whose
// start_date is latest (a time-of-day price, such as an off-peak one, is
// skipped).
func LoadGenAIPrices(path string) (*PriceTable, error) {
	b, err := readPriceFile(path)
	if err != nil {
		return nil, err
	}
	return parseGenAIPrices(b)
}

func readPriceFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("billing: price file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPriceFile+1))
	if err != nil {
		return nil, fmt.Errorf("billing: price file %s: %w", path, err)
	}
	if len(b) > maxPriceFile {
		return nil, fmt.Errorf("billing: price file %s is over %d bytes", path, maxPriceFile)
	}
	return b, nil
}

type litellmRow struct {
	Input   *json.Number `json:"input_cost_per_token"`
	Output  *json.Number `json:"output_cost_per_token"`
	Read    *json.Number `json:"cache_read_input_token_cost"`
	Write   *json.Number `json:"cache_creation_input_token_cost"`
	Write1h *json.Number `json:"cache_creation_input_token_cost_above_1hr"`
}

func parseLiteLLM(b []byte) (*PriceTable, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("billing: LiteLLM price file: %w", err)
	}
	rows := make(map[string]Price, len(raw))
	var errs []error
	for model, msg := range raw {
		if model == "sample_spec" {
			continue
		}
		var r litellmRow
		d := json.NewDecoder(bytes.NewReader(msg))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			continue // not a model row (LiteLLM's file holds a few of other shapes)
		}
		if r.Input == nil && r.Output == nil {
			continue
		}
		var p Price
		for _, f := range []struct {
			dst *int64
			src *json.Number
		}{{&p.Input, r.Input}, {&p.Output, r.Output}, {&p.CacheRead, r.Read}, {&p.CacheWrite, r.Write}, {&p.CacheWrite1h, r.Write1h}} {
			if f.src == nil {
				continue
			}
			v, err := scaled(string(*f.src), 1e15) // USD per token -> nano-USD per million
			if err != nil {
				errs = append(errs, fmt.Errorf("billing: LiteLLM model %q: %w", model, err))
			}
			*f.dst = v
		}
		rows[model] = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewPriceTable(rows, nil)
}

type genaiProvider struct {
	ID     string `json:"id"`
	Models []struct {
		ID    string          `json:"id"`
		Match json.RawMessage `json:"match"`
		// Prices is an object of prices, or an array of {constraint, prices}.
		Prices json.RawMessage `json:"prices"`
	} `json:"models"`
}

type genaiPrices struct {
	Input   json.RawMessage `json:"input_mtok"`
	Output  json.RawMessage `json:"output_mtok"`
	Read    json.RawMessage `json:"cache_read_mtok"`
	Write   json.RawMessage `json:"cache_write_mtok"`
	Write1h json.RawMessage `json:"cache_write_1h_mtok"`
}

type genaiConditional struct {
	Constraint *struct {
		StartDate string `json:"start_date"`
		StartTime string `json:"start_time"`
	} `json:"constraint"`
	Prices genaiPrices `json:"prices"`
}

func parseGenAIPrices(b []byte) (*PriceTable, error) {
	var providers []genaiProvider
	if err := json.Unmarshal(b, &providers); err != nil {
		return nil, fmt.Errorf("billing: genai-prices file: %w", err)
	}
	rows := map[string]Price{}
	var errs []error
	for _, pv := range providers {
		for _, m := range pv.Models {
			gp, ok, err := genaiCurrent(m.Prices)
			if err != nil {
				errs = append(errs, fmt.Errorf("billing: genai-prices %s/%s: %w", pv.ID, m.ID, err))
				continue
			}
			if !ok {
				continue
			}
			var p Price
			for _, f := range []struct {
				dst *int64
				src json.RawMessage
			}{{&p.Input, gp.Input}, {&p.Output, gp.Output}, {&p.CacheRead, gp.Read}, {&p.CacheWrite, gp.Write}, {&p.CacheWrite1h, gp.Write1h}} {
				v, err := genaiValue(f.src)
				if err != nil {
					errs = append(errs, fmt.Errorf("billing: genai-prices %s/%s: %w", pv.ID, m.ID, err))
				}
				*f.dst = v
			}
			if p.Input == 0 && p.Output == 0 {
				continue
			}
			names := append([]string{m.ID, pv.ID + "/" + m.ID}, genaiEquals(m.Match)...)
			for _, n := range names {
				if n != "" {
					if _, dup := rows[n]; !dup || n == m.ID {
						rows[n] = p
					}
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewPriceTable(rows, nil)
}

// genaiCurrent picks the prices that apply from an object or a list of
// conditional prices.
func genaiCurrent(raw json.RawMessage) (genaiPrices, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return genaiPrices{}, false, nil
	}
	if raw[0] == '{' {
		var p genaiPrices
		err := json.Unmarshal(raw, &p)
		return p, err == nil, err
	}
	var list []genaiConditional
	if err := json.Unmarshal(raw, &list); err != nil {
		return genaiPrices{}, false, err
	}
	best, found := -1, ""
	for i, c := range list {
		date := ""
		if c.Constraint != nil {
			if c.Constraint.StartTime != "" {
				continue
			}
			date = c.Constraint.StartDate
		}
		if best < 0 || date >= found {
			best, found = i, date
		}
	}
	if best < 0 {
		return genaiPrices{}, false, nil
	}
	return list[best].Prices, true, nil
}

// genaiValue reads a price: a number, or a tiered price's base.
func genaiValue(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '{' {
		var tiered struct {
			Base json.RawMessage `json:"base"`
		}
		if err := json.Unmarshal(raw, &tiered); err != nil {
			return 0, err
		}
		return genaiValue(tiered.Base)
	}
	return scaled(string(raw), 1e9) // USD per million -> nano-USD per million
}

// genaiEquals returns the names a match clause lists with "equals", at any
// depth of its "or"s.
func genaiEquals(raw json.RawMessage) []string {
	var m struct {
		Equals string            `json:"equals"`
		Or     []json.RawMessage `json:"or"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	var out []string
	if m.Equals != "" {
		out = append(out, m.Equals)
	}
	for _, o := range m.Or {
		out = append(out, genaiEquals(o)...)
	}
	return out
}

// scaled parses a decimal number exactly and returns it times scale,
// rounded to the nearest integer: no float error reaches a price.
func scaled(s string, scale float64) (int64, error) {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	if r.Sign() < 0 {
		return 0, fmt.Errorf("negative price %s", s)
	}
	r.Mul(r, new(big.Rat).SetFloat64(scale))
	// Round half up: floor(r + 1/2).
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if !q.IsInt64() {
		return 0, fmt.Errorf("price %s out of range", s)
	}
	return q.Int64(), nil
}

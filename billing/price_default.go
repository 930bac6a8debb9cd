package billing

// The embedded price table: list prices in USD per million tokens, standard
// tier (no batch or priority discount, no long-context surcharge: a prompt
// over a model's long-context threshold, such as Gemini 2.5 Pro's 200k, is
// billed at the base rate). Each row names the date its price was checked.
//
// Sources: the providers' pricing pages as recorded by pydantic/genai-prices
// (its prices_checked date where it gives one), read on 2026-12-01.
// Anthropic's one-hour cache write is 2x input and its five-minute write
// 1.25x, per Anthropic's prompt-caching documentation. OpenAI, Google and
// DeepSeek bill no cache-write premium: their rows leave CacheWrite unset,
// so writes are billed at the input rate. DeepSeek rows are its standard
// (not off-peak) prices.
//
// Prices change: load a current list with LoadPrices and Merge it over
// DefaultPrices.
var defaultRows = map[string]Price{
	// OpenAI
	"gpt-4o":       {Input: PerM(2.50), Output: PerM(10), CacheRead: PerM(1.25), Checked: "2025-07-04"},
	"gpt-4o-mini":  {Input: PerM(0.15), Output: PerM(0.60), CacheRead: PerM(0.075), Checked: "2025-07-04"},
	"gpt-4.1":      {Input: PerM(2), Output: PerM(8), CacheRead: PerM(0.50), Checked: "2025-07-04"},
	"gpt-4.1-mini": {Input: PerM(0.40), Output: PerM(1.60), CacheRead: PerM(0.10), Checked: "2025-07-04"},
	"gpt-4.1-nano": {Input: PerM(0.10), Output: PerM(0.40), CacheRead: PerM(0.025), Checked: "2025-07-04"},
	"gpt-5":        {Input: PerM(1.25), Output: PerM(10), CacheRead: PerM(0.125), Checked: "2025-11-13"},
	"gpt-5-mini":   {Input: PerM(0.25), Output: PerM(2), CacheRead: PerM(0.025), Checked: "2025-11-13"},
	"gpt-5-nano":   {Input: PerM(0.05), Output: PerM(0.40), CacheRead: PerM(0.005), Checked: "2025-11-13"},
	"gpt-5.1":      {Input: PerM(1.25), Output: PerM(10), CacheRead: PerM(0.125), Checked: "2025-11-13"},
	"o3":           {Input: PerM(2), Output: PerM(8), CacheRead: PerM(0.50), Checked: "2025-07-04"},
	"o4-mini":      {Input: PerM(1.10), Output: PerM(4.40), CacheRead: PerM(0.275), Checked: "2025-07-04"},

	"text-embedding-3-small": {Input: PerM(0.02), Checked: "2025-07-04"},
	"text-embedding-3-large": {Input: PerM(0.13), Checked: "2025-07-04"},

	// Anthropic
	"claude-opus-4-5":   {Input: PerM(5), Output: PerM(25), CacheRead: PerM(0.50), CacheWrite: PerM(6.25), CacheWrite1h: PerM(10), Checked: "2026-12-01"},
	"claude-opus-4-1":   {Input: PerM(15), Output: PerM(75), CacheRead: PerM(1.50), CacheWrite: PerM(18.75), CacheWrite1h: PerM(30), Checked: "2026-12-01"},
	"claude-sonnet-4-5": {Input: PerM(3), Output: PerM(15), CacheRead: PerM(0.30), CacheWrite: PerM(3.75), CacheWrite1h: PerM(6), Checked: "2026-12-01"},
	"claude-sonnet-4":   {Input: PerM(3), Output: PerM(15), CacheRead: PerM(0.30), CacheWrite: PerM(3.75), CacheWrite1h: PerM(6), Checked: "2026-12-01"},
	"claude-haiku-4-5":  {Input: PerM(1), Output: PerM(5), CacheRead: PerM(0.10), CacheWrite: PerM(1.25), CacheWrite1h: PerM(2), Checked: "2026-12-01"},
	"claude-3-5-haiku":  {Input: PerM(0.80), Output: PerM(4), CacheRead: PerM(0.08), CacheWrite: PerM(1), CacheWrite1h: PerM(1.60), Checked: "2026-12-01"},

	// Google (Gemini API, prompts up to 200k tokens)
	"gemini-2.5-pro":        {Input: PerM(1.25), Output: PerM(10), CacheRead: PerM(0.31), Checked: "2026-12-01"},
	"gemini-2.5-flash":      {Input: PerM(0.30), Output: PerM(2.50), CacheRead: PerM(0.075), Checked: "2026-12-01"},
	"gemini-2.5-flash-lite": {Input: PerM(0.10), Output: PerM(0.40), CacheRead: PerM(0.025), Checked: "2026-12-01"},
	"gemini-2.0-flash":      {Input: PerM(0.10), Output: PerM(0.40), CacheRead: PerM(0.025), Checked: "2026-12-01"},

	// DeepSeek (standard hours)
	"deepseek-chat":     {Input: PerM(0.27), Output: PerM(1.10), CacheRead: PerM(0.07), Checked: "2025-07-12"},
	"deepseek-reasoner": {Input: PerM(0.55), Output: PerM(2.19), CacheRead: PerM(0.14), Checked: "2025-07-12"},
}

var defaultPrices = func() *PriceTable {
	t, err := NewPriceTable(defaultRows, nil)
	if err != nil {
		panic(err) // the embedded rows are checked by TestDefaultPricesValid
	}
	return t
}()

// DefaultPrices returns the embedded price table (see the comment on its
// rows for sources and dates). The table is shared and immutable.
func DefaultPrices() *PriceTable { return defaultPrices }

package jsonstr

import (
	"encoding/json"
	"testing"
)

// Whatever Append writes, encoding/json reads back as the same text (or,
// for invalid UTF-8, as encoding/json itself would write it).
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "gpt-4o", "a\"b\\c\n\t\x00", "héllo", "\xff\xfe", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got string
		if err := json.Unmarshal(Append(nil, s), &got); err != nil {
			t.Fatalf("Append(%q) is not a JSON string: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var w string
		_ = json.Unmarshal(want, &w)
		if got != w {
			t.Fatalf("Append(%q) reads back as %q, encoding/json as %q", s, got, w)
		}
	})
}

package billing

import (
	"bufio"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// jsonlKeys counts each key's lines in a JSONL file.
func jsonlKeys(t *testing.T, path string) map[recordKey]int {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	seen := map[recordKey]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "line %q", sc.Text())
		seen[recordKey{r.CallID, r.Attempt}]++
	}
	require.NoError(t, sc.Err())
	return seen
}

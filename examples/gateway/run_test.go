package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The replies of the embedded default's sims (config.Embedded).
var simReplies = map[string]string{
	"sim-a":      "Hello! This is sim-a, a simulated model behind the llmgate gateway.",
	"sim-b":      "Hello! This is sim-b, the flaky one; this time it worked.",
	"sim-backup": "Hello from sim-backup: tier 0 could not serve this call.",
}

func isSimReply(s string) bool {
	for _, r := range simReplies {
		if s == r {
			return true
		}
	}
	return false
}

var chatParams = openai.ChatCompletionNewParams{
	Model:    "gpt-4o-mini",
	Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello!")},
}

// The main job with no flags: the official SDK gets a chat, a stream and the
// model list from the embedded default, sim-b's faults never reach a
// caller, and cancelling the context shuts it down with status 0.
func TestRunEmbeddedDefault(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "curl -s "+g.base+"/v1/chat/completions")
	assert.Contains(t, g.stdout.String(), "curl -sN "+g.base+"/v1/chat/completions")
	assert.Contains(t, g.stdout.String(), `"model":"gpt-4o-mini","stream":true`)
	assert.Contains(t, g.stdout.String(), fmt.Sprintf("pid: %d (stop it with kill %d)", os.Getpid(), os.Getpid()), "the PID to stop, which go run hides")
	client := sdk(t, g.base, g.key)
	ctx := context.Background()

	t.Run("chat", func(t *testing.T) {
		c, err := client.Chat.Completions.New(ctx, chatParams)
		require.NoError(t, err)
		require.Len(t, c.Choices, 1)
		assert.True(t, isSimReply(c.Choices[0].Message.Content), c.Choices[0].Message.Content)
		assert.Positive(t, c.Usage.CompletionTokens)
	})

	t.Run("stream", func(t *testing.T) {
		p := chatParams
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		defer stream.Close()
		var acc openai.ChatCompletionAccumulator
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		require.NoError(t, stream.Err())
		require.Len(t, acc.Choices, 1)
		text := acc.Choices[0].Message.Content
		assert.True(t, isSimReply(text), text)
		assert.EqualValues(t, len(strings.Fields(text)), acc.Usage.CompletionTokens)
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		require.NoError(t, err)
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		assert.Equal(t, []string{"gpt-4.1", "gpt-4o-mini", "text-embedding-3-large", "text-embedding-3-small", "text-embedding-ada-002"}, ids)
	})

	t.Run("flaky sim-b never fails a call", func(t *testing.T) {
		const calls, workers = 200, 8
		ctx, cancel := context.WithTimeout(ctx, time.Minute) // a bound, should anything hang
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, calls)
		for range workers {
			wg.Go(func() {
				for range calls / workers {
					// gpt-4o-mini: the embedded default limits gpt-4.1
					// (TestRunEmbeddedDefaultLimitsGPT41).
					p := chatParams
					c, err := client.Chat.Completions.New(ctx, p)
					if err == nil && (len(c.Choices) != 1 || !isSimReply(c.Choices[0].Message.Content)) {
						err = assert.AnError
					}
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		failed := 0
		for err := range errs {
			if err != nil {
				failed++
				t.Log(err)
			}
		}
		assert.Zero(t, failed, "calls that failed")
		// The faults happened: some calls needed a second attempt.
		assert.Regexp(t, regexp.MustCompile(`attempts="sim-b:\S+ `), g.stderr.String())
	})

	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get(g.base + "/healthz")
		require.NoError(t, err)
		resp.Body.Close()
		http.DefaultClient.CloseIdleConnections()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
	})

	require.Equal(t, 0, g.stop())
	assert.Contains(t, g.stderr.String(), "gateway: stopped")
	assert.NotContains(t, g.stderr.String(), g.key, "the caller's key is never logged")
}

// A refusal is an OpenAI-style error the SDK reports as an API error.
func TestRunUnknownModel(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	client := sdk(t, g.base, g.key)
	p := chatParams
	p.Model = "no-such-model"
	_, err := client.Chat.Completions.New(context.Background(), p)
	var apiErr *openai.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
	assert.Equal(t, "model_not_found", apiErr.Code)
}

func TestRunExitStatus(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	bad := writeFile(t, "bad.yaml", "providers:\n  - name: a\n    type: openai\n")
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		stdout string
		stderr string
	}{
		{"help", []string{"-h"}, 0, "", "-config file"},
		{"unknown flag", []string{"-nope"}, 2, "", "flag provided but not defined"},
		{"extra argument", []string{"serve"}, 2, "", `unexpected argument "serve"`},
		{"check embedded", []string{"-check"}, 0, "<embedded default>: OK: 3 providers, targets [sim-a sim-b sim-backup]", ""},
		{"config error", []string{"-config", bad}, 2, "", "bad.yaml:2: providers[0].base_url: is required"},
		{"missing file", []string{"-config", bad + ".missing"}, 2, "", "cannot read the configuration"},
		{"address in use", []string{"-addr", busy.Addr().String()}, 1, "", "cannot listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := newSyncBuffer(), newSyncBuffer()
			assert.Equal(t, tc.status, run(context.Background(), tc.args, stdout, stderr), "stderr: %s", stderr)
			assert.Contains(t, stdout.String(), tc.stdout)
			assert.Contains(t, stderr.String(), tc.stderr)
		})
	}
}

// Issue 8: max_conns caps the main job's connections; one more is answered
// 503 in the OpenAI shape, not left to hold memory.
func TestRunCapsConnections(t *testing.T) {
	cfg := writeFile(t, "gateway.yaml", `
listen: 127.0.0.1:0
max_conns: 1
limits: {max_body_bytes_in_flight: 67108864}
providers:
  - {name: sim, type: sim}
`)
	g := startGateway(t, "-config", cfg)
	held, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	require.NoError(t, err)
	defer held.Close()
	_, err = held.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) // served: the one connection allowed
	require.NoError(t, err)
	r := bufio.NewReader(held)
	first, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	first.Body.Close()
	assert.Equal(t, http.StatusOK, first.StatusCode)

	over, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	require.NoError(t, err)
	defer over.Close()
	_, _ = over.Write([]byte("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, string(body), `"server_overloaded"`)
}

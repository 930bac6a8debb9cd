package gateway

import "github.com/llmgate/gateway/internal/hooks"

func init() {
	hooks.CallOnce = func(call, key any) bool { return call.(*Call).once(key) }
	hooks.NewSentinel = func(status int, typ, code, msg string) error { return newSentinel(status, typ, code, msg) }
}

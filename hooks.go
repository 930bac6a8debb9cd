package gateway

import (
	"context"
	"time"

	"github.com/llmgate/gateway/internal/hooks"
)

func init() {
	hooks.CallOnce = func(call, key any) bool { return call.(*Call).once(key) }
	hooks.IsBoundary = func(rt any) bool { _, ok := rt.(*boundary); return ok }
	hooks.NewSentinel = func(status int, typ, code, msg string) error { return newSentinel(status, typ, code, msg) }
	hooks.ErrRedirect = errRedirect
	hooks.Waited = func(call any, d time.Duration) time.Duration { return call.(*Call).wait(d) }
	hooks.SetCacheResult = func(call any, result string) { call.(*Call).setCached(result) }
	hooks.OnEnd = func(call any, fn func()) { call.(*Call).onEnd(fn) }
	hooks.SetHeader = func(call any, name, value string) { call.(*Call).setHeader(name, value) }
	hooks.OnAttempt = func(call any, fn func(context.Context, any)) { call.(*Call).onAttempt(fn) }
}

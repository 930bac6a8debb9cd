package gateway

import "net/http"

// ErrShuttingDown is the error of a call the server cut short because it is
// shutting down (503, code server_shutting_down).
//
// To tell the callers of the calls still running when a shutdown's grace
// period ends, cancel the http.Server's BaseContext with it as the cause
// (context.WithCancelCause) before closing the server: NewHandler then ends
// every stream in flight with a terminal error event carrying it (never a
// [DONE]), answers a call that has sent nothing yet with it as a 503, and
// records it as the call's Result. Any cause but a plain context.Canceled
// (the caller leaving) is reported the same way, as ErrorFor maps it.
var ErrShuttingDown = newSentinel(http.StatusServiceUnavailable, "service_unavailable", "server_shutting_down",
	"gateway: the server is shutting down")

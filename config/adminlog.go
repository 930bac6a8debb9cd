package config

import (
	"log/slog"
	"net/http"
	"time"
)

// adminLog logs one line per admin API request, the audit trail of key
// changes: method, path (which names a key by its id), status and
// duration; never a header or a body, which hold the admin key and new
// keys' secrets.
func adminLog(logger *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		logger.Info("admin", "method", r.Method, "path", r.URL.EscapedPath(), "status", sw.status,
			"dur", time.Since(start), "remote", r.RemoteAddr)
	})
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

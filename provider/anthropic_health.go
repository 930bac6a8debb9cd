package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/llmgate/gateway"
)

// HealthCheck asks Anthropic for its model list (GET /v1/models), which
// costs no tokens, with the configured key, version and headers only. It
// returns nil on a 2xx answer, an error wrapping gateway.ErrUpstream on any
// other status, or the transport's error, scrubbed as RoundTrip's are.
func (p *Anthropic) HealthCheck(ctx context.Context) error {
	u := *p.list
	h := p.hdr.Clone()
	h.Del("Content-Type")
	h.Set("Accept", "application/json")
	out := (&http.Request{Method: http.MethodGet, URL: &u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: u.Host, Header: h, Body: http.NoBody}).WithContext(ctx)
	resp, err := p.link.send(out)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return gateway.ErrUpstream.WithMessage(fmt.Sprintf("provider: %s: health check: upstream answered %d", p.Name(), resp.StatusCode))
	}
	return nil
}

package gateway

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkWithIncludeUsage measures the edit that asks a stream's upstream
// for usage, on 10 MiB bodies: one without stream_options, one whose
// stream_options lack include_usage and whose top level holds many keys
// (what once made the edit decode and re-encode the whole body).
func BenchmarkWithIncludeUsage(b *testing.B) {
	var keys strings.Builder
	for i := 0; keys.Len() < 10<<20; i++ {
		fmt.Fprintf(&keys, `,"k%07d":"v"`, i)
	}
	for _, bc := range []struct{ name, body string }{
		{"10MiB-no-options", `{"model":"m","stream":true` + keys.String() + `}`},
		{"10MiB-many-keys", `{"model":"m","stream":true,"stream_options":{"x":1}` + keys.String() + `}`},
	} {
		p, err := parseCall(OpChat, []byte(bc.body), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		o := Outbound{Model: p.Model, Body: []byte(bc.body), spans: p.spans}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(o.Body)))
			for b.Loop() {
				if _, err := o.withIncludeUsage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Package config loads the gateway's YAML configuration and builds the
// chain it describes: the same file, the same checks and the same chain as
// the main job (examples/gateway), for a service that embeds the library.
//
//	f, err := config.Load("gateway.yaml", os.LookupEnv) // schema and type errors, all at once
//	logger, closeLogs := config.NewLogger(os.Stderr, f.Logging)
//	defer closeLogs()
//	gw, err := config.Build(f, config.Options{Logger: logger}) // every other mistake, all at once
//	defer gw.Close()
//	err = gw.Start(ctx)            // opens the usage pipeline
//	mux.Handle("/", gw.Handler())  // the OpenAI API, /healthz, /readyz, /metrics, the admin API
//	...
//	gw.Stop(ctx)                   // after the server has stopped: drains the usage records
//
// Every error names the file, the line and the key ("gateway.yaml:12:
// providers[1].base_url: is required"), and none echoes a value, which may
// be a secret. README.md, "Configuration", documents every key.
//
// Gateway.Reload applies a changed file to a running gateway (what applies
// live, and what needs a restart: its documentation); Watch reloads on each
// change of the file.
//
// config depends on every library package; the root package and the
// libraries never import it.
package config

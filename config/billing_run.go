package config

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/llmgate/gateway/billing"
)

// pipelineRecorder is the Meter's Recorder: the billing section builds the
// Meter before anything is opened (-check opens nothing), and start gives
// it the Pipeline before the server accepts a call. Safe for concurrent use
// once the server runs (p is written before it starts).
type pipelineRecorder struct{ p *billing.Pipeline }

var errPipelineNotStarted = errors.New("gateway: usage pipeline not started")

// Enqueue implements billing.Recorder.
func (r *pipelineRecorder) Enqueue(rec billing.Record) error {
	if r.p == nil {
		return errPipelineNotStarted
	}
	return r.p.Enqueue(rec)
}

// openPipeline is what start opened, closed by stop in reverse order.
type openPipeline struct {
	p     *billing.Pipeline
	jsonl *billing.JSONL
	pool  *pgxpool.Pool
	gates []*gatedSink
}

// gatedSink holds a sink's writes until start has opened it, which it does
// only once NewPipeline holds the spill directory: a second instance given
// the same configuration stops at ErrDirInUse before it touches the first
// one's JSONL file (opening it cuts a torn last line) or its ledger.
type gatedSink struct {
	ready chan struct{} // closed once sink is set (nil: it could not be opened)
	sink  billing.Sink
}

func newGatedSink() *gatedSink { return &gatedSink{ready: make(chan struct{})} }

func (g *gatedSink) open(s billing.Sink) { g.sink = s; close(g.ready) }

var errSinkNotOpened = errors.New("gateway: usage sink could not be opened")

// Write implements billing.Sink.
func (g *gatedSink) Write(ctx context.Context, batch []billing.Record) error {
	select {
	case <-g.ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	if g.sink == nil {
		return errSinkNotOpened
	}
	return g.sink.Write(ctx, batch)
}

// start opens the pipeline and its sinks: first the pipeline on the spill
// directory (it replays what a previous run left there, each sink from
// where it stopped), then each sink. Call it once, before serving; stop
// undoes it.
func (b *billingParts) start(ctx context.Context) error {
	plan := b.plan
	o := &openPipeline{}
	sinks := map[string]billing.Sink{}
	var jsonlGate, pgGate *gatedSink
	if plan.jsonl != nil {
		jsonlGate = newGatedSink()
		sinks[SinkJSONL] = jsonlGate
		o.gates = append(o.gates, jsonlGate)
	}
	if plan.postgres != nil {
		pgGate = newGatedSink()
		sinks[SinkPostgres] = pgGate
		o.gates = append(o.gates, pgGate)
	}
	cfg := plan.pipeline
	cfg.Sinks = sinks
	p, err := billing.NewPipeline(cfg)
	if errors.Is(err, billing.ErrDirInUse) {
		return fmt.Errorf("gateway: billing.spill_dir %s is in use by another gateway: two instances cannot share a write-ahead log, give each its own billing.spill_dir", cfg.Dir)
	}
	if err != nil {
		return fmt.Errorf("gateway: cannot open the usage pipeline in %s: %w", cfg.Dir, err)
	}
	o.p = p
	b.open = o
	if plan.jsonl != nil {
		j, err := billing.NewJSONL(*plan.jsonl)
		if err != nil {
			return b.abortStart(fmt.Errorf("gateway: cannot open the usage file: %w", err))
		}
		o.jsonl = j
		jsonlGate.open(j)
	}
	if pp := plan.postgres; pp != nil {
		octx, cancel := context.WithTimeout(ctx, openStoreTimeout)
		defer cancel()
		pool, err := pgxpool.NewWithConfig(octx, pp.pool)
		if err != nil {
			return b.abortStart(fmt.Errorf("gateway: cannot open the usage ledger: %w", err))
		}
		o.pool = pool
		ledger, err := billing.NewPostgres(octx, pool, pp.cfg)
		if err != nil {
			return b.abortStart(fmt.Errorf("gateway: cannot open the usage ledger: %w", err))
		}
		pgGate.open(ledger)
	}
	b.rec.p = p
	return nil
}

// abortStart stops what start opened, at once: whatever the log holds stays
// there for the next start.
func (b *billingParts) abortStart(err error) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, g := range b.open.gates {
		if g.sink == nil {
			close(g.ready)
		}
	}
	_ = b.stop(ctx, nil)
	return err
}

// stop drains the pipeline until ctx ends, then closes the sinks. What is
// not delivered when ctx ends stays in the spill directory, replayed by the
// next start; stop says so in the log. A call still open (one the server's
// shutdown gave up on) is waited for first, for at most half of ctx's time,
// so that the drain keeps the rest. Call it after the server has stopped;
// later calls only retry the budget settlements still pending.
func (b *billingParts) stop(ctx context.Context, logger *slog.Logger) error {
	if b == nil {
		return nil
	}
	if b.meter != nil {
		if b.open != nil {
			// A call still in flight makes its records when it ends:
			// before the pipeline closes, or they would be refused.
			wctx, cancel := halfOf(ctx)
			err := b.meter.Wait(wctx)
			cancel()
			if err != nil && logger != nil {
				logger.Warn("gateway: calls still open at the shutdown; their usage records are refused", "error", err)
			}
		}
		// Budget settlements the store failed (Redis down) live in memory
		// only: one last try before the process exits.
		if err := b.meter.SettlePending(ctx); err != nil && logger != nil {
			logger.Warn("gateway: budget spend not stored before the shutdown; those holds expire without it", "error", err)
		}
	}
	if b.open == nil {
		return nil
	}
	o := b.open
	b.open = nil
	err := o.p.Close(ctx)
	if logger != nil {
		st := o.p.Stats()
		if err != nil {
			logger.Warn("gateway: usage records not all delivered before the shutdown timeout; the rest stays in the write-ahead log and is delivered at the next start",
				"spill_dir", b.plan.pipeline.Dir, "error", err)
		} else {
			level := slog.LevelInfo
			if st.Dropped > 0 {
				level = slog.LevelWarn // each was refused with an error and counted
			}
			logger.Log(context.Background(), level, "gateway: usage records drained", "logged", st.Logged, "spilled", st.Spilled, "dropped", st.Dropped)
		}
	}
	if o.jsonl != nil {
		err = errors.Join(err, o.jsonl.Close())
	}
	if o.pool != nil {
		o.pool.Close()
	}
	return err
}

// Close stops the pipeline if stop has not (the server never served) and
// releases the budgets' Redis client.
func (b *billingParts) Close() {
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultShutdownTimeout)
	defer cancel()
	_ = b.stop(ctx, nil)
	if b.redis != nil {
		_ = b.redis.Close()
	}
}

// printUsagePath tells where the usage records go: the JSONL file, the
// ledger table, and the write-ahead log that the next start replays.
func printUsagePath(w io.Writer, b *billingParts) {
	if b == nil {
		return
	}
	if b.plan.jsonl != nil {
		fmt.Fprintf(w, "usage records: %s\n", absPath(b.plan.jsonl.Path))
	}
	if b.plan.postgres != nil {
		fmt.Fprintf(w, "usage ledger: postgres table %s\n", b.plan.postgres.table)
	}
	fmt.Fprintf(w, "usage write-ahead log: %s (replayed at start)\n", absPath(b.plan.pipeline.Dir))
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// halfOf returns a context that ends with ctx or when half of the time ctx
// has left has passed (with ctx, when it has no deadline).
func halfOf(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, time.Now().Add(time.Until(d)/2))
	}
	return context.WithCancel(ctx)
}

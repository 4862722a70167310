// Package ingest is the write path between the OTLP receivers and the task store:
// a bounded queue drained by two writers that commit many requests in one
// transaction (group commit). A request is answered only after its batch is
// durable, and a full queue is answered at once with an overload error instead of
// growing memory.
package ingest

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/day2ops/day2"
)

// Options configure a Pipeline. Zero values take the defaults.
type Options struct {
	// MaxQueuedItems bounds the spans and log records waiting to be committed;
	// past it Submit fails with day2.EOverloaded. Default 50,000.
	MaxQueuedItems int
	// MaxCommitItems bounds the spans and log records committed in one
	// transaction. Default 20,000.
	MaxCommitItems int
	// CommitTimeout bounds one commit. Default 30s.
	CommitTimeout time.Duration
	// Linger is how long the writer waits for more requests when fewer than
	// LingerItems are queued, so that concurrent exporters share one commit (one
	// fsync, one update of each rollup row). Default 5ms; negative disables.
	Linger      time.Duration
	LingerItems int
	Logger      *slog.Logger
	// Registerer receives the pipeline's metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.MaxQueuedItems <= 0 {
		o.MaxQueuedItems = 50_000
	}
	if o.MaxCommitItems <= 0 {
		o.MaxCommitItems = 20_000
	}
	if o.CommitTimeout <= 0 {
		o.CommitTimeout = 30 * time.Second
	}
	if o.Linger == 0 {
		o.Linger = 10 * time.Millisecond
	}
	if o.LingerItems <= 0 {
		o.LingerItems = 8000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

type request struct {
	batch []day2.TaskData
	items int
	done  chan error
}

// Pipeline is the bounded, group-committing ingest queue. It implements the
// otlp.Sink interface.
type Pipeline struct {
	store   day2.TaskStore
	opts    Options
	queue   chan *request
	queued  atomic.Int64
	closing atomic.Bool
	once    sync.Once
	quit    chan struct{} // closed by Close
	stopped chan struct{}

	mQueued     prometheus.GaugeFunc
	mCommits    prometheus.Counter
	mCommitErrs prometheus.Counter
	mCommitDur  prometheus.Histogram
	mOverloaded prometheus.Counter
	mStored     *prometheus.CounterVec
	mDuplicates *prometheus.CounterVec
	mTasks      *prometheus.CounterVec
}

// New returns a pipeline writing to store. Call Run to start the writer.
func New(store day2.TaskStore, opts Options) *Pipeline {
	opts.setDefaults()
	p := &Pipeline{
		store:   store,
		opts:    opts,
		queue:   make(chan *request, 1024),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	p.mQueued = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "day2_ingest_queued_items",
		Help: "Spans and log records accepted by a receiver and waiting to be committed.",
	}, func() float64 { return float64(p.queued.Load()) })
	p.mCommits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "day2_ingest_commits_total", Help: "Group commits of ingested telemetry to the store."})
	p.mCommitErrs = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "day2_ingest_commit_errors_total", Help: "Group commits that failed; their requests were answered 503."})
	p.mCommitDur = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "day2_ingest_commit_duration_seconds", Help: "Time to commit one group of ingested telemetry durably.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	p.mOverloaded = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "day2_ingest_overloaded_total", Help: "Requests refused because the ingest queue was full (answered 429 or gRPC UNAVAILABLE)."})
	p.mStored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "day2_ingest_stored_total", Help: "Spans and log records stored for the first time."}, []string{"signal"})
	p.mDuplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "day2_ingest_duplicates_total", Help: "Spans and log records received again (exporter retries) and not counted twice."}, []string{"signal"})
	p.mTasks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "day2_ingest_task_writes_total", Help: "Task rows written by ingest, by whether the task was new."}, []string{"kind"})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(p.mQueued, p.mCommits, p.mCommitErrs, p.mCommitDur, p.mOverloaded, p.mStored, p.mDuplicates, p.mTasks)
	}
	return p
}

// Accepting reports whether Submit currently takes new batches: the pipeline is
// running and its queue is not full.
func (p *Pipeline) Accepting() bool {
	return !p.closing.Load() && p.queued.Load() < int64(p.opts.MaxQueuedItems)
}

// Submit queues batch and waits until it is committed. It fails at once with a
// day2.EOverloaded error when the queue is full and with day2.EUnavailable once
// the pipeline is closing. If ctx ends first the batch may still be committed;
// redelivery is harmless because ingest is idempotent.
func (p *Pipeline) Submit(ctx context.Context, batch []day2.TaskData) error {
	items := 0
	for i := range batch {
		items += len(batch[i].Spans) + len(batch[i].Logs)
	}
	if items == 0 {
		return nil
	}
	if p.closing.Load() {
		return day2.Errorf(day2.EUnavailable, "day2 is shutting down; retry against another replica or after restart")
	}
	// Reserve room. A single request larger than the whole queue is let in when
	// the queue is empty, since its size is already bounded by the body limit.
	for {
		cur := p.queued.Load()
		if cur > 0 && cur+int64(items) > int64(p.opts.MaxQueuedItems) {
			p.mOverloaded.Inc()
			return day2.Errorf(day2.EOverloaded, "ingest queue is full (%d items waiting, limit %d); retry after the Retry-After delay", cur, p.opts.MaxQueuedItems)
		}
		if p.queued.CompareAndSwap(cur, cur+int64(items)) {
			break
		}
	}
	req := &request{batch: batch, items: items, done: make(chan error, 1)}
	select {
	case p.queue <- req:
	default:
		p.queued.Add(-int64(items))
		p.mOverloaded.Inc()
		return day2.Errorf(day2.EOverloaded, "ingest queue is full (%d requests waiting); retry after the Retry-After delay", cap(p.queue))
	}
	select {
	case err := <-req.done:
		return err
	case <-p.stopped:
		select {
		case err := <-req.done:
			return err
		default:
			return day2.Errorf(day2.EUnavailable, "day2 is shutting down; retry against another replica or after restart")
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// committers is the number of goroutines draining the queue. With two, one
// gathers and prepares the next group (decoding, merging and encoding tasks,
// which needs no lock in the store) while the other holds the store's write
// lock; the store serializes the writes themselves.
const committers = 2

// Run drains the queue until ctx ends or Close is called, then commits what is
// still queued and returns.
func (p *Pipeline) Run(ctx context.Context) error {
	defer close(p.stopped)
	var wg sync.WaitGroup
	for range committers {
		wg.Go(func() { p.runCommitter(ctx) })
	}
	wg.Wait()
	return nil
}

func (p *Pipeline) runCommitter(ctx context.Context) {
	for {
		select {
		case req := <-p.queue:
			p.commitFrom(req)
		case <-ctx.Done():
			p.closing.Store(true)
			p.drain()
			return
		case <-p.quit:
			p.drain()
			return
		}
	}
}

// Close stops accepting batches and waits for the writers to commit what is
// queued.
func (p *Pipeline) Close(ctx context.Context) {
	p.once.Do(func() {
		p.closing.Store(true)
		close(p.quit)
	})
	select {
	case <-p.stopped:
	case <-ctx.Done():
	}
}

func (p *Pipeline) drain() {
	for {
		select {
		case req := <-p.queue:
			p.commitFrom(req)
		default:
			return
		}
	}
}

// commitFrom commits first together with whatever else is already queued, up to
// MaxCommitItems: the group commit that makes one fsync serve many requests.
func (p *Pipeline) commitFrom(first *request) {
	reqs := []*request{first}
	items := first.items
	var linger <-chan time.Time
	if p.opts.Linger > 0 && items < p.opts.LingerItems && !p.closing.Load() {
		t := time.NewTimer(p.opts.Linger)
		defer t.Stop()
		linger = t.C
	}
	for items < p.opts.MaxCommitItems {
		select {
		case r := <-p.queue:
			reqs = append(reqs, r)
			items += r.items
			continue
		default:
		}
		if linger == nil || items >= p.opts.LingerItems {
			break
		}
		select {
		case r := <-p.queue:
			reqs = append(reqs, r)
			items += r.items
			continue
		case <-linger:
		}
		break
	}
	var batch []day2.TaskData
	if len(reqs) == 1 {
		batch = first.batch
	} else {
		for _, r := range reqs {
			batch = append(batch, r.batch...)
		}
	}
	err := p.commit(batch) // Submit queues no empty request
	for _, r := range reqs {
		p.queued.Add(-int64(r.items))
		r.done <- err
	}
}

func (p *Pipeline) commit(batch []day2.TaskData) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.CommitTimeout)
	defer cancel()
	start := time.Now()
	res, err := p.store.CommitTasks(ctx, batch)
	p.mCommitDur.Observe(time.Since(start).Seconds())
	if err != nil {
		p.mCommitErrs.Inc()
		p.opts.Logger.Error("ingest commit failed", "err", err, "tasks", len(batch))
		return &day2.Error{Code: day2.EUnavailable, Message: "day2 could not store the batch; retry later", Err: err}
	}
	p.mCommits.Inc()
	p.mStored.WithLabelValues("spans").Add(float64(res.Spans))
	p.mStored.WithLabelValues("logs").Add(float64(res.Logs))
	p.mDuplicates.WithLabelValues("spans").Add(float64(res.DuplicateSpans))
	p.mDuplicates.WithLabelValues("logs").Add(float64(res.DuplicateLogs))
	p.mTasks.WithLabelValues("created").Add(float64(res.TasksCreated))
	p.mTasks.WithLabelValues("updated").Add(float64(res.TasksUpdated))
	return nil
}

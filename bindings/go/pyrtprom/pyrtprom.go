// Package pyrtprom exports a pyrt runtime's call statistics ([pyrt.Stats]) as
// Prometheus metrics, with the official client library. It is a module of its
// own so that the pyrt package keeps no dependencies.
//
//	prometheus.MustRegister(pyrtprom.NewCollector(rt, pyrtprom.Process()))
//	http.Handle("/metrics", promhttp.Handler())
//
// Metrics (prefix pyrt_): calls_started_total, calls_finished_total,
// calls_failed_total, calls_in_flight, exceptions_total{type},
// call_duration_seconds (a histogram, 1 µs to 10 s), wait_seconds_total,
// run_seconds_total, objects, host_callbacks_total, interrupts_total,
// timeouts_total, worker_calls_total; each with the constant labels given
// (none by default).
package pyrtprom

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

// Collector implements [prometheus.Collector] for one runtime's (or, with
// [Process], the whole process's) statistics, read at each scrape.
type Collector struct {
	rt      *pyrt.Runtime
	process bool
	timeout time.Duration
	descs   map[string]*prometheus.Desc
}

// Option configures a [Collector].
type Option func(*Collector, *prometheus.Labels)

// Process reports the whole process's statistics (every runtime, freed ones
// included) instead of the runtime's own.
func Process() Option { return func(c *Collector, _ *prometheus.Labels) { c.process = true } }

// Labels adds constant labels to every metric (for example the runtime's name).
func Labels(l prometheus.Labels) Option {
	return func(_ *Collector, dst *prometheus.Labels) {
		for k, v := range l {
			(*dst)[k] = v
		}
	}
}

// NewCollector makes a collector of rt's statistics.
func NewCollector(rt *pyrt.Runtime, opts ...Option) *Collector {
	c := &Collector{rt: rt, timeout: 5 * time.Second}
	labels := prometheus.Labels{}
	for _, o := range opts {
		o(c, &labels)
	}
	d := func(name, help string, variable ...string) *prometheus.Desc {
		return prometheus.NewDesc("pyrt_"+name, help, variable, labels)
	}
	c.descs = map[string]*prometheus.Desc{
		"started":   d("calls_started_total", "Calls that reached Python."),
		"finished":  d("calls_finished_total", "Calls that returned."),
		"failed":    d("calls_failed_total", "Calls that returned an error."),
		"inflight":  d("calls_in_flight", "Calls started and not finished."),
		"exc":       d("exceptions_total", "Python exceptions raised out of calls, by type (at most 64 types; the rest as \"other\").", "type"),
		"duration":  d("call_duration_seconds", "Call latency from admission to return (fast calls sampled one in 64, weighted)."),
		"wait":      d("wait_seconds_total", "Time calls waited to enter Python (GIL, main-thread hop, worker)."),
		"run":       d("run_seconds_total", "Time calls ran Python."),
		"objects":   d("objects", "Live object handles."),
		"host":      d("host_callbacks_total", "Host functions called from Python."),
		"interrupt": d("interrupts_total", "Calls ended by an interrupt (a cancelled context)."),
		"timeout":   d("timeouts_total", "Calls ended by their runtime's call timeout."),
		"worker":    d("worker_calls_total", "Calls run in worker sub-interpreters."),
	}
	return c
}

// Describe sends the descriptors of every metric.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the statistics and sends them (nothing when the runtime is
// closed: a scrape never fails because of it).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var s pyrt.Stats
	var err error
	if c.process {
		s, err = c.rt.ProcessStats(ctx)
	} else {
		s, err = c.rt.Stats(ctx)
	}
	if err != nil {
		return
	}
	counter := func(k string, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.CounterValue, v, labels...)
	}
	gauge := func(k string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[k], prometheus.GaugeValue, v)
	}
	counter("started", float64(s.CallsStarted))
	counter("finished", float64(s.CallsFinished))
	counter("failed", float64(s.CallsFailed))
	gauge("inflight", float64(s.CallsInFlight))
	for t, n := range s.Exceptions {
		counter("exc", float64(n), t)
	}
	if s.ExceptionsOther > 0 {
		counter("exc", float64(s.ExceptionsOther), "other")
	}
	buckets := make(map[float64]uint64, len(s.LatencyBounds))
	var cum uint64
	for i, b := range s.LatencyBounds {
		if i < len(s.LatencyBuckets) {
			cum += s.LatencyBuckets[i]
		}
		buckets[b] = cum
	}
	ch <- prometheus.MustNewConstHistogram(c.descs["duration"], s.LatencyCount, s.LatencySumSeconds, buckets)
	counter("wait", s.WaitSeconds)
	counter("run", s.RunSeconds)
	gauge("objects", float64(s.Objects))
	counter("host", float64(s.HostCallbacks))
	counter("interrupt", float64(s.Interrupts))
	counter("timeout", float64(s.Timeouts))
	counter("worker", float64(s.WorkerCalls))
}

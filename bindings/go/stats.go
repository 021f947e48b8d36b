package pyrt

import (
	"context"
	"runtime"
)

// Stats are a runtime's call statistics ([Runtime.Stats]) or the whole
// process's ([Runtime.ProcessStats]), as pyrt_stats_json reports them.
//
// Counts are exact. The latency figures are estimates: a thread whose calls
// take under 50 µs times one call in 64, each timed call standing for the
// untimed ones before it (so LatencyCount trails CallsFinished by at most
// those); slower calls are all timed. Counting costs no lock per call and can
// be turned off with [WithStats](false).
type Stats struct {
	// Scope is "runtime" or "process".
	Scope string `json:"scope"`
	// Enabled reports whether calls are counted ([WithStats]).
	Enabled bool `json:"enabled"`
	// CallsStarted counts calls that reached Python; CallsFinished those that
	// returned, CallsFailed those that returned an error (Python exceptions,
	// interrupts, timeouts).
	CallsStarted  uint64 `json:"calls_started"`
	CallsFinished uint64 `json:"calls_finished"`
	CallsFailed   uint64 `json:"calls_failed"`
	// CallsInFlight are started and not finished (calls on objects through
	// the typed fast path count from their end only).
	CallsInFlight uint64 `json:"calls_in_flight"`
	// Exceptions counts Python exceptions by type name ("ValueError",
	// "json.decoder.JSONDecodeError"): at most 64 types, the rest in
	// ExceptionsOther. Interrupts and timeouts are not counted here.
	Exceptions      map[string]uint64 `json:"exceptions"`
	ExceptionsOther uint64            `json:"exceptions_other"`
	// LatencyBounds are the upper bounds, in seconds, of the call latency
	// histogram's buckets (1e-6 to 10); LatencyBuckets has one more entry
	// (+Inf) and is not cumulative. Latency runs from admission to return.
	LatencyBounds     []float64 `json:"latency_bounds_seconds"`
	LatencyBuckets    []uint64  `json:"latency_buckets"`
	LatencyCount      uint64    `json:"latency_count"`
	LatencySumSeconds float64   `json:"latency_sum_seconds"`
	// WaitSeconds is the time calls waited to enter Python (the GIL, a hop to
	// the main thread or a worker); RunSeconds the time they ran Python.
	WaitSeconds float64 `json:"wait_seconds"`
	RunSeconds  float64 `json:"run_seconds"`
	// Objects is the number of live object handles.
	Objects uint64 `json:"objects"`
	// HostCallbacks counts calls of host functions ([Runtime.Register]) from
	// Python.
	HostCallbacks uint64 `json:"host_callbacks"`
	// Interrupts and Timeouts count calls that ended so (a cancelled context,
	// [WithCallTimeout]).
	Interrupts uint64 `json:"interrupts"`
	Timeouts   uint64 `json:"timeouts"`
	// WorkerCalls counts calls run in worker sub-interpreters; Workers is the
	// runtime's worker count (0 for the process).
	WorkerCalls uint64 `json:"worker_calls"`
	Workers     uint64 `json:"workers"`
}

// Stats reports this runtime's call statistics.
func (r *Runtime) Stats(ctx context.Context) (Stats, error) {
	if err := r.enter(ctx); err != nil {
		return Stats{}, err
	}
	return r.statsOf(r.handle)
}

// ProcessStats reports the call statistics of the whole process: every
// runtime, freed ones included.
func (r *Runtime) ProcessStats(ctx context.Context) (Stats, error) {
	if err := r.enter(ctx); err != nil {
		return Stats{}, err
	}
	return r.statsOf(0)
}

func (r *Runtime) statsOf(handle uintptr) (Stats, error) {
	var s Stats
	f := getFrame()
	defer putFrame(f)
	st := r.lib.pyrt_stats_json(handle, f.outArg(), f.errArg())
	runtime.KeepAlive(r)
	if st != 0 {
		return s, r.lib.takeError(st, f.errp())
	}
	err := r.takeResult(f, func(data []byte) error { return decodeInto(data, &s) })
	return s, err
}

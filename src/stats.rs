//! Call statistics (`pyrt_stats_json`): per runtime handle and process-wide.
//!
//! The hot path takes no lock and issues no locked instruction: every (thread, runtime handle)
//! pair counts into its own [`Shard`], written by that thread only (a relaxed load and store per
//! counter), and a reader sums the shards. A shard is found through a small thread-local cache
//! (the last handles the thread used); the first call of a thread through a handle registers a
//! new shard under the handle's lock.
//!
//! Timing a call costs three clock reads (the time stamp counter on x86-64), which on a fast call
//! is several per cent of its cost, so a thread times every call while its calls are slow (at
//! least [`SLOW_NS`]) and one call in [`SAMPLE_EVERY`] while they are fast; a timed call stands
//! for the untimed ones before it (its weight), so the histogram's count still equals the calls
//! timed or skipped and its sums are estimates of the totals. The counts are exact.
//!
//! Python exceptions are counted by type in a small map per handle (at most [`MAX_TYPES`] types,
//! the rest under "other"), taken under a lock: a failed call is not the fast path.
//!
//! A handle's counts outlive it in the process-wide figures (folded in when it is freed). Calls
//! still running while their handle is freed may go uncounted.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Upper bounds of the latency histogram's buckets, in nanoseconds (Prometheus style: 1 µs to
/// 10 s, then +Inf).
pub const BOUNDS_NS: [u64; 22] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];
/// Buckets: one per bound and +Inf.
const BUCKETS: usize = BOUNDS_NS.len() + 1;
/// At most this many exception types are counted by name; the rest count as "other".
pub const MAX_TYPES: usize = 64;
/// A thread whose last timed call was faster than this times one call in [`SAMPLE_EVERY`].
pub const SLOW_NS: u64 = 50_000;
pub const SAMPLE_EVERY: u32 = 64;

// Counter indexes in a shard.
const STARTED: usize = 0;
const FINISHED: usize = 1;
const FAILED: usize = 2;
const WAIT: usize = 3; // clock ticks
const RUN: usize = 4; // clock ticks
const TIMED: usize = 5; // weighted: the histogram's count
const HOST: usize = 6;
const INTERRUPTS: usize = 7;
const TIMEOUTS: usize = 8;
const WORKER_CALLS: usize = 9;
const PENDING: usize = 10; // untimed calls a later timed one stands for (not reported)
const BUCKET0: usize = 11;
const N: usize = BUCKET0 + BUCKETS;

/// Whether calls are counted (config key "stats", fixed by the first `pyrt_new`).
static ENABLED: AtomicBool = AtomicBool::new(true);

pub fn set_enabled(on: bool) {
    ENABLED.store(on, Relaxed);
}

#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Relaxed)
}

/// One (thread, handle) pair's counters: written by its thread only.
struct Shard {
    c: [AtomicU64; N],
    /// Its thread has exited: a reader may fold it into the handle's retired counts.
    dead: AtomicBool,
}

impl Shard {
    fn new() -> Shard {
        Shard { c: [const { AtomicU64::new(0) }; N], dead: AtomicBool::new(false) }
    }

    /// Adds `n` to counter `i` (single writer: no locked instruction).
    #[inline]
    fn add(&self, i: usize, n: u64) {
        let c = &self.c[i];
        c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
    }
}

/// Exception counts by type name, bounded.
#[derive(Default, Clone)]
struct Exceptions {
    by_type: Vec<(String, u64)>,
    other: u64,
}

impl Exceptions {
    fn add(&mut self, name: &str, n: u64) {
        if let Some(e) = self.by_type.iter_mut().find(|(t, _)| t == name) {
            e.1 += n;
        } else if self.by_type.len() < MAX_TYPES {
            self.by_type.push((name.to_owned(), n));
        } else {
            self.other += n;
        }
    }
}

/// One handle's statistics (or the rest: freed handles and calls through no handle).
struct HandleStats {
    shards: Mutex<Vec<Arc<Shard>>>,
    /// Counts of shards whose thread exited, and of freed handles (for the rest).
    retired: [AtomicU64; N],
    exceptions: Mutex<Exceptions>,
}

impl HandleStats {
    const fn new() -> HandleStats {
        HandleStats {
            shards: Mutex::new(Vec::new()),
            retired: [const { AtomicU64::new(0) }; N],
            exceptions: Mutex::new(Exceptions { by_type: Vec::new(), other: 0 }),
        }
    }

    fn totals(&self) -> [u64; N] {
        let mut shards = self.shards.lock().unwrap_or_else(|p| p.into_inner());
        // Shards of exited threads are written no more: fold them in.
        shards.retain(|s| {
            if !s.dead.load(std::sync::atomic::Ordering::Acquire) {
                return true;
            }
            for (r, c) in self.retired.iter().zip(&s.c) {
                r.fetch_add(c.load(Relaxed), Relaxed);
            }
            false
        });
        let mut t: [u64; N] = std::array::from_fn(|i| self.retired[i].load(Relaxed));
        for s in shards.iter() {
            for (t, c) in t.iter_mut().zip(&s.c) {
                *t = t.wrapping_add(c.load(Relaxed));
            }
        }
        t
    }
}

/// Open handles' statistics, by token.
static OPEN: Mutex<Vec<(u64, Arc<HandleStats>)>> = Mutex::new(Vec::new());
/// Freed handles and calls through no handle.
static REST: HandleStats = HandleStats::new();

/// Starts counting for a new handle.
pub fn open(token: u64) {
    OPEN.lock().unwrap_or_else(|p| p.into_inner()).push((token, Arc::new(HandleStats::new())));
}

/// A freed handle's counts move to the process-wide rest.
pub fn close(token: u64) {
    let removed = {
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        open.iter().position(|(t, _)| *t == token).map(|i| open.swap_remove(i).1)
    };
    let Some(h) = removed else { return };
    for (r, t) in REST.retired.iter().zip(h.totals()) {
        r.fetch_add(t, Relaxed);
    }
    let ex = h.exceptions.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut rest = REST.exceptions.lock().unwrap_or_else(|p| p.into_inner());
    for (name, n) in &ex.by_type {
        rest.add(name, *n);
    }
    rest.other += ex.other;
}

fn stats_of(token: u64) -> Option<Arc<HandleStats>> {
    OPEN.lock().unwrap_or_else(|p| p.into_inner()).iter().find(|(t, _)| *t == token).map(|(_, h)| h.clone())
}

/// A thread's shards (most recently used first).
struct Local {
    shards: Vec<(u64, Arc<Shard>)>,
}

impl Drop for Local {
    fn drop(&mut self) {
        LAST.set((0, std::ptr::null()));
        for (_, s) in &self.shards {
            s.dead.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Shards kept per thread (a thread using more handles looks the others up again).
const LOCAL_SHARDS: usize = 8;

thread_local! {
    static LOCAL: RefCell<Local> = const { RefCell::new(Local { shards: Vec::new() }) };
    /// `LOCAL`'s first entry as (token, shard), or (0, null). Neither this nor [`COUNTDOWN`] has
    /// a destructor, so the hot path reads them without the lazy registration `LOCAL` needs:
    /// that check and its `RefCell` were most of what counting cost a fast call.
    static LAST: Cell<(u64, *const Shard)> = const { Cell::new((0, std::ptr::null())) };
    /// Calls this thread makes before it times one (0 or 1: the next one is timed).
    static COUNTDOWN: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` on the calling thread's shard for `token` (nothing during thread exit).
#[inline]
fn with_shard(token: u64, f: impl FnOnce(&Shard)) {
    let (last, shard) = LAST.get();
    if last == token && !shard.is_null() {
        // SAFETY: a non-null `LAST` points into the `Arc<Shard>` at the front of this thread's
        // `Local`, which keeps it alive: `LAST` is rewritten whenever that front entry changes
        // and cleared when `Local` drops.
        return f(unsafe { &*shard });
    }
    with_shard_slow(token, f);
}

#[inline(never)]
fn with_shard_slow(token: u64, f: impl FnOnce(&Shard)) {
    let _ = LOCAL.try_with(|l| {
        let Ok(mut l) = l.try_borrow_mut() else { return };
        if let Some((t, s)) = l.shards.first() {
            if *t == token {
                LAST.set((token, Arc::as_ptr(s)));
                return f(s);
            }
        }
        let shard = match l.shards.iter().position(|(t, _)| *t == token) {
            Some(i) => {
                let e = l.shards.remove(i);
                l.shards.insert(0, e);
                l.shards[0].1.clone()
            }
            None => {
                let shard = Arc::new(Shard::new());
                let owner = stats_of(token);
                let owner = owner.as_deref().unwrap_or(&REST);
                owner.shards.lock().unwrap_or_else(|p| p.into_inner()).push(shard.clone());
                if l.shards.len() >= LOCAL_SHARDS {
                    if let Some((_, old)) = l.shards.pop() {
                        // Not written by this thread any more: a reader folds it in.
                        old.dead.store(true, std::sync::atomic::Ordering::Release);
                    }
                }
                l.shards.insert(0, (token, shard.clone()));
                shard
            }
        };
        LAST.set((token, Arc::as_ptr(&shard)));
        f(&shard);
    });
}

// The clock: the time stamp counter on x86-64 (a few ns to read), else `Instant`.

struct Calibration {
    /// Clock ticks per nanosecond.
    per_ns: f64,
    /// [`BOUNDS_NS`] in ticks.
    bounds: [u64; BOUNDS_NS.len()],
}

static CALIBRATION: OnceLock<Calibration> = OnceLock::new();
static EPOCH: OnceLock<Instant> = OnceLock::new();

#[inline]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions (every x86-64 CPU has it; it reads a counter).
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

fn calibration() -> &'static Calibration {
    CALIBRATION.get_or_init(|| {
        let per_ns = if cfg!(target_arch = "x86_64") {
            let (i0, t0) = (Instant::now(), ticks());
            std::thread::sleep(Duration::from_millis(2));
            let (i1, t1) = (Instant::now(), ticks());
            let ns = (i1 - i0).as_nanos() as f64;
            if t1 > t0 && ns > 0.0 {
                (t1 - t0) as f64 / ns
            } else {
                1.0
            }
        } else {
            let _ = EPOCH.get_or_init(Instant::now);
            1.0
        };
        Calibration { per_ns, bounds: BOUNDS_NS.map(|b| (b as f64 * per_ns) as u64) }
    })
}

/// Calibrates the clock (once, at start-up: about 2 ms).
pub fn init() {
    calibration();
}

/// At admission: the clock when this call is to be timed (the thread's schedule), else 0.
#[inline]
pub fn admitted() -> u64 {
    if !enabled() {
        return 0;
    }
    let left = COUNTDOWN.get();
    if left > 1 {
        COUNTDOWN.set(left - 1);
        return 0;
    }
    ticks().max(1)
}

/// A call's timing while it runs.
pub struct Begun {
    token: u64,
    /// When it entered Python (0: not timed).
    entered: u64,
}

/// With the GIL held, as the call starts running: counts it started (its handle known) and
/// reads the clock if it is timed.
#[inline]
pub fn begin(token: u64, admitted: u64) -> Begun {
    if token != 0 && enabled() {
        with_shard(token, |s| s.add(STARTED, 1));
    }
    Begun { token, entered: if admitted != 0 { ticks() } else { 0 } }
}

/// How a call ended.
pub enum Outcome<'a> {
    Ok,
    Failed(&'a Error),
}

/// At the end of a call (GIL still held): `token` is its handle (for the typed fast path only
/// known now, when `begin` had 0), `reason` 1 interrupted, 2 timed out, else 0.
#[inline]
pub fn end(begun: Begun, token: u64, admitted: u64, worker: bool, outcome: Outcome<'_>, reason: u8) {
    if !enabled() {
        return;
    }
    // The common case, inline (with `with_shard`'s fast path): an untimed call that succeeded.
    if begun.entered == 0 && !worker && reason == 0 && matches!(outcome, Outcome::Ok) {
        return with_shard(token, |s| {
            if begun.token == 0 {
                s.add(STARTED, 1);
            }
            s.add(FINISHED, 1);
            s.add(PENDING, 1);
        });
    }
    end_counted(begun, token, admitted, worker, outcome, reason);
}

/// [`end`] for the rest: timed, failed, interrupted or in a worker.
#[inline(never)]
fn end_counted(begun: Begun, token: u64, admitted: u64, worker: bool, outcome: Outcome<'_>, reason: u8) {
    let ended = if begun.entered != 0 { ticks() } else { 0 };
    let counted_start = begun.token != 0;
    // The next schedule follows how slow a timed call was.
    let total = ended.saturating_sub(admitted);
    if begun.entered != 0 {
        let slow = total as f64 >= SLOW_NS as f64 * calibration().per_ns;
        COUNTDOWN.set(if slow { 1 } else { SAMPLE_EVERY });
    }
    with_shard(token, |s| {
        if !counted_start {
            s.add(STARTED, 1);
        }
        s.add(FINISHED, 1);
        if worker {
            s.add(WORKER_CALLS, 1);
        }
        match reason {
            1 => s.add(INTERRUPTS, 1),
            2 => s.add(TIMEOUTS, 1),
            _ => {}
        }
        if matches!(outcome, Outcome::Failed(_)) {
            s.add(FAILED, 1);
        }
        if begun.entered == 0 {
            s.add(PENDING, 1);
            return;
        }
        // A timed call stands for the untimed ones of this thread and handle before it.
        let weight = s.c[PENDING].load(Relaxed) + 1;
        s.c[PENDING].store(0, Relaxed);
        s.add(WAIT, weight * begun.entered.saturating_sub(admitted));
        s.add(RUN, weight * ended.saturating_sub(begun.entered));
        s.add(TIMED, weight);
        s.add(BUCKET0 + calibration().bounds.partition_point(|b| *b < total), weight);
    });
    if let Outcome::Failed(e) = outcome {
        // Interrupts and timeouts are counted as such, not as the KeyboardInterrupt behind them.
        if let Some(p) = e.python.as_ref().filter(|_| reason == 0) {
            let owner = stats_of(token);
            let owner = owner.as_deref().unwrap_or(&REST);
            owner.exceptions.lock().unwrap_or_else(|p| p.into_inner()).add(&p.type_name, 1);
        }
    }
}

/// A host function was called from Python through handle `token`.
pub fn host_callback(token: u64) {
    if enabled() {
        with_shard(token, |s| s.add(HOST, 1));
    }
}

/// What a runtime handle's counts (or the process's) add up to, as `pyrt_stats_json` reports
/// them; `objects` and `workers` come from the caller.
pub fn report(token: Option<u64>, objects: usize, workers: usize) -> serde_json::Value {
    let (t, ex) = match token {
        Some(token) => match stats_of(token) {
            Some(h) => (h.totals(), h.exceptions.lock().unwrap_or_else(|p| p.into_inner()).clone()),
            None => ([0; N], Exceptions::default()),
        },
        None => {
            let open: Vec<Arc<HandleStats>> = OPEN.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(_, h)| h.clone()).collect();
            let mut t = REST.totals();
            let mut ex = REST.exceptions.lock().unwrap_or_else(|p| p.into_inner()).clone();
            for h in open {
                for (a, b) in t.iter_mut().zip(h.totals()) {
                    *a = a.wrapping_add(b);
                }
                let e = h.exceptions.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for (name, n) in &e.by_type {
                    ex.add(name, *n);
                }
                ex.other += e.other;
            }
            (t, ex)
        }
    };
    let per_ns = CALIBRATION.get().map_or(1.0, |c| c.per_ns);
    let seconds = |ticks: u64| ticks as f64 / per_ns / 1e9;
    let mut exceptions = serde_json::Map::new();
    let mut by_type = ex.by_type;
    by_type.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (name, n) in by_type {
        exceptions.insert(name, n.into());
    }
    // A call counted started in one shard may finish in none yet: never below zero.
    let in_flight = t[STARTED].saturating_sub(t[FINISHED]);
    serde_json::json!({
        "scope": if token.is_some() { "runtime" } else { "process" },
        "enabled": enabled(),
        "calls_started": t[STARTED],
        "calls_finished": t[FINISHED],
        "calls_failed": t[FAILED],
        "calls_in_flight": in_flight,
        "exceptions": exceptions,
        "exceptions_other": ex.other,
        "latency_bounds_seconds": BOUNDS_NS.map(|b| b as f64 / 1e9),
        "latency_buckets": &t[BUCKET0..],
        "latency_count": t[TIMED],
        "latency_sum_seconds": seconds(t[WAIT].wrapping_add(t[RUN])),
        "wait_seconds": seconds(t[WAIT]),
        "run_seconds": seconds(t[RUN]),
        "objects": objects,
        "host_callbacks": t[HOST],
        "interrupts": t[INTERRUPTS],
        "timeouts": t[TIMEOUTS],
        "worker_calls": t[WORKER_CALLS],
        "workers": workers,
    })
}

/// The fields of `pyrt_stats_json`'s object, in its order.
#[cfg(test)]
pub const STATS_FIELDS: [&str; 20] = [
    "scope",
    "enabled",
    "calls_started",
    "calls_finished",
    "calls_failed",
    "calls_in_flight",
    "exceptions",
    "exceptions_other",
    "latency_bounds_seconds",
    "latency_buckets",
    "latency_count",
    "latency_sum_seconds",
    "wait_seconds",
    "run_seconds",
    "objects",
    "host_callbacks",
    "interrupts",
    "timeouts",
    "worker_calls",
    "workers",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_calls_and_bounds_exception_types() {
        init();
        let token = 0x5157_0000;
        open(token);
        let a = admitted();
        let b = begin(token, a);
        end(b, token, a, false, Outcome::Ok, 0);
        let e = Error::new(crate::error::ErrorKind::Python, "x");
        let a = admitted();
        let b = begin(token, a);
        end(b, token, a, false, Outcome::Failed(&e), 1);
        let v = report(Some(token), 3, 0);
        assert_eq!(v["calls_started"], 2);
        assert_eq!(v["calls_finished"], 2);
        assert_eq!(v["calls_failed"], 1);
        assert_eq!(v["interrupts"], 1);
        assert_eq!(v["objects"], 3);
        let o = v.as_object().unwrap();
        assert_eq!(o.len(), STATS_FIELDS.len());
        assert!(STATS_FIELDS.iter().all(|k| o.contains_key(*k)));
        assert!(v["latency_count"].as_u64().unwrap() >= 1);
        let mut ex = Exceptions::default();
        for i in 0..MAX_TYPES + 5 {
            ex.add(&format!("E{i}"), 1);
        }
        ex.add("E0", 1);
        assert_eq!(ex.by_type.len(), MAX_TYPES);
        assert_eq!(ex.other, 5);
        assert_eq!(ex.by_type[0].1, 2);
        close(token);
        assert_eq!(report(Some(token), 0, 0)["calls_started"], 0);
        assert!(report(None, 0, 0)["calls_started"].as_u64().unwrap() >= 2);
    }
}

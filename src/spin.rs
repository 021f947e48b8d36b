//! Busy-waiting for another thread, only while the machine has a CPU to spare.
//!
//! A thread woken from sleep needs tens of µs to run on a virtual machine, longer than a short
//! Python call, so the threads that hand calls to each other (the admission queues, a hop to a
//! worker) wait a little with the CPU before they sleep. That pays only on an idle machine. On
//! a loaded one a thread that spins or yields uses up its share of the CPU and then waits a
//! whole time slice for it, while a sleeping thread that another wakes runs at once: measured,
//! two C threads calling through the admission queue under one busy process per CPU fell from
//! 86,000 to 281 calls/s in some runs. So nothing here spins unless [`cpu_to_spare`] says so.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// How often [`cpu_to_spare`] looks at the machine again, and how many of its looks it keeps.
const SPARE_CHECK: Duration = Duration::from_millis(5);
const SPARE_LOOKS: usize = 3;

/// Threads in [`spin_until`] right now.
static SPINNING: AtomicU32 = AtomicU32::new(0);

/// GILs with a call inside right now (`python::admission` counts them), and pyrt's interpreter
/// thread while it runs a call for a `main_thread` handle: each is most likely a thread of ours
/// running Python, which a spinning thread yields to at once, unlike another process's busy
/// thread. Not always: a call whose Python code released the GIL (a sleep, I/O) counts too, and
/// so does the interpreter thread while it waits for the GIL, so on a loaded machine a thread
/// may then spin, for at most its budget.
pub(crate) static OCCUPIED: AtomicU32 = AtomicU32::new(0);

/// Busy-waits, yielding the CPU, until `done` or `budget`; false when not done then. Yields
/// rather than spins: a woken thread often lands on the CPU of the thread it waits for, and a
/// pure spin would keep that thread off it. Does not wait at all when the machine has no CPU to
/// spare.
pub(crate) fn spin_until(budget: Duration, done: impl Fn() -> bool) -> bool {
    if done() {
        return true;
    }
    SPINNING.fetch_add(1, SeqCst);
    let spare = cpu_to_spare();
    let start = Instant::now();
    // The clock after every yield: a yield may give the CPU away for a whole time slice.
    while spare && !done() && start.elapsed() < budget {
        thread::yield_now();
    }
    SPINNING.fetch_sub(1, SeqCst);
    done()
}

/// Whether the machine has a CPU that no thread but pyrt's own wants: the number of runnable
/// threads on the machine ([`runnable_threads`], looked at every [`SPARE_CHECK`]), less those
/// spinning here and those running Python ([`OCCUPIED`]), was below the number of online CPUs
/// in one of the last [`SPARE_LOOKS`] looks of the last `SPARE_LOOKS` × [`SPARE_CHECK`] (a
/// thread pyrt just woke counts as runnable for a moment; another process's busy thread counts
/// in every look). Both counts are machine-wide, also in a container, so the CPU count is the
/// machine's, not this process's share. True when it cannot tell (no `/proc`): pyrt then spins
/// as it did before it looked.
///
/// Looks only from [`spin_until`], where the caller counts itself among the spinning threads:
/// a thread that looked from elsewhere would count itself as another process's, and on a
/// machine whose CPUs pyrt's own threads keep busy that one thread tips the answer.
fn cpu_to_spare() -> bool {
    static CHECKED: AtomicU64 = AtomicU64::new(0);
    static CPUS: OnceLock<usize> = OnceLock::new();
    // (when, how many threads not pyrt's were runnable)
    static LOOKS: Mutex<[(u64, usize); SPARE_LOOKS]> = Mutex::new([(0, usize::MAX); SPARE_LOOKS]);
    let now = now_ns().max(1);
    let last = CHECKED.load(SeqCst);
    // One thread looks; the others use the last answer meanwhile.
    let due = last == 0 || now.saturating_sub(last) >= SPARE_CHECK.as_nanos() as u64;
    if !due || CHECKED.compare_exchange(last, now, SeqCst, SeqCst).is_err() {
        return SPARE.load(SeqCst);
    }
    let cpus = *CPUS.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        usize::try_from(n).unwrap_or(1).max(1)
    });
    let Some(runnable) = runnable_threads() else {
        SPARE.store(true, SeqCst);
        return true;
    };
    let ours = SPINNING.load(SeqCst) as usize + OCCUPIED.load(SeqCst) as usize;
    let spare = {
        // Normally only the thread that won the exchange above gets here (two can, when the
        // winner stalls for a whole SPARE_CHECK); the lock keeps the looks whole either way.
        let mut looks = LOOKS.lock().unwrap_or_else(|p| p.into_inner());
        looks.rotate_right(1);
        looks[0] = (now, runnable.saturating_sub(ours));
        let recent = SPARE_CHECK.as_nanos() as u64 * SPARE_LOOKS as u64;
        looks.iter().filter(|(at, _)| now.saturating_sub(*at) <= recent).any(|&(_, others)| others < cpus)
    };
    SPARE.store(spare, SeqCst);
    spare
}

/// The answer of [`cpu_to_spare`]'s last look (true before the first).
pub(crate) fn had_cpu_to_spare() -> bool {
    SPARE.load(SeqCst)
}

/// The last answer of [`cpu_to_spare`].
static SPARE: AtomicBool = AtomicBool::new(true);

/// Runnable threads on the machine right now: the first number of `/proc/loadavg`'s fourth
/// field ("2/345": runnable/total).
fn runnable_threads() -> Option<usize> {
    let line = std::fs::read_to_string("/proc/loadavg").ok()?;
    line.split_whitespace().nth(3)?.split('/').next()?.parse().ok()
}

/// Nanoseconds since the first call in this process: a clock that fits in an atomic.
pub(crate) fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_at_once_when_done_and_at_the_budget_when_not() {
        assert!(spin_until(Duration::from_secs(10), || true));
        let start = Instant::now();
        assert!(!spin_until(Duration::from_micros(200), || false));
        // Either it spun its budget or the machine had no CPU to spare; never much longer.
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn the_clock_moves_forward() {
        let a = now_ns();
        thread::sleep(Duration::from_millis(1));
        assert!(now_ns() >= a + 1_000_000);
    }
}

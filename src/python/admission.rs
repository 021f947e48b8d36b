//! Fair admission to the GIL: host calls enter Python in arrival order.
//!
//! CPython's GIL is not fair to threads that call in from outside. A thread that finishes a
//! call releases the GIL and, on its next call, usually takes it back before the waiter CPython
//! just woke is even running; that waiter then gets its turn only when the 5 ms switch interval
//! forces one. With many host threads calling short functions, throughput falls (every hand-off
//! wakes both cores) and the slowest call waits tens of milliseconds. See docs/performance.md.
//!
//! So in front of the GIL sits a queue. At most one host thread — the *head* — contends for the
//! GIL at a time; the others wait in arrival order. The head waits for the call inside Python
//! to come out, spinning briefly (the hand-off then costs no wake-up) and then sleeping until
//! the caller leaving Python wakes it; once it holds the GIL it admits the next in line. The
//! thread that just left Python queues behind everybody else instead of barging back in.
//!
//! The waiter at the front spins too, and a head that admits one wakes the next: a thread
//! woken from sleep needs tens of µs to run, longer than a short call, and a queue whose next
//! thread is still waking leaves Python idle. Nobody spins when the machine has no CPU to
//! spare (`crate::spin`): there a spinning thread uses up its share of the CPU and then waits
//! a whole time slice for it, where a sleeping thread woken by the call it waits for runs at
//! once.
//!
//! On a loaded machine a woken thread may still wait milliseconds for a CPU. So a caller that
//! arrives while no gated call is inside and the head has not been seen running for
//! [`STALE_HEAD`] (shorter when the machine has no CPU to spare) goes first, and no caller
//! waits in the queue longer than [`MAX_WAIT`]: both then contend for the GIL as if there were
//! no queue, rather than idle Python while the queue moves one wake-up at a time. (A head that
//! waits in `take` for a GIL that a thread Python started holds looks stale too: its callers
//! then take turns as CPython orders them.)
//!
//! Calls whose Python code releases the GIL (blocking I/O, `time.sleep`, numpy, host callbacks)
//! must still overlap: pyrt cannot see the GIL itself, only that a call is inside, so a head
//! that has waited [`ESCALATE`] stops waiting for that and contends for the GIL directly, as
//! CPython's own threads do. A nested call (a host callback calling pyrt on a thread already in
//! a call) never queues: the GIL section it is nested in bypasses the gate (`gil.rs`).
//!
//! The main interpreter's GIL is gated, and each worker's: a caller that finds a worker idle
//! runs its call in the worker's interpreter on its own thread, and the worker's thread takes
//! that GIL through the same gate for the calls queued for it (`workers`). Only on builds that
//! have a GIL: a free-threaded build lets every caller run at once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::spin::{had_cpu_to_spare, now_ns, spin_until, OCCUPIED};

/// How long the head busy-waits for the call inside Python before it sleeps. About two typical
/// short calls: long enough that back-to-back short calls hand over without a wake-up, short
/// enough that a head does not burn a core while a long call runs.
const SPIN: Duration = Duration::from_micros(40);

/// How long the waiter at the front of the queue busy-waits to be admitted before it sleeps:
/// a few short calls, the time its turn takes to come when the calls ahead are short.
const FRONT_SPIN: Duration = Duration::from_micros(50);

/// How long the head may go unseen (not running) while no gated call is inside before a
/// caller that is running goes first. Longer than a wake-up takes on an idle machine (tens of
/// µs), so order holds there. On a machine with no CPU to spare a woken thread that is not
/// running at once often waits a time slice for a CPU, and handing every call to a thread that
/// must be woken makes each call wait for one (measured, C threads under one busy process per
/// CPU, throughput against one thread over three runs: 2 threads 0.17–1.95× with 25 µs,
/// 1.46–1.97× with 5 µs; 16 threads 0.51–0.81× and 0.94–1.13×; p99 the same, about 8 ms at
/// 16).
const STALE_HEAD: Duration = Duration::from_micros(100);
const STALE_HEAD_LOADED: Duration = Duration::from_micros(5);

/// How long the head waits for the calls inside Python before it contends for the GIL anyway
/// (their Python code may have released it: a sleep, I/O, a numpy operation).
const ESCALATE: Duration = Duration::from_micros(250);

/// How long any caller waits in the queue before it contends for the GIL directly. On a loaded
/// machine a waiter's thread may not run for milliseconds after it is woken, and a queue that
/// only moves when each of its threads gets a CPU in turn would let Python idle meanwhile; CPython
/// takes the GIL from a thread that keeps it after its 5 ms switch interval anyway.
const MAX_WAIT: Duration = Duration::from_millis(5);

struct Waiter {
    thread: Thread,
    /// Set by the head that admits this waiter (under the queue's lock).
    admitted: AtomicBool,
    /// It stopped waiting ([`MAX_WAIT`]); the head skips it (under the queue's lock).
    gone: AtomicBool,
}

#[derive(Default)]
struct Queue {
    /// A head exists (it may be spinning, sleeping or taking the GIL).
    head: bool,
    /// The head, while it sleeps waiting for the calls inside Python.
    sleeping_head: Option<Thread>,
    waiters: VecDeque<Arc<Waiter>>,
}

/// The admission queue of one GIL.
pub(crate) struct Gate {
    queue: Mutex<Queue>,
    /// Gated calls holding (or having released inside Python) the GIL right now.
    inside: AtomicU32,
    /// `queue.sleeping_head` is set: a leaving call must wake it.
    head_sleeps: AtomicBool,
    /// When the head was last known to be running or about to ([`now_ns`]): when it became the
    /// head or was admitted, while it spins or wakes waiting for the calls inside, and just
    /// before it takes the GIL.
    head_seen: AtomicU64,
    /// [`MAX_WAIT`], except in tests that check the order and would have a slow machine's
    /// waiters stop waiting out of turn.
    max_wait: Duration,
}

/// The gate of the main interpreter's GIL.
pub(crate) static MAIN_GATE: Gate = Gate::new();

impl Gate {
    pub(crate) const fn new() -> Gate {
        Gate::with_max_wait(MAX_WAIT)
    }

    const fn with_max_wait(max_wait: Duration) -> Gate {
        Gate {
            queue: Mutex::new(Queue { head: false, sleeping_head: None, waiters: VecDeque::new() }),
            inside: AtomicU32::new(0),
            head_sleeps: AtomicBool::new(false),
            head_seen: AtomicU64::new(0),
            max_wait,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue's invariants hold between statements; a panic cannot leave it half-changed.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for this thread's turn to take the GIL; `take` then takes it. Returns once the
    /// GIL is held and the next waiter admitted. Pair with [`Gate::leave`].
    pub(crate) fn enter(&self, take: impl FnOnce()) {
        if !self.wait_turn() {
            // The head is stale, or this thread waited MAX_WAIT without becoming the head:
            // contend for the GIL directly.
            take();
            self.entered();
            return;
        }
        self.wait_for_inside();
        self.seen();
        take();
        self.entered();
        self.admit_next();
    }

    /// Called after the GIL was given back by a call that [`Gate::enter`]ed.
    pub(crate) fn leave(&self) {
        let last = self.inside.fetch_sub(1, SeqCst) == 1;
        if last {
            OCCUPIED.fetch_sub(1, SeqCst);
        }
        if last && self.head_sleeps.load(SeqCst) {
            if let Some(t) = self.lock().sleeping_head.take() {
                self.head_sleeps.store(false, SeqCst);
                self.seen();
                t.unpark();
            }
        }
    }

    /// Returns true when this thread is the head, false when it is to go first past a stale
    /// head or waited [`MAX_WAIT`] without becoming the head.
    fn wait_turn(&self) -> bool {
        let stale = if had_cpu_to_spare() { STALE_HEAD } else { STALE_HEAD_LOADED };
        let (me, mut spin) = {
            let mut q = self.lock();
            if !q.head {
                q.head = true;
                self.seen();
                return true;
            }
            let unseen = now_ns().saturating_sub(self.head_seen.load(SeqCst));
            if self.inside.load(SeqCst) == 0 && unseen > stale.as_nanos() as u64 {
                return false;
            }
            let me = Arc::new(Waiter { thread: thread::current(), admitted: AtomicBool::new(false), gone: AtomicBool::new(false) });
            q.waiters.push_back(me.clone());
            // At the front: no live waiter ahead (those that stopped waiting stay until popped).
            let front = q.waiters.iter().filter(|w| !w.gone.load(SeqCst)).count() == 1;
            (me, front)
        };
        let start = Instant::now();
        // Spurious wake-ups (park's contract, or an unpark meant for an earlier wait) loop. A
        // waiter spins when it arrives at the front and whenever it is woken: the head that
        // admits a waiter wakes the one behind it, which is then at the front.
        while !me.admitted.load(SeqCst) {
            let left = self.max_wait.saturating_sub(start.elapsed());
            if std::mem::replace(&mut spin, true) && spin_until(FRONT_SPIN.min(left), || me.admitted.load(SeqCst)) {
                return true;
            }
            let waited = start.elapsed();
            if waited >= self.max_wait {
                let _q = self.lock();
                if me.admitted.load(SeqCst) {
                    return true;
                }
                me.gone.store(true, SeqCst);
                return false;
            }
            thread::park_timeout(self.max_wait - waited);
        }
        true
    }

    /// The head waits until no gated call is inside Python, or until [`ESCALATE`].
    fn wait_for_inside(&self) {
        if self.inside.load(SeqCst) == 0 {
            return;
        }
        let start = Instant::now();
        spin_until(SPIN, || {
            self.seen();
            self.inside.load(SeqCst) == 0
        });
        while self.inside.load(SeqCst) != 0 {
            let waited = start.elapsed();
            if waited >= ESCALATE {
                return;
            }
            {
                let mut q = self.lock();
                q.sleeping_head = Some(thread::current());
                self.head_sleeps.store(true, SeqCst);
            }
            // Checked again after announcing the sleep: a call that left in between saw no
            // sleeping head to wake.
            if self.inside.load(SeqCst) != 0 {
                thread::park_timeout(ESCALATE - waited);
            }
            self.seen();
            let mut q = self.lock();
            q.sleeping_head = None;
            self.head_sleeps.store(false, SeqCst);
        }
    }

    /// The head holds the GIL: hand the head's place to the next waiter, and wake the one
    /// behind it to spin at the front (when it is spinning already, it spins once more after
    /// its admission wait instead of sleeping at once; not done when nobody may spin).
    fn admit_next(&self) {
        let spare = had_cpu_to_spare();
        let mut q = self.lock();
        while let Some(next) = q.waiters.pop_front() {
            if !next.gone.load(SeqCst) {
                next.admitted.store(true, SeqCst);
                self.seen();
                next.thread.unpark();
                if spare {
                    if let Some(front) = q.waiters.iter().find(|w| !w.gone.load(SeqCst)) {
                        front.thread.unpark();
                    }
                }
                return;
            }
        }
        q.head = false;
    }

    fn entered(&self) {
        if self.inside.fetch_add(1, SeqCst) == 0 {
            OCCUPIED.fetch_add(1, SeqCst);
        }
    }

    fn seen(&self) {
        self.head_seen.store(now_ns(), SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A stand-in for the GIL: a flag that `take` sets (waiting while it is set) and `release`
    /// clears. Panics if two threads ever hold it.
    struct FakeGil(AtomicBool);

    impl FakeGil {
        fn take(&self) {
            while self.0.compare_exchange(false, true, SeqCst, SeqCst).is_err() {
                thread::yield_now();
            }
        }
        fn release(&self) {
            assert!(self.0.swap(false, SeqCst), "released a GIL nobody held");
        }
    }

    fn queued(gate: &Gate) -> usize {
        gate.lock().waiters.len()
    }

    #[test]
    fn callers_that_queue_enter_in_arrival_order() {
        // Nobody stops waiting, however slow the machine: the order must hold.
        let gate = Gate::with_max_wait(Duration::from_secs(60));
        let gil = FakeGil(AtomicBool::new(false));
        let order = Mutex::new(Vec::new());
        let next = AtomicUsize::new(0);
        thread::scope(|s| {
            // The first caller holds the GIL while the others arrive, one at a time.
            gate.enter(|| gil.take());
            let start = Instant::now();
            for id in 0..5 {
                let (gate, gil, order, next) = (&gate, &gil, &order, &next);
                s.spawn(move || {
                    gate.enter(|| gil.take());
                    order.lock().unwrap().push(id);
                    next.fetch_add(1, SeqCst);
                    gil.release();
                    gate.leave();
                });
                // The first becomes the head (not queued); each later one queues behind it.
                while !(gate.lock().head && queued(gate) == id) {
                    assert!(start.elapsed() < Duration::from_secs(10), "caller {id} never queued");
                    thread::yield_now();
                }
            }
            gil.release();
            gate.leave();
            let deadline = Instant::now() + Duration::from_secs(10);
            while next.load(SeqCst) < 5 && Instant::now() < deadline {
                thread::yield_now();
            }
            assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        });
        assert_eq!(gate.inside.load(SeqCst), 0);
        assert!(!gate.lock().head);
    }

    #[test]
    fn a_running_caller_goes_first_past_a_head_that_is_not_running() {
        let gate = Gate::with_max_wait(Duration::from_secs(60));
        // This thread becomes the head, then stops (as a head the OS does not run would).
        assert!(gate.wait_turn());
        thread::sleep(STALE_HEAD * 10);
        // No call is inside: an arriving caller goes first instead of queuing.
        assert!(!gate.wait_turn());
        assert_eq!(queued(&gate), 0);
        // With a call inside, an arriving caller queues behind the head even so.
        gate.entered();
        thread::scope(|s| {
            let start = Instant::now();
            let waiter = s.spawn(|| gate.wait_turn());
            while queued(&gate) == 0 {
                assert!(start.elapsed() < Duration::from_secs(10), "the waiter never queued");
                thread::yield_now();
            }
            // The head takes the GIL and admits it.
            gate.admit_next();
            assert!(waiter.join().unwrap());
        });
        gate.leave();
        assert_eq!(gate.inside.load(SeqCst), 0);
    }
}

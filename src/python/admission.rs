//! Fair admission to the GIL: host calls enter Python in arrival order.
//!
//! CPython's GIL is not fair to threads that call in from outside. A thread that finishes a
//! call releases the GIL and, on its next call, usually takes it back before the waiter CPython
//! just woke is even running; that waiter then gets its turn only when the 5 ms switch interval
//! forces one. With many host threads calling short functions, throughput falls (every hand-off
//! wakes both cores) and the slowest call waits tens of milliseconds. See docs/performance.md.
//!
//! So in front of the GIL sits a queue. At most one host thread — the *head* — contends for the
//! GIL at a time; the others sleep in arrival order. The head waits for the call inside Python
//! to come out, spinning briefly (the hand-off then costs no wake-up) and then sleeping until
//! the caller leaving Python wakes it; once it holds the GIL it admits the next in line. The
//! thread that just left Python queues behind everybody else instead of barging back in.
//!
//! No caller waits in the queue longer than [`MAX_WAIT`]: past that it contends for the GIL as
//! if there were no queue, which keeps a loaded machine (where woken threads wait for a CPU)
//! from idling Python while the queue moves one wake-up at a time.
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
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long the head busy-waits for the call inside Python before it sleeps. About two typical
/// short calls: long enough that back-to-back short calls hand over without a wake-up, short
/// enough that a head does not burn a core while a long call runs.
const SPIN: Duration = Duration::from_micros(40);

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
}

/// The gate of the main interpreter's GIL.
pub(crate) static MAIN_GATE: Gate = Gate::new();

impl Gate {
    pub(crate) const fn new() -> Gate {
        Gate {
            queue: Mutex::new(Queue { head: false, sleeping_head: None, waiters: VecDeque::new() }),
            inside: AtomicU32::new(0),
            head_sleeps: AtomicBool::new(false),
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
            // Waited MAX_WAIT without becoming the head: contend for the GIL directly.
            take();
            self.inside.fetch_add(1, SeqCst);
            return;
        }
        self.wait_for_inside();
        take();
        self.inside.fetch_add(1, SeqCst);
        self.admit_next();
    }

    /// Called after the GIL was given back by a call that [`Gate::enter`]ed.
    pub(crate) fn leave(&self) {
        if self.inside.fetch_sub(1, SeqCst) == 1 && self.head_sleeps.load(SeqCst) {
            if let Some(t) = self.lock().sleeping_head.take() {
                self.head_sleeps.store(false, SeqCst);
                t.unpark();
            }
        }
    }

    /// Returns true when this thread is the head, false when it waited [`MAX_WAIT`] without
    /// becoming it.
    fn wait_turn(&self) -> bool {
        let me = {
            let mut q = self.lock();
            if !q.head {
                q.head = true;
                return true;
            }
            let me = Arc::new(Waiter { thread: thread::current(), admitted: AtomicBool::new(false), gone: AtomicBool::new(false) });
            q.waiters.push_back(me.clone());
            me
        };
        let start = Instant::now();
        // Spurious wake-ups (park's contract, or an unpark meant for an earlier wait) loop.
        while !me.admitted.load(SeqCst) {
            let waited = start.elapsed();
            if waited >= MAX_WAIT {
                let _q = self.lock();
                if me.admitted.load(SeqCst) {
                    return true;
                }
                me.gone.store(true, SeqCst);
                return false;
            }
            thread::park_timeout(MAX_WAIT - waited);
        }
        true
    }

    /// The head waits until no gated call is inside Python, or until [`ESCALATE`].
    fn wait_for_inside(&self) {
        if self.inside.load(SeqCst) == 0 {
            return;
        }
        let start = Instant::now();
        let mut n = 0u32;
        while self.inside.load(SeqCst) != 0 {
            // Yield rather than spin: the head was just woken, often onto the core of the call
            // it waits for, and a pure spin would keep that call off the CPU.
            thread::yield_now();
            n += 1;
            if n % 8 == 0 && start.elapsed() >= SPIN {
                break;
            }
        }
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
            let mut q = self.lock();
            q.sleeping_head = None;
            self.head_sleeps.store(false, SeqCst);
        }
    }

    /// The head holds the GIL: hand the head's place to the next waiter.
    fn admit_next(&self) {
        let mut q = self.lock();
        while let Some(next) = q.waiters.pop_front() {
            if !next.gone.load(SeqCst) {
                next.admitted.store(true, SeqCst);
                next.thread.unpark();
                return;
            }
        }
        q.head = false;
    }
}

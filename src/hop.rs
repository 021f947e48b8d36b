//! Running a closure on one dedicated thread and waiting for its result (a "hop").
//!
//! pyrt's interpreter thread is Python's main thread; calls that need main-thread semantics
//! (`signal.signal`, `_thread.interrupt_main`, ...) hop to it. The caller blocks until its job
//! ran, so the job may borrow from the caller's stack: it is passed by address, never copied,
//! and the caller does not return before the serving thread is done with it.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::thread::{self, Thread, ThreadId};

use crate::spin::spin_until;

/// A job living on its caller's stack.
struct ScopedJob<F, R> {
    f: UnsafeCell<Option<F>>,
    outcome: UnsafeCell<Option<thread::Result<R>>>,
    done: AtomicBool,
}

impl<F: FnOnce() -> R, R> ScopedJob<F, R> {
    /// Runs the closure, stores its outcome and counts it in `finished`; the caller may return
    /// once this did.
    ///
    /// A raw pointer, not `&self`: a reference argument must stay valid until the function
    /// returns, but the caller frees the job as soon as `done` is set, before this returns.
    ///
    /// # Safety
    /// `job` points to a live `ScopedJob<F, R>` whose caller is blocked in [`Hop::run`] until
    /// `done` is set; called at most once per job.
    unsafe fn execute(job: *const (), finished: &AtomicU64) {
        let job = job.cast::<Self>();
        // SAFETY: the job is live (the caller waits for `done`) and only this thread touches `f`
        // until then; `run` put `Some` there and this is the one call that takes it.
        let f = unsafe { (*(*job).f.get()).take() }.expect("a job runs once");
        let outcome = catch_unwind(AssertUnwindSafe(f));
        // SAFETY: as above for `outcome`: the caller reads it only after seeing `done` (below).
        unsafe { *(*job).outcome.get() = Some(outcome) };
        // Before `done`: the caller may queue its next job as soon as it sees that, and must then
        // find this one counted (`Hop::run` spins only with one unfinished job ahead).
        finished.fetch_add(1, Ordering::SeqCst);
        // SAFETY: live until this store lands. Only the `&AtomicBool` (all `UnsafeCell`, so it may
        // be freed while `store` runs, as in `Arc`'s drop) is used; the job is never touched again.
        unsafe { (*job).done.store(true, Ordering::Release) };
    }
}

/// The address of a job whose caller is blocked until it ran, the function that runs it
/// (`ScopedJob::<F, R>::execute` for the job's `F` and `R`), and the caller to wake.
struct JobRef {
    job: *const (),
    execute: unsafe fn(*const (), &AtomicU64),
    caller: Thread,
}
// SAFETY: the job is only touched by the serving thread while its caller waits, and the closure
// and result types are `Send` (checked by `Hop::run`'s bounds).
unsafe impl Send for JobRef {}

/// A queue of jobs served by one thread.
///
/// Callers wait for their jobs with the CPU for a while (`crate::spin`), then sleep. In a hop
/// made with [`Hop::front_spinning`] only the callers whose jobs run now or next do; the others
/// sleep at once, so that a queue of many callers does not take CPU time from the serving
/// thread, and a caller whose job starts wakes the caller of the next job to spin in its turn:
/// the serving thread then finds that caller running when the job is done and wakes it without
/// a system call.
pub struct Hop {
    /// Only the callers of the running and the next job spin ([`Hop::front_spinning`]).
    front_spins: bool,
    queue: Mutex<State>,
    ready: Condvar,
    server: OnceLock<ThreadId>,
    /// Jobs queued (or nudges asked for) and not yet taken: read without the lock by a server
    /// that is spinning for its next job.
    queued: AtomicUsize,
    /// The server is waiting on `ready` (not spinning): only then does a new job need a notify.
    sleeping: AtomicBool,
    /// Jobs the server has taken from the queue, ever: the job numbered `started` (its
    /// [`State::pushed`] count when it was queued) runs now or ran, the one after it is next.
    started: AtomicU64,
    /// Jobs the server has run, ever.
    finished: AtomicU64,
}

/// How long a caller spins (yielding its CPU to any other runnable thread) for its job's result,
/// and the server for its next job, before sleeping, when the machine has a CPU to spare
/// (`crate::spin`). A wake-up from sleep costs tens of µs on a virtual machine (measured: 68 µs
/// per call for one caller of a worker, against 7.5 µs for the same call made on the caller's
/// thread), far more than a short call itself; calls that come back to back, or end within this
/// time, then hand over without any wake-up.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

struct State {
    jobs: VecDeque<JobRef>,
    /// Jobs queued, ever: a job's number, for [`Hop::started`].
    pushed: u64,
    closed: bool,
    /// [`Hop::nudge`] asked for one pass of `serve`'s wrapper without a job.
    nudged: bool,
}

/// Why [`Hop::run`] could not run a job.
#[derive(Debug, PartialEq, Eq)]
pub struct HopClosed;

impl Hop {
    /// A hop whose waiting callers all spin for a while. For a worker's thread: every CPU runs
    /// a worker, and a caller woken from sleep then waits behind them. Measured from 16 C
    /// threads on 2 workers, against one thread's throughput: with only the callers near the
    /// front spinning, 0.98–1.08× (pure Python) and 1.10–1.28× (a jinja2 render); with all
    /// spinning, 1.46–1.56× and 1.52–1.72×.
    pub const fn new() -> Hop {
        Hop::with_front_spins(false)
    }

    /// A hop where only the callers of the running and the next job spin: for a thread that
    /// runs everybody's calls while the other CPUs are free (the interpreter thread). Measured
    /// from 16 C threads calling a short function through a `main_thread` handle (several runs,
    /// 3.12–3.14): 0.86–0.95× of one thread calling on its own, p99 0.25–0.37 ms, against
    /// 0.60–0.65× and up to 4 ms when all spin.
    pub const fn front_spinning() -> Hop {
        Hop::with_front_spins(true)
    }

    const fn with_front_spins(front_spins: bool) -> Hop {
        Hop {
            front_spins,
            queue: Mutex::new(State { jobs: VecDeque::new(), pushed: 0, closed: false, nudged: false }),
            ready: Condvar::new(),
            server: OnceLock::new(),
            queued: AtomicUsize::new(0),
            sleeping: AtomicBool::new(false),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// Runs `f` on the serving thread and returns its result (a panic in `f` resumes here). On
    /// the serving thread itself (a host callback that calls back in) `f` runs inline.
    pub fn run<F, R>(&self, f: F) -> Result<R, HopClosed>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        if self.server.get() == Some(&thread::current().id()) {
            return Ok(f());
        }
        let job = ScopedJob { f: UnsafeCell::new(Some(f)), outcome: UnsafeCell::new(None), done: AtomicBool::new(false) };
        // Type and lifetime erased: we do not return before `done` is set (below), after which the
        // serving thread no longer touches the job.
        let job_ref = JobRef { job: std::ptr::addr_of!(job).cast::<()>(), execute: ScopedJob::<F, R>::execute, caller: thread::current() };
        let number = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            if q.closed {
                return Err(HopClosed);
            }
            q.jobs.push_back(job_ref);
            q.pushed += 1;
            self.queued.fetch_add(1, Ordering::SeqCst);
            q.pushed
        };
        if self.sleeping.load(Ordering::SeqCst) {
            self.ready.notify_one();
        }
        let done = || job.done.load(Ordering::Acquire);
        if !self.front_spins {
            spin_until(SPIN, done);
            while !done() {
                thread::park();
            }
            return Self::outcome(job);
        }
        let mut woke_next = false;
        // Spurious wake-ups (park's contract, or a wake meant for an earlier wait) loop.
        while !done() {
            let started = self.started.load(Ordering::SeqCst);
            if !woke_next && number <= started {
                woke_next = true;
                self.wake_next();
            }
            // Spin when its job runs now or next, with at most one unfinished job ahead (woken by
            // `wake_next` of the caller ahead, or the queue was that short): once per wake-up, so
            // that a long job sleeps after `SPIN`.
            if number <= self.finished.load(Ordering::SeqCst) + 2
                && spin_until(SPIN, || done() || (!woke_next && number <= self.started.load(Ordering::SeqCst)))
            {
                continue;
            }
            if !done() && (woke_next || number > self.started.load(Ordering::SeqCst)) {
                thread::park();
            }
        }
        // Its job ran before this caller saw it start (it slept, or the job was that short):
        // wake the caller at the front now (the next job's, or the one after it if that one
        // started meanwhile), or every caller after it would sleep until its own job is done.
        if !woke_next && self.queued.load(Ordering::SeqCst) != 0 {
            self.wake_next();
        }
        Self::outcome(job)
    }

    /// The outcome of a job whose `done` this thread saw set.
    fn outcome<F, R>(job: ScopedJob<F, R>) -> Result<R, HopClosed> {
        debug_assert!(job.done.load(Ordering::Acquire));
        // `done` was set (Acquire, pairing with the server's Release) after the outcome was
        // written, and the serving thread no longer touches the job: this thread has it alone.
        match job.outcome.into_inner().expect("outcome set before done") {
            Ok(r) => Ok(r),
            Err(panic) => resume_unwind(panic),
        }
    }

    /// Wakes the caller of the job at the front of the queue, to spin while the job before it
    /// runs.
    fn wake_next(&self) {
        let next = self.queue.lock().unwrap_or_else(|p| p.into_inner()).jobs.front().map(|j| j.caller.clone());
        if let Some(caller) = next {
            caller.unpark();
        }
    }

    /// Makes the calling thread the server and runs jobs until [`Hop::close`]; then runs the jobs
    /// still queued and returns. `around` wraps each job (e.g. to take the GIL) and must call
    /// its argument: a job it skipped would leave its caller waiting for ever.
    pub fn serve(&self, mut around: impl FnMut(&mut dyn FnMut())) {
        let _ = self.server.set(thread::current().id());
        loop {
            // Spin for the next job a little before sleeping (see SPIN).
            spin_until(SPIN, || self.queued.load(Ordering::SeqCst) != 0);
            // Some(job), or Some(None) for a nudge; None once closed.
            let next = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(j) = q.jobs.pop_front() {
                        self.queued.fetch_sub(1, Ordering::SeqCst);
                        self.started.fetch_add(1, Ordering::SeqCst);
                        break Some(Some(j));
                    }
                    if q.closed {
                        break None;
                    }
                    if q.nudged {
                        q.nudged = false;
                        self.queued.fetch_sub(1, Ordering::SeqCst);
                        break Some(None);
                    }
                    // `sleeping` is set under the lock, before waiting: a caller that queues a job
                    // after this (it needs the lock) sees it and notifies.
                    self.sleeping.store(true, Ordering::SeqCst);
                    q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                    self.sleeping.store(false, Ordering::SeqCst);
                }
            };
            let Some(mut job) = next else { return };
            // Should `around` call its argument more than once, only the first call runs the job,
            // which may be gone once it ran.
            around(&mut || {
                if let Some(job) = job.take() {
                    // SAFETY: `job.execute` is `ScopedJob::<F, R>::execute` for the `F`, `R` of the
                    // job at `job.job`, whose caller is blocked in `run` until it sets `done`; it
                    // was popped from the queue, so this is its only execution.
                    unsafe { (job.execute)(job.job, &self.finished) }
                    job.caller.unpark();
                }
            });
        }
    }

    /// Has the serving thread run its `around` wrapper once with nothing inside (for what the
    /// wrapper does around every job: dropping queued references). Never blocks, never runs
    /// anything on the calling thread.
    pub fn nudge(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if !q.nudged {
            q.nudged = true;
            self.queued.fetch_add(1, Ordering::SeqCst);
        }
        drop(q);
        self.ready.notify_one();
    }

    /// Stops serving once the queued jobs ran; later [`Hop::run`] calls fail.
    pub fn close(&self) {
        self.queue.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.ready.notify_all();
    }

    /// True on the serving thread.
    pub fn is_server(&self) -> bool {
        self.server.get() == Some(&thread::current().id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn jobs_run_on_the_server_and_borrow_the_callers_stack() {
        jobs_run_on_the_server(Hop::new());
        jobs_run_on_the_server(Hop::front_spinning());
    }

    fn jobs_run_on_the_server(hop: Hop) {
        let hop = Arc::new(hop);
        let server = {
            let hop = hop.clone();
            thread::spawn(move || {
                hop.serve(|job| job());
                thread::current().id()
            })
        };
        let text = String::from("borrowed");
        let mut seen = Vec::new();
        for i in 0..100 {
            let (len, id) = hop.run(|| (text.len() + i, thread::current().id())).unwrap();
            assert_eq!(len, 8 + i);
            seen.push(id);
        }
        let callers: Vec<_> = (0..4)
            .map(|_| {
                let hop = hop.clone();
                thread::spawn(move || (0..200).map(|i| hop.run(move || i * 2).unwrap()).sum::<usize>())
            })
            .collect();
        for c in callers {
            assert_eq!(c.join().unwrap(), (0..200).map(|i| i * 2).sum::<usize>());
        }
        // Jobs longer than the spin: callers sleep, and each must still be woken for its result.
        let sleepers: Vec<_> = (0..16_usize)
            .map(|k| {
                let hop = hop.clone();
                thread::spawn(move || {
                    (0..10_usize)
                        .map(|i| {
                            hop.run(move || {
                                thread::sleep(std::time::Duration::from_micros(100 + 20 * (i as u64 % 3)));
                                k * 100 + i
                            })
                            .unwrap()
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        for (k, s) in sleepers.into_iter().enumerate() {
            assert_eq!(s.join().unwrap(), (0..10).map(|i| k * 100 + i).sum::<usize>());
        }
        let panicked = catch_unwind(AssertUnwindSafe(|| hop.run(|| panic!("inside"))));
        assert!(panicked.is_err());
        hop.close();
        let server_id = server.join().unwrap();
        assert!(seen.iter().all(|id| *id == server_id));
        assert_eq!(hop.run(|| 1), Err(HopClosed));
    }
}

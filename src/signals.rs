//! Signal hygiene: Python's semantics without taking over the host's signal dispositions.
//!
//! Standalone Python ignores SIGPIPE, so a write to a closed pipe or socket raises
//! `BrokenPipeError`. pyrt starts CPython without its signal handlers (docs/guarantees.md §5), so by
//! default the same write would kill a C host. Instead of changing the process-wide disposition,
//! pyrt blocks SIGPIPE in the threads that run Python: the kernel then reports `EPIPE`, which
//! Python turns into `BrokenPipeError`, and threads that Python code starts inherit the mask.
//!
//! * `SigpipePolicy::Thread` (default): a host thread gets SIGPIPE blocked the first time it
//!   calls into Python, and keeps it blocked (no per-call cost; a measured `pthread_sigmask`
//!   round trip costs about 1.3 µs on this machine, 15 times a call).
//! * `SigpipePolicy::Call`: blocked for the duration of each call only; a SIGPIPE raised during
//!   the call is consumed before the host's mask is restored.
//! * `SignalsMode::Python`: what a standalone script does (SIGPIPE and SIGXFSZ ignored
//!   process-wide, SIGINT raises `KeyboardInterrupt`), for hosts that are Python launchers.
//!
//! SIGINT stays the host's in the default mode: see [`restore_action`] and `python::init`.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// How Python relates to the process's signals (`"signals"` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignalsMode {
    /// The host owns every disposition; Python never installs a process-wide handler by itself.
    #[default]
    Host,
    /// Python installs its handlers as a standalone interpreter does.
    Python,
}

/// When SIGPIPE is blocked in threads running Python (`"sigpipe"` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SigpipePolicy {
    #[default]
    Thread,
    Call,
    /// Nothing is blocked (the `python` signals mode ignores SIGPIPE process-wide instead).
    Off,
}

impl SignalsMode {
    pub fn parse(s: &str) -> Result<SignalsMode> {
        match s {
            "host" => Ok(SignalsMode::Host),
            "python" => Ok(SignalsMode::Python),
            _ => Err(Error::new(ErrorKind::Config, format!("invalid config: signals must be \"host\" or \"python\", not {s:?}"))),
        }
    }
}

impl SigpipePolicy {
    pub fn parse(s: &str) -> Result<SigpipePolicy> {
        match s {
            "thread" => Ok(SigpipePolicy::Thread),
            "call" => Ok(SigpipePolicy::Call),
            _ => Err(Error::new(ErrorKind::Config, format!("invalid config: sigpipe must be \"thread\" or \"call\", not {s:?}"))),
        }
    }
}

static POLICY: AtomicU8 = AtomicU8::new(0);

/// Sets the process's SIGPIPE policy (once, when the interpreter starts).
pub fn set_policy(p: SigpipePolicy) {
    POLICY.store(p as u8, Ordering::Relaxed);
}

#[inline]
pub fn policy() -> SigpipePolicy {
    match POLICY.load(Ordering::Relaxed) {
        0 => SigpipePolicy::Thread,
        1 => SigpipePolicy::Call,
        _ => SigpipePolicy::Off,
    }
}

fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: `sigset_t` is a plain bit array, so all-zero is a valid value; `sigemptyset` and
    // `sigaddset` only write the local set through a pointer to it, and SIGPIPE is a valid signal.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        set
    }
}

/// Blocks SIGPIPE in the calling thread (it stays blocked).
pub fn block_sigpipe_in_thread() {
    let set = sigpipe_set();
    // SAFETY: `set` is an initialized local sigset_t; a null old-set pointer is allowed. Changing
    // the calling thread's own mask touches no memory but the argument.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// SIGPIPE blocked for one call (`SigpipePolicy::Call`); dropping it consumes a SIGPIPE the call
/// raised and restores the thread's mask.
pub struct CallSigpipeBlock(());

impl CallSigpipeBlock {
    pub fn new() -> Option<CallSigpipeBlock> {
        let set = sigpipe_set();
        // SAFETY: all-zero is a valid `sigset_t` (a plain bit array), overwritten just below.
        let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` and `old` are live locals (the kernel reads one, writes the other); only
        // the calling thread's mask changes.
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
        // SAFETY: `old` was filled in by pthread_sigmask; sigismember only reads it.
        if unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1 {
            return None; // already blocked by the host (or an outer call): nothing to undo
        }
        Some(CallSigpipeBlock(()))
    }
}

impl Drop for CallSigpipeBlock {
    fn drop(&mut self) {
        // SAFETY: every pointer passed is to a live local (`pending`, `set`, `zero`) or null where
        // the call allows it (no siginfo wanted, no old mask wanted); all-zero is a valid
        // `sigset_t`. The calls act on the calling thread only: its pending set and its mask.
        unsafe {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending);
            if libc::sigismember(&pending, libc::SIGPIPE) == 1 {
                // Consume it before unblocking, or it would be delivered (and kill the host).
                let set = sigpipe_set();
                let zero = libc::timespec { tv_sec: 0, tv_nsec: 0 };
                libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
            }
            // Unblock SIGPIPE only (it was not blocked before the call): anything else the call
            // changed in the thread's mask (signal.pthread_sigmask) stays as Python left it.
            let set = sigpipe_set();
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}

/// A signal's disposition as the kernel reported it ([`action`]), or pyrt's routing to the main
/// thread: never an arbitrary handler address, so [`restore_action`] can be a safe function.
/// Reads through to the `sigaction` (`Deref`); only this module makes or changes one.
#[derive(Clone, Copy)]
pub struct Disposition(libc::sigaction);

impl std::ops::Deref for Disposition {
    type Target = libc::sigaction;
    fn deref(&self) -> &libc::sigaction {
        &self.0
    }
}

/// The current disposition of `sig`.
pub fn action(sig: i32) -> Disposition {
    // SAFETY: all-zero is a valid `sigaction` (no handler, empty mask, no flags); with a null new
    // action sigaction() only writes the current one into `old`, a live local (an invalid `sig`
    // just fails with EINVAL and leaves it zeroed).
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        Disposition(old)
    }
}

/// Puts back a disposition read with [`action`].
pub fn restore_action(sig: i32, a: &Disposition) {
    // SAFETY: `a.0` is a valid `sigaction` and the old action is not asked for (null). The handler
    // it installs is one the kernel reported for a signal (`action`) or `forward_to_main_thread`
    // (`route_to_main_thread`): a `Disposition` is made nowhere else, so a delivered signal calls
    // a real function of the right kind.
    unsafe { libc::sigaction(sig, &a.0, std::ptr::null_mut()) };
}

/// Every catchable signal's disposition, to undo what `Py_FinalizeEx` changes (it resets the
/// signals Python handled to SIG_DFL, which would clobber the host's handlers).
pub struct Snapshot(Vec<(i32, Disposition)>);

impl Snapshot {
    pub fn take() -> Snapshot {
        Snapshot((1..libc::SIGRTMIN()).filter(|s| *s != libc::SIGKILL && *s != libc::SIGSTOP).map(|s| (s, action(s))).collect())
    }

    /// Restores every disposition whose handler changed since the snapshot.
    pub fn restore_changed(&self) {
        for (sig, old) in &self.0 {
            let now = action(*sig);
            if now.sa_sigaction != old.sa_sigaction {
                restore_action(*sig, old);
            }
        }
    }
}

// ---- Routing process signals to Python's main thread ------------------------------------------
//
// CPython runs Python-level signal handlers only on its main thread, and its C handler only
// wakes that thread when the signal happens to be delivered there (3.9+: `trip_signal` checks
// `_Py_ThreadCanHandleSignals`). The kernel delivers a process-directed signal to any thread
// that does not block it — usually the host's main thread, not pyrt's interpreter thread — so a
// handler installed with `signal.signal` would run late or never. pyrt wraps each handler Python
// installs (through its wrapper of `_signal.signal`): on another thread the wrapper re-sends the
// signal to the interpreter thread with `pthread_kill`; there it calls Python's handler. The
// wrapper is installed with SA_ONSTACK, which Go requires (Python 3.8/3.9 omit it).

const NSIG: usize = 65;
#[allow(clippy::declare_interior_mutable_const)]
const NO_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Python's C handler for each routed signal.
static PYTHON_HANDLER: [AtomicUsize; NSIG] = [NO_HANDLER; NSIG];
/// Bit `sig - 1` is set while `sig` is routed to Python's main thread (a Python handler is installed).
static ROUTED: AtomicU64 = AtomicU64::new(0);
/// The interpreter's main thread (`pthread_t`), 0 when there is none.
static MAIN_THREAD: AtomicUsize = AtomicUsize::new(0);

/// Records the calling thread as Python's main thread (or clears it, after finalization).
pub fn set_python_main_thread(present: bool) {
    // SAFETY: pthread_self has no preconditions (it only returns the calling thread's id).
    let me = if present { (unsafe { libc::pthread_self() }) as usize } else { 0 };
    MAIN_THREAD.store(me, Ordering::SeqCst);
}

extern "C" fn forward_to_main_thread(sig: libc::c_int) {
    let main = MAIN_THREAD.load(Ordering::SeqCst);
    let Some(slot) = PYTHON_HANDLER.get(sig as usize) else { return };
    if main == 0 {
        return;
    }
    // SAFETY: pthread_self has no preconditions and is async-signal-safe.
    if (unsafe { libc::pthread_self() }) as usize == main {
        let h = slot.load(Ordering::SeqCst);
        if h > 1 {
            // SAFETY: `h` was stored by `route_to_main_thread` from sigaction's `sa_handler` of a
            // handler without SA_SIGINFO, and is neither SIG_DFL (0) nor SIG_IGN (1): the address
            // of a `void (*)(int)` function, Python's C handler in a libpython never unloaded.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
            f(sig);
        }
    } else {
        // Async-signal-safe; errno is preserved as handlers must.
        // SAFETY: `__errno_location` returns the calling thread's errno, a valid aligned int for
        // the thread's life. `main` is the pthread_t of pyrt's interpreter thread, which clears
        // MAIN_THREAD after finalization and before it exits, so it names a live thread, except
        // in a narrow race: a signal on another thread that loaded `main` just before the clear
        // may reach `pthread_kill` after that thread ended (a known gap, not closed here).
        unsafe {
            let saved = *libc::__errno_location();
            libc::pthread_kill(main as libc::pthread_t, sig);
            *libc::__errno_location() = saved;
        }
    }
}

/// Wraps the handler just installed for `sig` (if it is a plain handler) so that the signal
/// reaches Python's main thread.
pub fn route_to_main_thread(sig: libc::c_int) {
    if sig <= 0 || sig as usize >= NSIG {
        return;
    }
    let cur = action(sig);
    let h = cur.sa_sigaction;
    let bit = 1u64 << (sig - 1);
    if h == forward_to_main_thread as *const () as usize {
        return;
    }
    if h == libc::SIG_DFL || h == libc::SIG_IGN || cur.sa_flags & libc::SA_SIGINFO != 0 {
        ROUTED.fetch_and(!bit, Ordering::SeqCst);
        return;
    }
    PYTHON_HANDLER[sig as usize].store(h, Ordering::SeqCst);
    ROUTED.fetch_or(bit, Ordering::SeqCst);
    let mut routed = cur;
    routed.0.sa_sigaction = forward_to_main_thread as *const () as usize;
    routed.0.sa_flags |= libc::SA_ONSTACK;
    restore_action(sig, &routed);
}

/// While a host thread waits for a call hopped to Python's main thread (`"main_thread": true`),
/// the signals that have Python handlers are blocked in it, so the kernel hands a
/// process-directed one straight to a thread that takes it: Python's main thread, which runs
/// the call. A signal the code sends to its own process (`os.kill(os.getpid(), sig)`,
/// `signal.pidfd_send_signal`) is then handled when the system call returns, as standalone,
/// instead of a moment later through the forwarder (CPython's test_signal relies on that).
/// Costs nothing while no Python handler is installed; the thread's mask is restored on drop.
pub struct DeferRouted {
    old: Option<libc::sigset_t>,
}

impl DeferRouted {
    pub fn new() -> DeferRouted {
        let bits = ROUTED.load(Ordering::Relaxed);
        if bits == 0 {
            return DeferRouted { old: None };
        }
        // SAFETY: all-zero is a valid `sigset_t`; `set` and `old` are live locals that the calls
        // write (sigemptyset/sigaddset with signals 1..NSIG, pthread_sigmask's old mask), and only
        // the calling thread's mask changes.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in 1..NSIG as i32 {
                if bits & (1u64 << (sig - 1)) != 0 {
                    libc::sigaddset(&mut set, sig);
                }
            }
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            DeferRouted { old: Some(old) }
        }
    }
}

impl Drop for DeferRouted {
    fn drop(&mut self) {
        if let Some(old) = &self.old {
            // SAFETY: `old` is the mask pthread_sigmask wrote in `new`, a valid sigset_t; setting
            // the calling thread's mask touches no memory but the argument.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
        }
    }
}

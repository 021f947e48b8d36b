//! Holding the GIL from any host thread.
//!
//! Each host OS thread gets one Python thread state the first time it calls in (and one per
//! worker interpreter it runs calls in directly: `with_gil_in`; after such a call the thread has
//! no `PyGILState` state until its next call), kept until the thread exits: creating and destroying one per call costs 5× a call and throws away
//! `threading.local` and `decimal` contexts (docs/performance.md). The state is created with an
//! outer `PyGILState_Ensure` that stays open, so C extensions that call `PyGILState_Ensure`
//! themselves find it. Each call then only does `PyEval_RestoreThread`/`PyEval_SaveThread`, both
//! on the calling thread, inside one exported function — the GIL never stays held between two
//! host calls (docs/guarantees.md §3). Nested calls on a thread that already holds the GIL (a
//! host callback calling back into pyrt) run directly. A host thread's outermost call waits its
//! turn at the admission gate first (`admission`), so calls enter Python in arrival order.

use std::cell::{Cell, OnceCell};
use std::ffi::c_int;
use std::marker::PhantomData;
use std::ptr;

use std::sync::atomic::Ordering::Relaxed;

use super::admission::MAIN_GATE;
use super::ffi::{Api, PyThreadState};
use crate::signals::{self, SigpipePolicy};

/// Proof that the current thread holds the GIL. Not `Send`: it cannot leave the GIL section.
///
/// It also carries the calling thread's [`ThreadCtx`], so code on the call path reads its
/// per-thread state without another thread-local lookup (each costs a `__tls_get_addr` call in
/// a shared library).
#[derive(Clone, Copy)]
pub struct Python<'py> {
    pub api: &'static Api,
    /// The thread's context; null only while the thread's thread-locals are being destroyed.
    ctx: *const ThreadCtx,
    _not_send: PhantomData<(&'py (), *const ())>,
}

impl<'py> Python<'py> {
    /// The calling thread's context (`None` only during thread exit).
    #[inline]
    pub fn thread(self) -> Option<&'py ThreadCtx> {
        // SAFETY: the context is the thread-local of the thread that holds this token (tokens
        // are not Send), alive for the token's lifetime.
        unsafe { self.ctx.as_ref() }
    }

    /// The interpreter slot the thread works in (0: the main interpreter; see `interp`).
    #[inline]
    pub fn interp(self) -> usize {
        self.thread().map_or(0, |c| c.interp.get())
    }
}

const PYGILSTATE_LOCKED: c_int = 0;

/// Everything pyrt keeps per host thread, in one thread-local (one lookup per call).
pub struct ThreadCtx {
    /// The thread state saved between calls; null until the first call.
    tstate: Cell<*mut PyThreadState>,
    /// What the outer `PyGILState_Ensure` returned (released when the thread exits).
    gilstate: Cell<c_int>,
    /// How many pyrt GIL sections are open on this thread (re-entrancy).
    depth: Cell<u32>,
    /// The thread's Python state is not pyrt's (a thread Python started, or pyrt's interpreter
    /// thread, whose state Py_Initialize made).
    tstate_foreign: Cell<bool>,
    /// The interpreter slot this thread works in (`interp`): 0, or a worker's.
    pub(crate) interp: Cell<usize>,
    /// `pthread_self()`, once asked for (0 until then).
    ident: Cell<u64>,
    /// This thread's call record for interrupts, registered on first use. Typed by `running`
    /// (the layer above), stored here so that a call finds it with one thread-local access.
    pub(crate) executing: OnceCell<Box<dyn std::any::Any>>,
    /// The buffer JSON results are written into (`convert`), kept between calls.
    pub(crate) scratch: Cell<Vec<u8>>,
    /// The last runtime handle this thread validated as open and without per-call settings,
    /// with the handle-table generation it was valid in (`runtime::enter`); (0, 0) when none.
    pub(crate) plain_handle: Cell<(u64, u64)>,
    /// The thread's own stack as the OS reports it (lowest address, highest), once asked for.
    stack: Cell<(usize, usize)>,
    /// The thread's outermost section came in through the admission gate (`admission`).
    gated: Cell<bool>,
    /// The slot of the worker whose call runs directly on this thread ([`with_gil_in`]), also
    /// while that call's host callbacks run; 0 otherwise.
    pub(crate) direct: Cell<usize>,
    /// Host code that a call on this thread runs with the GIL released ([`allow_threads`]):
    /// how many such callbacks are open (`depth` reads 0 inside them).
    callbacks: Cell<u32>,
}

/// The calling thread's id as pyrt and CPython know it (`pthread_self`).
pub fn current_thread_id() -> u64 {
    // SAFETY: pthread_self has no preconditions (it returns the calling thread's id).
    (unsafe { libc::pthread_self() }) as u64
}

impl ThreadCtx {
    /// The thread's own stack as the OS reports it (lowest, highest address; (0, 0) when it
    /// cannot tell), asked once per thread: on the process's main thread glibc reads
    /// /proc/self/maps to answer.
    pub(crate) fn os_stack(&self) -> (usize, usize) {
        match self.stack.get() {
            (0, 0) => {
                let s = own_stack();
                self.stack.set(s);
                s
            }
            s => s,
        }
    }

    /// The thread's id as pyrt and CPython know it (`pthread_self`).
    #[inline]
    pub fn ident(&self) -> u64 {
        match self.ident.get() {
            0 => {
                let id = current_thread_id();
                self.ident.set(id);
                id
            }
            id => id,
        }
    }
}

impl Drop for ThreadCtx {
    fn drop(&mut self) {
        let ts = self.tstate.get();
        if ts.is_null() {
            return;
        }
        // The thread is exiting: delete its Python thread state, unless the interpreter is gone
        // (finalization already freed every thread state; touching it would be a use after free).
        if let Some(_guard) = super::liveness::enter_teardown() {
            let api = super::api();
            // SAFETY: the guard keeps the interpreter from being finalized until we are done, so
            // `ts` is live: this thread's own state, parked by the `PyEval_SaveThread` that ended
            // its last section (a thread-local is destroyed outside any section, so the thread
            // holds no GIL now). Restoring it re-takes the GIL; `PyGILState_Release` then balances
            // the outer `PyGILState_Ensure` of the thread's first call (`gilstate`: UNLOCKED),
            // deleting the state and releasing the GIL. The interpreter thread, whose state
            // pyrt did not create, empties its slot (`reclaim_main_thread_state`) before it exits.
            unsafe {
                (api.PyEval_RestoreThread)(ts);
                (api.PyGILState_Release)(self.gilstate.get());
            }
        }
    }
}

thread_local! {
    static THREAD: ThreadCtx = const {
        ThreadCtx {
            tstate: Cell::new(ptr::null_mut()),
            gilstate: Cell::new(0),
            depth: Cell::new(0),
            tstate_foreign: Cell::new(false),
            interp: Cell::new(0),
            ident: Cell::new(0),
            executing: OnceCell::new(),
            scratch: Cell::new(Vec::new()),
            plain_handle: Cell::new((0, 0)),
            stack: Cell::new((0, 0)),
            gated: Cell::new(false),
            direct: Cell::new(0),
            callbacks: Cell::new(0),
        }
    };
}

/// A reference to the calling thread's context, valid while the thread runs. Not `Send`.
#[derive(Clone, Copy)]
pub struct ThreadRef {
    ctx: *const ThreadCtx,
}

impl std::ops::Deref for ThreadRef {
    type Target = ThreadCtx;
    #[inline]
    fn deref(&self) -> &ThreadCtx {
        // SAFETY: made from this thread's live thread-local; not Send, so it stays on the thread.
        unsafe { &*self.ctx }
    }
}

/// The calling thread's context (one thread-local lookup). Panics during thread exit, like
/// any thread-local access then.
#[inline]
pub fn thread() -> ThreadRef {
    THREAD.with(|c| ThreadRef { ctx: c as *const ThreadCtx })
}

/// The calling thread's context, or `None` while its thread-locals are being destroyed.
#[inline]
pub fn try_thread() -> Option<ThreadRef> {
    THREAD.try_with(|c| ThreadRef { ctx: c as *const ThreadCtx }).ok()
}

/// True when this thread is inside a pyrt call: in its GIL section, or in a host callback that
/// Python code of the call called (which runs with the GIL released).
pub fn in_gil_section() -> bool {
    THREAD.try_with(|s| s.depth.get() > 0 || s.callbacks.get() > 0).unwrap_or(false)
}

/// Restores the saved state when a GIL section ends, also when `f` panics.
struct Section<'a> {
    slot: &'a ThreadCtx,
    api: &'static Api,
    /// Outermost section: release the GIL at the end.
    outer: bool,
    /// A thread Python created (it already held the GIL): balance our Ensure, keep the GIL.
    foreign_state: Option<c_int>,
    /// SIGPIPE blocked for this call only (`sigpipe: "call"`); restored after the GIL is released
    /// (fields drop after `Drop::drop`).
    _sigpipe: Option<signals::CallSigpipeBlock>,
    /// The thread state whose stack protection this section set (a call on a foreign stack).
    stack_set: *mut PyThreadState,
    /// The section entered through the admission gate (`admission`): leave it after the GIL
    /// is released.
    gated: bool,
}

impl Drop for Section<'_> {
    fn drop(&mut self) {
        self.slot.depth.set(self.slot.depth.get() - 1);
        // SAFETY: the section has held the GIL since `with_gil_on` took it (sections are not Send
        // and drop on their own thread), so each call below runs attached:
        // * `stack_set` is this thread's current state, set by `protect_foreign_stack` in this
        //   section: resetting its stack protection undoes exactly that.
        // * `foreign_state` is what this section's own `PyGILState_Ensure` returned (LOCKED, a
        //   thread Python started): the matching `PyGILState_Release` leaves the GIL held, as
        //   the thread had it before.
        // * the outermost section took the GIL with `PyGILState_Ensure` or `PyEval_RestoreThread`
        //   on this thread; `PyEval_SaveThread` releases it and returns the same (non-null)
        //   state, parked in the slot for the next call to restore. Nested sections release
        //   nothing (depth > 0 at entry), so each take has exactly one release.
        unsafe {
            if !self.stack_set.is_null() {
                if let Some(reset) = self.api.PyUnstable_ThreadState_ResetStackProtection {
                    reset(self.stack_set);
                }
            }
            if let Some(state) = self.foreign_state {
                (self.api.PyGILState_Release)(state);
            } else if self.outer {
                self.slot.tstate.set((self.api.PyEval_SaveThread)());
                if self.gated {
                    self.slot.gated.set(false);
                    MAIN_GATE.leave();
                }
            }
        }
    }
}

/// Runs `f` holding the GIL on the current thread.
///
/// The caller must have checked that the interpreter is running and must keep it running for the
/// duration (see `runtime::CallGuard`).
pub fn with_gil<R>(api: &'static Api, f: impl FnOnce(Python<'_>) -> R) -> R {
    with_gil_on(thread(), api, f)
}

/// [`with_gil`] for a caller that already has the thread's context.
#[inline]
pub fn with_gil_on<R>(t: ThreadRef, api: &'static Api, f: impl FnOnce(Python<'_>) -> R) -> R {
    {
        let slot: &ThreadCtx = &t;
        let depth = slot.depth.get();
        let sigpipe = match signals::policy() {
            SigpipePolicy::Call if depth == 0 => signals::CallSigpipeBlock::new(),
            _ => None,
        };
        let mut section =
            Section { slot, api, outer: depth == 0, foreign_state: None, _sigpipe: sigpipe, stack_set: ptr::null_mut(), gated: false };
        if depth == 0 {
            let ts = slot.tstate.get();
            // SAFETY: depth 0: no pyrt section is open on this thread, so it holds no GIL through
            // pyrt, and `with_gil`'s contract (a `CallGuard`) keeps the interpreter initialized and
            // not finalizing for the whole section. Either the thread has no parked state (null):
            // `PyGILState_Ensure` creates or finds this thread's state and takes the GIL (LOCKED
            // when Python's own thread already held it). Or `ts` is the state this thread's last
            // section parked with `PyEval_SaveThread` (still live: it is deleted only at thread
            // exit), which `PyEval_RestoreThread` re-attaches. `Section::drop` releases exactly
            // what is taken here, also when `f` panics.
            unsafe {
                if ts.is_null() {
                    if signals::policy() == SigpipePolicy::Thread {
                        // First call on this thread: from now on its writes to a closed pipe
                        // raise BrokenPipeError instead of killing the host (crate::signals).
                        signals::block_sigpipe_in_thread();
                    }
                    // A host thread's first call queues like any other; a thread that already
                    // has a Python state (one Python started) may hold the GIL: never gated.
                    let mut state = 0;
                    if gated(slot) && (api.PyGILState_GetThisThreadState)().is_null() {
                        MAIN_GATE.enter(|| state = (api.PyGILState_Ensure)());
                        section.gated = true;
                        slot.gated.set(true);
                    } else {
                        state = (api.PyGILState_Ensure)();
                    }
                    if state == PYGILSTATE_LOCKED && section.gated {
                        // Cannot happen (a thread without a state holds no GIL); never keep a
                        // place in the queue that the section's end would not give back.
                        section.gated = false;
                        slot.gated.set(false);
                        MAIN_GATE.leave();
                    }
                    if state == PYGILSTATE_LOCKED {
                        // This thread already held the GIL: it is a thread Python runs (e.g. a
                        // threading.Thread calling a host callback). Borrow its state.
                        section.outer = false;
                        section.foreign_state = Some(state);
                        slot.tstate_foreign.set(true);
                    } else {
                        slot.gilstate.set(state);
                    }
                } else if gated(slot) {
                    // A host thread's outermost call into the main interpreter: in turn.
                    MAIN_GATE.enter(|| (api.PyEval_RestoreThread)(ts));
                    section.gated = true;
                    slot.gated.set(true);
                } else {
                    (api.PyEval_RestoreThread)(ts);
                }
            }
        }
        if depth == 0 && api.PyUnstable_ThreadState_SetStackProtection.is_some() {
            section.stack_set = protect_foreign_stack(slot, api);
        }
        slot.depth.set(depth + 1);
        f(Python { api, ctx: t.ctx, _not_send: PhantomData })
        // `section` drops here: depth restored, GIL released if outermost.
    }
}

/// Makes sure the calling thread has its main-interpreter state (taking the main GIL once, on
/// its first call), before it makes states in workers' interpreters.
/// Returns false when the thread cannot run calls in a worker directly: it is inside a GIL
/// section, its Python state is not pyrt's (a thread Python started, which may hold the main
/// GIL), or it works in a worker's interpreter. Same contract as [`with_gil`].
pub fn ready_for_direct(t: ThreadRef, api: &'static Api) -> bool {
    // A thread that works in a worker's interpreter already (its own thread, a thread Python
    // started there) is not one: calls from there run inline or hop (`workers::run_on`).
    if t.depth.get() != 0 || t.tstate_foreign.get() || t.interp.get() != 0 {
        return false;
    }
    if t.tstate.get().is_null() {
        with_gil_on(t, api, |_| ());
    }
    t.depth.get() == 0 && !t.tstate_foreign.get() && !t.tstate.get().is_null()
}

/// Runs `f` in the worker interpreter of `slot` on the calling thread: `attach` attaches the
/// thread's own state in that interpreter (taking that interpreter's GIL, not the main one) and
/// `detach` gives both back, also when `f` panics. Calls need no hand-off to the worker's
/// thread. Host callbacks of the call give the GIL up and nested calls take it back as in
/// [`with_gil`] (the parked state is the worker one meanwhile).
///
/// # Safety
/// [`ready_for_direct`] returned true on this thread (no GIL section is open); `attach` makes a
/// live state of this thread in the worker interpreter of `slot` current, with that
/// interpreter's GIL held, and `detach` (called once, with that state current again) releases
/// exactly what `attach` took.
pub unsafe fn with_gil_in<R>(
    t: ThreadRef,
    api: &'static Api,
    slot: usize,
    attach: impl FnOnce(),
    detach: impl FnOnce(),
    f: impl FnOnce(Python<'_>) -> R,
) -> R {
    struct Direct<'a, D: FnOnce()> {
        c: &'a ThreadCtx,
        api: &'static Api,
        detach: Option<D>,
        prev_interp: usize,
        prev_direct: usize,
        stack_set: *mut PyThreadState,
        _sigpipe: Option<signals::CallSigpipeBlock>,
    }
    impl<D: FnOnce()> Drop for Direct<'_, D> {
        fn drop(&mut self) {
            self.c.depth.set(0);
            // SAFETY: the section has held the worker interpreter's GIL since `attach` (not Send:
            // it drops on its thread; a callback's `allow_threads` gave it back before
            // returning), so the thread's worker state is current. `stack_set` is that state,
            // whose protection this section set.
            unsafe {
                if !self.stack_set.is_null() {
                    if let Some(reset) = self.api.PyUnstable_ThreadState_ResetStackProtection {
                        reset(self.stack_set);
                    }
                }
            }
            if let Some(detach) = self.detach.take() {
                detach();
            }
            self.c.interp.set(self.prev_interp);
            self.c.direct.set(self.prev_direct);
        }
    }
    let c: &ThreadCtx = &t;
    let sigpipe = match signals::policy() {
        SigpipePolicy::Call => signals::CallSigpipeBlock::new(),
        _ => None,
    };
    // The caller's contract: this attaches the thread's worker state and takes that GIL, which
    // `Direct::drop` gives back through `detach`.
    attach();
    let mut section = Direct {
        c,
        api,
        detach: Some(detach),
        prev_interp: c.interp.replace(slot),
        prev_direct: c.direct.replace(slot),
        stack_set: ptr::null_mut(),
        _sigpipe: sigpipe,
    };
    if api.PyUnstable_ThreadState_SetStackProtection.is_some() {
        section.stack_set = protect_foreign_stack(c, api);
    }
    c.depth.set(1);
    f(Python { api, ctx: t.ctx, _not_send: PhantomData })
}

/// Whether a thread's outermost call queues at the admission gate: host threads whose state
/// pyrt made, calling into the main interpreter of a build with a GIL. Not threads Python
/// started (they may hold the GIL already), pyrt's interpreter thread or workers.
#[inline]
fn gated(slot: &ThreadCtx) -> bool {
    !slot.tstate_foreign.get() && slot.interp.get() == 0 && !super::ffi::free_threaded() && ADMISSION.load(Relaxed)
}

/// The admission gate is on (the default; `PYRT_ADMISSION=0` turns it off, for measuring).
static ADMISSION: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Reads `PYRT_ADMISSION` once, at start-up.
pub(crate) fn configure_admission() {
    if std::env::var_os("PYRT_ADMISSION").is_some_and(|v| v == "0") {
        ADMISSION.store(false, Relaxed);
    }
}

/// Stack room assumed below the current stack pointer when a call runs on a stack the OS does
/// not know. Known hosts give more (koffi's synchronous stack is 1 MiB by default); assuming less
/// only makes a RecursionError come earlier on such a stack.
const FOREIGN_STACK_ROOM: usize = 256 << 10;

/// 3.14+: CPython compares the stack pointer with the thread's stack as the OS reports it, both
/// to raise RecursionError and to decide whether deallocating an object may recurse (the
/// "trashcan"). A host that runs native calls on a stack of its own (Node's koffi does) looks
/// exhausted then, and CPython 3.14 defers every deallocation to a later call on the real
/// stack, which may never come: memory grows without bound. So when the stack pointer is
/// outside the thread's own stack, tell CPython where it is for the duration of the call.
/// Returns the thread state it set (reset when the section ends), or null.
fn protect_foreign_stack(slot: &ThreadCtx, api: &'static Api) -> *mut PyThreadState {
    let (lo, hi) = slot.os_stack();
    let marker = 0u8;
    let sp = std::ptr::addr_of!(marker) as usize;
    if lo == 0 || (lo..hi).contains(&sp) {
        return ptr::null_mut();
    }
    let Some(set) = api.PyUnstable_ThreadState_SetStackProtection else { return ptr::null_mut() };
    // SAFETY: the GIL is held (the section just took it), so `PyThreadState_Get` returns this
    // thread's attached state, non-null. Setting its stack protection only records the range
    // (CPython compares the stack pointer with it; nothing reads or writes that memory), and
    // `Section::drop` resets it on the same state before releasing the GIL.
    unsafe {
        let ts = (api.PyThreadState_Get)();
        let start = sp.saturating_sub(FOREIGN_STACK_ROOM) & !0xfff;
        if set(ts, start as *mut std::ffi::c_void, sp + 4096 - start) != 0 {
            (api.PyErr_Clear)();
            return ptr::null_mut();
        }
        ts
    }
}

/// The calling thread's stack (lowest, highest address), or (0, 0) when the OS cannot tell.
fn own_stack() -> (usize, usize) {
    // SAFETY: plain libc queries about the calling thread; the attr is initialized by
    // pthread_getattr_np before use and destroyed once.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if !ok || addr.is_null() {
            return (0, 0);
        }
        (addr as usize, addr as usize + size)
    }
}

/// Marks the calling thread as the one whose thread state was created by `Py_Initialize`
/// (the interpreter's own thread), so its state is saved and restored like any other.
///
/// # Safety
/// `ts` is the main thread state `Py_Initialize` made, just released by this thread
/// (`PyEval_SaveThread`): later GIL sections on this thread restore it.
pub unsafe fn adopt_main_thread_state(ts: *mut PyThreadState) {
    THREAD.with(|s| {
        s.tstate.set(ts);
        s.tstate_foreign.set(true);
    });
}

/// Takes the GIL back on the interpreter's own thread (for finalization). Leaves the slot empty
/// so its destructor does nothing afterwards.
pub fn reclaim_main_thread_state(api: &Api) {
    THREAD.with(|s| {
        let ts = s.tstate.replace(ptr::null_mut());
        if !ts.is_null() {
            // SAFETY: `ts` is the main thread state `Py_Initialize` made, parked in this slot by
            // `adopt_main_thread_state` and re-parked by every section since; on this (the
            // interpreter's) thread, outside any section, it is detached and the GIL not held by
            // us. Restoring it is the take that `Py_FinalizeEx` requires; emptying the slot keeps
            // the thread-local's destructor from using it after finalization frees it.
            unsafe { (api.PyEval_RestoreThread)(ts) };
        }
    });
}

/// True on a host thread inside a pyrt call whose Python thread state pyrt created (not a
/// thread Python started, nor pyrt's own interpreter thread). GIL held.
pub fn is_host_thread() -> bool {
    THREAD.try_with(|s| s.depth.get() > 0 && !s.tstate_foreign.get()).unwrap_or(false)
}

/// A token for code that CPython itself called (a C function of `_pyrt`): the thread holds the
/// GIL by contract.
///
/// # Safety
/// The calling thread must hold the GIL for the token's lifetime.
pub unsafe fn assume_gil<'py>(api: &'static Api) -> Python<'py> {
    let ctx = try_thread().map_or(ptr::null(), |t| t.ctx);
    Python { api, ctx, _not_send: PhantomData }
}

/// Releases the GIL while `f` runs host code (a callback, an output handler), so other threads —
/// including ones the host hands work to — can run Python meanwhile; takes it back after. A pyrt
/// call that `f` makes on this same thread takes the GIL again normally (the thread's state is
/// parked in its slot), also on a thread that Python started.
pub fn allow_threads<R>(py: Python<'_>, f: impl FnOnce() -> R) -> R {
    struct Restore<'a> {
        slot: &'a ThreadCtx,
        api: &'static Api,
        saved_tstate: *mut PyThreadState,
        saved_depth: u32,
        /// The call came in through the admission gate: it leaves the gate while the host
        /// code runs (so nested calls and other callers do not wait for it) and queues again
        /// to take the GIL back.
        gated: bool,
    }
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            // Nested calls leave the parked state where they found it.
            let ts = self.slot.tstate.get();
            // `allow_threads` released the GIL with `PyEval_SaveThread` and parked the state it
            // returned in the slot; a pyrt call made by `f` on this thread restores that state
            // and saves it back when its section ends (also when it unwinds), so here `ts` is
            // again this thread's own detached state and the thread holds no GIL. The caller's
            // `CallGuard` (or CPython, for a function it called) keeps the interpreter alive.
            if self.gated {
                // SAFETY: `ts` is this thread's live, detached state (above): re-attaching it is
                // the one take that matches `allow_threads`' `PyEval_SaveThread`; the admission
                // gate only decides when this thread's turn to take the GIL comes.
                MAIN_GATE.enter(|| unsafe { (self.api.PyEval_RestoreThread)(ts) });
            } else {
                // SAFETY: as in the gated branch: `ts` is this thread's detached state, saved by
                // the matching `PyEval_SaveThread` in `allow_threads`; this re-takes the GIL once.
                unsafe { (self.api.PyEval_RestoreThread)(ts) };
            }
            self.slot.tstate.set(self.saved_tstate);
            self.slot.depth.set(self.saved_depth);
            self.slot.callbacks.set(self.slot.callbacks.get() - 1);
            self.slot.gated.set(self.gated);
        }
    }
    THREAD.with(|slot| {
        let gated = slot.gated.replace(false);
        let restore = Restore { slot, api: py.api, saved_tstate: slot.tstate.get(), saved_depth: slot.depth.replace(0), gated };
        slot.callbacks.set(slot.callbacks.get() + 1);
        // SAFETY: the `py` token proves this thread holds the GIL (attached state); `restore`
        // re-takes it with the returned state when `f` ends or unwinds, so the caller gets the
        // GIL back as it had it.
        let ts = unsafe { (py.api.PyEval_SaveThread)() };
        if gated {
            MAIN_GATE.leave();
        }
        slot.tstate.set(ts);
        let r = f();
        drop(restore);
        r
    })
}

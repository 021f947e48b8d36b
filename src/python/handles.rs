//! Object handles: opaque tokens owning one Python reference each.
//!
//! A handle is a number looked up in a table, never a pointer the host can dereference, so a
//! freed handle (or one whose runtime was freed) is an error, not a crash. Releasing a handle
//! never takes the GIL: the reference is queued and the next thread that holds the GIL drops it.
//! So `pyrt_object_free` works from any thread — a Go finalizer, a thread inside a host callback,
//! a thread the interpreter is blocked on — without ever deadlocking, and it never touches the
//! interpreter after finalization (the queue is simply dropped).

use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Relaxed, Ordering::Release,
    Ordering::SeqCst,
};
use std::sync::Mutex;

use super::ffi::PyPtr;
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, Result};

// ---- the handle table -------------------------------------------------------------------------
//
// A slab of slots that never moves or shrinks: segment k holds `BASE << k` slots, allocated on
// first use and kept for the life of the process. A handle names a slot and the slot's
// generation, so looking one up is an index computation and two loads — no lock and no hash on
// the call path — and a freed (or forged) handle simply fails the generation check.
//
// Who may do what:
// * `register` (GIL held) takes a free slot and fills it.
// * Readers (`get`, GIL held) check the generation and incref. A slot is refilled only after
//   `REUSE_AFTER` other slots were freed, so it does not change under a reader; a concurrent
//   `release` may empty it, but the reference it takes is only dropped by a later GIL holder.
//   On a free-threaded build "later" needs more than the GIL: another thread may drain the
//   queue while a reader is between its load and its incref. There readers announce themselves
//   in `READERS`, and a drain drops references only once it has seen no reader in that window
//   after taking them from the queue (a reader arriving later finds the slot empty).
// * `release` (any thread, no GIL) wins the slot with a compare-and-swap of the generation, takes
//   the reference out, queues it, then returns the slot to the free list.
//
// Handle numbers: `((gen << INDEX_BITS) | (index + 1)) << 3`, so they are non-zero, multiples of 8,
// and below 2^39: under the Go heap's addresses (0xc000000000), which cgo's pointer checks
// inspect, and exact as JSON numbers everywhere (tagged `{"__pyrt__": "object", "v": id}`).
// Freed slots are reused first-in first-out and only once `REUSE_AFTER` of them are waiting, so a
// stale handle could only match a new object after its slot was reused 2^GEN_BITS times —
// at least 2^(GEN_BITS + 14) frees later.

const INDEX_BITS: u32 = 22;
const GEN_BITS: u32 = 14;
/// Slots that can be live at once: 4,194,303.
const MAX_SLOTS: u32 = (1 << INDEX_BITS) - 1;
const BASE: usize = 1024;
const SEGMENTS: usize = 13; // 1024 * (2^13 - 1) > MAX_SLOTS
const REUSE_AFTER: usize = 1 << 14;

struct Slot {
    /// The owned reference (an address; 0 when the slot is empty). Dereferenced only with the
    /// GIL held.
    object: AtomicUsize,
    /// The runtime handle the object was obtained through.
    runtime: AtomicU64,
    /// The interpreter the object lives in (`interp` slot: 0 the main one, else a worker's).
    /// Only a thread working in that interpreter may touch the object.
    interp: AtomicUsize,
    /// Bumped every time the slot is emptied.
    gen: AtomicU32,
}

static SEGMENT: [AtomicPtr<Slot>; SEGMENTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGMENTS];

/// Slot allocation (register and release only; never on the call path).
struct Alloc {
    /// Slots handed out so far (indexes below it exist).
    next: u32,
    free: std::collections::VecDeque<u32>,
}

static ALLOC: Mutex<Alloc> = Mutex::new(Alloc { next: 0, free: std::collections::VecDeque::new() });
/// Slots ever handed out (a bound for scans), readable without the lock.
static USED: AtomicU32 = AtomicU32::new(0);

#[inline]
fn locate(index: u32) -> (usize, usize) {
    let j = index as usize / BASE + 1;
    let k = (usize::BITS - 1 - j.leading_zeros()) as usize;
    (k, index as usize - BASE * ((1 << k) - 1))
}

#[inline]
fn slot(index: u32) -> Option<&'static Slot> {
    let (k, off) = locate(index);
    let seg = SEGMENT.get(k)?.load(Acquire);
    if seg.is_null() {
        return None;
    }
    // SAFETY: segment k, once published (Release/Acquire), holds BASE << k initialized slots and is
    // never freed; `locate` gives `off < BASE << k`, so the slot is in bounds and lives forever.
    Some(unsafe { &*seg.add(off) })
}

#[inline]
fn encode(index: u32, gen: u32) -> u64 {
    ((u64::from(gen & ((1 << GEN_BITS) - 1)) << INDEX_BITS) | u64::from(index + 1)) << 3
}

/// (slot, generation) named by a handle, if it could be one.
#[inline]
fn decode(id: u64) -> Option<(&'static Slot, u32)> {
    if id & 7 != 0 || id >> (3 + INDEX_BITS + GEN_BITS) != 0 {
        return None;
    }
    let raw = (id >> 3) as u32;
    let index = (raw & MAX_SLOTS).checked_sub(1)?;
    Some((slot(index)?, raw >> INDEX_BITS))
}

#[inline]
fn same_gen(slot: &Slot, gen: u32) -> bool {
    slot.gen.load(Acquire) & ((1 << GEN_BITS) - 1) == gen
}

/// References released without the GIL, per interpreter slot, dropped by the next holder of
/// that interpreter's GIL.
static PENDING: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
/// Releases that need the main interpreter's GIL, queued by a thread without it (a buffer view
/// the host freed: `buffer::Export::release_later`), run by the next main-interpreter GIL holder.
/// Type-erased so that this table does not name what it releases.
pub type MainRelease = Box<dyn FnOnce(Python) + Send>;
static PENDING_MAIN: Mutex<Vec<MainRelease>> = Mutex::new(Vec::new());
/// Something is queued for the main interpreter (`PENDING` for slot 0, or `PENDING_MAIN`) /
/// for some worker's: two flags, so that references waiting for a worker's next job do not make
/// every main-interpreter call take the lock (and the reverse).
static HAS_PENDING_MAIN: AtomicBool = AtomicBool::new(false);
static HAS_PENDING_WORKERS: AtomicBool = AtomicBool::new(false);

/// The flag of interpreter `slot`'s queue.
#[inline]
fn pending_flag(slot: usize) -> &'static AtomicBool {
    if slot == 0 {
        &HAS_PENDING_MAIN
    } else {
        &HAS_PENDING_WORKERS
    }
}

/// Sets both flags from the queues: the caller holds `PENDING`'s lock (`q`), and this takes
/// `PENDING_MAIN`'s, so that no push can come between reading a queue and clearing its flag
/// (pushes set the flags while holding their queue's lock).
fn update_flags(q: &[(usize, usize)]) {
    let main_releases = PENDING_MAIN.lock().unwrap_or_else(|p| p.into_inner());
    HAS_PENDING_MAIN.store(q.iter().any(|(s, _)| *s == 0) || !main_releases.is_empty(), Release);
    HAS_PENDING_WORKERS.store(q.iter().any(|(s, _)| *s != 0), Release);
}

/// Interpreter slots whose interpreter has ended (`forget_slot`): what is released for them later
/// died with them and is not queued. Guarded by `PENDING`'s lock (read and written under it).
static ENDED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

pub fn closed_object() -> Error {
    Error::new(ErrorKind::Closed, "the pyrt object was freed (or this is not an object handle)")
}

/// An object used in an interpreter it does not live in (a worker's object passed to a call
/// that ran in another worker, or the reverse).
#[cold]
fn other_interpreter() -> Error {
    Error::invalid_argument(
        "this object lives in another interpreter (a worker's sub-interpreter, or the main one): objects cannot move between \
         interpreters; use it through its own methods, or a runtime without \"workers\"",
    )
}

/// Live object handles of runtime `runtime` (`None`: of every runtime). No GIL needed: a scan
/// of the table's slots (for `pyrt_stats_json`, not the call path).
pub fn live(runtime: Option<u64>) -> usize {
    (0..USED.load(Acquire))
        .filter_map(slot)
        .filter(|s| s.object.load(Relaxed) != 0 && runtime.is_none_or(|r| s.runtime.load(Relaxed) == r))
        .count()
}

/// Moves `object` into the table; returns its handle. GIL held (of the interpreter the object
/// lives in, which the handle remembers).
pub fn register(object: PyRef, runtime: u64) -> Result<u64> {
    let index = {
        let mut a = ALLOC.lock().unwrap_or_else(|p| p.into_inner());
        match a.free.len() >= REUSE_AFTER {
            true => a.free.pop_front().expect("non-empty"),
            false => {
                if a.next >= MAX_SLOTS {
                    return Err(Error::new(
                        ErrorKind::Internal,
                        format!("too many live object handles (the limit is {MAX_SLOTS}): free some with pyrt_object_free"),
                    ));
                }
                let index = a.next;
                let (k, _) = locate(index);
                if SEGMENT[k].load(Acquire).is_null() {
                    let seg: Box<[Slot]> = (0..BASE << k)
                        .map(|_| Slot {
                            object: AtomicUsize::new(0),
                            runtime: AtomicU64::new(0),
                            interp: AtomicUsize::new(0),
                            gen: AtomicU32::new(0),
                        })
                        .collect();
                    SEGMENT[k].store(Box::into_raw(seg).cast::<Slot>(), Release);
                }
                a.next += 1;
                USED.store(a.next, Release);
                index
            }
        }
    };
    let s = slot(index).expect("allocated above");
    s.runtime.store(runtime, Relaxed);
    s.interp.store(super::interp::current(), Relaxed);
    s.object.store(object.into_ptr() as usize, Release);
    let id = encode(index, s.gen.load(Acquire));
    COLLECTING.with(|c| {
        if let Some(ids) = c.borrow_mut().as_mut() {
            ids.push(id);
        }
    });
    Ok(id)
}

/// Empties slot `index` if it is still in generation `gen`; returns its reference.
fn take(index: u32, s: &Slot, gen_full: u32) -> Option<usize> {
    s.gen.compare_exchange(gen_full, gen_full.wrapping_add(1), AcqRel, Relaxed).ok()?;
    // SeqCst: ordered with the reader protocol of `get_with_runtime` on free-threaded builds.
    let object = s.object.swap(0, SeqCst);
    // Only now may `register` reuse the slot.
    ALLOC.lock().unwrap_or_else(|p| p.into_inner()).free.push_back(index);
    (object != 0).then_some(object)
}

thread_local! {
    /// Handles registered on this thread while [`collect_registered`] runs.
    static COLLECTING: std::cell::RefCell<Option<Vec<u64>>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` and returns the handles it registered on this thread (e.g. the objects a host
/// callback receives as arguments, released when the callback returns).
pub fn collect_registered<R>(f: impl FnOnce() -> R) -> (R, Vec<u64>) {
    let outer = COLLECTING.with(|c| c.borrow_mut().replace(Vec::new()));
    let r = f();
    let ids = COLLECTING.with(|c| std::mem::replace(&mut *c.borrow_mut(), outer)).unwrap_or_default();
    (r, ids)
}

/// The exception an error holds, if it holds one (see [`crate::error::ExceptionRef`]).
pub(crate) fn held(e: &crate::error::ExceptionRef) -> Option<&Held> {
    e.0.downcast_ref::<Held>()
}

/// A Python reference held outside the GIL (an exception kept in an error): dropping it queues
/// the reference like a released handle.
pub struct Held {
    object: usize,
    /// The interpreter it belongs to.
    slot: usize,
}

impl Held {
    pub fn new(object: PyRef) -> Held {
        Held { object: object.into_ptr() as usize, slot: super::interp::current() }
    }

    /// A new reference to the object, if it belongs to the current interpreter. GIL held.
    pub fn get(&self, py: Python) -> Option<PyRef> {
        // SAFETY: `self` owns a strong reference to the object (taken in `new`, given up only in
        // `drop`), which keeps it alive; it belongs to this interpreter (slot checked first).
        (self.slot == py.interp()).then(|| unsafe { PyRef::from_borrowed(py, self.object as PyPtr) }.expect("held objects are non-null"))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        queue_in(self.slot, self.object);
    }
}

/// The runtime an object belongs to and the interpreter it lives in (no GIL needed): a call on
/// the object must run in that interpreter (a worker's object, in that worker).
pub fn owner_of(id: u64) -> Result<(u64, usize)> {
    let (s, gen) = decode(id).ok_or_else(closed_object)?;
    if !same_gen(s, gen) {
        return Err(closed_object());
    }
    let runtime = s.runtime.load(Acquire);
    let interp = s.interp.load(Acquire);
    let live = s.object.load(Acquire) != 0;
    // Unchanged meanwhile: the slot was not emptied (and so not refilled) while read.
    if !live || !same_gen(s, gen) {
        return Err(closed_object());
    }
    Ok((runtime, interp))
}

/// A new reference to the handle's object. Holding the GIL while checking the slot and
/// increfing guarantees a concurrent release (which only queues) cannot drop it in between.
#[inline]
pub fn get(py: Python, id: u64) -> Result<PyRef> {
    get_with_runtime(py, id).map(|(o, _)| o)
}

/// A new reference to the handle's object and the runtime it belongs to, in one lookup.
#[inline]
pub fn get_with_runtime(py: Python, id: u64) -> Result<(PyRef, u64)> {
    let (s, gen) = decode(id).ok_or_else(closed_object)?;
    if !same_gen(s, gen) {
        return Err(closed_object());
    }
    if s.interp.load(Relaxed) != py.interp() {
        // (A slot refilled meanwhile by another interpreter's object fails the generation
        // check of a later step; this one only decides where the object may be touched.)
        return Err(if same_gen(s, gen) { other_interpreter() } else { closed_object() });
    }
    let runtime = s.runtime.load(Relaxed);
    if !super::ffi::free_threaded() {
        let object = s.object.load(Acquire);
        // SAFETY: a non-null slot holds the table's strong reference; a release only queues it
        // (dropped by a later drain under the GIL), and this thread holds the GIL, so it is live.
        let o = unsafe { PyRef::from_borrowed(py, object as PyPtr) }.ok_or_else(closed_object)?;
        return Ok((o, runtime));
    }
    READERS.fetch_add(1, SeqCst);
    let object = s.object.load(SeqCst);
    // SAFETY: as above; free-threaded, a drain does not drop queued references while a reader is
    // between this load and the incref (`READERS`, `quiescent`).
    let o = unsafe { PyRef::from_borrowed(py, object as PyPtr) };
    READERS.fetch_sub(1, SeqCst);
    Ok((o.ok_or_else(closed_object)?, runtime))
}

/// Free-threaded builds: readers between loading a slot's object and increfing it.
static READERS: AtomicUsize = AtomicUsize::new(0);

/// Releases a handle from any thread; unknown or already released handles are ignored.
pub fn release(id: u64) {
    let Some((s, gen)) = decode(id) else { return };
    let full = s.gen.load(Acquire);
    if full & ((1 << GEN_BITS) - 1) != gen {
        return;
    }
    let index = ((id >> 3) as u32 & MAX_SLOTS) - 1;
    let interp = s.interp.load(Acquire);
    if let Some(object) = take(index, s, full) {
        queue_in(interp, object);
        if interp != 0 {
            // A worker drops it in its next job; have it look now (a closed stream's
            // generator then runs its `finally` at once, not at the worker's next call).
            super::interp::wake(interp);
        }
    }
}

/// Releases every live handle for which `which(runtime, interp)` holds.
fn release_where(which: impl Fn(u64, usize) -> bool) {
    let used = USED.load(Acquire);
    let mut released = Vec::new();
    for index in 0..used {
        let Some(s) = slot(index) else { continue };
        let full = s.gen.load(Acquire);
        // The object first: once it is set (Release, after the runtime and the interpreter),
        // those two are its occupant's. A later occupant needs a `take`, which bumps the
        // generation, so the `take` below would fail.
        if s.object.load(Acquire) == 0 {
            continue;
        }
        let interp = s.interp.load(Acquire);
        if !which(s.runtime.load(Acquire), interp) {
            continue;
        }
        if let Some(object) = take(index, s, full) {
            released.push((interp, object));
        }
    }
    for (interp, object) in released {
        queue_in(interp, object);
    }
}

/// Releases every handle obtained through `runtime` (when that runtime is freed).
pub fn release_runtime(runtime: u64) {
    release_where(|r, _| r == runtime);
}

/// Releases every handle of objects living in the sub-interpreter `slot` (its worker is ending;
/// the next `drain` there, before the interpreter ends, drops them).
pub fn release_interp(slot: usize) {
    release_where(|_, interp| interp == slot);
}

/// Releases every handle (before finalization).
pub fn release_all() {
    release_where(|_, _| true);
}

fn queue_in(slot: usize, object: usize) {
    let mut q = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    if slot != 0 && ENDED.lock().unwrap_or_else(|p| p.into_inner()).contains(&slot) {
        // A worker's interpreter that has ended: its objects died with it (a handle released
        // after `release_interp`, an exception an error kept).
        return;
    }
    q.push((slot, object));
    pending_flag(slot).store(true, Release);
}

/// Drops the references queued for the current interpreter. Called by every GIL section (one
/// atomic load when nothing is queued).
#[inline(always)]
pub fn drain(py: Python) {
    if pending_flag(py.interp()).load(Acquire) {
        drain_pending(py);
    }
}

/// Queues `release` to run with the main interpreter's GIL, by its next holder (any thread, no
/// GIL). The caller decides first what to do once the interpreter is gone (`liveness`).
pub fn queue_main_release(release: MainRelease) {
    let mut releases = PENDING_MAIN.lock().unwrap_or_else(|p| p.into_inner());
    releases.push(release);
    HAS_PENDING_MAIN.store(true, Release);
}

#[inline(never)]
fn drain_pending(py: Python) {
    if py.interp() == 0 {
        let releases = std::mem::take(&mut *PENDING_MAIN.lock().unwrap_or_else(|p| p.into_inner()));
        for release in releases {
            release(py);
        }
    }
    let slot = py.interp();
    let mine: Vec<usize> = {
        let mut q = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        let mut mine = Vec::new();
        q.retain(|(s, o)| {
            if *s == slot {
                mine.push(*o);
                false
            } else {
                true
            }
        });
        update_flags(&q);
        mine
    };
    if super::ffi::free_threaded() && !quiescent() {
        // A reader may still be about to incref one of these: drop them on a later drain.
        let mut q = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        q.extend(mine.into_iter().map(|o| (slot, o)));
        pending_flag(slot).store(true, Release);
        return;
    }
    // Py_DecRef may run __del__, which may release more handles: they go to the queue again.
    for object in mine {
        // SAFETY: each queued address is one owned reference, queued exactly once (`take` wins a
        // slot's reference with a swap; a `Held` queues its own on drop), to an object of this
        // interpreter (`slot == py.interp()`), whose GIL the `py` token proves held; it is given up
        // here (dropped at once). On a free-threaded build no reader is between loading it and
        // increfing it (`quiescent`).
        drop(unsafe { PyRef::from_owned(object as PyPtr) });
    }
}

/// True once no reader is inside `get_with_runtime`'s load-to-incref window (a few tries: the
/// window is a handful of instructions, but readers may keep overlapping under load).
fn quiescent() -> bool {
    for _ in 0..64 {
        if READERS.load(SeqCst) == 0 {
            return true;
        }
        std::hint::spin_loop();
    }
    READERS.load(SeqCst) == 0
}

/// Forgets the references queued for an interpreter that was ended (they died with it).
pub fn forget_slot(slot: usize) {
    let mut q = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    q.retain(|(s, _)| *s != slot);
    ENDED.lock().unwrap_or_else(|p| p.into_inner()).push(slot);
    update_flags(&q);
}

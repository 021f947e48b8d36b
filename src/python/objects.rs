//! Object handles: opaque tokens owning one Python reference each.
//!
//! A handle is a number looked up in a table, never a pointer the host can dereference, so a
//! freed handle (or one whose runtime was freed) is an error, not a crash. Releasing a handle
//! never takes the GIL: the reference is queued and the next thread that holds the GIL drops it.
//! So `pyrt_object_free` works from any thread — a Go finalizer, a thread inside a host callback,
//! a thread the interpreter is blocked on — without ever deadlocking, and it never touches the
//! interpreter after finalization (the queue is simply dropped).

use super::exec::FxMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::ffi::PyPtr;
use super::{PyRef, Python};
use crate::error::{Error, ErrorKind, Result};

struct Entry {
    /// The owned reference (as an address: the table is shared across threads, and the pointer
    /// is only dereferenced with the GIL held).
    object: usize,
    /// The runtime handle the object was obtained through.
    runtime: u64,
}

/// Handle number → entry. The numbers are ours (sequential), so a fast non-keyed hash is fine.
static TABLE: Mutex<Option<FxMap<u64, Entry>>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(0x6f62_0000);
/// References released without the GIL, per interpreter slot, dropped by the next holder of
/// that interpreter's GIL.
static PENDING: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
static HAS_PENDING: AtomicBool = AtomicBool::new(false);

fn table() -> std::sync::MutexGuard<'static, Option<FxMap<u64, Entry>>> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn closed_object() -> Error {
    Error::new(ErrorKind::Closed, "the pyrt object was freed (or this is not an object handle)")
}

/// Object handles belong to the main interpreter; a worker may not use them.
fn main_interpreter_only() -> Result<()> {
    if super::interp::current() != 0 {
        return Err(Error::invalid_argument("object handles cannot be used in a worker sub-interpreter (objects cannot move between interpreters)"));
    }
    Ok(())
}

/// Moves `object` into the table; returns its handle.
pub fn register(object: PyRef, runtime: u64) -> u64 {
    let id = NEXT_ID.fetch_add(8, Ordering::Relaxed);
    table().get_or_insert_with(FxMap::default).insert(id, Entry { object: object.into_ptr() as usize, runtime });
    COLLECTING.with(|c| {
        if let Some(ids) = c.borrow_mut().as_mut() {
            ids.push(id);
        }
    });
    id
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
        (self.slot == super::interp::current()).then(|| PyRef::from_borrowed(py, self.object as PyPtr).expect("held objects are non-null"))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        queue_in(self.slot, self.object);
    }
}

/// The runtime an object belongs to (no GIL needed).
pub fn runtime_of(id: u64) -> Result<u64> {
    table().as_ref().and_then(|t| t.get(&id)).map(|e| e.runtime).ok_or_else(closed_object)
}

/// A new reference to the handle's object. Holding the GIL while reading the table and
/// increfing guarantees a concurrent release (which only queues) cannot drop it in between.
pub fn get(py: Python, id: u64) -> Result<PyRef> {
    main_interpreter_only()?;
    let ptr = table().as_ref().and_then(|t| t.get(&id)).map(|e| e.object).ok_or_else(closed_object)?;
    Ok(PyRef::from_borrowed(py, ptr as PyPtr).expect("registered objects are non-null"))
}

/// A new reference to the handle's object and the runtime it belongs to, in one lookup.
pub fn get_with_runtime(py: Python, id: u64) -> Result<(PyRef, u64)> {
    main_interpreter_only()?;
    let (ptr, runtime) = table().as_ref().and_then(|t| t.get(&id)).map(|e| (e.object, e.runtime)).ok_or_else(closed_object)?;
    Ok((PyRef::from_borrowed(py, ptr as PyPtr).expect("registered objects are non-null"), runtime))
}

/// Releases a handle from any thread; unknown or already released handles are ignored.
pub fn release(id: u64) {
    let entry = table().as_mut().and_then(|t| t.remove(&id));
    if let Some(e) = entry {
        queue(e.object);
    }
}

/// Releases every handle obtained through `runtime` (when that runtime is freed).
pub fn release_runtime(runtime: u64) {
    let mut released = Vec::new();
    if let Some(t) = table().as_mut() {
        t.retain(|_, e| {
            if e.runtime == runtime {
                released.push(e.object);
                false
            } else {
                true
            }
        });
    }
    for object in released {
        queue(object);
    }
}

/// Releases every handle (before finalization).
pub fn release_all() {
    let all: Vec<usize> = table().take().map(|t| t.into_values().map(|e| e.object).collect()).unwrap_or_default();
    for object in all {
        queue(object);
    }
}

/// Object handles live in the main interpreter.
fn queue(object: usize) {
    queue_in(0, object);
}

fn queue_in(slot: usize, object: usize) {
    PENDING.lock().unwrap_or_else(|p| p.into_inner()).push((slot, object));
    HAS_PENDING.store(true, Ordering::Release);
}

/// Drops the references queued for the current interpreter. Called by every GIL section (one
/// atomic load when nothing is queued).
#[inline]
pub fn drain(py: Python) {
    if !HAS_PENDING.load(Ordering::Acquire) {
        return;
    }
    let slot = super::interp::current();
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
        HAS_PENDING.store(!q.is_empty(), Ordering::Release);
        mine
    };
    // Py_DecRef may run __del__, which may release more handles: they go to the queue again.
    for object in mine {
        unsafe { (py.api.Py_DecRef)(object as PyPtr) };
    }
}

/// Forgets the references queued for an interpreter that was ended (they died with it).
pub fn forget_slot(slot: usize) {
    let mut q = PENDING.lock().unwrap_or_else(|p| p.into_inner());
    q.retain(|(s, _)| *s != slot);
    HAS_PENDING.store(!q.is_empty(), Ordering::Release);
}

/// Number of live handles (tests and diagnostics).
pub fn live_count() -> usize {
    table().as_ref().map_or(0, |t| t.len())
}

//! Iterators and generators, a step at a time (docs/streams.md).

use std::ffi::c_char;

use super::error::pyrt_error;
use super::object::{object_handle, pyrt_object};
use super::status::{PYRT_DONE, PYRT_OK};
use super::{boundary, optional_text, require_out, ErrOut};
use crate::error::Result;
use crate::runtime::{self, Returned};

/// Runs one step: `f` returns the item, or `None` at the end (PYRT_DONE; nothing is stored).
fn step(err_out: ErrOut, f: impl FnOnce() -> Result<Option<()>>) -> i32 {
    let mut done = false;
    let status = boundary(err_out, || {
        done = f()?.is_none();
        Ok(())
    });
    if status == PYRT_OK && done {
        PYRT_DONE
    } else {
        status
    }
}

/// Stores an encoded item in `*out` (a handle result is not expected here).
///
/// # Safety
/// `out` is a valid, writable `char **` (not NULL).
unsafe fn put_item(out: *mut *mut c_char, item: Option<Returned>) -> Option<()> {
    match item? {
        // SAFETY: writable and not NULL (the contract).
        Returned::Json(j) => unsafe { *out = j.into_raw() },
        Returned::Object(_) => unreachable!("an encoded step returns JSON"),
    }
    Some(())
}

/// `iter(obj)`: an iterator over any iterable object (a list, a dict's keys, a generator, a file,
/// a NumPy array...) as a new object handle in `*iter_out` (must not be NULL; free it with
/// pyrt_object_free()). An iterator gives itself. An async iterable (an async generator, an
/// async database cursor) gives an iterator whose steps await its items on pyrt's event loop
/// (see pyrt_call_async()); closing it runs the async generator's `aclose()` there. An object
/// that is not iterable is Python's TypeError (PYRT_ERR_PYTHON). Any thread.
///
/// The pyrt_iter_* functions then take its items one at a time (or a batch at a time), each step
/// a call of its own: it may run on any thread, and the handle's "timeout_ms" and
/// pyrt_interrupt_thread() apply to each step. On a "workers" handle the iterator lives in the
/// worker that made the object, and every step runs there (an async iterable is
/// PYRT_ERR_INVALID_ARGUMENT there: the event loop belongs to the main interpreter).
#[no_mangle]
pub unsafe extern "C" fn pyrt_object_iter(obj: *mut pyrt_object, iter_out: *mut *mut pyrt_object, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || {
        require_out(iter_out, "iter_out")?;
        let id = runtime::object_iter(object_handle(obj, "obj")?)?;
        // SAFETY: `iter_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *iter_out = id as usize as *mut pyrt_object };
        Ok(())
    })
}

/// `next(iter)`: the next item's encoding (`flags` as for pyrt_call_value()) in `*item_out`
/// (must not be NULL; free it with pyrt_string_free()). Returns PYRT_OK with an item,
/// PYRT_DONE at the end (and on every later call; `*item_out` untouched), or the error the
/// iterator raised, traceback included (a generator that raised is finished: the next step
/// returns PYRT_DONE). An object that is not an iterator is Python's TypeError: take an
/// iterator with pyrt_object_iter() first. Any thread.
///
/// ```c
///     pyrt_object *it;
///     char *item;
///     int32_t rc;
///     if (pyrt_object_iter(rows, &it, &err) != PYRT_OK) { ... }
///     while ((rc = pyrt_iter_next(it, 0, &item, &err)) == PYRT_OK) {
///         puts(item);
///         pyrt_string_free(item);
///     }
///     if (rc != PYRT_DONE) { ... report err ... }
///     pyrt_object_free(it);
/// ```
#[no_mangle]
pub unsafe extern "C" fn pyrt_iter_next(
    iter: *mut pyrt_object,
    flags: u32,
    item_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    step(unsafe { ErrOut::new(err_out) }, || {
        require_out(item_out, "item_out")?;
        let item = runtime::iter_next(object_handle(iter, "iter")?, flags, false)?;
        // SAFETY: `item_out` is not NULL (require_out) and writable for the call (the header's contract).
        Ok(unsafe { put_item(item_out, item) })
    })
}

/// As pyrt_iter_next(), but the item is kept as a new object handle in `*item_out` (must not be
/// NULL; free it with pyrt_object_free()). Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_iter_next_object(
    iter: *mut pyrt_object,
    item_out: *mut *mut pyrt_object,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    step(unsafe { ErrOut::new(err_out) }, || {
        require_out(item_out, "item_out")?;
        match runtime::iter_next(object_handle(iter, "iter")?, 0, true)? {
            Some(Returned::Object(id)) => {
                // SAFETY: `item_out` is not NULL (require_out) and writable for the call (the header's contract).
                unsafe { *item_out = id as usize as *mut pyrt_object };
                Ok(Some(()))
            }
            Some(Returned::Json(_)) => unreachable!("a handle step returns a handle"),
            None => Ok(None),
        }
    })
}

/// Up to `max_items` next items (at least 1) as one JSON array in `*items_out` (must not be
/// NULL; free it with pyrt_string_free()), taken in one call: streaming many small items costs
/// one foreign call and one GIL hand-off per batch instead of per item. The array holds fewer
/// items when the iterator ended meanwhile; PYRT_DONE when it had none left. If the iterator
/// raises after some items, those items are returned with PYRT_OK and the error is held: the
/// next step on this handle returns it. Note that a batch runs a generator ahead of what the
/// host has consumed: use pyrt_iter_next() where every step has side effects the host must
/// pace. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_iter_next_batch(
    iter: *mut pyrt_object,
    max_items: usize,
    flags: u32,
    items_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    step(unsafe { ErrOut::new(err_out) }, || {
        require_out(items_out, "items_out")?;
        let Some(items) = runtime::iter_next_batch(object_handle(iter, "iter")?, max_items, flags)? else { return Ok(None) };
        // SAFETY: `items_out` is not NULL (require_out) and writable for the call (the header's contract).
        unsafe { *items_out = items.into_raw() };
        Ok(Some(()))
    })
}

/// `gen.send(value)` on a generator (or coroutine): resumes it with `value_json` (encoded as
/// `flags` say; NULL sends None) and returns the next value it yields in `*item_out` (must not
/// be NULL; free it with pyrt_string_free()), or PYRT_DONE when it returns. A new generator
/// must first be started with pyrt_iter_next() or a None send, as in Python. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_iter_send(
    gen: *mut pyrt_object,
    value_json: *const c_char,
    flags: u32,
    item_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    step(unsafe { ErrOut::new(err_out) }, || {
        require_out(item_out, "item_out")?;
        // SAFETY: the string is NULL (None) or NUL-terminated and valid for the call (the header's contract).
        let value = unsafe { optional_text(value_json, "value_json") }?;
        let item = runtime::iter_send(object_handle(gen, "gen")?, value, flags, false)?;
        // SAFETY: `item_out` is not NULL (require_out) and writable for the call (the header's contract).
        Ok(unsafe { put_item(item_out, item) })
    })
}

/// `gen.throw(exception)`: raises `exception` (an object handle: an exception instance or class,
/// not consumed) inside the generator where it is suspended. Returns the next value it yields in
/// `*item_out` (must not be NULL; free it with pyrt_string_free()), PYRT_DONE if it returns, or
/// the exception that propagates out of it. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_iter_throw(
    gen: *mut pyrt_object,
    exception: *mut pyrt_object,
    flags: u32,
    item_out: *mut *mut c_char,
    err_out: *mut *mut pyrt_error,
) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    step(unsafe { ErrOut::new(err_out) }, || {
        require_out(item_out, "item_out")?;
        let item = runtime::iter_throw(object_handle(gen, "gen")?, object_handle(exception, "exception")?, flags, false)?;
        // SAFETY: `item_out` is not NULL (require_out) and writable for the call (the header's contract).
        Ok(unsafe { put_item(item_out, item) })
    })
}

/// Closes an iterator now: `close()` on a generator raises GeneratorExit inside it, so its
/// `finally` blocks and context managers run before this returns; later steps return
/// PYRT_DONE. An iterator without `close()` (a list's) is left as it is. An error a batch held
/// back is dropped. The handle itself stays valid until pyrt_object_free(), which alone would
/// also close a generator, but later, on whichever thread drops the reference. Any thread.
#[no_mangle]
pub unsafe extern "C" fn pyrt_iter_close(iter: *mut pyrt_object, err_out: *mut *mut pyrt_error) -> i32 {
    // SAFETY: `err_out` is NULL or a writable `pyrt_error **` for the call (the header's contract).
    boundary(unsafe { ErrOut::new(err_out) }, || runtime::iter_close(object_handle(iter, "iter")?))
}

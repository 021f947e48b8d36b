//! Iterators and generators consumed step by step (docs/streams.md): `iter()`, `next()` one item
//! or a batch at a time, and a generator's `send`, `throw` and `close`. Each step is a call of
//! its own: admitted, interruptible and timed like any other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::guard::enter_object;
use super::values::{give, mode, Returned};
use crate::ctext::CText;
use crate::error::{Error, Result};
use crate::python::{convert, handles, iterate};

/// `iter(object)` as a new object handle.
pub fn object_iter(object: u64) -> Result<u64> {
    let (guard, runtime) = enter_object(object)?;
    guard.with_gil(|py| {
        let o = handles::get(py, object)?;
        handles::register(iterate::iter_of(py, &o)?, runtime)
    })
}

/// What a step of an iteration gives the host: an item (encoded, or a handle), or the end.
pub type Step = Option<Returned>;

/// `next(iterator)`: the next item, or `None` at the end. An error a batch held back (see
/// [`iter_next_batch`]) is reported first.
pub fn iter_next(object: u64, flags: u32, as_object: bool) -> Result<Step> {
    take_held_error(object)?;
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let it = handles::get(py, object)?;
        match iterate::next(py, &it)? {
            Some(v) => give(py, v, runtime, as_object, mode).map(Some),
            None => Ok(None),
        }
    })
}

/// Up to `max` next items as one JSON array, in one call: `None` when the iterator had none
/// left. An iterator that raises after yielding some items returns those items; the error is
/// held and reported by the next step on this handle, so no item is lost and the exception
/// still arrives where Python would raise it.
pub fn iter_next_batch(object: u64, max: usize, flags: u32) -> Result<Option<CText>> {
    if max == 0 {
        return Err(Error::invalid_argument("max_items must be at least 1"));
    }
    take_held_error(object)?;
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    let (text, error) = guard.with_gil(|py| {
        let it = handles::get(py, object)?;
        let mut out = Vec::with_capacity(64);
        out.push(b'[');
        let mut count = 0usize;
        let mut error = None;
        while count < max {
            match iterate::next(py, &it) {
                Ok(Some(v)) => {
                    if count > 0 {
                        out.push(b',');
                    }
                    let at = out.len();
                    if let Err(e) = convert::to_json_mode(py, &v, &mut out, mode) {
                        // An item without an encoding: the items before it go out now.
                        out.truncate(at.saturating_sub(usize::from(count > 0)));
                        let message = format!("item {count} of the batch: {}", e.message);
                        error = Some(e.with_message(message));
                        break;
                    }
                    count += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        out.push(b']');
        Ok((if count == 0 { None } else { Some(CText::from_bytes_unchecked(&out)) }, error))
    })?;
    match (text, error) {
        (None, Some(e)) => Err(e),
        (text, Some(e)) => {
            hold_error(object, e);
            Ok(text)
        }
        (text, None) => Ok(text),
    }
}

/// `generator.send(value)` with an encoded value (`None`: Python's None).
pub fn iter_send(object: u64, value_json: Option<&str>, flags: u32, as_object: bool) -> Result<Step> {
    take_held_error(object)?;
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let generator = handles::get(py, object)?;
        let value = match value_json {
            Some(json) => convert::from_json_mode(py, json, mode)?,
            None => py.none_ref(),
        };
        match iterate::send(py, &generator, &value)? {
            Some(v) => give(py, v, runtime, as_object, mode).map(Some),
            None => Ok(None),
        }
    })
}

/// `generator.throw(exception)`, the exception given as another object handle.
pub fn iter_throw(object: u64, exception: u64, flags: u32, as_object: bool) -> Result<Step> {
    take_held_error(object)?;
    let (guard, runtime) = enter_object(object)?;
    let mode = mode(flags, runtime)?;
    guard.with_gil(|py| {
        let generator = handles::get(py, object)?;
        let exception = handles::get(py, exception)?;
        match iterate::throw(py, &generator, &exception)? {
            Some(v) => give(py, v, runtime, as_object, mode).map(Some),
            None => Ok(None),
        }
    })
}

/// `iterator.close()` where it has one; an error a batch held back is dropped.
pub fn iter_close(object: u64) -> Result<()> {
    let _ = take_held_error(object);
    let (guard, _) = enter_object(object)?;
    guard.with_gil(|py| {
        let it = handles::get(py, object)?;
        iterate::close(py, &it)
    })
}

/// Errors a batch held back, by object handle. Rare, so the map is locked only while it is not
/// empty (an atomic count says so).
static HELD: Mutex<Option<HashMap<u64, Error>>> = Mutex::new(None);
static HELD_COUNT: AtomicUsize = AtomicUsize::new(0);

fn hold_error(object: u64, e: Error) {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held.get_or_insert_with(HashMap::new).insert(object, e).is_none() {
        HELD_COUNT.fetch_add(1, Ordering::SeqCst);
    }
}

/// Reports (and forgets) the error held for `object`, if any.
fn take_held_error(object: u64) -> Result<()> {
    if HELD_COUNT.load(Ordering::SeqCst) == 0 {
        return Ok(());
    }
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    match held.as_mut().and_then(|m| m.remove(&object)) {
        Some(e) => {
            HELD_COUNT.fetch_sub(1, Ordering::SeqCst);
            Err(e)
        }
        None => Ok(()),
    }
}

/// Forgets what is held for a handle being freed.
pub fn forget(object: u64) {
    let _ = take_held_error(object);
}

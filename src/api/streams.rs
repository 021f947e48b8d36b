//! Iterators and coroutines (docs/streams.md): [`Iter`] over a Python iterable, [`Task`] for
//! a coroutine on pyrt's event loop.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::encoding::{encode_args, from_json, into_string, to_json, unexpected_object, NO_KWARGS};
use super::{Object, Runtime};
use crate::error::{Error, ErrorKind, Result};
use crate::runtime::{self, Returned, VALUE_TAGGED};

/// A coroutine running on pyrt's asyncio event loop ([`Runtime::call_async`]): a `Future` of
/// its result, converted to `T`. Awaiting it from any executor does not block a thread;
/// [`Task::wait`] blocks the calling thread instead. Dropping it does not cancel the coroutine:
/// call [`Task::cancel`].
#[derive(Debug)]
pub struct Task<T> {
    pub(super) id: u64,
    pub(super) shared: std::sync::Arc<TaskShared>,
    pub(super) _value: std::marker::PhantomData<fn() -> T>,
}

#[derive(Debug, Default)]
pub(super) struct TaskShared {
    pub(super) state: std::sync::Mutex<TaskState>,
    pub(super) ready: std::sync::Condvar,
}

#[derive(Debug, Default)]
pub(super) struct TaskState {
    pub(super) outcome: Option<Result<String>>,
    pub(super) waker: Option<std::task::Waker>,
}

impl<T: DeserializeOwned> Task<T> {
    pub(super) fn completion() -> (std::sync::Arc<TaskShared>, runtime::Completion) {
        let shared = std::sync::Arc::new(TaskShared::default());
        let s = shared.clone();
        let done: runtime::Completion = Box::new(move |_task, outcome| {
            let mut st = s.state.lock().unwrap_or_else(|p| p.into_inner());
            st.outcome = Some(outcome.map(into_string));
            if let Some(w) = st.waker.take() {
                w.wake();
            }
            s.ready.notify_all();
        });
        (shared, done)
    }

    /// Blocks the calling thread until the coroutine is done; its result converted to `T`, or
    /// its exception ([`ErrorKind::Python`]), its cancellation ([`ErrorKind::Interrupted`]) or
    /// the runtime's closing ([`ErrorKind::Closed`]).
    pub fn wait(self) -> Result<T> {
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        while st.outcome.is_none() {
            st = self.shared.ready.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        let outcome = st.outcome.take().expect("checked");
        drop(st);
        outcome.and_then(|json| from_json(&json))
    }

    /// Cancels the coroutine: Python sees CancelledError where it awaits and runs its cleanup;
    /// the task then completes with [`ErrorKind::Interrupted`] (or its result, if it caught the
    /// cancellation). Returns at once.
    pub fn cancel(&self) -> Result<()> {
        runtime::task_cancel(self.id)
    }

    /// Whether the coroutine is done.
    pub fn is_done(&self) -> bool {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner()).outcome.is_some()
    }
}

impl<T: DeserializeOwned> std::future::Future for Task<T> {
    type Output = Result<T>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<T>> {
        let mut st = self.shared.state.lock().unwrap_or_else(|p| p.into_inner());
        match st.outcome.take() {
            Some(outcome) => std::task::Poll::Ready(outcome.and_then(|json| from_json(&json))),
            None => {
                st.waker = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}

/// An iterator over a Python iterable's items ([`Object::iter`]); also a generator's `send`,
/// `throw` and `close`. Each step is a call into Python (interruptible, with the runtime's
/// timeout); a Python exception ends the iteration as an `Err` item.
///
/// Dropping it releases the Python iterator; a generator then closes when its last reference
/// is dropped, on whichever thread next enters Python. Call [`Iter::close`] to run its `finally`
/// blocks now.
#[derive(Debug)]
pub struct Iter<T> {
    pub(super) it: Object,
    pub(super) batch: usize,
    pub(super) buffered: std::collections::VecDeque<serde_json::Value>,
    pub(super) done: bool,
    pub(super) _item: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Iter<T> {
    /// Takes up to `n` items per call into Python (at least 1): many small items then cost one
    /// call per batch instead of one each. A generator runs ahead of what was consumed by up to
    /// `n - 1` items, so keep 1 where each step has side effects that must be paced.
    pub fn batched(mut self, n: usize) -> Iter<T> {
        self.batch = n.max(1);
        self
    }

    /// `generator.send(value)`: the next value it yields, or `None` when it returns.
    pub fn send(&mut self, value: impl Serialize) -> Result<Option<T>> {
        self.check_unbuffered("send")?;
        let json = to_json(&value, "the value")?;
        let flags = if json.contains("\"__pyrt__\"") { VALUE_TAGGED } else { 0 };
        self.step(runtime::iter_send(self.it.id, Some(&json), flags, false))
    }

    /// `generator.throw(exception)` with an exception object (an instance or a class): the next
    /// value the generator yields, `None` if it returns, or the exception that propagates out.
    pub fn throw(&mut self, exception: &Object) -> Result<Option<T>> {
        self.check_unbuffered("throw")?;
        self.step(runtime::iter_throw(self.it.id, exception.id, 0, false))
    }

    /// `close()`: a generator's `finally` blocks run now; the iteration ends.
    pub fn close(&mut self) -> Result<()> {
        self.done = true;
        self.buffered.clear();
        runtime::iter_close(self.it.id)
    }

    /// The Python iterator itself.
    pub fn as_object(&self) -> &Object {
        &self.it
    }

    fn check_unbuffered(&self, what: &str) -> Result<()> {
        if self.buffered.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_argument(format!("{what}: items taken ahead by a batch are still unread")))
        }
    }

    fn step(&mut self, r: Result<Option<Returned>>) -> Result<Option<T>> {
        match r? {
            Some(Returned::Json(j)) => from_json(j.to_str().expect("pyrt returns UTF-8")).map(Some),
            Some(Returned::Object(id)) => Err(unexpected_object(id)),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }

    fn fill(&mut self) -> Result<()> {
        match runtime::iter_next_batch(self.it.id, self.batch, 0)? {
            Some(items) => {
                let text = items.to_str().expect("pyrt returns UTF-8");
                let values: Vec<serde_json::Value> = serde_json::from_str(text)
                    .map_err(|e| Error::new(ErrorKind::Internal, format!("pyrt returned a malformed batch: {e}")))?;
                self.buffered.extend(values);
            }
            None => self.done = true,
        }
        Ok(())
    }
}

impl<T: DeserializeOwned> Iterator for Iter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let Some(v) = self.buffered.pop_front() {
            return Some(
                serde_json::from_value(v)
                    .map_err(|e| Error::new(ErrorKind::Conversion, format!("an item does not fit the Rust type: {e}"))),
            );
        }
        if self.done {
            return None;
        }
        if self.batch == 1 {
            return self.step(runtime::iter_next(self.it.id, 0, false)).transpose();
        }
        if let Err(e) = self.fill() {
            return Some(Err(e));
        }
        self.next()
    }
}

impl Object {
    /// `iter(self)`: the items of any iterable (a list, a generator, a file...), each converted
    /// to `T` as it is taken. A generator runs one step per item (see [`Iter::batched`] to take
    /// many per call).
    ///
    /// ```no_run
    /// # fn main() -> pyrt::Result<()> {
    /// let rt = pyrt::Runtime::new(None)?;
    /// rt.run("def squares(n):\n    for i in range(n):\n        yield i * i\n")?;
    /// let squares = rt.call_object("__main__", "squares", (4,))?;
    /// let v: Vec<u64> = squares.iter()?.collect::<pyrt::Result<_>>()?;
    /// assert_eq!(v, [0, 1, 4, 9]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn iter<T: DeserializeOwned>(&self) -> Result<Iter<T>> {
        Ok(Iter {
            it: Object { id: runtime::object_iter(self.id)? },
            batch: 1,
            buffered: std::collections::VecDeque::new(),
            done: false,
            _item: std::marker::PhantomData,
        })
    }
}

impl Runtime {
    /// Calls `module.function(*args)`, an `async def`, and runs the coroutine on pyrt's asyncio
    /// event loop (docs/streams.md): returns at once with a [`Task`], a `Future` of the result
    /// converted to `T` (await it from any executor, or [`Task::wait`] for it). No thread waits
    /// while the coroutine runs. An error raised before the coroutine started (a missing
    /// function, a result that is not awaitable) is returned here.
    ///
    /// ```no_run
    /// # fn main() -> pyrt::Result<()> {
    /// let rt = pyrt::Runtime::new(None)?;
    /// rt.run("import asyncio\nasync def later(x):\n    await asyncio.sleep(0.01)\n    return x * 2\n")?;
    /// let tasks: Vec<pyrt::Task<i64>> = (0..100).map(|i| rt.call_async("__main__", "later", (i,))).collect::<pyrt::Result<_>>()?;
    /// let sum: i64 = tasks.into_iter().map(|t| t.wait()).sum::<pyrt::Result<i64>>()?;
    /// assert_eq!(sum, 9900);
    /// # Ok(())
    /// # }
    /// ```
    pub fn call_async<T: DeserializeOwned>(&self, module: &str, function: &str, args: impl Serialize) -> Result<Task<T>> {
        let e = encode_args(&args, NO_KWARGS)?;
        let (shared, done) = Task::<T>::completion();
        let id = runtime::call_async(self.token, &format!("{module}:{function}"), Some(&e.args), None, e.flags, done)?;
        Ok(Task { id, shared, _value: std::marker::PhantomData })
    }
}

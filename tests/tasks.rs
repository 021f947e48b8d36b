//! Coroutines through the Rust API (`Runtime::call_async`, `pyrt::Task`): awaited as futures
//! (a minimal executor below), waited for, cancelled, thousands at once, and async generators
//! iterated. The suite runs this file once per CPython present (scripts/test.sh).

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use pyrt::{ErrorKind, Runtime, Task};

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = Runtime::new(None).expect("a libpython is available");
        rt.run(
            "import asyncio\n\
             log = []\n\
             async def add(a, b):\n\
             \x20   await asyncio.sleep(0.001)\n\
             \x20   return a + b\n\
             async def boom():\n\
             \x20   raise ValueError('async boom')\n\
             async def nap():\n\
             \x20   await asyncio.sleep(0.05)\n\
             \x20   return 1\n\
             async def forever():\n\
             \x20   try:\n\
             \x20       await asyncio.sleep(3600)\n\
             \x20   finally:\n\
             \x20       log.append('cleaned up')\n\
             async def ticks(n):\n\
             \x20   for i in range(n):\n\
             \x20       await asyncio.sleep(0)\n\
             \x20       yield i\n",
        )
        .unwrap();
        rt
    })
}

/// Runs a future to completion on this thread, parking between polls.
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn results_exceptions_and_not_awaitable() {
    let rt = rt();
    let t: Task<i64> = rt.call_async("__main__", "add", (40, 2)).unwrap();
    assert_eq!(block_on(t).unwrap(), 42);
    assert_eq!(rt.call_async::<i64>("__main__", "add", (1, 2)).unwrap().wait().unwrap(), 3);
    let e = rt.call_async::<i64>("__main__", "boom", ()).unwrap().wait().unwrap_err();
    assert_eq!(e.python_type(), Some("ValueError"));
    assert!(e.traceback().unwrap().contains("boom"));
    let e = rt.call_async::<i64>("builtins", "len", (vec![1],)).unwrap_err();
    assert_eq!(e.python_type(), Some("TypeError"));
}

#[test]
fn cancel_runs_the_cleanup_first() {
    let rt = rt();
    let t: Task<()> = rt.call_async("__main__", "forever", ()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!t.is_done());
    t.cancel().unwrap();
    assert_eq!(t.wait().unwrap_err().kind, ErrorKind::Interrupted);
    let log: Vec<String> = rt.eval("log").unwrap();
    assert!(log.contains(&"cleaned up".to_string()), "{log:?}");
}

#[test]
fn thousands_at_once_as_futures() {
    let rt = rt();
    let start = std::time::Instant::now();
    let tasks: Vec<Task<i64>> = (0..2000).map(|_| rt.call_async("__main__", "nap", ()).unwrap()).collect();
    let total: i64 = block_on(async {
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        total
    });
    assert_eq!(total, 2000);
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
}

#[test]
fn async_generators_iterate() {
    let rt = rt();
    let agen = rt.call_object("__main__", "ticks", (5,)).unwrap();
    let v: Vec<i64> = agen.iter().unwrap().collect::<pyrt::Result<_>>().unwrap();
    assert_eq!(v, [0, 1, 2, 3, 4]);
}

#[test]
fn closing_the_runtime_completes_its_tasks() {
    let rt = rt();
    let rt2 = Runtime::new(None).unwrap();
    let t: Task<()> = rt2.call_async("__main__", "forever", ()).unwrap();
    drop(rt2);
    assert_eq!(t.wait().unwrap_err().kind, ErrorKind::Closed);
    // The shared runtime is unaffected.
    assert_eq!(rt.call_async::<i64>("__main__", "add", (2, 2)).unwrap().wait().unwrap(), 4);
}

//! Objects and iterators of a runtime with "workers": an object lives in the worker that made it
//! (its handle records that interpreter) and every operation on it runs there, so generators
//! stream from workers as from the main interpreter. Objects never cross interpreters: using
//! one in a call that ran elsewhere is a clear error, and a worker's objects die with it. Below
//! 3.12 the same runtime runs in the main interpreter, and everything here holds as well.

use std::sync::OnceLock;

use pyrt::{ErrorKind, Runtime};

// `HERE` tells interpreters apart (a call runs on its caller's thread or on the worker's, so a
// thread ident would not).
const SETUP: &str = "import threading, os\n\
HERE = int.from_bytes(os.urandom(6), 'little')\n\
log = []\n\
def numbers(n):\n\
\x20   try:\n\
\x20       for i in range(n):\n\
\x20           yield i\n\
\x20   finally:\n\
\x20       log.append('finally')\n\
def rows(n):\n\
\x20   for i in range(n):\n\
\x20       yield {'i': i, 'where': HERE}\n\
def failing():\n\
\x20   yield 1\n\
\x20   raise ValueError('midway')\n\
def total():\n\
\x20   t = 0\n\
\x20   while True:\n\
\x20       x = yield t\n\
\x20       t += x\n\
def where():\n\
\x20   return HERE\n\
async def agen():\n\
\x20   yield 1\n\
class Box:\n\
\x20   def __init__(self, v):\n\
\x20       self.v = v\n\
\x20   def get(self):\n\
\x20       return (self.v, HERE)\n\
\x20   def peek(self, other):\n\
\x20       return other.v\n\
def unbox(b):\n\
\x20   return b.v\n\
def meet(path, i):\n\
\x20   import os, time\n\
\x20   open(os.path.join(path, str(i)), 'w').close()\n\
\x20   end = time.monotonic() + 10\n\
\x20   while len(os.listdir(path)) < 2 and time.monotonic() < end:\n\
\x20       time.sleep(0.005)\n\
\x20   return Box(i)\n";

fn workers() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::builder().workers(2).worker_setup(SETUP).build().expect("a libpython is available"))
}

fn sub_interpreters() -> bool {
    workers().info().unwrap().workers > 0
}

#[test]
fn generators_stream_from_a_worker() {
    let rt = workers();
    let gen = rt.call_object("__main__", "numbers", (5,)).unwrap();
    let v: Vec<u32> = gen.iter().unwrap().collect::<pyrt::Result<_>>().unwrap();
    assert_eq!(v, [0, 1, 2, 3, 4]);
    // Batches, and every step in the worker that made the generator (one interpreter).
    let rows = rt.call_object("__main__", "rows", (300,)).unwrap();
    let items: Vec<serde_json::Value> = rows.iter().unwrap().batched(64).collect::<pyrt::Result<_>>().unwrap();
    assert_eq!(items.len(), 300);
    let first = &items[0]["where"];
    assert!(items.iter().all(|r| &r["where"] == first), "the steps ran in more than one interpreter");
    // send, and an error midway.
    let mut total = rt.call_object("__main__", "total", ()).unwrap().iter::<i64>().unwrap();
    assert_eq!(total.next().unwrap().unwrap(), 0);
    assert_eq!(total.send(5).unwrap(), Some(5));
    assert_eq!(total.send(7).unwrap(), Some(12));
    total.close().unwrap();
    let mut failing = rt.call_object("__main__", "failing", ()).unwrap().iter::<i64>().unwrap();
    assert_eq!(failing.next().unwrap().unwrap(), 1);
    let e = failing.next().unwrap().unwrap_err();
    assert_eq!(e.python_type(), Some("ValueError"), "{e}");
    assert!(failing.next().is_none());
}

#[test]
fn steps_from_many_threads_stay_in_their_worker() {
    let rt = workers();
    let gens: Vec<_> = (0..4).map(|_| rt.call_object("__main__", "rows", (200,)).unwrap()).collect();
    std::thread::scope(|s| {
        for g in &gens {
            s.spawn(move || {
                let mut it = g.iter::<serde_json::Value>().unwrap();
                let first = it.next().unwrap().unwrap();
                let mut n = 1;
                for r in it {
                    let r = r.unwrap();
                    assert_eq!(r["where"], first["where"]);
                    assert_eq!(r["i"], n);
                    n += 1;
                }
                assert_eq!(n, 200);
            });
        }
    });
}

#[test]
fn objects_keep_their_worker_and_never_cross() {
    workers(); // keeps the interpreter running once `rt` is dropped
               // A pool of its own: the other tests' calls would compete for these two workers.
    let rt = &Runtime::builder().workers(2).worker_setup(SETUP).build().unwrap();
    // Two calls that each wait (up to 10 s) until both have started run in the two workers, so
    // their objects live one in each (sequential calls would all find the first worker idle).
    let dir = std::env::temp_dir().join(format!("pyrt-meet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.to_string_lossy().into_owned();
    let path = &path;
    let mut boxes: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|i| s.spawn(move || rt.call_object("__main__", "meet", (path, i)).unwrap())).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&dir);
    boxes.extend((2..4).map(|i| rt.call_object("__main__", "Box", (i,)).unwrap()));
    for (i, b) in boxes.iter().enumerate() {
        let (v, home): (usize, u64) = b.call_method("get", ()).unwrap();
        assert_eq!(v, i);
        // Always the same worker for the same object.
        for _ in 0..3 {
            assert_eq!(b.call_method::<(usize, u64)>("get", ()).unwrap().1, home);
        }
        assert_eq!(b.get_value::<usize>("v").unwrap(), i);
    }
    if sub_interpreters() {
        // An object passed to a call that runs in another worker: a clear error, never a crash.
        let homes: Vec<u64> = boxes.iter().map(|b| b.call_method::<(usize, u64)>("get", ()).unwrap().1).collect();
        let a = homes.iter().position(|h| *h == homes[0]).unwrap();
        let b = homes.iter().position(|h| *h != homes[0]).expect("objects were made in both workers");
        let e = boxes[a].call_method::<usize>("peek", (&boxes[b],)).unwrap_err();
        assert!(matches!(e.kind, ErrorKind::InvalidArgument | ErrorKind::Conversion), "{e}");
        assert!(e.message.contains("another interpreter"), "{e}");
        // Within one worker objects meet as usual (four objects in two workers: two share one).
        let (i, j) = (0..boxes.len()).flat_map(|i| (i + 1..boxes.len()).map(move |j| (i, j))).find(|&(i, j)| homes[i] == homes[j]).unwrap();
        assert_eq!(boxes[i].call_method::<usize>("peek", (&boxes[j],)).unwrap(), j);
        // A call by name with a worker's object among its arguments runs in that worker.
        for (k, b) in boxes.iter().enumerate() {
            for _ in 0..4 {
                assert_eq!(rt.call::<usize>("__main__", "unbox", (b,)).unwrap(), k);
            }
        }
        // The event loop is the main interpreter's: async iterators and awaits are refused there.
        let ag = rt.call_object("__main__", "agen", ()).unwrap();
        let Err(e) = ag.iter::<i64>() else { panic!("an async generator was iterated in a worker") };
        assert_eq!(e.kind, ErrorKind::InvalidArgument, "{e}");
    }
}

#[test]
fn a_closed_runtime_frees_its_workers_objects() {
    workers(); // keeps the interpreter running once `rt` is dropped
    let rt = Runtime::builder().workers(1).worker_setup(SETUP).build().unwrap();
    let gen = rt.call_object("__main__", "numbers", (10,)).unwrap();
    let mut it = gen.iter::<u32>().unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    let b = rt.call_object("__main__", "Box", (1,)).unwrap();
    drop(rt);
    let e = it.next().unwrap().unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Closed), "{e}");
    assert!(matches!(b.get_value::<i64>("v").unwrap_err().kind, ErrorKind::Closed));
}

#[test]
fn a_step_in_a_worker_has_the_handles_timeout() {
    workers(); // keeps the interpreter running once `rt` is dropped
    let setup = "def slow():\n    yield 1\n    while True:\n        pass\n";
    let rt = Runtime::builder().workers(1).timeout(std::time::Duration::from_millis(150)).worker_setup(setup).build().unwrap();
    let mut it = rt.call_object("__main__", "slow", ()).unwrap().iter::<i64>().unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 1);
    let e = it.next().unwrap().unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Timeout), "{e}");
    // The worker serves the next call.
    assert_eq!(rt.call::<i64>("builtins", "abs", (-3,)).unwrap(), 3);
}

#[test]
fn a_freed_generator_of_a_worker_is_finalized_at_once() {
    workers(); // keeps the interpreter running once `rt` is dropped
    let flag = std::env::temp_dir().join(format!("pyrt-finally-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    let setup = "def marks(path):\n    try:\n        while True:\n            yield 1\n    finally:\n        open(path, 'w').close()\n";
    let rt = Runtime::builder().workers(1).worker_setup(setup).build().unwrap();
    let gen = rt.call_object("__main__", "marks", (flag.to_string_lossy(),)).unwrap();
    let mut it = gen.iter::<i64>().unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 1);
    drop(it);
    drop(gen);
    if !sub_interpreters() {
        // In the main interpreter the next call through any handle drops it.
        rt.call::<i64>("builtins", "abs", (-1,)).unwrap();
    }
    // With workers no call follows: the worker is woken to drop the generator, whose finally
    // then runs.
    let start = std::time::Instant::now();
    while !flag.exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the generator's finally did not run");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&flag);
}

#[test]
fn calls_run_on_their_callers_threads_and_exited_threads_leave_nothing_behind() {
    workers(); // keeps the interpreter running once `rt` is dropped
    let setup = "import threading\nlocal = threading.local()\nfreed = []\n\
class Kept:\n    def __init__(self, i):\n        self.i = i\n    def __del__(self):\n        freed.append(self.i)\n\
def keep(i):\n    local.v = Kept(i)\n    return (local.v.i, threading.get_ident())\n\
def freed_count():\n    return len(freed)\n";
    let rt = &Runtime::builder().workers(1).worker_setup(setup).build().unwrap();
    let info = rt.info().unwrap();
    // 200 short-lived threads, each calling in once (its own thread state in the worker's
    // interpreter, deleted after it exits) and keeping a value in a threading.local.
    let idents: Vec<u64> = (0..200)
        .map(|i| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    let (v, ident): (i64, u64) = rt.call("__main__", "keep", (i,)).unwrap();
                    assert_eq!(v, i);
                    ident
                })
                .join()
                .unwrap()
            })
        })
        .collect();
    if info.workers > 0 && !info.free_threaded {
        // An idle worker runs a call on the thread that makes it, not on the worker's own
        // thread (where code for every worker runs); free-threaded builds always hop there.
        rt.run("worker_thread = threading.get_ident()").unwrap();
        let worker_thread = rt.eval::<u64>("worker_thread").unwrap();
        assert!(idents.iter().all(|i| *i != worker_thread), "a call ran on the worker's thread");
        let here = rt.call::<(i64, u64)>("__main__", "keep", (0,)).unwrap().1;
        assert_ne!(here, worker_thread);
        // Each exited thread's state was deleted (a call in the worker deletes what is left
        // before it runs), and with it the value its threading.local kept.
        assert_eq!(rt.call::<usize>("__main__", "freed_count", ()).unwrap(), 200);
    }
    // The states of the exited threads are deleted as calls come in, and the rest (this
    // thread's) when the runtime closes: Py_EndInterpreter aborts the process otherwise.
    for i in 0..3 {
        assert_eq!(rt.call::<(i64, u64)>("__main__", "keep", (i,)).unwrap().0, i);
    }
}

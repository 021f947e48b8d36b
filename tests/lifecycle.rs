//! Finalization is one-way: after the last runtime is freed, no new one can start. Its own test
//! binary (its own process), since it ends the interpreter.

use pyrt::{ErrorKind, Runtime};

#[test]
fn last_free_finalizes_and_new_is_refused() {
    let a = Runtime::new(None).unwrap();
    let b = Runtime::new(None).unwrap();
    // A non-daemon thread (the default, as in standalone Python) and an atexit handler: both must
    // have finished when the last free returns. The marker file proves it from outside Python.
    let marker = std::env::temp_dir().join(format!("pyrt-lifecycle-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    a.run_string(&format!(
        "import atexit, threading, time\nassert not threading.Thread(target=lambda: None).daemon\ndef slow():\n    time.sleep(0.3)\n    open({m:?}, 'a').write('thread ')\nthreading.Thread(target=slow).start()\natexit.register(lambda: open({m:?}, 'a').write('atexit'))\n",
        m = marker.to_str().unwrap()
    ))
    .unwrap();
    drop(a);
    assert_eq!(b.eval_json("1 + 1").unwrap(), "2", "another handle keeps the interpreter alive");
    // Free the last handle from another thread (any thread may).
    std::thread::spawn(move || drop(b)).join().unwrap();
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "thread atexit");
    let _ = std::fs::remove_file(&marker);
    let e = Runtime::new(None).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Finalized);
}

//! Finalization is one-way: after the last runtime is freed, no new one can start. Its own test
//! binary (its own process), since it ends the interpreter.

use pyrt::{ErrorKind, Runtime};

#[test]
fn last_free_finalizes_and_new_is_refused() {
    let a = Runtime::new(None).unwrap();
    let b = Runtime::new(None).unwrap();
    a.run_string("import atexit, threading, time\nflag = []\ndef slow():\n    time.sleep(0.2)\n    flag.append(1)\nt = threading.Thread(target=slow)\nt.start()\n").unwrap();
    drop(a);
    assert_eq!(b.eval_json("1 + 1").unwrap(), "2", "another handle keeps the interpreter alive");
    // Free the last handle from another thread (any thread may).
    std::thread::spawn(move || drop(b)).join().unwrap();
    let e = Runtime::new(None).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Finalized);
}

//! `"signals": "python"`: the standalone interpreter's behaviour, for hosts that are Python
//! launchers: SIGPIPE ignored process-wide, SIGINT raises KeyboardInterrupt in Python.

use pyrt::{ErrorKind, Runtime};

#[test]
fn python_owns_sigint_and_ignores_sigpipe() {
    // SAFETY: SIG_DFL installs no handler code: a write to a closed pipe would now end the process,
    // a C host's default, which is what these tests reproduce; no memory is involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let e = Runtime::new(Some(r#"{"signals": "python", "sigpipe": "call"}"#)).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Config, "{e}");
    assert!(Runtime::new(Some(r#"{"signals": "both"}"#)).is_err());
    let rt = Runtime::new(Some(r#"{"signals": "python", "main_thread": true}"#)).unwrap();
    assert_eq!(action(libc::SIGPIPE).sa_sigaction, libc::SIG_IGN);
    assert_eq!(rt.eval_json("__import__('signal').getsignal(2) is __import__('signal').default_int_handler").unwrap(), "true");
    assert_ne!(action(libc::SIGINT).sa_sigaction, libc::SIG_DFL, "Python's SIGINT handler is installed");
    // A real SIGINT to the process becomes KeyboardInterrupt in the main thread.
    // (Repeatedly: the kernel may deliver it to any thread; pyrt routes it to Python's main thread.)
    for _ in 0..5 {
        let e =
            rt.run_string("import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\nfor _ in range(10**8):\n    pass\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::KeyboardInterrupt, "{e}");
    }
    // Sent by the host from another thread while Python loops on the main thread.
    let t = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        // SAFETY: kill only sends a signal, here to this process: SIGINT is Python's (its C-level
        // handler only records the signal), so it does not end us.
        unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
    });
    let e = rt.run_string("for _ in range(10**9):\n    pass\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::KeyboardInterrupt, "{e}");
    t.join().unwrap();
}

/// The process's current disposition of `sig`.
fn action(sig: i32) -> libc::sigaction {
    // SAFETY: a null new action only reads the disposition into `old`, a valid out-pointer.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        old
    }
}

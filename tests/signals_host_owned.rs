//! A host that owns signal handlers before Python starts (a Go program owns every signal), in
//! the `"signals": "python"` mode with `"main_thread": true`, as CPython's own test suite found:
//! - Python's SIGINT handler is installed even over the host's (CPython installs it only over
//!   SIG_DFL), so SIGINT raises KeyboardInterrupt as standalone;
//! - `old = signal.signal(sig, h); signal.signal(sig, old)` gives a host-owned signal back to the
//!   host (CPython itself rejects None, which getsignal() reports for such handlers);
//!
//! (That a signal the code sends to its own process is handled when the system call returns
//! needs the caller to be the process's main thread, which the kernel prefers: the C host of
//! the CPython test comparison checks it, tests/cpython; here the caller is a test thread.)

use pyrt::Runtime;

extern "C" fn host_handler(_sig: libc::c_int) {}

fn install_host_handler(sig: libc::c_int) {
    // SAFETY: an all-zero sigaction is a valid value (plain integers and a sigset); `sa_sigaction`
    // without SA_SIGINFO is read as a `void (*)(int)`, which is `host_handler`'s signature, and the
    // handler does nothing, so it is async-signal-safe; all pointers are to locals.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = host_handler as *const () as usize;
        sa.sa_flags = libc::SA_ONSTACK | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

#[test]
fn host_owned_signals_behave_as_standalone() {
    install_host_handler(libc::SIGINT);
    install_host_handler(libc::SIGUSR1);
    let rt = Runtime::new(Some(r#"{"signals": "python", "main_thread": true}"#)).unwrap();

    // SIGINT: Python's, over the host's handler.
    assert_eq!(rt.eval_json("__import__('signal').getsignal(2) is __import__('signal').default_int_handler").unwrap(), "true");

    // A host-owned signal reads as None and round-trips through signal.signal.
    rt.run_string("import os, signal, time\ngot = []\ndef h(signum, frame):\n    got.append(signum)\ndef kill_and_wait(sig):\n    os.kill(os.getpid(), sig)\n    for _ in range(50):\n        if got:\n            return\n        time.sleep(0.01)\n").unwrap();
    assert_eq!(rt.eval_json("signal.getsignal(signal.SIGUSR1) is None").unwrap(), "true");
    assert_eq!(rt.eval_json("signal.signal(signal.SIGUSR1, h) is None").unwrap(), "true");
    rt.run_string("kill_and_wait(signal.SIGUSR1)").unwrap();
    assert_eq!(rt.eval_json("got").unwrap(), "[10]");
    assert_eq!(rt.eval_json("signal.signal(signal.SIGUSR1, None) is h").unwrap(), "true");
    assert_eq!(rt.eval_json("signal.getsignal(signal.SIGUSR1) is None").unwrap(), "true");
    assert_eq!(action(libc::SIGUSR1).sa_sigaction, host_handler as *const () as usize, "the host's handler is back");
    // Again, and a real signal now goes to the host's handler, not Python's.
    assert_eq!(rt.eval_json("signal.signal(signal.SIGUSR1, h) is None").unwrap(), "true");
    assert_eq!(rt.eval_json("signal.signal(signal.SIGUSR1, None) is h").unwrap(), "true");
    rt.run_string("got.clear()\nkill_and_wait(signal.SIGUSR1)").unwrap();
    assert_eq!(rt.eval_json("got").unwrap(), "[]");
    // None stays a TypeError where no host handler was taken over, as in CPython.
    let e = rt.run_string("signal.signal(signal.SIGUSR2, None)").unwrap_err();
    assert_eq!(e.python.as_ref().map(|p| p.type_name.as_str()), Some("TypeError"), "{e}");

    // SIGINT sent by the host raises KeyboardInterrupt in the main-thread call.
    let t = std::thread::spawn(|| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        // SAFETY: kill only sends a signal, here to this process: SIGINT is Python's (its C-level
        // handler only records the signal), so it does not end us.
        unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
    });
    let e = rt.run_string("for _ in range(10**9):\n    pass\n").unwrap_err();
    assert_eq!(e.kind, pyrt::ErrorKind::KeyboardInterrupt, "{e}");
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

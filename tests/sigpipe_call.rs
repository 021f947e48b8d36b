//! `"sigpipe": "call"`: SIGPIPE is blocked only for the duration of each call, a SIGPIPE the call
//! raised is consumed, and the host thread's signal mask is exactly what it was before.

use pyrt::Runtime;

fn sigpipe_blocked_in_this_thread() -> bool {
    // SAFETY: an all-zero sigset_t is a valid value; a null new set only reads this thread's mask
    // into `cur`, a valid out-pointer; sigismember reads the initialized `cur`.
    unsafe {
        let mut cur: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
        libc::sigismember(&cur, libc::SIGPIPE) == 1
    }
}

#[test]
fn sigpipe_blocked_per_call_and_the_host_mask_restored() {
    // A C host's default: SIGPIPE kills (Rust programs ignore it; undo that here).
    // SAFETY: SIG_DFL installs no handler code: a write to a closed pipe would now end the process,
    // a C host's default, which is what these tests reproduce; no memory is involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert!(Runtime::new(Some(r#"{"sigpipe": "nope"}"#)).is_err());
    let rt = Runtime::new(Some(r#"{"sigpipe": "call"}"#)).unwrap();
    assert!(!sigpipe_blocked_in_this_thread());
    rt.run_string("import os\nr, w = os.pipe()\nos.close(r)\ntry:\n    os.write(w, b'x')\n    res = 'wrote'\nexcept BrokenPipeError:\n    res = 'BrokenPipeError'\nos.close(w)\n").unwrap();
    assert_eq!(rt.eval_json("res").unwrap(), "\"BrokenPipeError\"");
    assert!(!sigpipe_blocked_in_this_thread(), "the host thread's mask was not restored");
    // SAFETY: an all-zero sigset_t is a valid value; sigpending writes the pending set into
    // `pending`, a valid out-pointer, which sigismember then reads.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        assert_eq!(libc::sigismember(&pending, libc::SIGPIPE), 0, "a SIGPIPE was left pending");
    }
    assert_eq!(action(libc::SIGPIPE).sa_sigaction, libc::SIG_DFL);
    // A handle asking for the other policy contradicts the running interpreter.
    let e = Runtime::new(Some(r#"{"sigpipe": "thread"}"#)).err().unwrap();
    assert_eq!(e.kind, pyrt::ErrorKind::LibpythonConflict, "{e}");
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

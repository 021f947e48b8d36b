//! Main-thread semantics on request (`"main_thread": true`), threads as standalone, and signal
//! hygiene in the default `"signals": "host"` mode. One interpreter per process: this file is
//! its own test binary, and its tests share one runtime of each kind.

use std::sync::OnceLock;

use pyrt::{ErrorKind, Runtime};

struct Rts {
    caller: Runtime,
    main: Runtime,
}

fn rts() -> &'static Rts {
    static RTS: OnceLock<Rts> = OnceLock::new();
    RTS.get_or_init(|| {
        // Rust's runtime ignores SIGPIPE in every Rust program; a C host has the default
        // (death), which is what pyrt must protect against: restore it for these tests.
        // SAFETY: SIG_DFL installs no handler code: a write to a closed pipe would now end the process,
        // a C host's default, which is what these tests reproduce; no memory is involved.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        // The host's SIGINT disposition before Python starts (SIG_DFL in a test process).
        let before = sigint_handler();
        let caller = Runtime::new(None).expect("runtime");
        let main = Runtime::new(Some(r#"{"main_thread": true}"#)).expect("main-thread runtime");
        assert_eq!(sigint_handler(), before, "starting Python changed the host's SIGINT disposition");
        Rts { caller, main }
    })
}

fn sigint_handler() -> usize {
    action(libc::SIGINT).sa_sigaction
}

#[test]
fn main_thread_handle_runs_on_pythons_main_thread() {
    let r = rts();
    r.main.run_string("import threading, _thread").unwrap();
    assert_eq!(r.main.eval_json("threading.current_thread() is threading.main_thread()").unwrap(), "true");
    assert_eq!(r.main.eval_json("threading.current_thread().name").unwrap(), "\"MainThread\"");
    assert_eq!(r.caller.eval_json("threading.current_thread() is threading.main_thread()").unwrap(), "false");
    // Calls from many host threads at once all run there, with correct results.
    let main_ident = r.main.eval_json("threading.get_ident()").unwrap();
    std::thread::scope(|s| {
        for i in 0..8 {
            let main_ident = &main_ident;
            s.spawn(move || {
                for j in 0..200 {
                    assert_eq!(
                        r.main.call_json("builtins", "abs", Some(&format!("[{}]", -(i * 1000 + j))), None).unwrap(),
                        format!("{}", i * 1000 + j)
                    );
                    if j % 50 == 0 {
                        assert_eq!(&r.main.eval_json("threading.get_ident()").unwrap(), main_ident);
                    }
                }
            });
        }
    });
}

#[test]
fn signal_functions_work_on_the_main_thread_only() {
    let r = rts();
    // signal.signal + a real signal to the process: the handler runs in the main thread.
    r.main
        .run_string(
            "import os, signal, time\n\
             got = []\n\
             old = signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))\n\
             os.kill(os.getpid(), signal.SIGUSR1)\n\
             deadline = time.monotonic() + 5\n\
             while not got and time.monotonic() < deadline:\n    time.sleep(0.001)\n\
             signal.signal(signal.SIGUSR1, old)\n",
        )
        .unwrap();
    assert_eq!(r.main.eval_json("got").unwrap(), "[10]");
    // setitimer delivers SIGALRM to a Python handler.
    r.main
        .run_string(
            "alarms = []\n\
             old = signal.signal(signal.SIGALRM, lambda s, f: alarms.append(s))\n\
             signal.setitimer(signal.ITIMER_REAL, 0.02)\n\
             deadline = time.monotonic() + 5\n\
             while not alarms and time.monotonic() < deadline:\n    time.sleep(0.001)\n\
             signal.signal(signal.SIGALRM, old)\n",
        )
        .unwrap();
    assert_eq!(r.main.eval_json("alarms").unwrap(), "[14]");
    // A signal the host sends from its own thread reaches the Python handler while the main
    // thread is busy in pure Python (no system call to interrupt).
    r.main.run_string("hits = []\nold = signal.signal(signal.SIGUSR1, lambda s, f: hits.append(s))").unwrap();
    for _ in 0..3 {
        let t = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            // SAFETY: kill only sends a signal, here to this process: SIGUSR1 has the Python handler
            // installed above (its C-level part only records the signal), so it does not end us.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        });
        r.main
            .run_string(
                "n = len(hits)\ndeadline = time.monotonic() + 10\nwhile len(hits) == n and time.monotonic() < deadline:\n    pass\n",
            )
            .unwrap();
        t.join().unwrap();
    }
    assert_eq!(r.main.eval_json("hits").unwrap(), "[10,10,10]");
    r.main.run_string("signal.signal(signal.SIGUSR1, old)").unwrap();
    // From another thread, as in standalone Python: ValueError.
    let e = r.caller.run_string("import signal\nsignal.signal(signal.SIGUSR2, lambda s, f: None)").unwrap_err();
    assert_eq!(e.python.as_ref().unwrap().type_name, "ValueError", "{e}");
}

#[test]
fn interrupt_main_raises_keyboard_interrupt_in_the_main_thread_call() {
    let r = rts();
    // Python's table holds default_int_handler (as in a script) while the OS-level SIGINT stays
    // the host's.
    assert_eq!(r.main.eval_json("__import__('signal').getsignal(2) is __import__('signal').default_int_handler").unwrap(), "true");
    let e = r.main.run_string("import _thread, time\n_thread.interrupt_main()\nfor _ in range(10**8):\n    pass\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::KeyboardInterrupt, "{e}");
    // Nothing stays pending: the next call is normal.
    assert_eq!(r.main.eval_json("1 + 1").unwrap(), "2");
}

#[test]
fn asyncio_signal_handlers_work_on_the_main_thread() {
    let r = rts();
    r.main
        .run_string(
            "import asyncio, os, signal\n\
             async def main():\n\
             \x20   loop = asyncio.get_running_loop()\n\
             \x20   fired = loop.create_future()\n\
             \x20   loop.add_signal_handler(signal.SIGUSR2, fired.set_result, 'usr2')\n\
             \x20   os.kill(os.getpid(), signal.SIGUSR2)\n\
             \x20   try:\n\
             \x20       return await asyncio.wait_for(fired, 5)\n\
             \x20   finally:\n\
             \x20       loop.remove_signal_handler(signal.SIGUSR2)\n\
             asyncio_result = asyncio.run(main())\n",
        )
        .unwrap();
    assert_eq!(r.main.eval_json("asyncio_result").unwrap(), "\"usr2\"");
}

#[test]
fn threads_started_by_host_calls_are_non_daemon_and_current_thread_is_usable() {
    let r = rts();
    r.caller
        .run_string(
            "import threading\n\
             def started_here():\n\
             \x20   t = threading.Thread(target=lambda: None)\n\
             \x20   d = t.daemon\n\
             \x20   t.start(); t.join()\n\
             \x20   me = threading.current_thread()\n\
             \x20   return [d, me.daemon, 'daemon' in repr(me), me.name != '', me.is_alive()]\n",
        )
        .unwrap();
    assert_eq!(r.caller.call_json("__main__", "started_here", None, None).unwrap(), "[false,false,false,true,true]");
    assert_eq!(r.main.call_json("__main__", "started_here", None, None).unwrap(), "[false,false,false,true,true]");
}

#[test]
fn broken_pipe_is_an_exception_not_the_death_of_the_host() {
    let r = rts();
    let code = "import os, threading\n\
                def write_to_closed_pipe():\n\
                \x20   rfd, wfd = os.pipe()\n\
                \x20   os.close(rfd)\n\
                \x20   try:\n\
                \x20       os.write(wfd, b'x')\n\
                \x20       return 'wrote'\n\
                \x20   except BrokenPipeError:\n\
                \x20       return 'BrokenPipeError'\n\
                \x20   finally:\n\
                \x20       os.close(wfd)\n\
                def from_a_python_thread():\n\
                \x20   out = []\n\
                \x20   t = threading.Thread(target=lambda: out.append(write_to_closed_pipe()))\n\
                \x20   t.start(); t.join()\n\
                \x20   return out[0]\n";
    r.caller.run_string(code).unwrap();
    for rt in [&r.caller, &r.main] {
        assert_eq!(rt.call_json("__main__", "write_to_closed_pipe", None, None).unwrap(), "\"BrokenPipeError\"");
        assert_eq!(rt.call_json("__main__", "from_a_python_thread", None, None).unwrap(), "\"BrokenPipeError\"");
    }
    // A fresh host thread too, and the process-wide disposition is still the default.
    std::thread::spawn(|| {
        assert_eq!(rts().caller.call_json("__main__", "write_to_closed_pipe", None, None).unwrap(), "\"BrokenPipeError\"")
    })
    .join()
    .unwrap();
    assert_eq!(action(libc::SIGPIPE).sa_sigaction, libc::SIG_DFL);
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

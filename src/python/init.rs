//! Starting CPython with PEP 587's `PyConfig`, from one binary for 3.8-3.13.
//!
//! `PyConfig` is a caller-allocated struct whose layout changes in every release, so pyrt fills an
//! oversized zeroed buffer with `PyConfig_InitIsolatedConfig`, writes ints at the offsets that are
//! stable in every version, strings through `PyConfig_SetBytesString` at per-minor offsets
//! (HAZARDS §2.3, Appendix B), and starts with `Py_InitializeFromConfig`, which reports failure as
//! a status instead of exiting the process. The isolated configuration ignores `PYTHON*`
//! variables, installs no signal handlers and leaves the host's locale alone.

use std::ffi::{c_char, c_int, CStr, CString};

use super::ffi::{Api, PyStatus};
use crate::error::{Error, ErrorKind, Result};

// Stable offsets (every version 3.8-3.13).
const CFG_ISOLATED: usize = 4;
const CFG_USE_ENVIRONMENT: usize = 8;
const CFG_INSTALL_SIGNAL_HANDLERS: usize = 16;
const CFG_FAULTHANDLER: usize = 32;
// PyPreConfig is identical in every version.
const PRE_ISOLATED: usize = 8;
const PRE_USE_ENVIRONMENT: usize = 12;
const PRE_UTF8_MODE: usize = 28;

struct Offsets {
    program_name: usize,
    home: usize,
    buffered_stdio: usize,
}

fn offsets(minor: u32) -> Option<Offsets> {
    let (program_name, home, buffered_stdio) = match minor {
        8 | 9 => (112, 240, 196),
        10 => (240, 256, 200),
        11 => (264, 280, 216),
        12 => (272, 288, 224),
        13 => (280, 296, 224),
        _ => return None,
    };
    Some(Offsets { program_name, home, buffered_stdio })
}

/// What the interpreter is started with.
pub struct InitOptions<'a> {
    pub minor: u32,
    pub program_name: Option<&'a str>,
    /// PYTHONHOME: the base installation's prefix (never a venv: HAZARDS §2.5).
    pub home: Option<&'a str>,
    pub argv: &'a [String],
    pub use_environment: bool,
}

/// A 16-byte-aligned, zeroed buffer larger than any PyConfig (448 bytes in 3.13).
#[repr(C, align(16))]
struct ConfigBuf([u8; 4096]);

impl ConfigBuf {
    fn put_int(&mut self, offset: usize, v: c_int) {
        self.0[offset..offset + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn ptr(&mut self) -> *mut std::ffi::c_void {
        self.0.as_mut_ptr().cast()
    }
}

fn check(status: PyStatus, step: &str) -> Result<()> {
    match status.kind {
        0 => Ok(()),
        2 => Err(Error::new(ErrorKind::Init, format!("{step}: CPython requested exit with code {}", status.exitcode))),
        _ => {
            let text = |p: *const c_char| if p.is_null() { String::new() } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() };
            Err(Error::new(ErrorKind::Init, format!("{step} failed: {} {}", text(status.func), text(status.err_msg)).trim_end().to_string()))
        }
    }
}

/// Initializes CPython on the calling thread, which then holds the GIL.
///
/// # Safety
/// Call once per process, on the thread that will own the interpreter, with `api` from a loaded
/// libpython of version `opts.minor`.
pub unsafe fn initialize(api: &Api, opts: &InitOptions) -> Result<()> {
    let off = offsets(opts.minor).ok_or_else(|| Error::new(ErrorKind::LibpythonInvalid, format!("no PyConfig layout for 3.{}", opts.minor)))?;

    let mut pre = Box::new(ConfigBuf([0; 4096]));
    (api.PyPreConfig_InitIsolatedConfig)(pre.ptr());
    // UTF-8 mode: a host that never called setlocale() (Go, most C programs) runs in the C
    // locale, where CPython would otherwise pick ASCII for stdio and file names; standalone
    // Python switches to UTF-8 mode in that case too (PEP 540).
    pre.put_int(PRE_UTF8_MODE, 1);
    if opts.use_environment {
        pre.put_int(PRE_ISOLATED, 0);
        pre.put_int(PRE_USE_ENVIRONMENT, 1);
    }
    check((api.Py_PreInitialize)(pre.ptr()), "Py_PreInitialize")?;

    let mut cfg = Box::new(ConfigBuf([0; 4096]));
    let cfg_ptr = cfg.ptr();
    (api.PyConfig_InitIsolatedConfig)(cfg_ptr);
    let result = (|| {
        cfg.put_int(CFG_INSTALL_SIGNAL_HANDLERS, 0);
        if opts.use_environment {
            cfg.put_int(CFG_ISOLATED, 0);
            cfg.put_int(CFG_USE_ENVIRONMENT, 1);
        } else {
            cfg.put_int(CFG_FAULTHANDLER, 0);
        }
        // Write-through stdio: Python's output interleaves with the host's even on a pipe.
        cfg.put_int(off.buffered_stdio, 0);
        if let Some(name) = opts.program_name {
            // The program name is how CPython finds its prefix (and a venv's pyvenv.cfg), and it
            // becomes sys.executable: it must be a real interpreter of this version.
            let c = CString::new(name).map_err(|_| Error::new(ErrorKind::Config, "python_executable contains NUL"))?;
            let field = (cfg_ptr as *mut u8).add(off.program_name) as *mut *mut libc::wchar_t;
            check((api.PyConfig_SetBytesString)(cfg_ptr, field, c.as_ptr()), "setting program_name")?;
        }
        if let Some(home) = opts.home {
            let c = CString::new(home).map_err(|_| Error::new(ErrorKind::Config, "python_home contains NUL"))?;
            let field = (cfg_ptr as *mut u8).add(off.home) as *mut *mut libc::wchar_t;
            check((api.PyConfig_SetBytesString)(cfg_ptr, field, c.as_ptr()), "setting home")?;
        }
        let args: Vec<CString> = opts.argv.iter().map(|a| CString::new(a.as_str()).expect("argv checked for NUL")).collect();
        let ptrs: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
        check((api.PyConfig_SetBytesArgv)(cfg_ptr, ptrs.len() as isize, ptrs.as_ptr()), "setting argv")?;
        check((api.Py_InitializeFromConfig)(cfg_ptr), "Py_InitializeFromConfig")
    })();
    (api.PyConfig_Clear)(cfg_ptr);
    if result.is_ok() {
        keep_default_sigint(api);
    }
    result
}

/// Keeps SIGINT's default action in a host that left it at `SIG_DFL`.
///
/// Even with `install_signal_handlers = 0`, the first `import signal` (which `asyncio`,
/// `subprocess` and many libraries do) installs Python's KeyboardInterrupt handler when SIGINT
/// was `SIG_DFL` at start-up (HAZARDS §5.1). Python would then swallow Ctrl-C: the handler only
/// flags a KeyboardInterrupt for Python's main thread, which in pyrt runs no user code, so the
/// host could no longer be interrupted. So, right after start-up and before any user code, import
/// `_signal` here and set SIGINT back to `SIG_DFL` through it (`signal.signal(SIGINT, SIG_DFL)`:
/// Python's own record and the process disposition agree again). A host that installed its own
/// handler, or ignores SIGINT, is left alone — Python leaves those alone too. Errors are cleared:
/// this only restores a default.
///
/// # Safety
/// On the thread that initialized CPython, with the GIL held.
unsafe fn keep_default_sigint(api: &Api) {
    let mut now: libc::sigaction = std::mem::zeroed();
    if libc::sigaction(libc::SIGINT, std::ptr::null(), &mut now) != 0 || now.sa_sigaction != libc::SIG_DFL {
        return;
    }
    let module = (api.PyImport_ImportModule)(c"_signal".as_ptr());
    if module.is_null() {
        (api.PyErr_Clear)();
        return;
    }
    let set = (api.PyObject_GetAttrString)(module, c"signal".as_ptr());
    let dfl = (api.PyObject_GetAttrString)(module, c"SIG_DFL".as_ptr());
    let args = (api.PyTuple_New)(2);
    if !set.is_null() && !dfl.is_null() && !args.is_null() {
        (api.PyTuple_SetItem)(args, 0, (api.PyLong_FromLongLong)(libc::SIGINT.into()));
        (api.Py_IncRef)(dfl);
        (api.PyTuple_SetItem)(args, 1, dfl);
        (api.Py_DecRef)((api.PyObject_CallObject)(set, args));
    }
    (api.PyErr_Clear)();
    (api.Py_DecRef)(args);
    (api.Py_DecRef)(dfl);
    (api.Py_DecRef)(set);
    (api.Py_DecRef)(module);
}

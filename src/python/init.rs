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
    /// Python's own signal handlers (standalone behaviour; `"signals": "python"`).
    pub install_signal_handlers: bool,
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
        cfg.put_int(CFG_INSTALL_SIGNAL_HANDLERS, opts.install_signal_handlers as c_int);
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
    result
}

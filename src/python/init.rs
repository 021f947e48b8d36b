//! Starting CPython, from one binary for every version.
//!
//! * 3.14 and later (any library exporting `PyInitConfig_Create`): PEP 741. Options are set by
//!   name on an opaque `PyInitConfig`, so no struct layout is involved and a release pyrt has
//!   never seen starts the same way.
//! * 3.8-3.13: PEP 587's `PyConfig`, a caller-allocated struct whose layout changes in every
//!   release. pyrt fills an oversized zeroed buffer with `PyConfig_InitIsolatedConfig`, writes
//!   ints at the offsets that are stable in every version, strings through
//!   `PyConfig_SetBytesString` at per-minor offsets (docs/cpython-abi.md), and starts with
//!   `Py_InitializeFromConfig`. The table ends at 3.13 for good: it is never extended.
//!
//! Both report failure as a status instead of exiting the process. The isolated configuration
//! ignores `PYTHON*` variables, installs no signal handlers and leaves the host's locale alone.

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

/// The PEP 587 entry points a 3.8-3.13 library must export.
pub const PEP587_SYMBOLS: [&str; 7] = [
    "PyPreConfig_InitIsolatedConfig",
    "Py_PreInitialize",
    "PyConfig_InitIsolatedConfig",
    "PyConfig_SetBytesString",
    "PyConfig_SetBytesArgv",
    "PyConfig_Clear",
    "Py_InitializeFromConfig",
];
/// The PEP 741 entry points a 3.14+ library must export.
pub const PEP741_SYMBOLS: [&str; 7] = [
    "PyInitConfig_Create",
    "PyInitConfig_Free",
    "PyInitConfig_SetInt",
    "PyInitConfig_SetStr",
    "PyInitConfig_SetStrList",
    "PyInitConfig_GetError",
    "Py_InitializeFromInitConfig",
];

/// What the interpreter is started with.
pub struct InitOptions<'a> {
    pub minor: u32,
    pub program_name: Option<&'a str>,
    /// PYTHONHOME: the base installation's prefix (never a venv).
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

/// Where the `wchar_t *` field at `offset` of the `PyConfig` in the `ConfigBuf` at `cfg` is
/// (computing it reads nothing).
#[allow(clippy::cast_ptr_alignment)] // aligned: see below
fn string_field(cfg: *mut std::ffi::c_void, offset: usize) -> *mut *mut libc::wchar_t {
    // Aligned: a `ConfigBuf` is 16-aligned and every string offset in `offsets` is a multiple of
    // 8, the alignment of a pointer; in bounds: all are far below the buffer's 4096 bytes.
    debug_assert!(offset % std::mem::align_of::<*mut libc::wchar_t>() == 0 && offset + 8 <= std::mem::size_of::<ConfigBuf>());
    cfg.cast::<u8>().wrapping_add(offset).cast::<*mut libc::wchar_t>()
}

fn check(status: PyStatus, step: &str) -> Result<()> {
    match status.kind {
        0 => Ok(()),
        2 => Err(Error::new(ErrorKind::Init, format!("{step}: CPython requested exit with code {}", status.exitcode))),
        _ => {
            let text = |p: *const c_char| {
                if p.is_null() {
                    return String::new();
                }
                // SAFETY: every status passed here comes straight from a CPython call; a non-NULL
                // `func` or `err_msg` of one is a static NUL-terminated string (`_PyStatus_ERR`
                // records `__func__` and a literal).
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            };
            Err(Error::new(
                ErrorKind::Init,
                format!("{step} failed: {} {}", text(status.func), text(status.err_msg)).trim_end().to_string(),
            ))
        }
    }
}

/// Initializes CPython on the calling thread, which then holds the GIL.
///
/// # Safety
/// Call once per process, on the thread that will own the interpreter, with `api` from a loaded
/// libpython of version `opts.minor`.
pub unsafe fn initialize(api: &Api, opts: &InitOptions) -> Result<()> {
    if api.PyInitConfig_Create.is_some() {
        // SAFETY: this function's contract, passed on unchanged.
        return unsafe { initialize_pep741(api, opts) };
    }
    // SAFETY: this function's contract, passed on unchanged.
    unsafe { initialize_pep587(api, opts) }
}

fn missing(name: &str) -> Error {
    Error::new(ErrorKind::LibpythonInvalid, format!("libpython lacks the required symbol {name}"))
}

/// PEP 741 (3.14+): every option by name.
///
/// # Safety
/// As [`initialize`].
unsafe fn initialize_pep741(api: &Api, opts: &InitOptions) -> Result<()> {
    macro_rules! get {
        ($f:ident) => {
            api.$f.ok_or_else(|| missing(stringify!($f)))?
        };
    }
    let (create, free, set_int, set_str, set_list, get_error, init) = (
        get!(PyInitConfig_Create),
        get!(PyInitConfig_Free),
        get!(PyInitConfig_SetInt),
        get!(PyInitConfig_SetStr),
        get!(PyInitConfig_SetStrList),
        get!(PyInitConfig_GetError),
        get!(Py_InitializeFromInitConfig),
    );
    // PyInitConfig_Create starts from the isolated configuration (PEP 741).
    // SAFETY: the functions come from `api`, the loaded libpython (contract), with PEP 741's
    // prototypes; creating a config needs no initialized runtime. `config` then stays live until
    // `_free` frees it (declared before the closures using it, so dropped after them).
    let config = unsafe { create() };
    if config.is_null() {
        return Err(Error::new(ErrorKind::Init, "PyInitConfig_Create failed (out of memory)"));
    }
    struct Free(*mut std::ffi::c_void, unsafe extern "C" fn(*mut std::ffi::c_void));
    impl Drop for Free {
        fn drop(&mut self) {
            // SAFETY: the config came from PyInitConfig_Create and is freed once, here.
            unsafe { (self.1)(self.0) }
        }
    }
    let _free = Free(config, free);
    let error = |step: &str| -> Error {
        let mut msg: *const c_char = std::ptr::null();
        // SAFETY: `config` is live (above); `msg` is a writable pointer.
        let text = if unsafe { get_error(config, &mut msg) } != 0 && !msg.is_null() {
            // SAFETY: the message is a NUL-terminated string owned by `config`, valid until the
            // next call on it, and copied at once.
            unsafe { CStr::from_ptr(msg) }.to_string_lossy().into_owned()
        } else {
            String::new()
        };
        let mut code: c_int = 0;
        if let Some(exit) = api.PyInitConfig_GetExitCode {
            // SAFETY: `config` is live (above); `code` is a writable int.
            if unsafe { exit(config, &mut code) } != 0 {
                return Error::new(ErrorKind::Init, format!("{step}: CPython requested exit with code {code}"));
            }
        }
        Error::new(ErrorKind::Init, format!("{step} failed: {text}").trim_end().to_string())
    };
    let int = |name: &CStr, v: i64| -> Result<()> {
        // SAFETY: `config` is live (above); `name` is NUL-terminated.
        if unsafe { set_int(config, name.as_ptr(), v) } != 0 {
            return Err(error(&format!("setting {}", name.to_string_lossy())));
        }
        Ok(())
    };
    // UTF-8 mode, as for 3.8-3.13 below.
    int(c"utf8_mode", 1)?;
    int(c"install_signal_handlers", opts.install_signal_handlers as i64)?;
    if opts.use_environment {
        int(c"isolated", 0)?;
        int(c"use_environment", 1)?;
    } else {
        int(c"faulthandler", 0)?;
    }
    int(c"buffered_stdio", 0)?;
    let string = |name: &CStr, v: &str, what: &str| -> Result<()> {
        let c = CString::new(v).map_err(|_| Error::new(ErrorKind::Config, format!("{what} contains NUL")))?;
        // SAFETY: `config` is live (above); `name` and `c` are NUL-terminated, and CPython copies `c`.
        if unsafe { set_str(config, name.as_ptr(), c.as_ptr()) } != 0 {
            return Err(error(&format!("setting {}", name.to_string_lossy())));
        }
        Ok(())
    };
    if let Some(name) = opts.program_name {
        string(c"program_name", name, "python_executable")?;
    }
    if let Some(home) = opts.home {
        string(c"home", home, "python_home")?;
    }
    let args: Vec<CString> = opts.argv.iter().map(|a| CString::new(a.as_str()).expect("argv checked for NUL")).collect();
    // `*mut` only to match `char *const *items`: CPython copies the strings, never writing them.
    let ptrs: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
    // SAFETY: `config` is live (above); `ptrs` holds `ptrs.len()` NUL-terminated strings, owned by
    // `args` and alive for the call, which copies them.
    if unsafe { set_list(config, c"argv".as_ptr(), ptrs.len(), ptrs.as_ptr()) } != 0 {
        return Err(error("setting argv"));
    }
    // SAFETY: `config` is live and fully set; the caller's contract makes this the process's one
    // initialization, on the thread that will own the interpreter.
    if unsafe { init(config) } != 0 {
        return Err(error("Py_InitializeFromInitConfig"));
    }
    Ok(())
}

/// PEP 587 (3.8-3.13): a `PyConfig` at per-version offsets.
///
/// # Safety
/// As [`initialize`].
unsafe fn initialize_pep587(api: &Api, opts: &InitOptions) -> Result<()> {
    macro_rules! get {
        ($f:ident) => {
            api.$f.ok_or_else(|| missing(stringify!($f)))?
        };
    }
    let pre_init_isolated = get!(PyPreConfig_InitIsolatedConfig);
    let pre_initialize = get!(Py_PreInitialize);
    let init_isolated = get!(PyConfig_InitIsolatedConfig);
    let set_bytes_string = get!(PyConfig_SetBytesString);
    let set_bytes_argv = get!(PyConfig_SetBytesArgv);
    let clear = get!(PyConfig_Clear);
    let initialize_from_config = get!(Py_InitializeFromConfig);
    let off =
        offsets(opts.minor).ok_or_else(|| Error::new(ErrorKind::LibpythonInvalid, format!("no PyConfig layout for 3.{}", opts.minor)))?;

    let mut pre = Box::new(ConfigBuf([0; 4096]));
    // SAFETY: the functions come from `api`, the loaded libpython of version `opts.minor`
    // (contract), with PEP 587's prototypes. `pre` is a zeroed, 16-aligned buffer far larger than
    // `PyPreConfig` (identical in every version), fully writable.
    unsafe { pre_init_isolated(pre.ptr()) };
    // UTF-8 mode: a host that never called setlocale() (Go, most C programs) runs in the C
    // locale, where CPython would otherwise pick ASCII for stdio and file names; standalone
    // Python switches to UTF-8 mode in that case too (PEP 540).
    pre.put_int(PRE_UTF8_MODE, 1);
    if opts.use_environment {
        pre.put_int(PRE_ISOLATED, 0);
        pre.put_int(PRE_USE_ENVIRONMENT, 1);
    }
    // SAFETY: as above: `pre` was initialized by `PyPreConfig_InitIsolatedConfig`, then only had
    // ints written at offsets valid in every version; this is the process's one pre-initialization.
    check(unsafe { pre_initialize(pre.ptr()) }, "Py_PreInitialize")?;

    let mut cfg = Box::new(ConfigBuf([0; 4096]));
    // SAFETY: as above; `cfg` is a zeroed, 16-aligned buffer larger than any `PyConfig` (448 bytes
    // in 3.13), fully writable.
    unsafe { init_isolated(cfg.ptr()) };
    // The ints are written through `&mut cfg` before `cfg_ptr` is taken: a `&mut` borrow of the
    // buffer after it would invalidate the pointer.
    cfg.put_int(CFG_INSTALL_SIGNAL_HANDLERS, opts.install_signal_handlers as c_int);
    if opts.use_environment {
        cfg.put_int(CFG_ISOLATED, 0);
        cfg.put_int(CFG_USE_ENVIRONMENT, 1);
    } else {
        cfg.put_int(CFG_FAULTHANDLER, 0);
    }
    // Write-through stdio: Python's output interleaves with the host's even on a pipe.
    cfg.put_int(off.buffered_stdio, 0);
    let cfg_ptr = cfg.ptr();
    // The calls below get `cfg_ptr`, the `PyConfig` initialized above, alive (the box) and not
    // otherwise touched until `clear`; strings passed are NUL-terminated and copied by CPython.
    let result = (|| {
        if let Some(name) = opts.program_name {
            // The program name is how CPython finds its prefix (and a venv's pyvenv.cfg), and it
            // becomes sys.executable: it must be a real interpreter of this version.
            let c = CString::new(name).map_err(|_| Error::new(ErrorKind::Config, "python_executable contains NUL"))?;
            let field = string_field(cfg_ptr, off.program_name);
            // SAFETY: `field` is `config->program_name` for this minor version (`offsets`), inside
            // the config and aligned (`string_field`); CPython stores a new string there, which
            // `clear` frees.
            check(unsafe { set_bytes_string(cfg_ptr, field, c.as_ptr()) }, "setting program_name")?;
        }
        if let Some(home) = opts.home {
            let c = CString::new(home).map_err(|_| Error::new(ErrorKind::Config, "python_home contains NUL"))?;
            let field = string_field(cfg_ptr, off.home);
            // SAFETY: as for `program_name`: `field` is `config->home` for this version, in bounds
            // and aligned.
            check(unsafe { set_bytes_string(cfg_ptr, field, c.as_ptr()) }, "setting home")?;
        }
        let args: Vec<CString> = opts.argv.iter().map(|a| CString::new(a.as_str()).expect("argv checked for NUL")).collect();
        // `*mut` only to match `char *const *argv`: CPython decodes the strings, never writing them.
        let ptrs: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr().cast_mut()).collect();
        // SAFETY: `ptrs` holds `ptrs.len()` NUL-terminated strings owned by `args`, alive for the
        // call, which copies them.
        check(unsafe { set_bytes_argv(cfg_ptr, ptrs.len() as isize, ptrs.as_ptr()) }, "setting argv")?;
        // SAFETY: the config is initialized and set; the caller's contract makes this the
        // process's one initialization, on the thread that will own the interpreter.
        check(unsafe { initialize_from_config(cfg_ptr) }, "Py_InitializeFromConfig")
    })();
    // SAFETY: `cfg_ptr` is the initialized config, cleared once: this frees the strings CPython
    // allocated into it (the buffer itself is the box's).
    unsafe { clear(cfg_ptr) };
    result
}

//! The safe Rust API: embed CPython in a Rust program, with the Python chosen when the program
//! runs (PyO3 fixes it when the program is compiled).
//!
//! ```no_run
//! use pyrt::{Object, Runtime};
//!
//! fn main() -> pyrt::Result<()> {
//!     // Finds libpython ($PYRT_LIBPYTHON, the python3 on PATH, common places), or name one:
//!     // Runtime::builder().libpython("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0").build()?
//!     let rt = Runtime::new(None)?;
//!     let root: f64 = rt.call("math", "sqrt", (16.0,))?;
//!     assert_eq!(root, 4.0);
//!
//!     rt.run("def greet(name):\n    return f'hello {name}'\n")?;
//!     let s: String = rt.call("__main__", "greet", ("pyrt",))?;
//!     assert_eq!(s, "hello pyrt");
//!
//!     // Keep Python objects alive and call their methods; dropping an Object releases it.
//!     let counter: Object = rt.call_object("collections", "Counter", ("abracadabra",))?;
//!     let top: Vec<(String, u32)> = counter.call_method("most_common", (2,))?;
//!     assert_eq!(top, [("a".to_string(), 5), ("b".to_string(), 2)]);
//!
//!     // A Python exception is an Err carrying the type and the traceback.
//!     let err = rt.run("1/0").unwrap_err();
//!     assert_eq!(err.python_type(), Some("ZeroDivisionError"));
//!     Ok(())
//! }
//! ```
//!
//! # Values
//! Arguments are anything `serde` can serialize and results anything it can deserialize, through
//! JSON text (docs/values.md): numbers, strings, booleans, `None`/`()`/`Option`, sequences (a
//! Python tuple comes back as a sequence, so it fills a Rust tuple or `Vec`), maps with string
//! keys. Integers of any size stay exact on the Python side; a Rust type too small for a result
//! is an [`ErrorKind::Conversion`] error. A Python value without a JSON form (a set, bytes, a
//! class instance) is a conversion error too — ask for an [`Object`] instead
//! ([`Runtime::call_object`], [`Object::call_method_object`]). An [`Object`] and [`Bytes`] may
//! appear anywhere inside arguments; they travel in the tagged encoding, in which a map key
//! `"__pyrt__"` is reserved.
//!
//! # Threads and lifetime
//! [`Runtime`] and [`Object`] are `Send + Sync`: call them from any thread, concurrently; the
//! GIL is taken and released inside each call. One interpreter exists per process: every
//! `Runtime` is a handle to it, and dropping the last one finalizes it for good (CPython cannot
//! be restarted), after which [`Runtime::new`] fails with [`ErrorKind::Finalized`]. Objects
//! belong to the runtime that created them: once it is dropped their calls fail with
//! [`ErrorKind::Closed`]; dropping an `Object` is always safe.

mod builder;
mod encoding;
mod handle;
mod object;
mod reports;
mod streams;

use crate::error::Error;

pub use builder::Builder;
pub use encoding::Bytes;
#[allow(unused_imports)]
use encoding::*;
pub use handle::Runtime;
pub use object::Object;
pub use reports::{process_stats, Candidate, Discovery, Info, Stats};
pub use streams::{Iter, Task};

impl Error {
    /// The Python exception's type name (`"ZeroDivisionError"`, `"json.decoder.JSONDecodeError"`)
    /// when the error came from Python.
    pub fn python_type(&self) -> Option<&str> {
        self.python.as_ref().map(|p| p.type_name.as_str())
    }

    /// The formatted Python traceback, when the error came from Python and has one.
    pub fn traceback(&self) -> Option<&str> {
        self.python.as_ref().and_then(|p| p.traceback.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::encoding::{encode_args, from_json, NO_KWARGS};
    use super::*;
    use crate::error::ErrorKind;
    use crate::runtime::VALUE_TAGGED;

    /// Every config key has a [`Builder`] method (the contract's list is the config struct's).
    #[test]
    fn builder_sets_every_config_key() {
        let b = Runtime::builder()
            .libpython("/l")
            .python_executable("/x")
            .use_environment(true)
            .argv(["a"])
            .venv("/v")
            .requirement("six")
            .requirements_file("/r.txt")
            .system_site_packages(true)
            .site_path("/s")
            .python_home("/h")
            .python_version("3.12")
            .signals("host")
            .sigpipe("call")
            .main_thread(false)
            .timeout(std::time::Duration::from_millis(5))
            .capture_output(true)
            .workers(2)
            .worker_module("json")
            .worker_setup("pass")
            .stats(true);
        let config: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&b.config_json().unwrap()).unwrap();
        let mut keys: Vec<&str> = config.keys().map(String::as_str).collect();
        let mut want = crate::config::CONFIG_KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want);
    }

    /// [`Info`] has a field for everything `pyrt_info_json` reports (it refuses unknown fields
    /// in tests).
    #[test]
    fn info_has_every_field() {
        let fields = crate::runtime::INFO_FIELDS.iter().map(|&k| {
            let v = match k {
                "workers" | "workers_requested" => serde_json::json!(1),
                "free_threaded" | "tested" => serde_json::json!(true),
                _ => serde_json::json!("x"),
            };
            (k.to_string(), v)
        });
        let info: Info = serde_json::from_value(serde_json::Value::Object(fields.collect())).unwrap();
        assert_eq!(info.workers_requested, 1);
    }

    #[test]
    fn args_are_wrapped_and_tagged_only_when_needed() {
        let e = encode_args(&(1, "a"), NO_KWARGS).unwrap();
        assert_eq!((e.args.as_str(), e.flags), ("[1,\"a\"]", 0));
        let e = encode_args(&16.0, NO_KWARGS).unwrap();
        assert_eq!(e.args, "[16.0]");
        let e = encode_args(&(), NO_KWARGS).unwrap();
        assert_eq!(e.args, "[]", "() is no arguments");
        let e = encode_args(&(Bytes(b"\x00\xff"),), NO_KWARGS).unwrap();
        assert_eq!((e.args.as_str(), e.flags), (r#"[{"__pyrt__":"bytes","v":"AP8="}]"#, VALUE_TAGGED));
        let kw = serde_json::json!({"sep": "-"});
        let e = encode_args(&("a",), Some(&kw)).unwrap();
        assert_eq!(e.kwargs.as_deref(), Some(r#"{"sep":"-"}"#));
        let e = encode_args(&(), Some(&[1, 2])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn builder_writes_the_config() {
        let b =
            Runtime::builder().libpython("/x/libpython3.12.so").argv(["a", "b"]).site_path("/s1").site_path("/s2").use_environment(true);
        let v: serde_json::Value = serde_json::from_str(&b.config_json().unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"libpython": "/x/libpython3.12.so", "argv": ["a", "b"], "site_paths": ["/s1", "/s2"], "use_environment": true})
        );
        assert_eq!(crate::config::Config::parse(Some(&b.config_json().unwrap())).unwrap().site_paths, ["/s1", "/s2"]);
    }

    #[test]
    fn non_utf8_paths_are_config_errors() {
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(std::ffi::OsStr::from_bytes(b"/x/\xff"));
        assert_eq!(Runtime::builder().venv(p).config_json().unwrap_err().kind, ErrorKind::Config);
        assert_eq!(Runtime::builder().site_path(p).config_json().unwrap_err().kind, ErrorKind::Config);
    }

    #[test]
    fn result_type_mismatch_is_a_conversion_error() {
        let e = from_json::<i32>("\"text\"").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Conversion);
        assert!(e.message.contains("\"text\""), "{}", e.message);
    }
}

//! pyrt from Rust: start whatever CPython (3.8 or later) the machine has, call it, keep objects,
//! handle its exceptions.
//!
//!     cargo run --release -p pyrt-example                 # finds the python3 on PATH
//!     cargo run --release -p pyrt-example -- /path/to/libpython3.12.so.1.0
//!
//! (run from the repository root: this crate is a member of pyrt's workspace)

use pyrt::{Object, Runtime};
use serde::Deserialize;

#[derive(Deserialize)]
struct Stats {
    mean: f64,
    stdev: f64,
    median: f64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        if let Some(tb) = e.traceback() {
            eprintln!("{tb}");
        }
        std::process::exit(1);
    }
}

fn run() -> pyrt::Result<()> {
    // 1. Start Python: the libpython named on the command line, or discover one.
    let rt = match std::env::args().nth(1) {
        Some(lib) => Runtime::builder().libpython(lib).build()?,
        None => Runtime::new(None)?,
    };
    let info = rt.info()?;
    println!("pyrt {} running Python {} from {}", info.pyrt_version, info.python_version, info.libpython);

    // 2. Call a function: arguments are a tuple of Rust values, the result any serde type.
    let root: f64 = rt.call("math", "sqrt", (16.0,))?;
    println!("math.sqrt(16.0) = {root}");

    // 3. Define Python code, then call it with a Vec and read a struct back.
    rt.run(
        "import statistics\n\
         def describe(xs):\n    \
             return {'mean': statistics.mean(xs), 'stdev': statistics.stdev(xs), 'median': statistics.median(xs)}\n",
    )?;
    let stats: Stats = rt.call("__main__", "describe", (vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0],))?;
    println!("describe(...) = mean {}, stdev {:.4}, median {}", stats.mean, stats.stdev, stats.median);

    // 4. Keep a Python object and call its methods; dropping it releases it.
    let counter: Object = rt.call_object("collections", "Counter", ("abracadabra",))?;
    counter.call_method::<()>("update", ("aaa",))?;
    let top: Vec<(String, u32)> = counter.call_method("most_common", (2,))?;
    println!("Counter.most_common(2) = {top:?}");
    // Objects are arguments too.
    let n: usize = rt.call("builtins", "len", (&counter,))?;
    println!("len(counter) = {n}");

    // 5. A Python exception is an Err with the exception's type and traceback.
    match rt.call::<f64>("math", "sqrt", (-1.0,)) {
        Ok(v) => println!("unexpected: {v}"),
        Err(e) => println!("math.sqrt(-1.0) raised {}: {}", e.python_type().unwrap_or("?"), e.message),
    }
    Ok(())
}

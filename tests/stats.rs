//! Call statistics (`Runtime::stats`, `pyrt::process_stats`) against a real libpython.

use pyrt::{ErrorKind, Runtime};

#[test]
fn counts_calls_exceptions_objects_and_latency() {
    let rt = Runtime::new(None).expect("a libpython is available");
    let before = rt.stats().unwrap();
    assert_eq!(before.scope, "runtime");
    assert!(before.enabled);
    for _ in 0..40 {
        assert_eq!(rt.call::<f64>("math", "sqrt", (16.0,)).unwrap(), 4.0);
    }
    rt.run("def boom(t):\n    raise {'v': ValueError, 'k': KeyError}[t]('x')\n").unwrap();
    for t in ["v", "v", "k"] {
        let e = rt.call::<()>("__main__", "boom", (t,)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Python);
    }
    let math = rt.import("math").unwrap();
    let s = rt.stats().unwrap();
    assert!(s.calls_started >= before.calls_started + 44, "{s:?}");
    assert_eq!(s.calls_started, s.calls_finished, "{s:?}");
    assert_eq!(s.calls_failed, before.calls_failed + 3);
    assert_eq!(s.exceptions.get("ValueError"), Some(&2));
    assert_eq!(s.exceptions.get("KeyError"), Some(&1));
    assert_eq!(s.calls_in_flight, 0);
    assert!(s.objects >= 1);
    assert_eq!(s.latency_bounds_seconds.len() + 1, s.latency_buckets.len());
    assert_eq!(s.latency_buckets.iter().sum::<u64>(), s.latency_count);
    // Every call is counted in the histogram, timed or stood for by a timed one (up to the
    // untimed calls since this thread's last timed call).
    assert!(s.latency_count >= 1 && s.latency_count <= s.calls_finished, "{s:?}");
    assert!(s.latency_sum_seconds > 0.0 && s.run_seconds > 0.0 && s.wait_seconds >= 0.0, "{s:?}");
    drop(math);
    let p = pyrt::process_stats().unwrap();
    assert_eq!(p.scope, "process");
    assert!(p.calls_started >= s.calls_started);
    assert_eq!(p.exceptions.get("ValueError"), Some(&2));
    let json: serde_json::Value = serde_json::from_str(&rt.stats_json().unwrap()).unwrap();
    assert_eq!(json["exceptions"]["KeyError"], 1);
}

//! Iterators and generators through the Rust API (`Object::iter`, `pyrt::Iter`): items as they
//! come, batches, send/throw/close, errors midway, and a step from several threads. The suite
//! runs this file once per CPython present (scripts/test.sh).

use std::sync::OnceLock;

use pyrt::{ErrorKind, Runtime};

fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let rt = Runtime::new(None).expect("a libpython is available");
        rt.run(
            "log = []\n\
             def numbers(n):\n\
             \x20   try:\n\
             \x20       for i in range(n):\n\
             \x20           log.append(i)\n\
             \x20           yield i\n\
             \x20   finally:\n\
             \x20       log.append('finally')\n\
             def failing():\n\
             \x20   yield 1\n\
             \x20   yield 2\n\
             \x20   raise ValueError('midway')\n\
             def total():\n\
             \x20   t = 0\n\
             \x20   while True:\n\
             \x20       x = yield t\n\
             \x20       if x is None:\n\
             \x20           return\n\
             \x20       t += x\n",
        )
        .unwrap();
        rt
    })
}

#[test]
fn items_of_lists_dicts_and_generators() {
    let rt = rt();
    let list = rt.eval_object("[1, 2, 3]").unwrap();
    let v: Vec<i64> = list.iter().unwrap().collect::<pyrt::Result<_>>().unwrap();
    assert_eq!(v, [1, 2, 3]);
    // A list can be iterated again: each iter() is a new iterator.
    assert_eq!(list.iter::<i64>().unwrap().count(), 3);

    let d = rt.eval_object("{'a': 1, 'b': 2}").unwrap();
    let keys: Vec<String> = d.iter().unwrap().collect::<pyrt::Result<_>>().unwrap();
    assert_eq!(keys, ["a", "b"]);

    let gen = rt.call_object("__main__", "numbers", (5,)).unwrap();
    let v: Vec<u32> = gen.iter().unwrap().batched(2).collect::<pyrt::Result<_>>().unwrap();
    assert_eq!(v, [0, 1, 2, 3, 4]);
}

#[test]
fn close_runs_finally_now() {
    let rt = rt();
    rt.run("log.clear()").unwrap();
    let gen = rt.call_object("__main__", "numbers", (1_000_000,)).unwrap();
    let mut it = gen.iter::<u32>().unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0);
    assert_eq!(it.next().unwrap().unwrap(), 1);
    it.close().unwrap();
    assert_eq!(rt.eval::<serde_json::Value>("log").unwrap(), serde_json::json!([0, 1, "finally"]));
    assert!(it.next().is_none());
}

#[test]
fn an_exception_midway_is_an_err_item_then_the_end() {
    let rt = rt();
    for batch in [1, 10] {
        let gen = rt.call_object("__main__", "failing", ()).unwrap();
        let items: Vec<pyrt::Result<i64>> = gen.iter().unwrap().batched(batch).collect();
        assert_eq!(items.len(), 3, "batch {batch}: {items:?}");
        assert_eq!(items[0].as_ref().unwrap(), &1);
        assert_eq!(items[1].as_ref().unwrap(), &2);
        let e = items[2].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::Python);
        assert_eq!(e.python_type(), Some("ValueError"));
        assert!(e.traceback().unwrap().contains("failing"), "{:?}", e.traceback());
    }
}

#[test]
fn send_and_throw() {
    let rt = rt();
    let gen = rt.call_object("__main__", "total", ()).unwrap();
    let mut it = gen.iter::<f64>().unwrap();
    assert_eq!(it.next().unwrap().unwrap(), 0.0);
    assert_eq!(it.send(5).unwrap(), Some(5.0));
    assert_eq!(it.send(2.5).unwrap(), Some(7.5));
    let exc = rt.eval_object("KeyError('boom')").unwrap();
    let e = it.throw(&exc).unwrap_err();
    assert_eq!(e.python_type(), Some("KeyError"));
    assert_eq!(it.send(1).unwrap(), None);

    let gen = rt.call_object("__main__", "total", ()).unwrap();
    let mut it = gen.iter::<f64>().unwrap();
    it.next().unwrap().unwrap();
    assert_eq!(it.send(None::<i32>).unwrap(), None); // None: the generator returns

    // A list iterator has no send(): TypeError, naming it.
    let list = rt.eval_object("[1]").unwrap();
    let e = list.iter::<i64>().unwrap().send(1).unwrap_err();
    assert_eq!(e.python_type(), Some("TypeError"));
}

#[test]
fn not_iterable_and_wrong_item_types() {
    let rt = rt();
    let five = rt.eval_object("5").unwrap();
    let e = five.iter::<i64>().unwrap_err();
    assert_eq!(e.python_type(), Some("TypeError"));

    let mixed = rt.eval_object("[1, 'x', 3]").unwrap();
    let items: Vec<pyrt::Result<i64>> = mixed.iter().unwrap().collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].as_ref().unwrap_err().kind, ErrorKind::Conversion);
    assert_eq!(items[2].as_ref().unwrap(), &3);
}

#[test]
fn steps_from_several_threads() {
    let rt = rt();
    let gen = rt.eval_object("(i for i in range(10000))").unwrap();
    let it = std::sync::Mutex::new(gen.iter::<u64>().unwrap().batched(16));
    let sums: Vec<(u64, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    let (mut sum, mut n) = (0, 0);
                    while let Some(v) = it.lock().unwrap().next() {
                        sum += v.unwrap();
                        n += 1;
                    }
                    (sum, n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(sums.iter().map(|s| s.1).sum::<u64>(), 10000);
    assert_eq!(sums.iter().map(|s| s.0).sum::<u64>(), 49995000);
}

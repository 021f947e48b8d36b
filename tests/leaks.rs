//! Repeated calls of every kind leave CPython's allocated block count flat. Its own test binary:
//! tests running beside it would allocate too.

use pyrt::Runtime;

#[test]
fn no_python_memory_growth() {
    let rt = &Runtime::new(None).unwrap();
    rt.run_string("def ident(x):\n    return x\n").unwrap();
    let call = |m: &str, f: &str, a: &str| rt.call_json(m, f, Some(a), None);
    rt.run_string("import sys").unwrap();
    let blocks = || -> i64 { rt.eval_json("sys.getallocatedblocks()").unwrap().parse().unwrap() };
    let work = || {
        for i in 0..2000 {
            call("math", "sqrt", "[16.0]").unwrap();
            call("__main__", "ident", &format!(r#"[{{"a":[{i},"s",1.5,null,true,123456789012345678901234567890]}}]"#)).unwrap();
            let _ = call("math", "sqrt", "[-1]").unwrap_err();
            let _ = rt.eval_json("{1,2}").unwrap_err();
            rt.run_string("_x = [1, 2, 3]").unwrap();
        }
    };
    work();
    let before = blocks();
    work();
    work();
    let after = blocks();
    assert!(after - before < 200, "allocated blocks grew from {before} to {after}");
}

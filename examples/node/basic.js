'use strict';
// pyrt from Node.js: start a CPython chosen at run time, call it, keep objects, catch its
// exceptions.
//
//   (cd bindings/node && npm ci)         # koffi, the only dependency (no compile step)
//   cargo build --release                # target/release/libpyrt.so (or `make install`)
//   node examples/node/basic.js                                   # the python3 on PATH
//   node examples/node/basic.js /path/to/libpython3.12.so.1.0     # a chosen one
//
// In your own project: npm install /path/to/pyrt/bindings/node, then require('pyrt').

const { Runtime, PythonError } = require('../../bindings/node');

const rt = new Runtime(process.argv[2] ? { libpython: process.argv[2] } : {});
try {
  const info = rt.info();
  console.log(`pyrt ${info.pyrtVersion} running Python ${info.pythonVersion} from ${info.libpython}`);

  // 1. Call a function: JS values in, JS values out.
  console.log('math.sqrt(16) =', rt.call('math', 'sqrt', 16));

  // 2. Define Python code, then call it with keyword arguments.
  rt.run(
    'import statistics\n' +
    'def describe(xs, digits=2):\n' +
    '    return {"mean": round(statistics.mean(xs), digits), "stdev": round(statistics.stdev(xs), digits)}\n',
  );
  console.log('describe(...) =', JSON.stringify(rt.callKw('__main__', 'describe', [[2, 4, 4, 4, 5, 5, 7, 9]], { digits: 3 })));

  // 3. Keep a Python object and call its methods; free() releases it.
  const counter = rt.callObject('collections', 'Counter', 'abracadabra');
  counter.callMethod('update', 'aaa');
  console.log('Counter.most_common(2) =', JSON.stringify(counter.callMethod('most_common', 2)));
  console.log('len(counter) =', rt.call('builtins', 'len', counter)); // objects are arguments too
  counter.free();

  // 4. Values JSON cannot carry: integers beyond 2**53 are BigInts, bytes are Buffers.
  console.log('2**100 =', rt.eval('2**100'));
  console.log("'pyrt'.encode() =", rt.call('builtins', 'bytes', Buffer.from('pyrt')));

  // 5. A Python exception is a PythonError with the type and the traceback.
  try {
    rt.call('math', 'sqrt', -1);
  } catch (e) {
    if (!(e instanceof PythonError)) throw e;
    console.log(`math.sqrt(-1) raised ${e.pythonType}: ${e.pythonMessage}`);
  }
} finally {
  rt.close(); // the last close finalizes Python (atexit handlers run)
}

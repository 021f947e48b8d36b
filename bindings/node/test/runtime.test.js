'use strict';
// The binding against a real libpython: $PYRT_LIBPYTHON, else discovery. scripts/test-node.sh
// runs this directory once per CPython on the machine. One runtime per process (node --test
// runs each file in its own process); closing is tested in lifecycle.test.js.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  Runtime, PyObject, PyrtError, PythonError, STATUS, VERSION,
  Tuple, FrozenSet, ByteArray, Complex, Decimal, PyDateTime, PyDate, PyTime, PyTimedelta,
} = require('..');

const rt = new Runtime();
test.after(() => rt.close());

test('call: scalars, dotted names, builtins, __main__', () => {
  assert.equal(rt.call('math', 'sqrt', 16), 4);
  assert.equal(rt.call('os', 'path.join', 'a', 'b', 'c'), 'a/b/c');
  assert.equal(rt.call('builtins', 'len', 'hello'), 5);
  rt.run('def add(a, b):\n    return a + b\n');
  assert.equal(rt.call('__main__', 'add', 2, 3), 5);
  assert.equal(rt.call('__main__', 'add', 'py', 'rt'), 'pyrt');
  assert.deepEqual(rt.call('builtins', 'sorted', [3, 1, 2]), [1, 2, 3]);
  assert.equal(rt.call('builtins', 'print', 'printed by Python'), null);
});

test('keyword arguments', () => {
  rt.run('def joined(*a, sep=" "):\n    return sep.join(a)\n');
  assert.equal(rt.callKw('__main__', 'joined', ['x', 'y'], { sep: '-' }), 'x-y');
  assert.equal(rt.callKw('__main__', 'joined', ['x', 'y']), 'x y');
});

test('values both ways', () => {
  assert.deepEqual(rt.eval('{"a": [1, 2.5, None, True], "b": {"c": "d"}}'), { a: [1, 2.5, null, true], b: { c: 'd' } });
  assert.deepEqual(rt.eval('(1, "two")'), Tuple.of(1, 'two'));
  assert.ok(Array.isArray(rt.eval('(1,)')), 'a Tuple is an Array');
  assert.deepEqual(rt.eval('{3, 1}'), new Set([1, 3]));
  assert.deepEqual(rt.eval('{1: "a", (2, 3): "b"}'), new Map([[1, 'a'], [Tuple.of(2, 3), 'b']]));
  assert.deepEqual(rt.eval('b"\\x00\\xff"'), Buffer.from([0, 255]));
  assert.ok(Number.isNaN(rt.eval('float("nan")')));
  assert.equal(rt.eval('float("-inf")'), -Infinity);
  assert.equal(rt.eval('-0.0'), -0);
  assert.equal(rt.eval('0.1 + 0.2'), 0.30000000000000004);
  // Integers stay exact: beyond 2**53 they are BigInts, in both directions.
  assert.equal(rt.eval('2**53 - 1'), Number.MAX_SAFE_INTEGER);
  assert.equal(rt.eval('2**100'), 2n ** 100n);
  assert.equal(rt.eval('-(2**64)'), -(2n ** 64n));
  assert.equal(rt.call('builtins', 'str', 2n ** 100n + 1n), (2n ** 100n + 1n).toString());
  assert.equal(rt.call('operator', 'add', 10n, 1), 11);
  assert.equal(rt.eval('"1234567890123456789 is text"'), '1234567890123456789 is text');
  // JS values that JSON cannot carry go tagged.
  assert.equal(rt.call('builtins', 'repr', Buffer.from('hi')), "b'hi'");
  assert.equal(rt.call('builtins', 'repr', new Uint8Array([1, 2])), "b'\\x01\\x02'");
  assert.equal(rt.call('builtins', 'repr', new Set([1])), '{1}');
  assert.equal(rt.call('builtins', 'repr', NaN), 'nan');
  assert.equal(rt.call('builtins', 'repr', new Map([[1, 2]])), '{1: 2}');
  assert.equal(rt.call('builtins', 'repr', new Date(Date.UTC(2024, 0, 2, 3, 4, 5))), 'datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)');
  assert.deepEqual(rt.eval('__import__("decimal").Decimal("3.14")'), new Decimal('3.14'));
  assert.equal(`${rt.eval('__import__("decimal").Decimal("3.14")')}`, '3.14');
  assert.equal(rt.eval('__import__("datetime").timedelta(seconds=1.5)').toMilliseconds(), 1500);
  assert.equal(rt.eval('-__import__("datetime").timedelta(days=1, microseconds=1)').totalSeconds(), -86400.000001);
  assert.deepEqual(PyTimedelta.fromMilliseconds(-0.001), new PyTimedelta(-1, 86399, 999999));
  // Sent back, each decoded value is its Python type again.
  const kinds = {
    'tuple': Tuple.of(1, 'a'),
    'frozenset': new FrozenSet([1]),
    'bytearray': ByteArray.of(1, 2),
    'bytes': Buffer.from([1, 2]),
    'complex': new Complex(1, -2),
    'Decimal': new Decimal('1.10'),
    'datetime': new PyDateTime('2024-01-02T03:04:05.000001+05:30'),
    'date': new PyDate('2024-02-29'),
    'time': new PyTime('12:00:00'),
    'timedelta': new PyTimedelta(0, 0, -1),
  };
  const identity = rt.evalObject('lambda x: x');
  const typeName = rt.evalObject('lambda x: type(x).__name__');
  for (const [type, value] of Object.entries(kinds)) {
    assert.equal(typeName.call(value), type);
    assert.deepEqual(identity.call(value), value);
  }
  identity.free();
  typeName.free();
  assert.equal(rt.call('builtins', 'repr', new Complex(1, -2)), '(1-2j)');
  assert.equal(rt.call('builtins', 'repr', new PyTimedelta(0, 0, -1)), 'datetime.timedelta(days=-1, seconds=86399, microseconds=999999)');
  assert.equal(rt.call('builtins', 'repr', -0), '-0.0');
  assert.equal(rt.call('builtins', 'repr', 0), '0');
  // A JS Date is an instant; PyDateTime.toDate() gives one back (a naive datetime read as UTC).
  assert.equal(new PyDateTime('2024-01-02T03:04:05.123456+05:30').toDate().toISOString(), '2024-01-01T21:34:05.123Z');
  assert.equal(new PyDateTime('0001-01-01T00:00:00').toDate().toISOString(), '0001-01-01T00:00:00.000Z');
  assert.equal(rt.eval('__import__("datetime").datetime(2024, 1, 2, tzinfo=__import__("datetime").timezone.utc)').toDate().getTime(), Date.UTC(2024, 0, 2));
  // The reserved key in ordinary data stays data.
  assert.deepEqual(rt.call('builtins', 'dict', { __pyrt__: 'x', v: 1 }), new Map([['__pyrt__', 'x'], ['v', 1]]));
  assert.equal(rt.call('builtins', 'repr', { __pyrt__: 'object', v: 1 }), "{'__pyrt__': 'object', 'v': 1}");
  // Unicode
  assert.equal(rt.call('builtins', 'len', 'héllo ✓ 🐍'), 9);
  assert.equal(rt.call('builtins', 'str.upper', 'straße'), 'STRASSE');
});

test('Python exceptions are PythonErrors with type and traceback', () => {
  rt.run('def fail(x):\n    raise ValueError(f"bad value {x}")\n');
  assert.throws(() => rt.call('__main__', 'fail', 7), (e) => {
    assert.ok(e instanceof PythonError && e instanceof PyrtError && e instanceof Error);
    assert.equal(e.name, 'PythonError');
    assert.equal(e.pythonType, 'ValueError');
    assert.equal(e.pythonMessage, 'bad value 7');
    assert.equal(e.message, 'ValueError: bad value 7');
    assert.equal(e.code, STATUS.PYTHON);
    assert.equal(e.status, 'PYRT_ERR_PYTHON');
    assert.match(e.traceback, /^Traceback .*line 2, in fail\n(.*\n)?ValueError: bad value 7\n$/s);
    return true;
  });
  assert.throws(() => rt.run('raise SystemExit(3)'), (e) => e.pythonType === 'SystemExit' && e.code === STATUS.SYSTEM_EXIT);
  assert.throws(() => rt.run('raise KeyboardInterrupt'), (e) => e.pythonType === 'KeyboardInterrupt' && e.status === 'PYRT_ERR_KEYBOARD_INTERRUPT');
  assert.throws(() => rt.call('no_such_module_pyrt', 'f'), (e) => e.pythonType === 'ModuleNotFoundError');
  assert.throws(() => rt.run('x = ('), (e) => e.pythonType === 'SyntaxError');
  assert.throws(() => rt.eval('1/0'), { name: 'PythonError', pythonType: 'ZeroDivisionError', message: 'ZeroDivisionError: division by zero' });
  // A value without a JS form is not an error: it comes back as a PyObject.
  const o = rt.call('builtins', 'object');
  assert.ok(o instanceof PyObject);
  assert.match(o.repr(), /^<object object at/);
  o.free();
});

test('objects: methods, attributes, identity, free', () => {
  const counter = rt.callObject('collections', 'Counter', 'abracadabra');
  assert.deepEqual(counter.callMethod('most_common', 2), [Tuple.of('a', 5), Tuple.of('b', 2)]);
  counter.callMethod('update', 'zzz');
  assert.equal(counter.callMethod('get', 'z'), 3);
  assert.equal(rt.call('builtins', 'len', counter), 6);
  assert.match(counter.repr(), /^Counter\(\{'a': 5/);

  rt.run('class Thing:\n    def __init__(self, n):\n        self.n = n\n    def twice(self):\n        return 2 * self.n\n');
  const t = rt.callObject('__main__', 'Thing', 21);
  assert.equal(t.callMethod('twice'), 42);
  assert.equal(t.get('n'), 21);
  t.set('n', 5);
  assert.equal(t.getObject('n').value(), 5);
  // An object passed in is the object itself.
  const d = rt.toObject({ k: 1 });
  rt.call('operator', 'setitem', d, 'k', 2);
  assert.deepEqual(d.value(), { k: 2 });
  t.set('friend', d);
  assert.equal(rt.eval('1') && t.getObject('friend').callMethod('get', 'k'), 2);
  // Module objects and callables.
  const math = rt.import('math');
  assert.equal(math.callMethod('hypot', 3, 4), 5);
  assert.equal(math.getObject('sqrt').call(81), 9);
  const f = rt.evalObject('lambda a, b=10: a * b');
  assert.equal(f.call(4), 40);
  assert.equal(f.callKw(null, [4], { b: 3 }), 12);
  // free releases the reference: a weakref to the object dies.
  rt.run('import weakref, gc');
  const w = rt.callObject('__main__', 'Thing', 1);
  rt.call('builtins', 'setattr', rt.import('__main__'), 'ref', rt.callObject('weakref', 'ref', w));
  assert.equal(rt.eval('ref() is not None'), true);
  w.free();
  w.free(); // idempotent
  rt.run('gc.collect()');
  assert.equal(rt.eval('ref() is None'), true);
  assert.throws(() => w.repr(), (e) => e instanceof PyrtError && e.code === STATUS.CLOSED);
  assert.throws(() => math.get('no_such_attr'), { pythonType: 'AttributeError' });
});

test('runFile, info', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pyrt-node-'));
  const file = path.join(dir, 'script.py');
  fs.writeFileSync(file, 'from_file = __file__\n');
  rt.runFile(file);
  assert.equal(rt.eval('from_file'), file);
  assert.throws(() => rt.runFile(path.join(dir, 'missing.py')), (e) => e.code === STATUS.FILE_NOT_FOUND);
  assert.throws(() => rt.runFile(dir), (e) => e.code === STATUS.NOT_A_FILE);
  fs.rmSync(dir, { recursive: true });

  const info = rt.info();
  assert.equal(info.pyrtVersion, VERSION);
  assert.match(info.sourceHash, /^[0-9a-f]{64}$/);
  assert.match(info.libpython, new RegExp(`libpython${info.pythonVersion.split('.').slice(0, 2).join('\\.')}`));
  if (process.env.PYRT_LIBPYTHON) assert.equal(fs.realpathSync(info.libpython), fs.realpathSync(process.env.PYRT_LIBPYTHON));
  // Free-threaded ("t") builds, as Python itself reports it (3.13t: true; 3.8-3.14: false).
  assert.equal(info.freeThreaded, rt.eval('bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))'));
  // tested: false (with a note naming the version) only for a Python newer than pyrt was tested with.
  assert.equal(typeof info.tested, 'boolean');
  assert.equal(info.testedNote === null, info.tested);
  if (!info.tested) assert.match(info.testedNote, new RegExp(info.pythonVersion.replace(/\./g, '\\.')));
  const [major, minor] = info.pythonVersion.split('.').map(Number);
  if (major === 3 && minor <= 14) assert.equal(info.tested, true, `Python ${info.pythonVersion} is in pyrt's tested range`);
});

test('objects that Python code deletes are deallocated during the call', () => {
  // Fails on CPython 3.14 as long as pyrt does not tell CPython which C stack a call runs on:
  // koffi runs every native call on its own preallocated stack, below the thread's stack, and
  // 3.14's deallocation (the trashcan, _Py_ReachedRecursionLimitWithMargin) then believes the C
  // stack is exhausted and defers every instance, list, dict... to a per-thread list that is
  // only emptied when Python next runs on the thread's real stack: never, from Node.
  rt.run('import weakref\nclass Dropped:\n    pass\ndropped = []\n' +
    'd = Dropped()\nw = weakref.ref(d, lambda _: dropped.append(1))\ndel d\n');
  assert.deepEqual(rt.eval('dropped'), [1], 'an instance deleted by `del` was not deallocated');
  assert.equal(rt.eval('w() is None'), true);
});

test('per-handle options: timeoutMs, captureOutput, mainThread, workers', () => {
  const timed = new Runtime({ timeoutMs: 100 });
  assert.throws(() => timed.run('while True:\n    pass\n'), (e) => e instanceof PythonError &&
    e.code === STATUS.TIMEOUT && e.status === 'PYRT_ERR_TIMEOUT' && e.pythonType === 'KeyboardInterrupt');
  assert.equal(timed.eval('1 + 1'), 2, 'the runtime stays usable after a timeout');
  timed.close();

  const captured = new Runtime({ captureOutput: true });
  captured.run('import sys\nprint("out")\nprint("err", file=sys.stderr)\n');
  assert.deepEqual(captured.takeOutput(), { stdout: 'out\n', stderr: 'err\n' });
  assert.deepEqual(captured.takeOutput(), { stdout: '', stderr: '' });
  assert.throws(() => captured.run('print("before")\n1/0'), (e) => e.pythonType === 'ZeroDivisionError' && e.stdout === 'before\n' && e.stderr === '');
  captured.close();
  assert.throws(() => rt.run('1/0'), (e) => e.stdout === undefined, 'no output on errors of a runtime without captureOutput');

  const main = new Runtime({ mainThread: true });
  assert.equal(main.info().mode, 'main_thread');
  assert.equal(main.eval('__import__("threading").current_thread() is __import__("threading").main_thread()'), true);
  main.close();

  const workers = new Runtime({ workers: 2, workerModules: ['json'], workerSetup: 'def twice(x):\n    return 2 * x\n' });
  const info = workers.info();
  assert.equal(info.workersRequested, 2);
  if (info.mode === 'subinterpreters') {
    assert.equal(info.workers, 2);
    assert.equal(info.workersNote, null);
  } else {
    // Below Python 3.12 (or where sub-interpreters are not supported) the calls run in the main interpreter.
    assert.equal(info.mode, 'caller_thread');
    assert.equal(info.workers, 0);
    assert.equal(typeof info.workersNote, 'string');
  }
  assert.equal(workers.call('__main__', 'twice', 21), 42);
  assert.deepEqual(workers.call('json', 'loads', '[1, {"a": null}]'), [1, { a: null }]);
  assert.ok(workers.eval('(1, "a")') instanceof Tuple, 'eval on workers is tagged, as elsewhere');
  // A generator lives in the worker whose call made it; every step runs there.
  workers.run('import threading\ndef rows(n):\n    for i in range(n):\n        yield [i, threading.get_ident()]\n');
  const gen = workers.callObject('__main__:rows', 300);
  const rows = [...gen];
  gen.free();
  assert.equal(rows.length, 300);
  assert.ok(rows.every((r, i) => r[0] === i && r[1] === rows[0][1]), 'in order, from one worker');
  workers.close();
  assert.equal(rt.info().mode, 'caller_thread');
});

test('bad input is an error, never a crash', () => {
  assert.throws(() => new Runtime({ libpyton: '/x' }), (e) => e instanceof PyrtError && e.code === STATUS.CONFIG && /libpyton/.test(e.message));
  assert.throws(() => new Runtime({ pythonVersion: '2.7' }), (e) => e.code === STATUS.CONFIG);
  assert.throws(() => new Runtime({ argv: ['other'] }), (e) => e.code === STATUS.LIBPYTHON_CONFLICT);
  assert.throws(() => rt.callJson('math', 'sqrt', '[16.0'), (e) => e.code === STATUS.INVALID_JSON);
  assert.equal(rt.callJson('math', 'sqrt', '[16.0]'), '4.0');
  assert.throws(() => rt.run('a\0b'), (e) => e instanceof PyrtError);
  // A second handle shares the interpreter.
  const again = new Runtime();
  assert.equal(again.eval('add(1, 1)'), 2);
  again.close();
  assert.equal(rt.eval('add(2, 2)'), 4);
});

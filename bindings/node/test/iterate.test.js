'use strict';
// Python iterators and generators in JS (docs/streams.md): PyObject is iterable, PyIterator
// follows the JS iterator protocol (next, return, throw) and adds send, close, nextObject and
// batches.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Runtime, PyObject, PyIterator, PyrtError, PythonError, STATUS, Tuple } = require('..');

const rt = new Runtime();
test.after(() => rt.close());

rt.run(`
log = []

def counted(n):
    try:
        for i in range(n):
            log.append(i)
            yield i
    finally:
        log.append("finally")

def failing(n):
    for i in range(n):
        yield i
    raise ValueError("broke after %d" % n)

def running_total():
    total = 0
    while True:
        x = yield total
        if x is None:
            return
        total += x

def catcher():
    while True:
        try:
            yield "waiting"
        except KeyError as e:
            yield "caught " + str(e.args[0])
`);

const resetLog = () => rt.run('log.clear()');
const isPythonError = (type, pattern) => (e) => {
  assert.ok(e instanceof PythonError, String(e));
  assert.equal(e.pythonType, type);
  if (pattern) assert.match(e.message, pattern);
  return true;
};

test('STATUS.DONE is not an error status', () => {
  assert.equal(STATUS.DONE, 100);
  assert.equal(new PyrtError('x', STATUS.DONE).status, 'PYRT_DONE');
});

test('lists, tuples, dicts, ranges and strings iterate as in Python', () => {
  assert.deepEqual([...rt.evalObject('[1, "two", None, 2.5]')], [1, 'two', null, 2.5]);
  assert.deepEqual([...rt.evalObject('(1, (2, 3))')], [1, Tuple.of(2, 3)]);
  assert.deepEqual([...rt.evalObject('{"a": 1, "b": 2}')], ['a', 'b']);
  assert.deepEqual([...rt.evalObject('{"a": 1, "b": 2}.items()')], [Tuple.of('a', 1), Tuple.of('b', 2)]);
  assert.deepEqual([...rt.evalObject('range(5)')], [0, 1, 2, 3, 4]);
  assert.deepEqual([...rt.evalObject('"héllo"')], ['h', 'é', 'l', 'l', 'o']);
  assert.deepEqual([...rt.evalObject('[]')], []);
  assert.deepEqual(Array.from(rt.evalObject('{1: "x"}.values()')), ['x']);
  // Values without a JS form come as PyObjects, as from other PyObject methods.
  const [obj] = rt.evalObject('[object()]');
  assert.ok(obj instanceof PyObject);
  assert.match(obj.repr(), /^<object object at/);
  obj.free();
});

test('the JS iterator protocol: next() until done, then done again', () => {
  const it = rt.evalObject('[10, 20]')[Symbol.iterator]();
  assert.ok(it instanceof PyIterator);
  assert.equal(it[Symbol.iterator](), it);
  assert.deepEqual(it.next(), { value: 10, done: false });
  assert.deepEqual(it.next(), { value: 20, done: false });
  assert.deepEqual(it.next(), { value: undefined, done: true });
  assert.equal(it.done, true);
  assert.deepEqual(it.next(), { value: undefined, done: true });
  it.close(); // harmless once done
});

test('a generator from callObject, both target forms', () => {
  assert.deepEqual([...rt.callObject('__main__:counted', 3)], [0, 1, 2]);
  assert.deepEqual([...rt.callObject('__main__', 'counted', 2)], [0, 1]);
  const out = [];
  for (const x of rt.callObject('__main__:counted', 4)) out.push(x);
  assert.deepEqual(out, [0, 1, 2, 3]);
  // The other calls take the "module:function" form too.
  assert.equal(rt.call('os:path.join', 'a', 'b'), 'a/b');
  assert.equal(rt.callKw('builtins:sorted', [[3, 1, 2]], { reverse: true }).join(), '3,2,1');
});

test('break out of for…of closes the generator: its finally runs at once', () => {
  resetLog();
  const gen = rt.callObject('__main__:counted', 10);
  for (const x of gen) {
    if (x === 2) break;
  }
  assert.deepEqual(rt.eval('log'), [0, 1, 2, 'finally']);
  // The generator object itself is closed too: iterating it again gives nothing.
  assert.deepEqual([...gen], []);
  gen.free();

  // An exception out of the loop body closes it as well.
  resetLog();
  assert.throws(() => {
    for (const x of rt.callObject('__main__:counted', 10)) {
      if (x === 1) throw new Error('stop');
    }
  }, /stop/);
  assert.deepEqual(rt.eval('log'), [0, 1, 'finally']);

  // So does close(), and return() gives { value, done: true }.
  resetLog();
  const it = rt.callObject('__main__:counted', 10).iter();
  assert.deepEqual(it.next(), { value: 0, done: false });
  assert.deepEqual(it.return('r'), { value: 'r', done: true });
  assert.deepEqual(rt.eval('log'), [0, 'finally']);
  assert.deepEqual(it.next(), { value: undefined, done: true });
  it.close();
});

test('a generator raising midway: its items, then the PythonError with the traceback, then done', () => {
  const it = rt.callObject('__main__:failing', 2).iter();
  assert.deepEqual(it.next(), { value: 0, done: false });
  assert.deepEqual(it.next(), { value: 1, done: false });
  assert.throws(() => it.next(), (e) => {
    isPythonError('ValueError', /broke after 2/)(e);
    assert.equal(e.code, STATUS.PYTHON);
    assert.match(e.traceback, /in failing/);
    return true;
  });
  assert.deepEqual(it.next(), { value: undefined, done: true });

  const seen = [];
  assert.throws(() => {
    for (const x of rt.callObject('__main__:failing', 3)) seen.push(x);
  }, isPythonError('ValueError', /broke after 3/));
  assert.deepEqual(seen, [0, 1, 2]);
});

test('send: a running total', () => {
  const it = rt.callObject('__main__:running_total').iter();
  assert.deepEqual(it.next(), { value: 0, done: false }, 'started with next()');
  assert.deepEqual(it.send(5), { value: 5, done: false });
  assert.deepEqual(it.send(10), { value: 15, done: false });
  assert.deepEqual(it.send(2.5), { value: 17.5, done: false });
  assert.deepEqual(it.send(null), { value: undefined, done: true }, 'None: the generator returns');
  assert.equal(it.done, true);
  assert.deepEqual(it.send(1), { value: undefined, done: true });

  const fresh = rt.callObject('__main__:running_total').iter();
  assert.deepEqual(fresh.send(), { value: 0, done: false }, 'a None send starts it');
  assert.deepEqual(fresh.send(1n), { value: 1, done: false });
  fresh.close();

  const unstarted = rt.callObject('__main__:running_total').iter();
  assert.throws(() => unstarted.send(1), isPythonError('TypeError', /just-started generator/));
  unstarted.close();
});

test('throw: a Python exception raised inside the generator; a JS error closes it', () => {
  const it = rt.callObject('__main__:catcher').iter();
  assert.deepEqual(it.next(), { value: 'waiting', done: false });
  const keyError = rt.callObject('builtins:KeyError', 'k1');
  assert.deepEqual(it.throw(keyError), { value: 'caught k1', done: false });
  assert.deepEqual(it.next(), { value: 'waiting', done: false });
  // An exception the generator does not catch comes out of it as a PythonError; then it is done.
  const valueError = rt.callObject('builtins:ValueError', 'not caught');
  assert.throws(() => it.throw(valueError), isPythonError('ValueError', /not caught/));
  assert.deepEqual(it.next(), { value: undefined, done: true });

  // A JS error: the generator is closed (finally runs) and the error thrown back.
  resetLog();
  const gen = rt.callObject('__main__:counted', 5).iter();
  gen.next();
  const jsError = new Error('from JS');
  assert.throws(() => gen.throw(jsError), (e) => e === jsError);
  assert.deepEqual(rt.eval('log'), [0, 'finally']);
  assert.equal(gen.done, true);
  keyError.free();
  valueError.free();
});

test('nextObject keeps items as PyObjects', () => {
  const it = rt.evalObject('[[1, 2], "x"]').iter();
  const first = it.nextObject();
  assert.equal(first.done, false);
  assert.ok(first.value instanceof PyObject);
  assert.equal(first.value.repr(), '[1, 2]');
  assert.equal(it.nextObject().value.value(), 'x');
  assert.deepEqual(it.nextObject(), { value: undefined, done: true });
});

test('batch mode: the same items, fewer native calls', () => {
  for (const batch of [1, 2, 3, 7, 100]) {
    assert.deepEqual([...rt.evalObject('range(10)').iter({ batch })], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], `batch ${batch}`);
    assert.deepEqual([...rt.evalObject('[(1, 2), {3}, b"x"]').iter({ batch })], [Tuple.of(1, 2), new Set([3]), Buffer.from('x')]);
  }
  assert.deepEqual([...rt.evalObject('[]').iter({ batch: 5 })], []);
  for (const bad of [0, -1, 1.5, '3', NaN]) {
    assert.throws(() => rt.evalObject('[]').iter({ batch: bad }), (e) => e instanceof PyrtError && e.code === STATUS.INVALID_ARGUMENT);
  }
});

test('batch mode runs a generator ahead; an error after some items comes after them, in order', () => {
  resetLog();
  const it = rt.callObject('__main__:counted', 10).iter({ batch: 4 });
  assert.deepEqual(it.next(), { value: 0, done: false });
  assert.deepEqual(rt.eval('log'), [0, 1, 2, 3], 'the batch took 4 items at once');
  // Items taken ahead stand in the way of send and throw.
  assert.throws(() => it.send(1), (e) => e.code === STATUS.INVALID_ARGUMENT);
  // break: the items taken ahead are dropped and the generator closed.
  for (const x of it) if (x === 1) break;
  assert.deepEqual(rt.eval('log'), [0, 1, 2, 3, 'finally']);
  assert.deepEqual(it.next(), { value: undefined, done: true });

  for (const batch of [2, 3, 5, 50]) {
    const got = [];
    const b = rt.callObject('__main__:failing', 5).iter({ batch });
    assert.throws(() => {
      for (const x of b) got.push(x);
    }, (e) => isPythonError('ValueError', /broke after 5/)(e) && /in failing/.test(e.traceback));
    assert.deepEqual(got, [0, 1, 2, 3, 4], `batch ${batch}: every item before the error`);
    assert.deepEqual(b.next(), { value: undefined, done: true });
  }
});

test('a non-iterable object is a TypeError', () => {
  const n = rt.evalObject('42');
  assert.throws(() => [...n], isPythonError('TypeError', /not iterable/));
  assert.throws(() => n.iter({ batch: 10 }), isPythonError('TypeError'));
  n.free();
});

test('a freed object cannot be iterated: PyrtError CLOSED', () => {
  const obj = rt.evalObject('[1, 2, 3]');
  const it = obj.iter();
  obj.free();
  assert.throws(() => obj[Symbol.iterator](), (e) => e instanceof PyrtError && e.code === STATUS.CLOSED);
  assert.throws(() => obj.iter({ batch: 2 }), (e) => e instanceof PyrtError && e.code === STATUS.CLOSED);
  // An iterator taken before holds its own reference.
  assert.deepEqual([...it], [1, 2, 3]);
});

test('100,000 items streamed in batches of 1000', () => {
  let count = 0;
  let sum = 0;
  let last = -2;
  let ordered = true;
  for (const x of rt.evalObject('(i * 2 for i in range(100000))').iter({ batch: 1000 })) {
    if (x !== last + 2) ordered = false;
    last = x;
    count++;
    sum += x;
  }
  assert.equal(count, 100000);
  assert.equal(sum, 2 * (99999 * 100000) / 2);
  assert.ok(ordered);
});

test('a runtime closed with iterators outstanding: their steps fail with CLOSED, nothing hangs', () => {
  const other = new Runtime(); // rt keeps the interpreter alive
  const it = other.callObject('__main__:counted', 5).iter();
  const batched = other.evalObject('iter(range(100))').iter({ batch: 10 });
  assert.deepEqual(it.next(), { value: 0, done: false });
  assert.deepEqual(batched.next(), { value: 0, done: false });
  other.close();
  const closed = (e) => e instanceof PyrtError && e.code === STATUS.CLOSED;
  assert.throws(() => it.next(), closed);
  assert.throws(() => it.send(1), closed);
  assert.throws(() => it.close(), closed);
  assert.deepEqual(it.next(), { value: undefined, done: true }, 'released by close()');
  // Items a batch took before the close are already JS values; then the next step fails.
  for (let i = 1; i < 10; i++) assert.deepEqual(batched.next(), { value: i, done: false });
  assert.throws(() => batched.next(), closed);
  assert.equal(rt.eval('1 + 1'), 2);
});

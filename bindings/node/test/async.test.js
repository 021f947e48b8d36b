'use strict';
// Python coroutines as JS Promises (issue 17): Runtime.callAsync / callAsyncKw and
// PyObject.awaitValue run coroutines on pyrt's asyncio loop and settle through one completion
// callback for the process; AbortSignal cancels; async generators iterate with for…of.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { Runtime, PyObject, PyrtError, PythonError, STATUS, Tuple } = require('..');

const rt = new Runtime();
test.after(() => rt.close());

rt.run(`
import asyncio

log = []

async def double(x, scale=2):
    await asyncio.sleep(0)
    return x * scale

async def pair():
    return (1, "two", b"3", {4})

async def boom(msg):
    await asyncio.sleep(0.01)
    raise ValueError(msg)

async def nap():
    await asyncio.sleep(0.05)
    return 1

async def guarded(tag):
    try:
        log.append("start " + tag)
        await asyncio.sleep(60)
        return "finished"
    finally:
        log.append("finally " + tag)

async def stubborn():
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        return "caught the cancellation"

def not_async():
    return 42

async def make_object():
    return object()

async def agen(n):
    try:
        for i in range(n):
            await asyncio.sleep(0)
            yield i * 10
    finally:
        log.append("agen finally")

async def echo_server():
    async def handle(reader, writer):
        line = await reader.readline()
        await asyncio.sleep(0.05)
        writer.write(line.upper())
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server

def port_of(server):
    return server.sockets[0].getsockname()[1]

async def slow_agen(n, delay):
    for i in range(n):
        await asyncio.sleep(delay)
        yield i

async def serve(server):
    async with server:
        await server.serve_forever()

async def fetch(port, text):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(text.encode() + b"\\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    return line.decode().strip()
`);

const resetLog = () => rt.run('log.clear()');

test('callAsync resolves with the decoded result (both target forms, keywords)', async () => {
  assert.equal(await rt.callAsync('__main__:double', 21), 42);
  assert.equal(await rt.callAsync('__main__', 'double', 'ab'), 'abab');
  assert.equal(await rt.callAsyncKw('__main__:double', [5], { scale: 3 }), 15);
  assert.equal(await rt.callAsyncKw('__main__', 'double', [5], { scale: 4 }), 20);
  const [a, b, c, d] = await rt.callAsync('__main__:pair');
  assert.equal(a, 1);
  assert.equal(b, 'two');
  assert.deepEqual(c, Buffer.from('3'));
  assert.deepEqual(d, new Set([4]));
  // A value without a JS form comes back as a handle, as call() does.
  const obj = await rt.callAsync('__main__:make_object');
  assert.ok(obj instanceof PyObject);
  assert.match(obj.repr(), /^<object object at/);
  obj.free();
});

test('an exception rejects with PythonError and its traceback', async () => {
  await assert.rejects(rt.callAsync('__main__:boom', 'no good'), (e) => {
    assert.ok(e instanceof PythonError, String(e));
    assert.equal(e.pythonType, 'ValueError');
    assert.equal(e.pythonMessage, 'no good');
    assert.equal(e.code, STATUS.PYTHON);
    assert.match(e.traceback, /in boom/);
    return true;
  });
});

test('what cannot start rejects (callAsync never throws)', async () => {
  let p;
  assert.doesNotThrow(() => { p = rt.callAsync('__main__:not_async'); });
  await assert.rejects(p, (e) => e instanceof PythonError && e.pythonType === 'TypeError');
  await assert.rejects(rt.callAsync('no_such_module_xyz:f'), (e) => e instanceof PythonError && /ModuleNotFoundError|ImportError/.test(e.pythonType));
  await assert.rejects(rt.callAsync('__main__:no_such_function'), (e) => e instanceof PythonError && e.pythonType === 'AttributeError');
  await assert.rejects(rt.callAsync('__main__:double'), (e) => e instanceof PythonError && e.pythonType === 'TypeError'); // missing argument
});

test('1,000 concurrent coroutines complete without a thread each', async () => {
  const start = Date.now();
  const results = await Promise.all(Array.from({ length: 1000 }, () => rt.callAsync('__main__:nap')));
  const elapsed = Date.now() - start;
  assert.equal(results.length, 1000);
  assert.ok(results.every((x) => x === 1));
  assert.ok(elapsed < 5000, `1,000 naps of 50 ms took ${elapsed} ms`);
});

test('an AbortSignal cancels: the finally block runs, then INTERRUPTED', async () => {
  resetLog();
  const ac = new AbortController();
  const p = rt.callAsyncKw('__main__:guarded', ['a'], null, { signal: ac.signal });
  // Let the coroutine start before cancelling it.
  for (let i = 0; i < 200 && !rt.eval('log').includes('start a'); i++) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof PyrtError, String(e));
    assert.equal(e.code, STATUS.INTERRUPTED);
    assert.equal(e.status, 'PYRT_ERR_INTERRUPTED');
    return true;
  });
  assert.deepEqual(rt.eval('log'), ['start a', 'finally a']);
});

test('cancelling right away still runs the cleanup of what started', async () => {
  resetLog();
  const ac = new AbortController();
  const p = rt.callAsyncKw('__main__:guarded', ['b'], null, { signal: ac.signal });
  ac.abort();
  await assert.rejects(p, (e) => e.code === STATUS.INTERRUPTED);
  const log = rt.eval('log');
  // Cancelled before its first step, a coroutine never runs (nothing to clean up); otherwise
  // both lines are there.
  assert.ok(log.length === 0 || (log[0] === 'start b' && log[1] === 'finally b'), JSON.stringify(log));
});

test('an already aborted signal rejects without starting the task', async () => {
  resetLog();
  await assert.rejects(rt.callAsyncKw('__main__:guarded', ['c'], null, { signal: AbortSignal.abort() }),
    (e) => e instanceof PyrtError && e.code === STATUS.INTERRUPTED);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(rt.eval('log'), []);
});

test('a coroutine that catches the cancellation settles with its result', async () => {
  const ac = new AbortController();
  const p = rt.callAsyncKw('__main__:stubborn', [], null, { signal: ac.signal });
  setTimeout(() => ac.abort(), 20);
  assert.equal(await p, 'caught the cancellation');
});

test('awaitValue awaits a coroutine object, once', async () => {
  const coro = rt.callObject('__main__:double', 7);
  assert.equal(await coro.awaitValue(), 14);
  await assert.rejects(coro.awaitValue(), (e) => e instanceof PythonError && e.pythonType === 'RuntimeError');
  coro.free();
  const notAwaitable = rt.toObject(3);
  await assert.rejects(notAwaitable.awaitValue(), (e) => e instanceof PythonError && e.pythonType === 'TypeError');
  notAwaitable.free();
  const freed = rt.toObject(1);
  freed.free();
  await assert.rejects(freed.awaitValue(), (e) => e instanceof PyrtError && e.code === STATUS.CLOSED);
});

test('awaitValue with a signal cancels', async () => {
  resetLog();
  const coro = rt.callObject('__main__:guarded', 'd');
  const ac = new AbortController();
  const p = coro.awaitValue({ signal: ac.signal });
  setTimeout(() => ac.abort(), 30);
  await assert.rejects(p, (e) => e.code === STATUS.INTERRUPTED);
  assert.deepEqual(rt.eval('log'), ['start d', 'finally d']);
  coro.free();
});

test('an asyncio server and two clients over 127.0.0.1', async () => {
  const server = await rt.callAsync('__main__:echo_server');
  assert.ok(server instanceof PyObject);
  const port = rt.call('__main__:port_of', server);
  assert.ok(Number.isInteger(port) && port > 0, String(port));
  const ac = new AbortController();
  const serving = rt.callAsyncKw('__main__:serve', [server], null, { signal: ac.signal });
  try {
    const start = Date.now();
    const [a, b] = await Promise.all([rt.callAsync('__main__:fetch', port, 'hello'), rt.callAsync('__main__:fetch', port, 'world')]);
    assert.deepEqual([a, b], ['HELLO', 'WORLD']);
    assert.ok(Date.now() - start < 3000);
  } finally {
    ac.abort();
    await assert.rejects(serving, (e) => e.code === STATUS.INTERRUPTED);
    server.free();
  }
});

test('for…of over an async generator: items, and break runs its finally', () => {
  resetLog();
  assert.deepEqual([...rt.callObject('__main__:agen', 4)], [0, 10, 20, 30]);
  assert.deepEqual(rt.eval('log'), ['agen finally']);
  resetLog();
  const seen = [];
  for (const x of rt.callObject('__main__:agen', 100)) {
    seen.push(x);
    if (x === 20) break;
  }
  assert.deepEqual(seen, [0, 10, 20]);
  assert.deepEqual(rt.eval('log'), ['agen finally']);
  resetLog();
  assert.deepEqual([...rt.callObject('__main__:agen', 5).iter({ batch: 2 })], [0, 10, 20, 30, 40]);
});

test('for…of over an async generator while tasks are pending does not stall the loop', async () => {
  // Each step blocks this thread on pyrt's loop for 30 ms while the naps complete there: their
  // completions must not wait for this thread.
  const pending = Array.from({ length: 50 }, () => rt.callAsync('__main__:nap'));
  const start = Date.now();
  assert.deepEqual([...rt.callObject('__main__:slow_agen', 5, 0.03)], [0, 1, 2, 3, 4]);
  assert.ok(Date.now() - start < 3000);
  assert.deepEqual(await Promise.all(pending), Array(50).fill(1));
});

test('closing a Runtime with a task outstanding rejects it with CLOSED', async () => {
  const second = new Runtime();
  resetLog();
  const p = second.callAsync('__main__:guarded', 'e');
  for (let i = 0; i < 200 && !rt.eval('log').includes('start e'); i++) await new Promise((r) => setTimeout(r, 5));
  second.close();
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof PyrtError, String(e));
    assert.equal(e.code, STATUS.CLOSED);
    return true;
  });
  await assert.rejects(second.callAsync('__main__:nap'), (e) => e.code === STATUS.CLOSED);
  // The first Runtime's tasks are unaffected.
  assert.equal(await rt.callAsync('__main__:double', 1), 2);
});

test('results that are tuples keep their Python type', async () => {
  rt.run('async def tup():\n    return (1, 2)');
  const t = await rt.callAsync('__main__:tup');
  assert.ok(t instanceof Tuple);
  assert.deepEqual([...t], [1, 2]);
});

test('a pending task keeps the process alive, and only a pending one', () => {
  // In a process of its own: a task that cannot start leaves nothing behind (here on a runtime
  // whose workers are sub-interpreters, which has no coroutines; or a missing module), a
  // pending one is awaited, then the process exits by itself.
  const script = `
    const { Runtime, STATUS } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const rt = new Runtime();
    const w = new Runtime({ workers: 2 });
    const expected = w.info().mode === 'subinterpreters' ? STATUS.INVALID_ARGUMENT : STATUS.PYTHON;
    w.callAsync(w.info().mode === 'subinterpreters' ? 'asyncio:sleep' : 'no_such_module_xyz:f', 0)
      .catch((e) => console.log('cannot start:', e.code === expected));
    rt.run('import asyncio\\nasync def late():\\n    await asyncio.sleep(0.3)\\n    return "late"');
    rt.callAsync('__main__:late').then((v) => console.log('resolved:', v));
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /cannot start: true/);
  assert.match(r.stdout, /resolved: late/);
});

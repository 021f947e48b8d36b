'use strict';
// Closing: idempotent, calls after close fail, the last close finalizes Python for good (this
// file's process). Also: library errors.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Runtime, PyrtError, LibraryError, STATUS, loadLibrary, discover, _internal } = require('..');

test('a missing or wrong libpyrt is a LibraryError listing what was tried', () => {
  assert.throws(() => loadLibrary('/nonexistent/libpyrt.so'), (e) => e instanceof LibraryError && /\/nonexistent\/libpyrt\.so.*not found/.test(e.message));
  assert.throws(() => loadLibrary('/etc/hostname'), (e) => e instanceof LibraryError && /\/etc\/hostname/.test(e.message));
  const old = process.env.PYRT_LIBRARY;
  process.env.PYRT_LIBRARY = '/nonexistent/from-env/libpyrt.so';
  assert.throws(() => loadLibrary(), (e) => e instanceof LibraryError && /PYRT_LIBRARY/.test(e.message));
  assert.deepEqual(_internal.libraryCandidates().map((c) => c[1]), ['$PYRT_LIBRARY']);
  assert.deepEqual(_internal.libraryCandidates('/x/libpyrt.so'), [['/x/libpyrt.so', 'the library option']]);
  delete process.env.PYRT_LIBRARY;
  const candidates = _internal.libraryCandidates();
  if (old !== undefined) process.env.PYRT_LIBRARY = old;
  // Inside the repository: its build output first, then the system path by soname.
  assert.deepEqual(candidates.map((c) => c[1]), ['repository build output', 'system library path', 'system library path']);
  assert.match(candidates[0][0], /target\/release\/libpyrt\.so$/);
  assert.deepEqual(candidates.slice(1).map((c) => c[0]), [_internal.soname(), 'libpyrt.so']);
});

test('discover reports the choice without starting Python', () => {
  const d = discover();
  assert.match(d.libpython, /libpython3\.\d+/);
  assert.equal(d.candidates.at(-1).accepted, true);
  assert.throws(() => discover({ pythonVersion: '4.0' }), (e) => e.code === STATUS.CONFIG);
});

test('close is idempotent; the last close finalizes', () => {
  const loaded = loadLibrary();
  assert.throws(() => loadLibrary('/nonexistent/other/libpyrt.so'), (e) => e instanceof LibraryError && e.message.includes(loaded.path));
  const a = new Runtime();
  const b = new Runtime();
  const obj = a.toObject([1, 2, 3]);
  const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pyrt-node-')), 'atexit');
  a.run(`import atexit\natexit.register(lambda: open(${JSON.stringify(marker)}, "w").write("ran"))`);
  a.close();
  a.close();
  assert.equal(a.closed, true);
  assert.throws(() => a.eval('1'), (e) => e instanceof PyrtError && e.code === STATUS.CLOSED);
  // b keeps the interpreter alive; a's objects are gone with a.
  assert.equal(b.eval('1 + 1'), 2);
  assert.throws(() => obj.value(), (e) => e.code === STATUS.CLOSED);
  assert.equal(fs.existsSync(marker), false);
  b.close();
  assert.equal(fs.readFileSync(marker, 'utf8'), 'ran', 'closing the last runtime finalizes Python (atexit handlers run)');
  fs.rmSync(path.dirname(marker), { recursive: true });
  assert.throws(() => new Runtime(), (e) => e.code === STATUS.FINALIZED && e.status === 'PYRT_ERR_FINALIZED');
  obj.free(); // harmless after everything closed
});

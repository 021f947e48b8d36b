'use strict';
// rt.stats() / rt.processStats(): pyrt_stats_json with camelCase properties.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Runtime, PythonError, STATUS } = require('..');

const rt = new Runtime();

test('stats count calls, failures and exceptions by type', () => {
  const before = rt.stats();
  assert.equal(before.scope, 'runtime');
  assert.equal(before.enabled, true);
  for (let i = 0; i < 20; i++) assert.equal(rt.call('math', 'sqrt', 16), 4);
  assert.throws(() => rt.call('builtins', 'int', 'x'), PythonError);
  const s = rt.stats();
  assert.ok(s.callsStarted >= before.callsStarted + 21, JSON.stringify(s));
  assert.equal(s.callsFailed, before.callsFailed + 1);
  assert.equal(s.exceptions.ValueError, (before.exceptions.ValueError || 0) + 1);
  assert.equal(s.callsInFlight, 0);
  assert.equal(s.latencyBuckets.length, s.latencyBoundsSeconds.length + 1);
  assert.equal(s.latencyBuckets.reduce((a, b) => a + b, 0), s.latencyCount);
  assert.ok(s.latencyCount >= 1 && s.latencyCount <= s.callsFinished);
  for (const k of ['waitSeconds', 'runSeconds', 'objects', 'hostCallbacks', 'interrupts', 'timeouts', 'workerCalls', 'workers']) {
    assert.equal(typeof s[k], 'number', k);
  }
  const p = rt.processStats();
  assert.equal(p.scope, 'process');
  assert.ok(p.callsStarted >= s.callsStarted);
});

test('a second runtime cannot turn the counting off', () => {
  assert.throws(() => new Runtime({ stats: false }), (e) => e.code === STATUS.LIBPYTHON_CONFLICT);
});

'use strict';
// The binding against include/pyrt-contract.json (generated from libpyrt's sources): it must
// know every status code, accept every config key and expose every pyrt_info_json field. The
// lists come from the contract file and the binding's own exported tables, and the info fields
// from a real runtime, so a key added to libpyrt fails here until the binding has it.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { Runtime, PyrtError, STATUS, CONFIG_OPTIONS, INFO_FIELDS, _internal } = require('..');

const contract = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'include', 'pyrt-contract.json'), 'utf8'));
const camel = (key) => key.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

const rt = new Runtime();
test.after(() => rt.close());

test('every status code has its name in STATUS and on errors', () => {
  assert.ok(contract.statuses.length > 0);
  for (const { name, code } of contract.statuses) {
    const short = name.replace(/^PYRT_(ERR_)?/, '');
    assert.equal(STATUS[short], code, `STATUS.${short} should be ${code} (${name})`);
    assert.equal(_internal.statusName(code), name);
    assert.equal(_internal.libStatusName(code), name, 'the loaded libpyrt names it the same');
    const e = new PyrtError('message', code);
    assert.equal(e.status, name);
    assert.equal(e.code, code);
  }
  // Nothing the contract does not know (a renamed or removed status).
  const known = new Set(contract.statuses.map((s) => s.code));
  for (const [short, code] of Object.entries(STATUS)) assert.ok(known.has(code), `STATUS.${short} = ${code} is not in the contract`);
  assert.equal(_internal.statusName(contract.statuses.length + 1000), 'PYRT_ERR_UNKNOWN');
});

test('every config key has a camelCase option, and libpyrt recognizes what the option sends', () => {
  const keys = Object.values(CONFIG_OPTIONS);
  for (const key of contract.config_keys) {
    const option = Object.keys(CONFIG_OPTIONS).find((o) => CONFIG_OPTIONS[o] === key);
    assert.ok(option, `no Runtime option for the config key ${JSON.stringify(key)}`);
    assert.equal(option, camel(key), `the option for ${key} follows the naming convention`);
    // A value of the wrong type for every key: libpyrt parses the config first and names the type
    // it expected, which shows it knows the key (an unknown one is "unknown field").
    assert.throws(() => new Runtime({ [option]: { wrong: 'type' } }), (e) => {
      assert.equal(e.code, STATUS.CONFIG, e.message);
      assert.match(e.message, /invalid type/);
      assert.doesNotMatch(e.message, /unknown field/);
      return true;
    });
  }
  for (const key of keys) assert.ok(contract.config_keys.includes(key), `option for ${key}: not a config key of the contract`);
  assert.equal(new Set(keys).size, keys.length);
  // The binding refuses an option it does not know before libpyrt sees it.
  assert.throws(() => new Runtime({ timeout: 5 }), (e) => e.code === STATUS.CONFIG && /unknown option "timeout"/.test(e.message));
});

test('every info field is a property of info() with the value libpyrt reports', () => {
  const raw = rt._rawInfo();
  const info = rt.info();
  for (const field of contract.info_fields) {
    const prop = INFO_FIELDS[field];
    assert.ok(prop, `INFO_FIELDS lacks the pyrt_info_json field ${JSON.stringify(field)}`);
    assert.equal(prop, camel(field));
    assert.ok(Object.prototype.hasOwnProperty.call(raw, field), `libpyrt's pyrt_info_json lacks ${field}`);
    assert.ok(Object.prototype.hasOwnProperty.call(info, prop), `info() lacks ${prop}`);
    assert.deepEqual(info[prop], raw[field], `info().${prop}`);
  }
  for (const field of Object.keys(INFO_FIELDS)) assert.ok(contract.info_fields.includes(field), `INFO_FIELDS.${field}: not an info field of the contract`);
  for (const field of Object.keys(raw)) assert.ok(field in INFO_FIELDS, `pyrt_info_json reports ${field}, which info() drops`);
});

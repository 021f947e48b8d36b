'use strict';

// pyrt for Node.js: a thin, synchronous binding over libpyrt's C ABI (include/pyrt.h) through
// koffi, with no compile step. See README.md.
//
// Every call blocks the calling JS thread until Python returns (Python holds the GIL for the
// call's duration anyway); values cross as JSON text in pyrt's tagged encoding
// (docs/values.md), decoded here into JS values.

const fs = require('node:fs');
const path = require('node:path');
const koffi = require('koffi');

const VERSION = require('./package.json').version;
const LIBRARY_ENV = 'PYRT_LIBRARY';

// C status codes (include/pyrt.h): stable numbers.
const STATUS = Object.freeze({
  OK: 0,
  INVALID_ARGUMENT: 1,
  INVALID_UTF8: 2,
  INVALID_JSON: 3,
  CONFIG: 4,
  LIBPYTHON_NOT_FOUND: 5,
  LIBPYTHON_INVALID: 6,
  LIBPYTHON_CONFLICT: 7,
  INIT: 8,
  FINALIZED: 9,
  CLOSED: 10,
  PYTHON: 11,
  SYSTEM_EXIT: 12,
  KEYBOARD_INTERRUPT: 13,
  CONVERSION: 14,
  FILE_NOT_FOUND: 15,
  PERMISSION_DENIED: 16,
  NOT_A_FILE: 17,
  IO: 18,
  INTERNAL: 19,
  INTERRUPTED: 20,
  TIMEOUT: 21,
  BUFFER_ESCAPED: 22,
  VENV: 23,
  // Not an error: an iterator step found the end (PyIterator handles it; check() lets it pass).
  DONE: 100,
});
const VALUE_TAGGED = 1;
const VALUE_HANDLES = 2;
const STDOUT = 1;
const STDERR = 2;

// ---- errors ------------------------------------------------------------------------------------

/**
 * An error reported by pyrt: `code` is the C status number, `status` its name. `stdout` and
 * `stderr`: what the failed call wrote, when it went through a runtime opened with
 * `captureOutput` (undefined otherwise).
 */
class PyrtError extends Error {
  constructor(message, code, status) {
    super(message);
    this.name = 'PyrtError';
    this.code = code;
    this.status = status || statusName(code);
  }
}

/**
 * A Python exception: `pythonType` ("ZeroDivisionError", "json.decoder.JSONDecodeError"),
 * `pythonMessage` (str() of the exception) and `traceback` (the formatted traceback, or null).
 * `message` is "<pythonType>: <pythonMessage>". SystemExit and KeyboardInterrupt are
 * PythonErrors too, with their own codes: they never end the Node process. So are calls stopped
 * by the `timeoutMs` option (code TIMEOUT) or interrupted (INTERRUPTED): Python saw a
 * KeyboardInterrupt there.
 */
class PythonError extends PyrtError {
  constructor(pythonType, pythonMessage, traceback, code, status) {
    super(pythonMessage ? `${pythonType}: ${pythonMessage}` : pythonType, code, status);
    this.name = 'PythonError';
    this.pythonType = pythonType;
    this.pythonMessage = pythonMessage;
    this.traceback = traceback;
  }
}

/** libpyrt could not be found or loaded, or is an incompatible version. */
class LibraryError extends PyrtError {
  constructor(message) {
    super(message, STATUS.INVALID_ARGUMENT, 'LIBRARY');
    this.name = 'LibraryError';
  }
}

function statusName(code) {
  for (const [k, v] of Object.entries(STATUS)) if (v === code) return k === 'OK' || k === 'DONE' ? `PYRT_${k}` : `PYRT_ERR_${k}`;
  return 'PYRT_ERR_UNKNOWN';
}

// ---- loading libpyrt -----------------------------------------------------------------------------

let lib = null; // the process's libpyrt: { path, version, fn: {...} }

function majorMinor(v) {
  const m = /^(\d+)\.(\d+)(\.|$)/.exec(v || '');
  return m ? `${m[1]}.${m[2]}` : '';
}

function soname() {
  const [major, minor] = VERSION.split('.');
  return major === '0' ? `libpyrt.so.0.${minor}` : `libpyrt.so.${major}`;
}

/**
 * Where libpyrt is looked for, in order: the `library` option; $PYRT_LIBRARY; this repository's
 * target/release/libpyrt.so (walking up from the working directory and from this package); then
 * the dynamic linker's search path (LD_LIBRARY_PATH, ld.so.cache: where `make install` puts it),
 * by soname and as libpyrt.so. An explicit choice (option or variable) is the only one tried.
 */
function libraryCandidates(explicit) {
  if (explicit) return [[explicit, 'the library option']];
  if (process.env[LIBRARY_ENV]) return [[process.env[LIBRARY_ENV], `$${LIBRARY_ENV}`]];
  const out = [];
  const seen = new Set();
  for (const start of [process.cwd(), __dirname]) {
    for (let d = path.resolve(start); ; d = path.dirname(d)) {
      const p = path.join(d, 'target', 'release', 'libpyrt.so');
      if (fs.existsSync(p)) {
        if (!seen.has(p)) out.push([p, 'repository build output']);
        seen.add(p);
        break;
      }
      if (path.dirname(d) === d) break;
    }
  }
  out.push([soname(), 'system library path'], ['libpyrt.so', 'system library path']);
  return out;
}

// Opaque handle types: koffi passes and returns them as BigInt addresses; pyrt never
// dereferences them (they are tokens), so a stale one is an error, not a crash.
koffi.opaque('pyrt_runtime');
koffi.opaque('pyrt_error');
koffi.opaque('pyrt_object');
// A string pyrt returns through an output parameter: decoded to a JS string, then freed by
// pyrt_string_free (bound when the library is loaded; only loaded libraries return strings).
let stringFree = null;
koffi.disposable('pyrt_str', 'str', (p) => stringFree(p));

function bind(handle) {
  const f = (proto) => handle.func(proto);
  return {
    stringFree: f('void pyrt_string_free(void *s)'),
    version: f('const char *pyrt_version(void)'),
    sourceHash: f('const char *pyrt_source_hash(void)'),
    statusName: f('const char *pyrt_status_name(int32_t status)'),
    new: f('int32_t pyrt_new(const char *config_json, _Out_ pyrt_runtime **rt_out, _Out_ pyrt_error **err_out)'),
    free: f('void pyrt_free(pyrt_runtime *rt)'),
    runString: f('int32_t pyrt_run_string(pyrt_runtime *rt, const char *code, _Out_ pyrt_error **err_out)'),
    runFile: f('int32_t pyrt_run_file(pyrt_runtime *rt, const char *path, _Out_ pyrt_error **err_out)'),
    infoJson: f('int32_t pyrt_info_json(pyrt_runtime *rt, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    statsJson: f('int32_t pyrt_stats_json(pyrt_runtime *rt, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    discoverJson: f('int32_t pyrt_discover_json(const char *config_json, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    callJson: f('int32_t pyrt_call_json(pyrt_runtime *rt, const char *module, const char *function, const char *args_json, const char *kwargs_json, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    callValue: f('int32_t pyrt_call_value(pyrt_runtime *rt, const char *target, const char *args_json, const char *kwargs_json, uint32_t flags, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    callObject: f('int32_t pyrt_call_object(pyrt_runtime *rt, const char *target, const char *args_json, const char *kwargs_json, uint32_t flags, _Out_ pyrt_object **obj_out, _Out_ pyrt_error **err_out)'),
    import: f('int32_t pyrt_import(pyrt_runtime *rt, const char *module, _Out_ pyrt_object **obj_out, _Out_ pyrt_error **err_out)'),
    evalObject: f('int32_t pyrt_eval_object(pyrt_runtime *rt, const char *expr, _Out_ pyrt_object **obj_out, _Out_ pyrt_error **err_out)'),
    objectFromJson: f('int32_t pyrt_object_from_json(pyrt_runtime *rt, const char *json, uint32_t flags, _Out_ pyrt_object **obj_out, _Out_ pyrt_error **err_out)'),
    objectToJson: f('int32_t pyrt_object_to_json(const pyrt_object *obj, uint32_t flags, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    objectGetattr: f('int32_t pyrt_object_getattr(const pyrt_object *obj, const char *name, _Out_ pyrt_object **obj_out, _Out_ pyrt_error **err_out)'),
    objectGetattrJson: f('int32_t pyrt_object_getattr_json(const pyrt_object *obj, const char *name, uint32_t flags, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    objectSetattrJson: f('int32_t pyrt_object_setattr_json(const pyrt_object *obj, const char *name, const char *value_json, uint32_t flags, _Out_ pyrt_error **err_out)'),
    objectCallJson: f('int32_t pyrt_object_call_json(const pyrt_object *obj, const char *method, const char *args_json, const char *kwargs_json, uint32_t flags, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    objectCall: f('int32_t pyrt_object_call(const pyrt_object *obj, const char *method, const char *args_json, const char *kwargs_json, uint32_t flags, _Out_ pyrt_object **obj_out, _Out_ pyrt_error **err_out)'),
    objectRepr: f('int32_t pyrt_object_repr(const pyrt_object *obj, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    objectStr: f('int32_t pyrt_object_str(const pyrt_object *obj, _Out_ pyrt_str *result_out, _Out_ pyrt_error **err_out)'),
    objectId: f('uint64_t pyrt_object_id(const pyrt_object *obj)'),
    objectFree: f('void pyrt_object_free(pyrt_object *obj)'),
    errorCode: f('int32_t pyrt_error_code(const pyrt_error *err)'),
    errorMessage: f('const char *pyrt_error_message(const pyrt_error *err)'),
    errorPythonType: f('const char *pyrt_error_python_type(const pyrt_error *err)'),
    errorTraceback: f('const char *pyrt_error_traceback(const pyrt_error *err)'),
    errorOutput: f('const char *pyrt_error_output(const pyrt_error *err, uint32_t stream)'),
    outputTake: f('int32_t pyrt_output_take(pyrt_runtime *rt, uint32_t stream, _Out_ pyrt_str *text_out, _Out_ pyrt_error **err_out)'),
    errorFree: f('void pyrt_error_free(pyrt_error *err)'),
    objectIter: f('int32_t pyrt_object_iter(pyrt_object *obj, _Out_ pyrt_object **iter_out, _Out_ pyrt_error **err_out)'),
    iterNext: f('int32_t pyrt_iter_next(pyrt_object *iter, uint32_t flags, _Out_ pyrt_str *item_out, _Out_ pyrt_error **err_out)'),
    iterNextObject: f('int32_t pyrt_iter_next_object(pyrt_object *iter, _Out_ pyrt_object **item_out, _Out_ pyrt_error **err_out)'),
    iterNextBatch: f('int32_t pyrt_iter_next_batch(pyrt_object *iter, size_t max_items, uint32_t flags, _Out_ pyrt_str *items_out, _Out_ pyrt_error **err_out)'),
    iterSend: f('int32_t pyrt_iter_send(pyrt_object *gen, const char *value_json, uint32_t flags, _Out_ pyrt_str *item_out, _Out_ pyrt_error **err_out)'),
    iterThrow: f('int32_t pyrt_iter_throw(pyrt_object *gen, pyrt_object *exception, uint32_t flags, _Out_ pyrt_str *item_out, _Out_ pyrt_error **err_out)'),
    iterClose: f('int32_t pyrt_iter_close(pyrt_object *iter, _Out_ pyrt_error **err_out)'),
    // `done` is the completion callback's address (registered in the task thread: see
    // taskBroker) and `user_data` a number keying the pending Promise.
    callAsync: f('int32_t pyrt_call_async(pyrt_runtime *rt, const char *target, const char *args_json, const char *kwargs_json, uint32_t flags, void *done, uintptr_t user_data, _Out_ uint64_t *task_out, _Out_ pyrt_error **err_out)'),
    objectAwait: f('int32_t pyrt_object_await(pyrt_object *awaitable, uint32_t flags, void *done, uintptr_t user_data, _Out_ uint64_t *task_out, _Out_ pyrt_error **err_out)'),
    taskCancel: f('int32_t pyrt_task_cancel(uint64_t task, _Out_ pyrt_error **err_out)'),
  };
}

/**
 * Loads libpyrt (once per process) and returns `{ path, version, sourceHash }`. `library` names
 * the file; otherwise see libraryCandidates. Throws LibraryError listing every place tried.
 */
function loadLibrary(library) {
  if (lib) {
    if (library && !sameFile(library, lib.path)) {
      throw new LibraryError(`libpyrt ${library} requested, but ${lib.path} is already loaded in this process`);
    }
    return { path: lib.path, version: lib.version, sourceHash: lib.sourceHash };
  }
  const tried = [];
  for (const [p, source] of libraryCandidates(library)) {
    if (p.includes('/') && !fs.existsSync(p)) {
      tried.push(`  ${p} (${source}): not found`);
      continue;
    }
    let handle;
    try {
      handle = koffi.load(p);
    } catch (e) {
      tried.push(`  ${p} (${source}): ${e.message}`);
      continue;
    }
    let fn;
    try {
      fn = bind(handle);
    } catch (e) {
      tried.push(`  ${p} (${source}): not a compatible libpyrt: ${e.message}`);
      continue;
    }
    const version = fn.version();
    if (majorMinor(version) !== majorMinor(VERSION)) {
      tried.push(`  ${p} (${source}): libpyrt ${version} is not compatible with this binding ${VERSION} (major.minor must match)`);
      continue;
    }
    stringFree = fn.stringFree;
    lib = { path: p, version, sourceHash: fn.sourceHash(), fn };
    return { path: p, version, sourceHash: lib.sourceHash };
  }
  throw new LibraryError(`cannot load libpyrt; tried:\n${tried.join('\n')}\n` +
    `(set ${LIBRARY_ENV} or the library option; build it with \`cargo build --release\`, or \`make install\`)`);
}

function sameFile(a, b) {
  if (a === b) return true;
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

// ---- calls ---------------------------------------------------------------------------------------

/**
 * Turns a failed status and its pyrt_error into a thrown error (freeing the pyrt_error).
 * PYRT_DONE is not a failure: the iterator steps (PyIterator) check for it themselves.
 */
function check(status, errOut) {
  if (status === STATUS.OK || status === STATUS.DONE) return;
  const e = errOut[0];
  if (!e) throw new PyrtError(statusName(status), status);
  throw errorFromPyrt(e, status);
}

/** The error a pyrt_error stands for (the pyrt_error is freed). */
function errorFromPyrt(e, status) {
  const fn = lib.fn;
  try {
    const code = fn.errorCode(e) || status;
    return errorFromFields({
      code,
      statusName: fn.statusName(code),
      message: fn.errorMessage(e) || '',
      type: fn.errorPythonType(e),
      traceback: fn.errorTraceback(e),
      stdout: fn.errorOutput(e, STDOUT),
      stderr: fn.errorOutput(e, STDERR),
    });
  } finally {
    fn.errorFree(e);
  }
}

/**
 * A PythonError (a Python exception: `type` is set) or PyrtError from a pyrt_error's fields:
 * { code, statusName, message, type, traceback, stdout, stderr } (the last two only set for a
 * call through a capturing runtime, captureOutput).
 */
function errorFromFields(f) {
  const error = f.type ? new PythonError(f.type, f.message, f.traceback, f.code, f.statusName)
    : new PyrtError(f.message, f.code, f.statusName);
  if (f.stdout != null) error.stdout = f.stdout;
  if (f.stderr != null) error.stderr = f.stderr;
  return error;
}

/** Runs `f(out, err)` for a call with one output; returns the output or throws. */
function out1(f) {
  const out = [null];
  const err = [null];
  check(f(out, err), err);
  return out[0];
}

// ---- values: JS types for the Python values JSON has no form for --------------------------------
//
// docs/values.md: each tagged kind decodes to a JS value that encodes back to the same tag, so a
// value read from Python and sent back keeps its Python type (a tuple stays a tuple, a
// bytearray a bytearray, a date a date).

/** A Python tuple: an Array (a JS Array is a list). Build one with `Tuple.of(1, 2)` or `Tuple.from(iterable)`. */
class Tuple extends Array {}

/** A Python frozenset: a Set (a JS Set is a set). JS does not enforce the immutability. */
class FrozenSet extends Set {}

/** A Python bytearray: a Uint8Array (a Buffer or other Uint8Array is bytes). */
class ByteArray extends Uint8Array {}

/** A Python complex number. */
class Complex {
  constructor(re = 0, im = 0) {
    this.re = Number(re);
    this.im = Number(im);
  }
}

/**
 * A decimal.Decimal as its exact text, str() of the Decimal: "3.14", "-0", "1E+2", "NaN".
 * (A JS number would round it.)
 */
class Decimal {
  constructor(text) {
    this.value = String(text);
  }

  toString() {
    return this.value;
  }

  toJSON() {
    return this.value;
  }
}

// datetime.datetime, date and time as their isoformat() text, which keeps what a JS Date cannot:
// microseconds, the UTC offset, naive (no tzinfo) versus aware.
class IsoValue {
  constructor(iso) {
    this.iso = String(iso);
  }

  toString() {
    return this.iso;
  }

  toJSON() {
    return this.iso;
  }
}

const DATETIME_RE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d):(\d\d)(?::(\d\d)(?:\.\d+)?)?|Z)?$/;

/** A datetime.datetime, as isoformat() text: "2024-01-02T03:04:05.123456+05:30" (naive without an offset). */
class PyDateTime extends IsoValue {
  /**
   * The instant as a JS Date (milliseconds: the microseconds are truncated). A naive datetime,
   * which has no offset, is read as UTC.
   */
  toDate() {
    const m = DATETIME_RE.exec(this.iso);
    if (!m) throw new PyrtError(`not an ISO 8601 datetime: ${JSON.stringify(this.iso)}`, STATUS.CONVERSION);
    const n = m.map((x) => (x === undefined ? 0 : Number(x)));
    const ms = m[7] ? Math.floor(Number(m[7].padEnd(6, '0')) / 1000) : 0;
    const utc = new Date(0);
    utc.setUTCFullYear(n[1], n[2] - 1, n[3]); // setUTCFullYear: years 1-99 are not 1901-1999 here
    utc.setUTCHours(n[4], n[5], n[6], ms);
    const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (n[9] * 3600 + n[10] * 60 + n[11]) : 0;
    return new Date(utc.getTime() - offset * 1000);
  }
}

/** A datetime.date, as isoformat() text: "1999-12-31". */
class PyDate extends IsoValue {}

/** A datetime.time, as isoformat() text: "23:59:59.999999", with "+05:30" when it has a tzinfo. */
class PyTime extends IsoValue {}

// Python's divmod for integers: the remainder is in [0, d). Corrected after the float division,
// which can round up for a large x just below a multiple of d.
function divmod(x, d) {
  let q = Math.floor(x / d);
  let r = x - q * d;
  if (r < 0) { q -= 1; r += d; } else if (r >= d) { q += 1; r -= d; }
  return [q, r];
}

/**
 * A datetime.timedelta: days, seconds (0 to 86399) and microseconds (0 to 999999), normalized as
 * Python does (-1 µs is days -1, seconds 86399, microseconds 999999).
 */
class PyTimedelta {
  constructor(days = 0, seconds = 0, microseconds = 0) {
    for (const [name, x] of [['days', days], ['seconds', seconds], ['microseconds', microseconds]]) {
      if (!Number.isSafeInteger(x)) throw new TypeError(`PyTimedelta: ${name} must be an integer, not ${x}`);
    }
    const [carrySeconds, us] = divmod(microseconds, 1e6);
    const [carryDays, s] = divmod(seconds + carrySeconds, 86400);
    // `+ 0` turns -0 into 0: these are ints, and -0 would be sent as the float -0.0.
    this.days = days + carryDays + 0;
    this.seconds = s + 0;
    this.microseconds = us + 0;
  }

  /** A timedelta of `ms` milliseconds, rounded to the microsecond. */
  static fromMilliseconds(ms) {
    const days = Math.trunc(ms / 86400000);
    return new PyTimedelta(days, 0, Math.round((ms - days * 86400000) * 1000));
  }

  /** The duration in seconds, as Python's total_seconds(). */
  totalSeconds() {
    return (this.days * 86400 + this.seconds) + this.microseconds / 1e6;
  }

  /** The duration in milliseconds (a fraction for microseconds). */
  toMilliseconds() {
    return (this.days * 86400 + this.seconds) * 1000 + this.microseconds / 1000;
  }
}

// ---- values: JS -> tagged JSON ---------------------------------------------------------------------

// pyrt reads at most 1000 levels of nesting (docs/values.md); deeper is a cycle, most likely.
const MAX_DEPTH = 1000;

const tag = (kind, json) => `{"__pyrt__":"${kind}","v":${json}}`;

function nonFinite(x) {
  return Number.isNaN(x) ? '"nan"' : x > 0 ? '"inf"' : '"-inf"';
}

// A JS number with an integral value goes as a Python int, any other as a float; -0 only comes
// from float arithmetic, so it goes as the float -0.0 (which JSON.stringify would write as 0).
function encodeNumber(x) {
  if (!Number.isFinite(x)) return tag('float', nonFinite(x));
  if (Object.is(x, -0)) return '-0.0';
  return String(x);
}

// A number that is a float whatever its value (the parts of a complex): "4.0", not "4".
function floatText(x) {
  if (!Number.isFinite(x)) return nonFinite(x);
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

function base64(bytes) {
  return `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`;
}

/**
 * Encodes a JS value in pyrt's tagged encoding (docs/values.md). The JSON.stringify rules hold for
 * the rest: undefined, functions and symbols are left out of objects and are null in arrays,
 * toJSON() is used when present.
 */
function encode(value) {
  return encodeValue(value, '', 0);
}

function encodeValue(v, key, depth) {
  if (depth > MAX_DEPTH) throw new PyrtError(`value nested deeper than ${MAX_DEPTH} levels (a cycle?)`, STATUS.CONVERSION);
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'boolean': return v ? 'true' : 'false';
    case 'string': return JSON.stringify(v);
    case 'bigint': return v.toString(); // an exact JSON integer
    case 'number': return encodeNumber(v);
    case 'function':
    case 'symbol': return 'null';
  }
  const d = depth + 1;
  if (v instanceof PyObject) return tag('object', String(v._idNumber()));
  if (Array.isArray(v)) {
    const items = [];
    for (let i = 0; i < v.length; i++) items.push(encodeValue(v[i], String(i), d));
    const list = `[${items.join(',')}]`;
    return v instanceof Tuple ? tag('tuple', list) : list;
  }
  if (v instanceof ByteArray) return tag('bytearray', base64(v));
  if (v instanceof Uint8Array) return tag('bytes', base64(v));
  if (v instanceof ArrayBuffer) return tag('bytes', base64(new Uint8Array(v)));
  if (v instanceof Set) {
    const items = [...v].map((x, i) => encodeValue(x, String(i), d));
    return tag(v instanceof FrozenSet ? 'frozenset' : 'set', `[${items.join(',')}]`);
  }
  if (v instanceof Map) {
    const pairs = [...v].map(([k, x]) => `[${encodeValue(k, '', d + 1)},${encodeValue(x, String(k), d + 1)}]`);
    return tag('dict', `[${pairs.join(',')}]`);
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new PyrtError('an invalid Date has no Python form', STATUS.CONVERSION);
    return tag('datetime', JSON.stringify(v.toISOString().replace('Z', '+00:00')));
  }
  if (v instanceof Complex) return tag('complex', `[${floatText(v.re)},${floatText(v.im)}]`);
  if (v instanceof Decimal) return tag('decimal', JSON.stringify(v.value));
  if (v instanceof PyDateTime) return tag('datetime', JSON.stringify(v.iso));
  if (v instanceof PyDate) return tag('date', JSON.stringify(v.iso));
  if (v instanceof PyTime) return tag('time', JSON.stringify(v.iso));
  if (v instanceof PyTimedelta) return tag('timedelta', `[${v.days},${v.seconds},${v.microseconds}]`);
  if (v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt) {
    return encodeValue(v.valueOf(), key, depth);
  }
  if (typeof v.toJSON === 'function') return encodeValue(v.toJSON(key), key, depth);
  const keys = Object.keys(v).filter((k) => {
    const t = typeof v[k];
    return v[k] !== undefined && t !== 'function' && t !== 'symbol';
  });
  if (keys.includes('__pyrt__')) {
    // A plain object that uses the reserved key: sent as a general dict so that it stays data.
    return tag('dict', `[${keys.map((k) => `[${JSON.stringify(k)},${encodeValue(v[k], k, d + 1)}]`).join(',')}]`);
  }
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encodeValue(v[k], k, d)}`).join(',')}}`;
}

function encodeArgs(args) {
  return encode(args);
}

// ---- values: tagged JSON -> JS ----------------------------------------------------------------------

// JSON.parse turns integers beyond 2**53 into inexact numbers; such results (any run of 16+
// digits) are parsed by parseExact, which keeps them as BigInt.
function parseJson(text) {
  return /\d{16,}/.test(text) ? parseExact(text) : JSON.parse(text);
}

// obj[k] = v, except that a "__proto__" key is data (an own property), as JSON.parse makes it.
function setKey(obj, k, v) {
  if (k === '__proto__') Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  else obj[k] = v;
}

function parseExact(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const string = () => {
    const m = /"(?:[^"\\]|\\.)*"/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (!r) throw new SyntaxError(`bad JSON string at ${i}`);
    i = m.lastIndex;
    return JSON.parse(r[0]);
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj = {};
      ws();
      if (text[i] === '}') { i++; return obj; }
      for (;;) {
        ws();
        const k = string();
        ws();
        i++; // ':'
        setKey(obj, k, value());
        ws();
        if (text[i++] === '}') return obj;
      }
    }
    if (c === '[') {
      i++;
      const arr = [];
      ws();
      if (text[i] === ']') { i++; return arr; }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i++] === ']') return arr;
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    const m = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (!r) throw new SyntaxError(`bad JSON at ${i}`);
    i = m.lastIndex;
    if (r[1] === undefined && r[2] === undefined) {
      const n = Number(r[0]);
      return Number.isSafeInteger(n) ? n : BigInt(r[0]);
    }
    return Number(r[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) throw new SyntaxError(`trailing data in JSON at ${i}`);
  return v;
}

const FLOATS = { nan: NaN, inf: Infinity, '-inf': -Infinity };

function badTag(kind, what) {
  return new PyrtError(`decoding tagged value: tag ${JSON.stringify(kind)} ${what}`, STATUS.CONVERSION);
}

// A float of a "float" or "complex" tag: a number, or "nan", "inf", "-inf".
function floatPart(kind, x) {
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  if (typeof x === 'string' && Object.prototype.hasOwnProperty.call(FLOATS, x)) return FLOATS[x];
  throw badTag(kind, `needs a float, not ${JSON.stringify(x)}`);
}

function tagArray(kind, x, n) {
  if (!Array.isArray(x) || (n !== undefined && x.length !== n)) throw badTag(kind, n === undefined ? 'needs an array' : `needs an array of ${n}`);
  return x;
}

function tagString(kind, x) {
  if (typeof x !== 'string') throw badTag(kind, 'needs a string');
  return x;
}

/**
 * Decodes pyrt's tagged encoding (docs/values.md) into JS values; handles become PyObjects (of
 * runtime `rt`). A malformed or unknown tag is a PyrtError with code CONVERSION.
 */
function untag(v, rt) {
  if (Array.isArray(v)) return v.map((x) => untag(x, rt));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  if (keys.includes('__pyrt__')) {
    // A tag: in tagged output, a dict with that key is always written as a "dict" tag.
    const kind = v.__pyrt__;
    if (keys.length !== 2 || typeof kind !== 'string' || !keys.includes('v')) {
      throw badTag(String(kind), 'is malformed: a tagged value has exactly the keys "__pyrt__" and "v"');
    }
    return untagKind(kind, v.v, rt);
  }
  const out = {};
  for (const k of keys) setKey(out, k, untag(v[k], rt));
  return out;
}

function untagKind(kind, x, rt) {
  switch (kind) {
    case 'tuple': return Tuple.from(tagArray(kind, x), (y) => untag(y, rt));
    case 'set': return new Set(tagArray(kind, x).map((y) => untag(y, rt)));
    case 'frozenset': return new FrozenSet(tagArray(kind, x).map((y) => untag(y, rt)));
    case 'dict': return new Map(tagArray(kind, x).map((p) => {
      const [k, y] = tagArray(kind, p, 2);
      return [untag(k, rt), untag(y, rt)];
    }));
    case 'bytes': return Buffer.from(tagString(kind, x), 'base64');
    case 'bytearray': return ByteArray.from(Buffer.from(tagString(kind, x), 'base64'));
    case 'float': return floatPart(kind, x);
    case 'complex': {
      const [re, im] = tagArray(kind, x, 2);
      return new Complex(floatPart(kind, re), floatPart(kind, im));
    }
    case 'datetime': return new PyDateTime(tagString(kind, x));
    case 'date': return new PyDate(tagString(kind, x));
    case 'time': return new PyTime(tagString(kind, x));
    case 'timedelta': {
      const [days, seconds, microseconds] = tagArray(kind, x, 3);
      return new PyTimedelta(days, seconds, microseconds);
    }
    case 'decimal': return new Decimal(tagString(kind, x));
    case 'object':
      if (rt === undefined) throw badTag(kind, 'needs a runtime');
      return new PyObject(rt, BigInt(x));
  }
  throw badTag(kind, 'is unknown to this binding');
}

/** Decodes tagged JSON text (handles become PyObjects of `rt`). */
function decode(text, rt) {
  return untag(parseJson(text), rt);
}

// ---- coroutines: Promises completed from pyrt's event-loop thread ---------------------------------
//
// pyrt_call_async and pyrt_object_await call their completion (pyrt_task_fn) on pyrt's asyncio
// loop thread. koffi runs a registered JS callback called from a foreign thread on the JS thread
// that registered it, through its event loop, and blocks the calling thread until it has run.
// Registered on this (the main) thread, a completion would then stall pyrt's loop for as long as
// this thread is busy, and deadlock it outright when this thread waits on the loop itself (a
// for…of step over an async generator, closing the last Runtime). So the one callback of the
// process is registered in a small worker thread that does nothing else: it copies the outcome
// (result text, or the error's fields), frees pyrt's strings and error at once, and posts the
// copy here, where the Promise waiting under the callback's user_data number settles. The loop
// thread is held for a few microseconds per completion, whatever this thread is doing.

// The worker thread's code (run as `(${taskWorker})()`: it sees only its own scope and workerData).
function taskWorker() {
  const { parentPort, workerData } = require('node:worker_threads');
  const shared = new BigInt64Array(workerData.shared); // [state: 0 starting, 1 ready, 2 failed; callback address]
  try {
    const ffi = require(workerData.koffi);
    const h = ffi.load(workerData.library);
    const f = (proto) => h.func(proto);
    const fn = {
      stringFree: f('void pyrt_string_free(void *s)'),
      statusName: f('const char *pyrt_status_name(int32_t status)'),
      errorCode: f('int32_t pyrt_error_code(void *err)'),
      errorMessage: f('const char *pyrt_error_message(void *err)'),
      errorPythonType: f('const char *pyrt_error_python_type(void *err)'),
      errorTraceback: f('const char *pyrt_error_traceback(void *err)'),
      errorOutput: f('const char *pyrt_error_output(void *err, uint32_t stream)'),
      errorFree: f('void pyrt_error_free(void *err)'),
    };
    const taskFn = ffi.proto('void pyrt_task_fn(uintptr_t user_data, uint64_t task, int32_t status, void *result_json, void *err)');
    const done = (key, task, status, result, err) => {
      const msg = { key: Number(key), status, text: null, error: null };
      try {
        if (result) msg.text = ffi.decode(result, 'char', -1);
        if (err) {
          const code = fn.errorCode(err) || status;
          msg.error = {
            code,
            statusName: fn.statusName(code),
            message: fn.errorMessage(err) || '',
            type: fn.errorPythonType(err),
            traceback: fn.errorTraceback(err),
            stdout: fn.errorOutput(err, 1),
            stderr: fn.errorOutput(err, 2),
          };
        }
      } catch (e) {
        msg.error = { code: 19, statusName: 'PYRT_ERR_INTERNAL', message: `reading a task's outcome: ${e.message}` };
      } finally {
        if (result) fn.stringFree(result);
        if (err) fn.errorFree(err);
      }
      parentPort.postMessage(msg);
    };
    shared[1] = BigInt(ffi.register(done, ffi.pointer(taskFn)));
    Atomics.store(shared, 0, 1n);
  } catch (e) {
    parentPort.postMessage({ failed: String(e && e.stack || e) });
    Atomics.store(shared, 0, 2n);
  }
  Atomics.notify(shared, 0);
  parentPort.on('message', () => {}); // stays alive (the main thread ref()s it only while tasks are pending)
}

let broker = null; // { worker, done, pending: Map<key, entry>, nextKey, failed }
const BROKER_START_MS = 30000;

/** The process's task broker, starting its worker thread on first use. */
function taskBroker() {
  if (broker) {
    if (broker.failed) throw new PyrtError(`pyrt's task thread stopped: ${broker.failed}`, STATUS.INTERNAL);
    return broker;
  }
  const { Worker } = require('node:worker_threads');
  const shared = new SharedArrayBuffer(16);
  const worker = new Worker(`(${taskWorker})()`, {
    eval: true,
    name: 'pyrt-tasks',
    workerData: { shared, koffi: require.resolve('koffi'), library: lib.path },
  });
  const state = new BigInt64Array(shared);
  Atomics.wait(state, 0, 0n, BROKER_START_MS);
  if (state[0] !== 1n) {
    worker.unref();
    worker.terminate();
    throw new PyrtError(state[0] === 2n ? "pyrt's task thread could not register its callback (koffi in a worker thread)"
      : `pyrt's task thread did not start within ${BROKER_START_MS} ms`, STATUS.INTERNAL);
  }
  const b = { worker, done: state[1], pending: new Map(), nextKey: 1, failed: null };
  worker.on('message', (msg) => settleTask(b, msg));
  const fail = (why) => {
    if (b.failed) return;
    b.failed = why;
    const error = new PyrtError(`pyrt's task thread stopped: ${why}`, STATUS.INTERNAL);
    for (const entry of b.pending.values()) finishTask(b, entry, () => entry.reject(error));
  };
  worker.on('error', (e) => fail(e.message));
  worker.on('exit', (code) => fail(`exited with code ${code}`));
  // After the listeners: adding a 'message' listener refs the worker's port again. Ref'd only
  // while tasks are pending (startTask, finishTask).
  worker.unref();
  broker = b;
  return b;
}

function finishTask(b, entry, settle) {
  b.pending.delete(entry.key);
  if (entry.signal) entry.signal.removeEventListener('abort', entry.onAbort);
  if (b.pending.size === 0) b.worker.unref();
  settle();
}

function settleTask(b, msg) {
  if (msg.failed !== undefined) return;
  const entry = b.pending.get(msg.key);
  if (entry === undefined) return;
  finishTask(b, entry, () => {
    if (msg.status !== STATUS.OK) {
      entry.reject(msg.error ? errorFromFields(msg.error) : new PyrtError(statusName(msg.status), msg.status));
      return;
    }
    let value;
    try {
      value = decode(msg.text, entry.rt);
    } catch (e) {
      entry.reject(e);
      return;
    }
    entry.resolve(value);
  });
}

/**
 * Starts a task: `start(done, key, taskOut, errOut)` calls pyrt_call_async or pyrt_object_await.
 * A Promise settled by the task's completion; a task that cannot start rejects it (the error
 * pyrt returned). `signal` (an AbortSignal) cancels the task with pyrt_task_cancel.
 */
function startTask(rt, opts, start) {
  return new Promise((resolve, reject) => {
    const signal = opts == null ? undefined : opts.signal;
    if (signal != null && signal.aborted) {
      reject(new PyrtError('cancelled before it started (the AbortSignal was already aborted)', STATUS.INTERRUPTED));
      return;
    }
    const b = taskBroker();
    const key = b.nextKey++;
    const taskOut = [null];
    const err = [null];
    const status = start(b.done, key, taskOut, err);
    if (status !== STATUS.OK) {
      check(status, err);
      throw new PyrtError(statusName(status), status); // (check throws for any failure)
    }
    const entry = { key, rt, resolve, reject, task: taskOut[0], signal, onAbort: null };
    b.pending.set(key, entry);
    b.worker.ref(); // pending tasks keep the process alive
    if (signal != null) {
      entry.onAbort = () => {
        const cerr = [null];
        try {
          check(lib.fn.taskCancel(entry.task, cerr), cerr);
        } catch (e) {
          finishTask(b, entry, () => reject(e));
        }
      };
      signal.addEventListener('abort', entry.onAbort, { once: true });
    }
  });
}

// ---- Runtime and PyObject -------------------------------------------------------------------------

const runtimeRegistry = new FinalizationRegistry((h) => { if (lib) lib.fn.free(h); });
const objectRegistry = new FinalizationRegistry((h) => { if (lib) lib.fn.objectFree(h); });

// Runtime options (camelCase) -> pyrt_new config keys (include/pyrt.h; README.md has the table).
// Every key of include/pyrt-contract.json must be here (test/contract.test.js checks it). The
// option `library` is the binding's own (which libpyrt to load), not a config key.
const CONFIG_OPTIONS = Object.freeze({
  libpython: 'libpython',
  pythonExecutable: 'python_executable',
  useEnvironment: 'use_environment',
  argv: 'argv',
  venv: 'venv',
  requirements: 'requirements',
  requirementsFile: 'requirements_file',
  systemSitePackages: 'system_site_packages',
  sitePaths: 'site_paths',
  pythonHome: 'python_home',
  pythonVersion: 'python_version',
  signals: 'signals',
  sigpipe: 'sigpipe',
  mainThread: 'main_thread',
  timeoutMs: 'timeout_ms',
  captureOutput: 'capture_output',
  workers: 'workers',
  workerModules: 'worker_modules',
  workerSetup: 'worker_setup',
  stats: 'stats',
});

function configJson(opts) {
  const cfg = {};
  for (const [k, v] of Object.entries(opts || {})) {
    if (k === 'library') continue;
    if (!Object.prototype.hasOwnProperty.call(CONFIG_OPTIONS, k)) {
      throw new PyrtError(`unknown option ${JSON.stringify(k)} (known: library, ${Object.keys(CONFIG_OPTIONS).join(', ')})`, STATUS.CONFIG);
    }
    if (v !== undefined && v !== null) cfg[CONFIG_OPTIONS[k]] = v;
  }
  return Object.keys(cfg).length ? JSON.stringify(cfg) : null;
}

// pyrt_stats_json's object with camelCase properties (the exceptions map's keys are type names).
function statsOf(h) {
  const raw = JSON.parse(out1((o, e) => lib.fn.statsJson(h, o, e)));
  const stats = {};
  for (const [k, v] of Object.entries(raw)) stats[k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())] = v;
  return stats;
}

// pyrt_info_json fields -> info() properties, and the value a field has when an older libpyrt
// does not report it. Every field of include/pyrt-contract.json must be here
// (test/contract.test.js checks it).
const INFO_FIELDS = Object.freeze({
  pyrt_version: 'pyrtVersion',
  python_version: 'pythonVersion',
  libpython: 'libpython',
  executable: 'executable',
  prefix: 'prefix',
  mode: 'mode',
  workers: 'workers',
  workers_requested: 'workersRequested',
  workers_note: 'workersNote',
  free_threaded: 'freeThreaded',
  tested: 'tested',
  tested_note: 'testedNote',
});
const INFO_DEFAULTS = Object.freeze({
  mode: 'caller_thread',
  workers: 0,
  workers_requested: 0,
  free_threaded: false,
  tested: true, // a libpyrt without the field refuses the versions it was not tested with
});

/**
 * The call target and the arguments after it: `"module:function", ...args` (a module name has
 * no colon) or `module, function, ...args`.
 */
function splitTarget(module, rest) {
  const m = String(module);
  if (m.includes(':')) return [m, rest];
  return [`${m}:${rest[0]}`, rest.slice(1)];
}

/**
 * A handle to the process's Python interpreter. One interpreter exists per process: every
 * Runtime shares it (and `__main__`), and closing the last one finalizes Python for good
 * (later `new Runtime()` throws with status PYRT_ERR_FINALIZED).
 */
class Runtime {
  /**
   * @param {object} [opts] library (path to libpyrt), then the config keys of pyrt_new in
   *   camelCase (CONFIG_OPTIONS): libpython, venv, pythonVersion ("3.12"), pythonExecutable,
   *   pythonHome, sitePaths, systemSitePackages, useEnvironment, argv, signals, sigpipe, and the
   *   per-handle mainThread, timeoutMs, captureOutput, workers, workerModules, workerSetup.
   *   Without libpython pyrt discovers one: $PYRT_LIBPYTHON, the python3 on PATH, common places.
   */
  constructor(opts = {}) {
    const cfg = configJson(opts);
    loadLibrary(opts.library);
    this._h = out1((o, e) => lib.fn.new(cfg, o, e));
    // (On a runtime with `workers` an object lives in the worker that made it, and pyrt runs
    // every operation on it there: handles work the same.)
    this._valueFlags = VALUE_TAGGED | VALUE_HANDLES;
    this._token = {};
    runtimeRegistry.register(this, this._h, this._token);
  }

  _handle() {
    if (this._h === null) throw new PyrtError('runtime closed', STATUS.CLOSED);
    return this._h;
  }

  /** True once close() was called. */
  get closed() {
    return this._h === null;
  }

  /** Closes the handle (idempotent). Closing the last Runtime finalizes Python. */
  close() {
    if (this._h === null) return;
    const h = this._h;
    this._h = null;
    runtimeRegistry.unregister(this._token);
    lib.fn.free(h);
  }

  /** Runs Python statements in `__main__`. */
  run(code) {
    const h = this._handle();
    const err = [null];
    check(lib.fn.runString(h, String(code), err), err);
  }

  /** Runs a Python file in `__main__` (`__file__` is set). */
  runFile(file) {
    const h = this._handle();
    const err = [null];
    check(lib.fn.runFile(h, String(file), err), err);
  }

  /** Evaluates a Python expression in `__main__` and returns its value. */
  eval(expr) {
    const obj = this.evalObject(expr);
    try {
      return obj.value();
    } finally {
      obj.free();
    }
  }

  /** Evaluates a Python expression and keeps the result as a PyObject. */
  evalObject(expr) {
    const h = this._handle();
    return new PyObject(this, out1((o, e) => lib.fn.evalObject(h, String(expr), o, e)));
  }

  /**
   * Calls `module.function(...args)` (function may be dotted: call('os', 'path.join', 'a', 'b'))
   * and returns the result as a JS value; a result without a JS form comes back as a PyObject.
   * The target may also be one "module:function" string: call('os:path.join', 'a', 'b').
   */
  call(module, ...rest) {
    const [target, args] = splitTarget(module, rest);
    return this._callKw(target, args, null);
  }

  /** Calls `module.function(*args, **kwargs)` (or callKw('module:function', args, kwargs)). */
  callKw(module, ...rest) {
    const [target, [args = [], kwargs = null]] = splitTarget(module, rest);
    return this._callKw(target, args, kwargs);
  }

  _callKw(target, args, kwargs) {
    const h = this._handle();
    const text = out1((o, e) => lib.fn.callValue(h, target, encodeArgs(args),
      kwargs == null ? null : encode(kwargs), this._valueFlags, o, e));
    return decode(text, this);
  }

  /**
   * Calls `module.function(...args)` (or callObject('module:function', ...args)) and keeps the
   * result as a PyObject: iterate it with for…of, or obj.iter({ batch }), to stream a generator.
   */
  callObject(module, ...rest) {
    const [target, args] = splitTarget(module, rest);
    const h = this._handle();
    return new PyObject(this, out1((o, e) => lib.fn.callObject(h, target, encodeArgs(args), null, VALUE_TAGGED, o, e)));
  }

  /**
   * Calls `module.function(...args)` (or callAsync('module:function', ...args)), an `async def`
   * or any function returning an awaitable, and awaits the coroutine on pyrt's asyncio event loop
   * (a thread of pyrt's; no thread is blocked per await): a Promise of the result, decoded as
   * call() does. It rejects with a PythonError (traceback included) for the exception the
   * coroutine raised, a PyrtError with code INTERRUPTED once a cancelled coroutine has run its
   * cleanup, CLOSED when this Runtime was closed first. A task that cannot start (no such module
   * or function, a function that raised, a result that is not awaitable: TypeError; a closed
   * Runtime) rejects it too: callAsync never throws. To cancel, use callAsyncKw's `signal`.
   */
  callAsync(module, ...rest) {
    const [target, args] = splitTarget(module, rest);
    return this._callAsync(target, args, null, null);
  }

  /**
   * callAsync with keyword arguments and options: callAsyncKw('module:function', args, kwargs,
   * { signal }) (or callAsyncKw(module, function, args, kwargs, { signal })). `signal`: an
   * AbortSignal whose abort cancels the task (pyrt_task_cancel): the coroutine sees
   * asyncio.CancelledError where it awaits and runs its `finally` blocks, then the Promise
   * rejects with INTERRUPTED (or settles as the coroutine did, if it caught the cancellation).
   * An already aborted signal rejects at once without starting the task.
   */
  callAsyncKw(module, ...rest) {
    const [target, [args = [], kwargs = null, opts = null]] = splitTarget(module, rest);
    return this._callAsync(target, args, kwargs, opts);
  }

  _callAsync(target, args, kwargs, opts) {
    return startTask(this, opts, (done, key, taskOut, err) => {
      const h = this._handle();
      return lib.fn.callAsync(h, target, encodeArgs(args), kwargs == null ? null : encode(kwargs),
        this._valueFlags, done, key, taskOut, err);
    });
  }

  /** The raw JSON call (plain JSON in, JSON text out: docs/values.md). */
  callJson(module, fn, argsJson = '[]', kwargsJson = null) {
    const h = this._handle();
    return out1((o, e) => lib.fn.callJson(h, module, fn, argsJson, kwargsJson, o, e));
  }

  /** Imports a module as a PyObject. */
  import(module) {
    const h = this._handle();
    return new PyObject(this, out1((o, e) => lib.fn.import(h, String(module), o, e)));
  }

  /** Builds a Python object from a JS value. */
  toObject(value) {
    const h = this._handle();
    return new PyObject(this, out1((o, e) => lib.fn.objectFromJson(h, encode(value), VALUE_TAGGED, o, e)));
  }

  /**
   * { pyrtVersion, pythonVersion, libpython, executable, prefix, mode, workers, workersRequested,
   * workersNote, freeThreaded, tested, testedNote, library, sourceHash } (INFO_FIELDS). mode: where
   * this runtime's calls run, "caller_thread", "main_thread" or "subinterpreters"; workers: the
   * worker sub-interpreters running, workersRequested: the workers option, workersNote: why they
   * run in the main interpreter instead (null when they do not); freeThreaded: a free-threaded
   * ("t") build such as 3.13t; tested: false for a Python newer than any pyrt was tested with
   * (testedNote says so; null otherwise). library, sourceHash: the libpyrt loaded.
   */
  info() {
    const i = this._rawInfo();
    const info = {};
    for (const [field, prop] of Object.entries(INFO_FIELDS)) {
      info[prop] = i[field] !== undefined ? i[field] : (INFO_DEFAULTS[field] ?? null);
    }
    info.library = lib.path;
    info.sourceHash = lib.sourceHash;
    return info;
  }

  /**
   * This runtime's call statistics (pyrt_stats_json, camelCase properties): scope, enabled,
   * callsStarted, callsFinished, callsFailed, callsInFlight, exceptions (type name -> count, at
   * most 64 types), exceptionsOther, latencyBoundsSeconds (histogram upper bounds, 1e-6 to 10),
   * latencyBuckets (per bucket, not cumulative, the last +Inf), latencyCount, latencySumSeconds,
   * waitSeconds (waiting to enter Python), runSeconds (running Python), objects (live object
   * handles), hostCallbacks, interrupts, timeouts, workerCalls, workers. Counts are exact; the
   * latency figures are estimates (fast calls are timed one in 64). Counting can be turned off
   * with the option `stats: false` (process-wide: the first runtime decides).
   */
  stats() {
    return statsOf(this._handle());
  }

  /** The whole process's call statistics (every runtime, freed ones included), as stats(). */
  processStats() {
    this._handle();
    return statsOf(null);
  }

  /** pyrt_info_json's object as it is (snake_case fields). */
  _rawInfo() {
    const h = this._handle();
    return JSON.parse(out1((o, e) => lib.fn.infoJson(h, o, e)));
  }

  /**
   * Takes what calls through this runtime (opened with `captureOutput: true`) wrote to
   * sys.stdout and sys.stderr since the last take: { stdout, stderr } ("" when nothing was).
   * A failed call's output is on its error instead (error.stdout, error.stderr).
   */
  takeOutput() {
    const h = this._handle();
    const take = (stream) => out1((o, e) => lib.fn.outputTake(h, stream, o, e));
    return { stdout: take(STDOUT), stderr: take(STDERR) };
  }
}

/**
 * A Python object kept alive from JS. free() releases it (idempotent; also done by the garbage
 * collector as a safety net). Methods throw PyrtError (status PYRT_ERR_CLOSED) after free() or
 * once its runtime was closed.
 */
class PyObject {
  constructor(rt, handle) {
    this._rt = rt;
    this._h = handle;
    this._token = {};
    objectRegistry.register(this, handle, this._token);
  }

  _handle() {
    if (this._h === null) throw new PyrtError('object freed', STATUS.CLOSED);
    return this._h;
  }

  _idNumber() {
    return Number(lib.fn.objectId(this._handle()));
  }

  /** The number standing for this object in the tagged encoding. */
  get id() {
    return this._idNumber();
  }

  /** Releases the reference (idempotent). */
  free() {
    if (this._h === null) return;
    const h = this._h;
    this._h = null;
    objectRegistry.unregister(this._token);
    lib.fn.objectFree(h);
  }

  /** The object's value as a JS value (see Runtime.call). */
  value() {
    const h = this._handle();
    return decode(out1((o, e) => lib.fn.objectToJson(h, VALUE_TAGGED | VALUE_HANDLES, o, e)), this._rt);
  }

  /** getattr(obj, name) as a JS value. */
  get(name) {
    const h = this._handle();
    return decode(out1((o, e) => lib.fn.objectGetattrJson(h, String(name), VALUE_TAGGED | VALUE_HANDLES, o, e)), this._rt);
  }

  /** getattr(obj, name) as a PyObject. */
  getObject(name) {
    const h = this._handle();
    return new PyObject(this._rt, out1((o, e) => lib.fn.objectGetattr(h, String(name), o, e)));
  }

  /** setattr(obj, name, value); value may be a PyObject. */
  set(name, value) {
    const h = this._handle();
    const err = [null];
    check(lib.fn.objectSetattrJson(h, String(name), encode(value), VALUE_TAGGED, err), err);
  }

  /** obj(...args) as a JS value. */
  call(...args) {
    return this._call(null, args, null);
  }

  /** obj.method(...args) as a JS value. */
  callMethod(method, ...args) {
    return this._call(String(method), args, null);
  }

  /** obj.method(*args, **kwargs) (method null: the object itself) as a JS value. */
  callKw(method, args = [], kwargs = null) {
    return this._call(method == null ? null : String(method), args, kwargs);
  }

  /** obj.method(...args) as a PyObject (method null: call the object itself). */
  callObject(method, ...args) {
    const h = this._handle();
    return new PyObject(this._rt, out1((o, e) => lib.fn.objectCall(h, method == null ? null : String(method), encodeArgs(args), null, VALUE_TAGGED, o, e)));
  }

  _call(method, args, kwargs) {
    const h = this._handle();
    const text = out1((o, e) => lib.fn.objectCallJson(h, method, encodeArgs(args), kwargs == null ? null : encode(kwargs),
      VALUE_TAGGED | VALUE_HANDLES, o, e));
    return decode(text, this._rt);
  }

  /**
   * Awaits this awaitable (a coroutine object, an asyncio Task or Future, any object with
   * `__await__`) on pyrt's event loop: a Promise of its result, as Runtime.callAsync. `signal`
   * (an AbortSignal) cancels it, as with callAsyncKw. The handle is not consumed (free() it as
   * usual); a coroutine object can be awaited once, as in Python.
   */
  awaitValue(opts = {}) {
    return startTask(this._rt, opts, (done, key, taskOut, err) => {
      const h = this._handle();
      return lib.fn.objectAwait(h, VALUE_TAGGED | VALUE_HANDLES, done, key, taskOut, err);
    });
  }

  /**
   * iter(obj) as a PyIterator (the JS iterator protocol; `for (const x of obj)` does the same
   * with the default options). `batch`: how many items each native call takes (default 1: one
   * step per item). A batch of n runs a generator up to n - 1 items ahead of what JS has taken,
   * so keep 1 where every step has an effect that JS must pace; take hundreds or thousands to
   * stream many small items fast. A non-iterable object is a PythonError (TypeError).
   */
  iter(opts = {}) {
    const batch = opts.batch === undefined ? 1 : opts.batch;
    if (!Number.isSafeInteger(batch) || batch < 1) {
      throw new PyrtError(`batch must be an integer >= 1, not ${String(batch)}`, STATUS.INVALID_ARGUMENT);
    }
    const h = this._handle();
    return new PyIterator(this._rt, out1((o, e) => lib.fn.objectIter(h, o, e)), batch);
  }

  /** `for (const x of obj)`: iter() one item per step. */
  [Symbol.iterator]() {
    return this.iter();
  }

  /** repr(obj) */
  repr() {
    const h = this._handle();
    return out1((o, e) => lib.fn.objectRepr(h, o, e));
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    if (this._h === null) return 'PyObject <freed>';
    try {
      return `PyObject ${this.repr()}`;
    } catch (e) {
      return `PyObject <${e.message}>`;
    }
  }

  /** str(obj) */
  toString() {
    if (this._h === null) return '<freed PyObject>';
    const h = this._h;
    return out1((o, e) => lib.fn.objectStr(h, o, e));
  }
}

const ITEM_FLAGS = VALUE_TAGGED | VALUE_HANDLES;
const DONE_RESULT = Object.freeze({ value: undefined, done: true });

/**
 * A Python iterator (iter(obj): PyObject.iter(), or for…of over a PyObject), following the JS
 * iterator protocol: next() -> { value, done }, with values decoded as PyObject.value() does.
 * return() (what `break` out of for…of calls) closes it: a generator's `finally` blocks run
 * then. send() and throw() resume a generator as Python's gen.send()/gen.throw() do. The
 * handle is released when the iterator ends or is closed (or by the garbage collector).
 * After its runtime was closed, steps throw PyrtError (status PYRT_ERR_CLOSED).
 */
class PyIterator {
  constructor(rt, handle, batch = 1) {
    this._rt = rt;
    this._h = handle;
    this._batch = batch;
    this._buf = []; // items a batch took ahead of next()
    this._pos = 0;
    this._token = {};
    objectRegistry.register(this, handle, this._token);
  }

  [Symbol.iterator]() {
    return this;
  }

  /** True once the iterator ended or was closed (its handle is released). */
  get done() {
    return this._h === null && this._pos >= this._buf.length;
  }

  _free() {
    if (this._h === null) return;
    const h = this._h;
    this._h = null;
    objectRegistry.unregister(this._token);
    lib.fn.objectFree(h);
  }

  // One native step `f(handle, out, err)`: its output, or undefined at the end (then released).
  _step(f) {
    const out = [null];
    const err = [null];
    const status = f(this._h, out, err);
    if (status === STATUS.DONE) {
      this._free();
      return undefined;
    }
    check(status, err);
    return out[0];
  }

  _noneAhead(what) {
    if (this._pos < this._buf.length) {
      throw new PyrtError(`${what}: ${this._buf.length - this._pos} item(s) a batch took ahead are not consumed yet ` +
        '(use a batch of 1 for send, throw and nextObject)', STATUS.INVALID_ARGUMENT);
    }
  }

  _result(text) {
    return text === undefined ? DONE_RESULT : { value: decode(text, this._rt), done: false };
  }

  /** The next item: { value, done: false }, or { value: undefined, done: true } at the end. */
  next() {
    for (;;) {
      if (this._pos < this._buf.length) {
        const value = this._buf[this._pos];
        this._buf[this._pos++] = undefined; // the consumer owns it now
        return { value, done: false };
      }
      if (this._h === null) return DONE_RESULT;
      if (this._batch === 1) return this._result(this._step((h, o, e) => lib.fn.iterNext(h, ITEM_FLAGS, o, e)));
      const text = this._step((h, o, e) => lib.fn.iterNextBatch(h, this._batch, ITEM_FLAGS, o, e));
      if (text === undefined) return DONE_RESULT;
      this._buf = decode(text, this._rt);
      this._pos = 0;
    }
  }

  /** As next(), but the item stays a PyObject: { value: PyObject, done: false }. */
  nextObject() {
    this._noneAhead('nextObject');
    if (this._h === null) return DONE_RESULT;
    const obj = this._step((h, o, e) => lib.fn.iterNextObject(h, o, e));
    return obj === undefined ? DONE_RESULT : { value: new PyObject(this._rt, obj), done: false };
  }

  /**
   * gen.send(value) (undefined or null: None): { value: the next item yielded, done: false }, or
   * { value: undefined, done: true } when the generator returns. Start a new generator with next()
   * or send(null) first, as in Python.
   */
  send(value) {
    this._noneAhead('send');
    if (this._h === null) return DONE_RESULT;
    const json = value === undefined || value === null ? null : encode(value);
    return this._result(this._step((h, o, e) => lib.fn.iterSend(h, json, ITEM_FLAGS, o, e)));
  }

  /**
   * The JS protocol's throw(): a PyObject (a Python exception instance or class) is raised inside
   * the generator where it is suspended, as gen.throw(exc): the result is the next item, or done
   * if it returns; an exception propagating out of it is thrown (a PythonError). Anything else
   * (a JS error) closes the iterator and is thrown back.
   */
  throw(error) {
    if (error instanceof PyObject && this._h !== null) {
      this._noneAhead('throw');
      const exc = error._handle();
      return this._result(this._step((h, o, e) => lib.fn.iterThrow(h, exc, ITEM_FLAGS, o, e)));
    }
    try {
      this.close();
    } catch {
      // the error given is the one thrown
    }
    throw error;
  }

  /**
   * The JS protocol's return() (`break`, `return` or an exception out of for…of): closes the
   * iterator and returns { value, done: true }.
   */
  return(value) {
    this.close();
    return { value, done: true };
  }

  /**
   * Closes it now (idempotent): gen.close(), so a generator's `finally` blocks and `with` exits
   * run before this returns; items a batch took ahead are dropped. Throws what Python raises
   * then (the handle is released anyway).
   */
  close() {
    this._buf = [];
    this._pos = 0;
    if (this._h === null) return;
    const h = this._h;
    const err = [null];
    try {
      check(lib.fn.iterClose(h, err), err);
    } finally {
      this._free();
    }
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.done ? 'PyIterator <done>' : `PyIterator <batch ${this._batch}>`;
  }
}

/**
 * Reports which libpython `new Runtime(opts)` would load, and every candidate considered,
 * without loading it: { libpython, version, executable, venv, candidates: [{source, path,
 * accepted, reason}] }.
 */
function discover(opts = {}) {
  const cfg = configJson(opts);
  loadLibrary(opts.library);
  return JSON.parse(out1((o, e) => lib.fn.discoverJson(cfg, o, e)));
}

module.exports = {
  Runtime,
  PyObject,
  PyIterator,
  PyrtError,
  PythonError,
  LibraryError,
  Tuple,
  FrozenSet,
  ByteArray,
  Complex,
  Decimal,
  PyDateTime,
  PyDate,
  PyTime,
  PyTimedelta,
  STATUS,
  CONFIG_OPTIONS,
  INFO_FIELDS,
  VERSION,
  discover,
  loadLibrary,
  // for tests
  _internal: {
    encode, decode, parseJson, untag, statusName, libraryCandidates, soname,
    libStatusName: (code) => (loadLibrary(), lib.fn.statusName(code)), // pyrt_status_name
  },
};

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
});
const VALUE_TAGGED = 1;
const VALUE_HANDLES = 2;

// ---- errors ------------------------------------------------------------------------------------

/** An error reported by pyrt: `code` is the C status number, `status` its name. */
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
 * PythonErrors too, with their own codes: they never end the Node process.
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
  for (const [k, v] of Object.entries(STATUS)) if (v === code) return k === 'OK' ? 'PYRT_OK' : `PYRT_ERR_${k}`;
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
    errorFree: f('void pyrt_error_free(pyrt_error *err)'),
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

/** Turns a failed status and its pyrt_error into a thrown error (freeing the pyrt_error). */
function check(status, errOut) {
  if (status === STATUS.OK) return;
  const e = errOut[0];
  const fn = lib.fn;
  if (!e) throw new PyrtError(statusName(status), status);
  try {
    const code = fn.errorCode(e) || status;
    const message = fn.errorMessage(e) || '';
    const type = fn.errorPythonType(e);
    if (type) throw new PythonError(type, message, fn.errorTraceback(e), code, fn.statusName(code));
    throw new PyrtError(message, code, fn.statusName(code));
  } finally {
    fn.errorFree(e);
  }
}

/** Runs `f(out, err)` for a call with one output; returns the output or throws. */
function out1(f) {
  const out = [null];
  const err = [null];
  check(f(out, err), err);
  return out[0];
}

// ---- values: JS -> tagged JSON ---------------------------------------------------------------------

function encode(value) {
  return JSON.stringify(value, function replacer(key, v) {
    const raw = this[key]; // before toJSON (Date, Buffer)
    if (raw instanceof PyObject) return { __pyrt__: 'object', v: raw._idNumber() };
    if (typeof raw === 'bigint') return { __pyrt__: '$bigint', v: raw.toString() };
    if (typeof raw === 'number' && !Number.isFinite(raw)) {
      return { __pyrt__: 'float', v: Number.isNaN(raw) ? 'nan' : raw > 0 ? 'inf' : '-inf' };
    }
    if (raw instanceof Uint8Array || raw instanceof ArrayBuffer) {
      return { __pyrt__: 'bytes', v: Buffer.from(raw instanceof ArrayBuffer ? new Uint8Array(raw) : raw).toString('base64') };
    }
    if (raw instanceof Set) return { __pyrt__: 'set', v: [...raw] };
    if (raw instanceof Map) return { __pyrt__: 'dict', v: [...raw.entries()] };
    if (raw instanceof Date) return { __pyrt__: 'datetime', v: raw.toISOString().replace('Z', '+00:00') };
    if (raw === undefined && Array.isArray(this)) return null;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, '__pyrt__')) {
      // A plain object that uses the reserved key: send it as a general dict so it stays data.
      return { __pyrt__: 'dict', v: Object.entries(v) };
    }
    return v;
  }).replace(/\{"__pyrt__":"\$bigint","v":"(-?\d+)"\}/g, '$1'); // BigInts as exact JSON integers
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

function parseExact(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
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
        obj[k] = value();
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
  const string = () => {
    const m = /"(?:[^"\\]|\\.)*"/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (!r) throw new SyntaxError(`bad JSON string at ${i}`);
    i = m.lastIndex;
    return JSON.parse(r[0]);
  };
  const v = value();
  ws();
  if (i !== text.length) throw new SyntaxError(`trailing data in JSON at ${i}`);
  return v;
}

const FLOATS = { nan: NaN, inf: Infinity, '-inf': -Infinity };

/** Decodes pyrt's tagged encoding (docs/values.md) into JS values; handles become PyObjects. */
function untag(v, rt) {
  if (Array.isArray(v)) return v.map((x) => untag(x, rt));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  if (keys.length === 2 && typeof v.__pyrt__ === 'string' && 'v' in v) {
    const x = v.v;
    switch (v.__pyrt__) {
      case 'tuple': return x.map((y) => untag(y, rt));
      case 'list': return x.map((y) => untag(y, rt));
      case 'set':
      case 'frozenset': return new Set(x.map((y) => untag(y, rt)));
      case 'dict': return new Map(x.map(([k, y]) => [untag(k, rt), untag(y, rt)]));
      case 'bytes':
      case 'bytearray': return Buffer.from(x, 'base64');
      case 'float': return FLOATS[x];
      case 'complex': return { re: typeof x[0] === 'string' ? FLOATS[x[0]] : x[0], im: typeof x[1] === 'string' ? FLOATS[x[1]] : x[1] };
      case 'object': return new PyObject(rt, BigInt(x));
      case 'datetime':
      case 'date':
      case 'time':
      case 'decimal': return x; // ISO 8601 / exact decimal text
      case 'timedelta': return (x[0] * 86400 + x[1]) * 1000 + x[2] / 1000; // milliseconds
      default: return x;
    }
  }
  const out = {};
  for (const k of keys) out[k] = untag(v[k], rt);
  return out;
}

// ---- Runtime and PyObject -------------------------------------------------------------------------

const runtimeRegistry = new FinalizationRegistry((h) => { if (lib) lib.fn.free(h); });
const objectRegistry = new FinalizationRegistry((h) => { if (lib) lib.fn.objectFree(h); });

function configJson(opts) {
  const map = {
    libpython: 'libpython',
    pythonExecutable: 'python_executable',
    useEnvironment: 'use_environment',
    argv: 'argv',
    venv: 'venv',
    systemSitePackages: 'system_site_packages',
    sitePaths: 'site_paths',
    pythonHome: 'python_home',
    pythonVersion: 'python_version',
  };
  const cfg = {};
  for (const [k, v] of Object.entries(opts || {})) {
    if (k === 'library') continue;
    if (!(k in map)) throw new PyrtError(`unknown option ${JSON.stringify(k)} (known: library, ${Object.keys(map).join(', ')})`, STATUS.CONFIG);
    if (v !== undefined && v !== null) cfg[map[k]] = v;
  }
  return Object.keys(cfg).length ? JSON.stringify(cfg) : null;
}

/**
 * A handle to the process's Python interpreter. One interpreter exists per process: every
 * Runtime shares it (and `__main__`), and closing the last one finalizes Python for good
 * (later `new Runtime()` throws with status PYRT_ERR_FINALIZED).
 */
class Runtime {
  /**
   * @param {object} [opts] library (path to libpyrt), libpython, venv, pythonVersion ("3.12"),
   *   pythonExecutable, pythonHome, sitePaths, systemSitePackages, useEnvironment, argv.
   *   Without libpython pyrt discovers one: $PYRT_LIBPYTHON, the python3 on PATH, common places.
   */
  constructor(opts = {}) {
    const cfg = configJson(opts);
    loadLibrary(opts.library);
    this._h = out1((o, e) => lib.fn.new(cfg, o, e));
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
   */
  call(module, fn, ...args) {
    return this.callKw(module, fn, args, null);
  }

  /** Calls `module.function(*args, **kwargs)`. */
  callKw(module, fn, args = [], kwargs = null) {
    const h = this._handle();
    const text = out1((o, e) => lib.fn.callValue(h, `${module}:${fn}`, encodeArgs(args),
      kwargs == null ? null : encode(kwargs), VALUE_TAGGED | VALUE_HANDLES, o, e));
    return untag(parseJson(text), this);
  }

  /** Calls `module.function(...args)` and keeps the result as a PyObject. */
  callObject(module, fn, ...args) {
    const h = this._handle();
    return new PyObject(this, out1((o, e) => lib.fn.callObject(h, `${module}:${fn}`, encodeArgs(args), null, VALUE_TAGGED, o, e)));
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
   * { pyrtVersion, pythonVersion, libpython, executable, prefix, freeThreaded, tested, testedNote,
   * library, sourceHash }. freeThreaded: a free-threaded ("t") build such as 3.13t; tested: false
   * for a Python newer than any pyrt was tested with (testedNote says so; null otherwise).
   */
  info() {
    const h = this._handle();
    const i = JSON.parse(out1((o, e) => lib.fn.infoJson(h, o, e)));
    return {
      pyrtVersion: i.pyrt_version,
      pythonVersion: i.python_version,
      libpython: i.libpython,
      executable: i.executable,
      prefix: i.prefix,
      // Absent from a libpyrt built before these fields existed: false, true, null then.
      freeThreaded: i.free_threaded === true,
      tested: i.tested !== false,
      testedNote: i.tested_note ?? null,
      library: lib.path,
      sourceHash: lib.sourceHash,
    };
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
    return untag(parseJson(out1((o, e) => lib.fn.objectToJson(h, VALUE_TAGGED | VALUE_HANDLES, o, e))), this._rt);
  }

  /** getattr(obj, name) as a JS value. */
  get(name) {
    const h = this._handle();
    return untag(parseJson(out1((o, e) => lib.fn.objectGetattrJson(h, String(name), VALUE_TAGGED | VALUE_HANDLES, o, e))), this._rt);
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
    return untag(parseJson(text), this._rt);
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
  PyrtError,
  PythonError,
  LibraryError,
  STATUS,
  VERSION,
  discover,
  loadLibrary,
  // for tests
  _internal: { encode, parseJson, untag, libraryCandidates, soname },
};

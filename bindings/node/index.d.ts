// Type declarations for pyrt's Node.js binding (index.js).

/** A JS value crossing to or from Python (docs/values.md). */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Uint8Array
  | Date
  | PyValue[]
  | Set<PyValue>
  | Map<PyValue, PyValue>
  | PyObject
  | { [key: string]: PyValue }
  | { re: number; im: number };

export interface RuntimeOptions {
  /** Path to libpyrt.so; default: $PYRT_LIBRARY, this repository's build, the system path. */
  library?: string;
  /** Path to libpython3.X.so; default: discovered. */
  libpython?: string;
  venv?: string;
  /** A version constraint for discovery, e.g. "3.12". */
  pythonVersion?: string;
  pythonExecutable?: string;
  pythonHome?: string;
  sitePaths?: string[];
  systemSitePackages?: boolean;
  useEnvironment?: boolean;
  argv?: string[];
}

export interface Info {
  pyrtVersion: string;
  pythonVersion: string;
  libpython: string;
  executable: string;
  prefix: string;
  /** A free-threaded ("t") build of CPython, such as 3.13t (no GIL). */
  freeThreaded: boolean;
  /** False for a CPython newer than any version pyrt was tested with (see testedNote). */
  tested: boolean;
  /** Why `tested` is false; null when it is true. */
  testedNote: string | null;
  /** The libpyrt file loaded. */
  library: string;
  /** pyrt_source_hash() of that library. */
  sourceHash: string;
}

export interface Candidate {
  source: string;
  path: string | null;
  accepted: boolean;
  reason: string;
}

export interface Discovery {
  libpython: string;
  version: string | null;
  executable: string | null;
  venv: string | null;
  candidates: Candidate[];
}

export class PyrtError extends Error {
  /** The C status number (STATUS). */
  code: number;
  /** Its name, e.g. "PYRT_ERR_PYTHON". */
  status: string;
}

export class PythonError extends PyrtError {
  /** "ZeroDivisionError", "json.decoder.JSONDecodeError", ... */
  pythonType: string;
  /** str() of the exception. */
  pythonMessage: string;
  /** The formatted traceback, or null. */
  traceback: string | null;
}

export class LibraryError extends PyrtError {}

export class Runtime {
  constructor(opts?: RuntimeOptions);
  readonly closed: boolean;
  close(): void;
  run(code: string): void;
  runFile(path: string): void;
  eval(expr: string): any;
  evalObject(expr: string): PyObject;
  call(module: string, fn: string, ...args: PyValue[]): any;
  callKw(module: string, fn: string, args?: PyValue[], kwargs?: { [key: string]: PyValue } | null): any;
  callObject(module: string, fn: string, ...args: PyValue[]): PyObject;
  callJson(module: string, fn: string, argsJson?: string, kwargsJson?: string | null): string;
  import(module: string): PyObject;
  toObject(value: PyValue): PyObject;
  info(): Info;
}

export class PyObject {
  readonly id: number;
  free(): void;
  value(): any;
  get(name: string): any;
  getObject(name: string): PyObject;
  set(name: string, value: PyValue): void;
  call(...args: PyValue[]): any;
  callMethod(method: string, ...args: PyValue[]): any;
  callKw(method: string | null, args?: PyValue[], kwargs?: { [key: string]: PyValue } | null): any;
  callObject(method: string | null, ...args: PyValue[]): PyObject;
  repr(): string;
  toString(): string;
}

export const STATUS: { readonly [name: string]: number };
export const VERSION: string;
export function discover(opts?: RuntimeOptions): Discovery;
export function loadLibrary(library?: string): { path: string; version: string; sourceHash: string };

// Type declarations for pyrt's Node.js binding (index.js).

/** A JS value crossing to or from Python (docs/values.md; README.md has the table). */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Uint8Array
  | ArrayBuffer
  | ByteArray
  | Date
  | PyValue[]
  | Tuple
  | Set<PyValue>
  | FrozenSet
  | Map<PyValue, PyValue>
  | Complex
  | Decimal
  | PyDateTime
  | PyDate
  | PyTime
  | PyTimedelta
  | PyObject
  | { [key: string]: PyValue };

/** A Python tuple (a JS Array is a list). Build one with Tuple.of(...) or Tuple.from(iterable). */
export class Tuple extends Array<any> {}

/** A Python frozenset (a JS Set is a set). */
export class FrozenSet extends Set<any> {}

/** A Python bytearray (a Buffer or other Uint8Array is bytes). */
export class ByteArray extends Uint8Array {}

/** A Python complex number. */
export class Complex {
  constructor(re?: number, im?: number);
  re: number;
  im: number;
}

/** A decimal.Decimal as its exact text (str() of the Decimal). */
export class Decimal {
  constructor(text: string);
  value: string;
  toString(): string;
  toJSON(): string;
}

/** A datetime.datetime as its isoformat() text ("2024-01-02T03:04:05.123456+05:30"; naive: no offset). */
export class PyDateTime {
  constructor(iso: string);
  iso: string;
  /** The instant (milliseconds; a naive datetime is read as UTC). */
  toDate(): Date;
  toString(): string;
  toJSON(): string;
}

/** A datetime.date as its isoformat() text ("1999-12-31"). */
export class PyDate {
  constructor(iso: string);
  iso: string;
  toString(): string;
  toJSON(): string;
}

/** A datetime.time as its isoformat() text ("23:59:59.999999", "12:00:00+05:30"). */
export class PyTime {
  constructor(iso: string);
  iso: string;
  toString(): string;
  toJSON(): string;
}

/** A datetime.timedelta, normalized as Python does (0 <= seconds < 86400, 0 <= microseconds < 10**6). */
export class PyTimedelta {
  /** Integers, normalized as by Python's constructor. */
  constructor(days?: number, seconds?: number, microseconds?: number);
  static fromMilliseconds(ms: number): PyTimedelta;
  readonly days: number;
  readonly seconds: number;
  readonly microseconds: number;
  /** As Python's total_seconds(). */
  totalSeconds(): number;
  toMilliseconds(): number;
}

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
  /** A managed venv: requirements (pip's syntax) pyrt installs into `venv` before Python starts (again only when they change). */
  requirements?: string[];
  /** A requirements file (pip's `-r` syntax) for the managed venv. */
  requirementsFile?: string;
  systemSitePackages?: boolean;
  useEnvironment?: boolean;
  argv?: string[];
  /** "host" (default: Python never changes a signal disposition) or "python" (as a standalone interpreter). */
  signals?: 'host' | 'python';
  /** In "host" mode, when SIGPIPE is blocked: "thread" (default) or "call". */
  sigpipe?: 'thread' | 'call';
  /** Per runtime: its calls run on the interpreter's main thread. */
  mainThread?: boolean;
  /** Per runtime: each call is interrupted after this many milliseconds (PyrtError code TIMEOUT). */
  timeoutMs?: number;
  /** Per runtime: calls capture what they write to sys.stdout/sys.stderr (takeOutput(), error.stdout). */
  captureOutput?: boolean;
  /** Per runtime: its calls run in this many (1-64) worker sub-interpreters (Python 3.12+). */
  workers?: number;
  /** Modules each worker imports when it starts. */
  workerModules?: string[];
  /** Python code each worker runs when it starts. */
  workerSetup?: string;
}

export interface Info {
  pyrtVersion: string;
  pythonVersion: string;
  libpython: string;
  executable: string;
  prefix: string;
  /** Where this runtime's calls run. */
  mode: 'caller_thread' | 'main_thread' | 'subinterpreters';
  /** Worker sub-interpreters running for this runtime. */
  workers: number;
  /** The workers option (0 without it). */
  workersRequested: number;
  /** Why the workers run in the main interpreter instead (Python below 3.12); null when they do not. */
  workersNote: string | null;
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
  /** What the failed call wrote, for a runtime opened with captureOutput. */
  stdout?: string;
  stderr?: string;
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
  /** The target as one "module:function" string. */
  call(target: `${string}:${string}`, ...args: PyValue[]): any;
  callKw(module: string, fn: string, args?: PyValue[], kwargs?: { [key: string]: PyValue } | null): any;
  callKw(target: `${string}:${string}`, args?: PyValue[], kwargs?: { [key: string]: PyValue } | null): any;
  /** The result as a PyObject: `for (const x of rt.callObject('mod:gen', 5))` streams a generator. */
  callObject(module: string, fn: string, ...args: PyValue[]): PyObject;
  callObject(target: `${string}:${string}`, ...args: PyValue[]): PyObject;
  callJson(module: string, fn: string, argsJson?: string, kwargsJson?: string | null): string;
  /**
   * Calls an `async def` (or any function returning an awaitable) and awaits the coroutine on
   * pyrt's asyncio loop: a Promise of the result, decoded as call() does. Rejects with PythonError
   * (the exception, traceback included), PyrtError code INTERRUPTED (cancelled, after the
   * coroutine's cleanup) or CLOSED (the Runtime was closed first); a task that cannot start (no
   * such function, a result that is not awaitable: TypeError) rejects too: it never throws.
   */
  callAsync(module: string, fn: string, ...args: PyValue[]): Promise<any>;
  callAsync(target: `${string}:${string}`, ...args: PyValue[]): Promise<any>;
  /** callAsync with keyword arguments and options (`signal` cancels the task). */
  callAsyncKw(module: string, fn: string, args?: PyValue[], kwargs?: { [key: string]: PyValue } | null, opts?: AsyncOptions | null): Promise<any>;
  callAsyncKw(target: `${string}:${string}`, args?: PyValue[], kwargs?: { [key: string]: PyValue } | null, opts?: AsyncOptions | null): Promise<any>;
  import(module: string): PyObject;
  toObject(value: PyValue): PyObject;
  info(): Info;
  /** What calls through a runtime opened with captureOutput wrote since the last take. */
  takeOutput(): { stdout: string; stderr: string };
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
  /**
   * iter(obj). batch (default 1): items taken per native call; a batch of n runs a generator up
   * to n - 1 items ahead of what JS has consumed. A non-iterable object: PythonError (TypeError).
   */
  iter(opts?: IterOptions): PyIterator;
  /**
   * Awaits this awaitable (a coroutine object, an asyncio Task or Future, anything with
   * `__await__`) on pyrt's asyncio loop: a Promise of its result, as Runtime.callAsync. The handle
   * is not consumed; a coroutine object can be awaited once.
   */
  awaitValue(opts?: AsyncOptions): Promise<any>;
  /** `for (const x of obj)`: iter() with one item per step. */
  [Symbol.iterator](): PyIterator;
  repr(): string;
  toString(): string;
}

export interface AsyncOptions {
  /**
   * Cancels the task when aborted (pyrt_task_cancel): the coroutine sees asyncio.CancelledError,
   * runs its cleanup, then the Promise rejects with code INTERRUPTED (or settles as the coroutine
   * did, if it caught the cancellation). An already aborted signal rejects without starting it.
   */
  signal?: AbortSignal;
}

export interface IterOptions {
  /** Items each native call takes (an integer >= 1; default 1). */
  batch?: number;
}

/**
 * A Python iterator in the JS iterator protocol. Items decode as PyObject.value() does. return()
 * (a `break` out of for…of) and close() close a generator now, running its finally blocks. The
 * handle is released once the iterator ends or is closed.
 */
export class PyIterator implements IterableIterator<any> {
  /** True once it ended or was closed. */
  readonly done: boolean;
  [Symbol.iterator](): PyIterator;
  next(): IteratorResult<any, undefined>;
  /** As next(), the item kept as a PyObject. */
  nextObject(): IteratorResult<PyObject, undefined>;
  /** gen.send(value) (undefined/null: None); done when the generator returns. */
  send(value?: PyValue): IteratorResult<any, undefined>;
  /**
   * A PyObject (exception instance or class): gen.throw(exc), the next item or done, or the
   * exception out of it as a PythonError. Anything else: closes the iterator and throws it back.
   */
  throw(error?: any): IteratorResult<any, undefined>;
  /** Closes it; { value, done: true }. */
  return<T>(value?: T): IteratorReturnResult<T>;
  /** gen.close() now (idempotent); throws what Python raises then. */
  close(): void;
}

export const STATUS: {
  readonly OK: 0;
  readonly INVALID_ARGUMENT: 1;
  readonly INVALID_UTF8: 2;
  readonly INVALID_JSON: 3;
  readonly CONFIG: 4;
  readonly LIBPYTHON_NOT_FOUND: 5;
  readonly LIBPYTHON_INVALID: 6;
  readonly LIBPYTHON_CONFLICT: 7;
  readonly INIT: 8;
  readonly FINALIZED: 9;
  readonly CLOSED: 10;
  readonly PYTHON: 11;
  readonly SYSTEM_EXIT: 12;
  readonly KEYBOARD_INTERRUPT: 13;
  readonly CONVERSION: 14;
  readonly FILE_NOT_FOUND: 15;
  readonly PERMISSION_DENIED: 16;
  readonly NOT_A_FILE: 17;
  readonly IO: 18;
  readonly INTERNAL: 19;
  readonly INTERRUPTED: 20;
  readonly TIMEOUT: 21;
  readonly BUFFER_ESCAPED: 22;
  readonly VENV: 23;
  /** Not an error: an iterator step found the end (PyIterator turns it into done: true). */
  readonly DONE: 100;
};
/** Runtime option (camelCase) -> pyrt_new config key (snake_case). */
export const CONFIG_OPTIONS: { readonly [option in Exclude<keyof RuntimeOptions, 'library'>]-?: string };
/** pyrt_info_json field (snake_case) -> Info property (camelCase). */
export const INFO_FIELDS: { readonly [field: string]: string };
export const VERSION: string;
export function discover(opts?: RuntimeOptions): Discovery;
export function loadLibrary(library?: string): { path: string; version: string; sourceHash: string };

# _pyrt_bind: the Python half of pyrt-gen and of the code it generates.
# Installed once per runtime by pyrt.BindModule (see bind.go); runs on Python 3.8+.
import ast
import builtins
import collections.abc as cabc
import dataclasses
import importlib
import importlib.util
import inspect
import json
import re
import sys
import typing

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


def resolve(mod, qual):
    obj = mod
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def sigtext(obj):
    """The text a binding's signature hash is computed from."""
    prefix = ""
    if inspect.iscoroutinefunction(obj):
        prefix = "async "
    elif inspect.isasyncgenfunction(obj):
        prefix = "async-gen "
    try:
        s = str(inspect.signature(obj))
    except (TypeError, ValueError) as e:
        s = "<no signature: %s>" % type(e).__name__
    # Python 3.8 writes string annotations' subscripts as Literal[('a', 'b')]:
    # one text for every version.
    return prefix + _ADDR.sub("", s).replace("[(", "[").replace(")]", "]")


def sigtexts(mod, names):
    out = []
    for n in names:
        try:
            out.append(sigtext(resolve(mod, n)))
        except AttributeError:
            out.append(None)
    return out


# ---- adapting values the tagged encoding does not carry as the hints say ----

def _is_struct(h):
    return isinstance(h, type) and (dataclasses.is_dataclass(h) or _is_namedtuple(h) or _is_typeddict(h))


def _is_namedtuple(h):
    return isinstance(h, type) and issubclass(h, tuple) and hasattr(h, "_fields")


def _is_typeddict(h):
    f = getattr(typing, "is_typeddict", None)
    if f is not None:
        return f(h)
    return isinstance(h, type) and issubclass(h, dict) and hasattr(h, "__total__")


def to_py(h, v):
    """A value from Go (dicts for structs and tuples) as the hint h wants it."""
    if v is None or h is None:
        return v
    origin, args = typing.get_origin(h), typing.get_args(h)
    if origin is typing.Union:
        for a in args:
            if a is not type(None):
                return to_py(a, v)
    if isinstance(h, type) and isinstance(v, dict):
        if dataclasses.is_dataclass(h) or _is_namedtuple(h):
            hints = {k: a for k, a in _struct_hints(h).items() if not isinstance(a, _Unresolved)}
            return h(**{k: to_py(hints.get(k), x) for k, x in v.items()})
    if origin is tuple and isinstance(v, (dict, list, tuple)):
        items = list(v.values()) if isinstance(v, dict) else list(v)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(to_py(args[0], x) for x in items)
        return tuple(to_py(a, x) for a, x in zip(args, items)) if args else tuple(items)
    if origin in (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable) and isinstance(v, list) and args:
        return [to_py(args[0], x) for x in v]
    if origin in (set, frozenset, cabc.Set, cabc.MutableSet) and isinstance(v, (list, tuple, set)):
        return origin(to_py(args[0], x) for x in v) if origin in (set, frozenset) else set(v)
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) and isinstance(v, dict) and len(args) == 2:
        return {k: to_py(args[1], x) for k, x in v.items()}
    return v


def to_go(v):
    """A result with dataclasses, NamedTuples and tuples as the Go side reads them."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: to_go(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {k: to_go(x) for k, x in zip(v._fields, v)}
    if isinstance(v, (list, tuple)):
        return type(v)(to_go(x) for x in v) if type(v) in (list, tuple) else v
    if type(v) is dict:
        return {k: to_go(x) for k, x in v.items()}
    return v


def adapt(fn, kind):
    """fn wrapped to convert arguments by its hints and results to plain values.
    kind: "call" (plain), "gen" (a generator: items converted), "async" (a coroutine: its
    result converted), "nd" (memoryviews to arrays)."""
    try:
        hints = hints_of(fn, [])
    except Exception:
        hints = {}
    hints = {k: h for k, h in hints.items() if not isinstance(h, _Unresolved)}
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    nd = {}
    if kind == "nd":
        import numpy
        for n, h in hints.items():
            dt = _nd_dtype(h)
            if dt is not None:
                nd[n] = numpy.dtype(dt)

    def conv(name, v):
        if name in nd and isinstance(v, memoryview):
            import numpy
            return numpy.frombuffer(v, dtype=nd[name])
        if name in nd and isinstance(v, list):  # outside the typed path: a copy
            import numpy
            return numpy.asarray(v, dtype=nd[name])
        return to_py(hints.get(name), v)

    def call(*args, **kw):
        args = [conv(names[i], a) if i < len(names) else a for i, a in enumerate(args)]
        kw = {k: conv(k, a) for k, a in kw.items()}
        r = fn(*args, **kw)
        if kind == "async":
            return _await_adapted(r)
        if kind == "gen":
            return (to_go(x) for x in r)
        if kind == "nd":
            import numpy
            if isinstance(r, numpy.ndarray):
                return numpy.ascontiguousarray(r)
        return to_go(r)
    return call


def get(mod, qual, kind):
    obj = resolve(mod, qual)
    return adapt(obj, kind) if kind else obj


def method(obj, name, kind):
    m = getattr(obj, name)
    return adapt(m, kind) if kind else m


async def _await_adapted(aw):
    return to_go(await aw)


# ---- describing a module for pyrt-gen ----

def _hints(obj):
    return typing.get_type_hints(obj)


def _struct_hints(h):
    """A class's field hints; where get_type_hints fails (list[str] on 3.8),
    each annotation through the fallback parser."""
    try:
        return typing.get_type_hints(h)
    except Exception:
        pass
    hints = {}
    for k, a in getattr(h, "__annotations__", {}).items():
        try:
            hints[k] = _eval_str(a, vars(sys.modules.get(h.__module__))) if isinstance(a, str) else a
        except Exception as e:
            hints[k] = _Unresolved("annotation %r: %s" % (a, e))
    return hints


_FALLBACK_NAMES = {
    "list": typing.List, "dict": typing.Dict, "tuple": typing.Tuple, "set": typing.Set,
    "frozenset": typing.FrozenSet, "type": typing.Type,
}


def _eval_str(s, globs):
    """Evaluates an annotation string where the running Python cannot (list[int] or
    int | None on 3.8/3.9): rebuilt with typing's equivalents from the syntax tree."""
    def ev(n):
        if isinstance(n, ast.Constant) if hasattr(ast, "Constant") else False:
            if isinstance(n.value, str):
                return ev(ast.parse(n.value, mode="eval").body)
            return n.value
        if isinstance(n, ast.Name):
            if n.id in _FALLBACK_NAMES:
                return _FALLBACK_NAMES[n.id]
            if n.id in globs:
                return globs[n.id]
            if hasattr(builtins, n.id):
                return getattr(builtins, n.id)
            raise NameError(n.id)
        if isinstance(n, ast.Attribute):
            return getattr(ev(n.value), n.attr)
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            return typing.Union[ev(n.left), ev(n.right)]
        if isinstance(n, ast.Subscript):
            base = ev(n.value)
            sl = n.slice
            if sl.__class__.__name__ == "Index":  # 3.8
                sl = sl.value
            if isinstance(sl, ast.Tuple):
                args = tuple(ev(e) for e in sl.elts)
            else:
                args = ev(sl)
            if base in (typing.Tuple,) and args == ():
                return typing.Tuple[()]
            return base[args]
        if isinstance(n, ast.Tuple):
            return tuple(ev(e) for e in n.elts)
        if isinstance(n, ast.List):
            return [ev(e) for e in n.elts]
        if isinstance(n, ast.Ellipsis if hasattr(ast, "Ellipsis") else ()):
            return Ellipsis
        raise ValueError("unsupported annotation syntax: %s" % ast.dump(n))
    return ev(ast.parse(s, mode="eval").body)


def hints_of(obj, notes):
    """get_type_hints, or per-annotation evaluation where it fails; notes get why."""
    try:
        return _hints(obj)
    except Exception as e:
        first = "%s: %s" % (type(e).__name__, e)
    target = obj
    if isinstance(obj, type):
        target = obj.__init__
    ann = dict(getattr(target, "__annotations__", None) or {})
    globs = getattr(inspect.unwrap(target), "__globals__", {}) if callable(target) else {}
    out = {}
    for k, a in ann.items():
        if not isinstance(a, str):
            out[k] = a
            continue
        try:
            out[k] = eval(a, dict(globs))
        except Exception:
            try:
                out[k] = _eval_str(a, globs)
                notes.append("%s: annotation %r read by pyrt-gen's fallback parser (get_type_hints failed: %s)" % (k, a, first))
            except Exception as e2:
                out[k] = _Unresolved("annotation %r could not be evaluated (%s: %s)" % (a, type(e2).__name__, e2))
    return out


class _Unresolved:
    def __init__(self, why):
        self.why = why


class Describer:
    def __init__(self, mod):
        self.mod = mod
        self.structs = {}  # qualname -> description
        self.classes = set()

    def any(self, why):
        return {"k": "any", "why": why}

    def tmap(self, h, ret=False, depth=0):
        if depth > 12:
            return self.any("nested too deeply")
        if isinstance(h, _Unresolved):
            return self.any(h.why)
        if h is inspect.Parameter.empty:
            return None
        if h is typing.Any or h is object:
            return self.any("annotated Any")
        if h is None or h is type(None):
            return {"k": "none"}
        if h is bool:
            return {"k": "bool"}
        if h is int:
            return {"k": "int"}
        if h is float:
            return {"k": "float"}
        if h is str:
            return {"k": "str"}
        if h in (bytes, bytearray):
            return {"k": "bytes"}
        if isinstance(h, str):
            return self.any("annotation %r is a string that was not evaluated" % h)
        origin, args = typing.get_origin(h), typing.get_args(h)
        m = lambda a: self.tmap(a, False, depth + 1) or self.any("unannotated")
        if origin is typing.Union or type(h).__name__ == "UnionType":
            rest = [a for a in args if a is not type(None)]
            if len(rest) < len(args) and len(rest) == 1:
                return {"k": "opt", "of": m(rest[0])}
            return self.any("union %s has no Go type" % _name(h))
        if origin is typing.Literal if hasattr(typing, "Literal") else False:
            if all(isinstance(a, str) for a in args):
                return {"k": "literal", "base": "str", "values": list(args)}
            if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
                return {"k": "literal", "base": "int", "values": list(args)}
            return self.any("Literal of mixed types %s" % _name(h))
        if origin in (list, cabc.Sequence, cabc.MutableSequence) or (origin is cabc.Iterable and not ret):
            return {"k": "list", "of": m(args[0]) if args else self.any("unparameterized")}
        if origin in (set, frozenset, cabc.Set, cabc.MutableSet):
            return {"k": "list", "of": m(args[0]) if args else self.any("unparameterized"), "set": True}
        if origin in (dict, cabc.Mapping, cabc.MutableMapping):
            if len(args) != 2:
                return {"k": "dict", "key": {"k": "str"}, "val": self.any("unparameterized")}
            key = m(args[0])
            if key["k"] not in ("str", "int", "float", "bool"):
                return self.any("dict keys of %s have no comparable Go type" % _name(args[0]))
            return {"k": "dict", "key": key, "val": m(args[1])}
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"k": "list", "of": m(args[0])}
            if not args or args == ((),):
                return {"k": "list", "of": self.any("empty tuple")}
            return {"k": "tuple", "items": [m(a) for a in args]}
        if origin in (cabc.Iterator, cabc.Generator, cabc.Iterable):
            return {"k": "iter", "of": m(args[0]) if args else self.any("unparameterized")}
        if origin in (cabc.AsyncIterator, cabc.AsyncGenerator, cabc.AsyncIterable):
            return self.any("async iterators are not mapped (use Object.Items)")
        if origin is cabc.Callable:
            return self.any("callables are not mapped")
        dt = _nd_dtype(h)
        if dt is not None:
            if dt in ("float64", "float32", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"):
                return {"k": "ndarray", "dtype": dt}
            return self.any("numpy dtype %s has no Go slice type" % dt)
        if _is_nd(h):
            return self.any("numpy array without a dtype annotation")
        if isinstance(h, type) and _is_struct(h):
            return self.struct(h, depth)
        if isinstance(h, type) and getattr(self.mod, h.__name__, None) is h and not issubclass(h, BaseException):
            self.classes.add(h.__name__)
            return {"k": "class", "name": h.__name__}
        if isinstance(h, typing.TypeVar):
            return self.any("type variable %s" % h.__name__)
        return self.any("%s has no Go mapping" % _name(h))

    def struct(self, h, depth):
        key = "%s.%s" % (h.__module__, h.__qualname__)
        if key not in self.structs:
            kind = "dataclass" if dataclasses.is_dataclass(h) else "namedtuple" if _is_namedtuple(h) else "typeddict"
            d = {"name": h.__name__, "qual": key, "kind": kind, "doc": _doc(h), "fields": []}
            self.structs[key] = d
            hints = _struct_hints(h)
            names = list(hints)
            if kind == "namedtuple":
                names = list(h._fields)
            elif kind == "dataclass":
                names = [f.name for f in dataclasses.fields(h)]
            for n in names:
                t = self.tmap(hints.get(n, inspect.Parameter.empty), False, depth + 1) or self.any("unannotated")
                d["fields"].append({"name": n, "type": t})
        return {"k": "struct", "qual": key}

    def func(self, obj, name, qual, method=False):
        d = {"name": name, "qual": qual, "doc": _doc(obj), "sig": sigtext(obj), "params": [], "notes": []}
        d["async"] = inspect.iscoroutinefunction(obj)
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError) as e:
            d["error"] = "inspect.signature failed: %s" % e
            return d
        hints = hints_of(obj, d["notes"])
        for p in sig.parameters.values():
            h = hints.get(p.name, p.annotation if not isinstance(p.annotation, str) else inspect.Parameter.empty)
            t = self.tmap(h)
            pd = {"name": p.name, "kind": p.kind.name, "default": p.default is not p.empty}
            if t is None:
                dv = p.default
                if p.default is not p.empty and type(dv) in (bool, int, float, str):
                    t = self.tmap(type(dv))
                    pd["note"] = "unannotated; type from the default %r" % (dv,)
                else:
                    t = self.any("unannotated")
            pd["type"] = t
            d["params"].append(pd)
        rh = hints.get("return", inspect.Parameter.empty)
        if rh is inspect.Parameter.empty and sig.return_annotation is not sig.empty and not isinstance(sig.return_annotation, str):
            rh = sig.return_annotation
        if inspect.isasyncgenfunction(obj):
            d["ret"] = self.any("async generator functions are not mapped (use Object.Items on the result)")
        else:
            d["ret"] = self.tmap(rh, ret=True) or self.any("unannotated result")
            if inspect.isgeneratorfunction(obj) and d["ret"]["k"] != "iter":
                d["ret"] = {"k": "iter", "of": self.any("generator without an Iterator/Generator annotation")}
        return d

    def klass(self, cls, name):
        d = {"name": name, "qual": name, "doc": _doc(cls), "methods": []}
        d["init"] = self.func(cls, name, name)
        for mname in sorted(dir(cls)):
            if mname.startswith("_"):
                continue
            raw = inspect.getattr_static(cls, mname)
            owner = next((c for c in cls.__mro__ if mname in vars(c)), None)
            if owner in (object, dict, list, tuple, Exception, BaseException) or owner is None:
                continue
            if isinstance(raw, (staticmethod, classmethod)):
                raw = getattr(cls, mname)
            elif not inspect.isfunction(raw):
                continue
            if isinstance(inspect.getattr_static(cls, mname), (staticmethod, classmethod)):
                fn = getattr(cls, mname)
            else:
                fn = getattr(cls, mname)
            md = self.func(fn, mname, name + "." + mname, method=True)
            if md["params"] and not isinstance(inspect.getattr_static(cls, mname), (staticmethod, classmethod)):
                md["params"] = md["params"][1:]  # self
            d["methods"].append(md)
        return d

    def describe(self):
        mod = self.mod
        names = getattr(mod, "__all__", None)
        explicit = names is not None
        if names is None:
            names = [n for n in vars(mod) if not n.startswith("_")]
        items, skipped = [], []
        for n in names:
            obj = getattr(mod, n, None)
            owner = getattr(obj, "__module__", None) or ""
            if not explicit and owner != mod.__name__ and not (
                    hasattr(mod, "__path__") and owner.startswith(mod.__name__ + ".")):
                continue  # imported, not defined here (or in the package's own modules)
            if inspect.isclass(obj):
                if issubclass(obj, BaseException):
                    skipped.append({"name": n, "why": "exception class (errors match *pyrt.PythonError)"})
                elif _is_struct(obj):
                    self.struct(obj, 0)
                else:
                    self.classes.add(n)
                    items.append(("class", obj, n))
            elif callable(obj):
                items.append(("func", obj, n))
            elif not inspect.ismodule(obj):
                skipped.append({"name": n, "why": "a %s value, not a function or class" % type(obj).__name__})
        funcs, classes = [], []
        for kind, obj, n in items:
            if kind == "func":
                funcs.append(self.func(obj, n, n))
            else:
                classes.append(self.klass(obj, n))
        return {"module": mod.__name__, "doc": _doc(mod), "python": sys.version.split()[0],
                "funcs": funcs, "classes": classes, "structs": list(self.structs.values()), "skipped": skipped}


def _origin(h):
    # numpy's own generic alias (numpy < 2 on Python 3.8) is unknown to typing.get_origin.
    return typing.get_origin(h) or getattr(h, "__origin__", None)


def _args(h):
    return typing.get_args(h) or tuple(getattr(h, "__args__", None) or ())


def _nd_dtype(h):
    if not _is_nd(h):
        return None
    args = _args(h)
    if getattr(_origin(h), "__name__", "") == "NDArray":  # numpy >= 2.3: a type alias
        return args[0].__name__ if args and isinstance(args[0], type) else None
    if len(args) == 2:
        dargs = _args(args[1])
        if dargs and isinstance(dargs[0], type):
            return dargs[0].__name__
    return None


def _is_nd(h):
    np = sys.modules.get("numpy")
    if np is None:
        return False
    o = _origin(h)
    return h is np.ndarray or o is np.ndarray or (getattr(o, "__name__", "") == "NDArray" and "numpy" in str(getattr(o, "__module__", "")))


def _name(h):
    return getattr(h, "__name__", None) or repr(h)


def _doc(obj):
    d = inspect.getdoc(obj) if not isinstance(obj, type) or "__doc__" in vars(obj) else None
    return d or ""


def load(name_or_path):
    if name_or_path.endswith((".py", ".pyi")):
        import os
        modname = os.path.splitext(os.path.basename(name_or_path))[0]
        if name_or_path.endswith(".pyi"):
            from importlib.machinery import SourceFileLoader
            loader = SourceFileLoader(modname, name_or_path)
            spec = importlib.util.spec_from_loader(modname, loader)
        else:
            spec = importlib.util.spec_from_file_location(modname, name_or_path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        return mod
    return importlib.import_module(name_or_path)


def describe(name_or_path):
    return json.dumps(Describer(load(name_or_path)).describe())

#!/usr/bin/env python3
"""Finds dependency cycles among pyrt's source files (part of the lint gate, scripts/lint.sh).

A node is one file under src/ (src/python/handles.rs is `python::handles`, src/python/mod.rs is
`python`). File A depends on file B when A names an item B defines: through a `use` path
(`use crate::…`, `use super::…`, `use self::…`) or a path written in the code
(`super::buffer::Export`, `crate::error::Result`, or `handles::drain` after `use
crate::python::handles`). Re-exports are followed to the file that defines the item: `pub use
gil::Python` in python/mod.rs makes `super::Python` a dependency on python::gil, and is itself no
dependency of mod.rs (re-exporting anything but a descendant's item is). `mod` declarations are
not dependencies (a parent always declares its children).

Every strongly connected component with more than one file is a cycle: the script prints each
(with the references that close it) and exits 1, unless it is listed in ALLOWED below with the
reason it stays for now. Not seen: macros called by a bare name and `Self`/method paths (a method
needs its type, whose name is seen). Standard library only; runs in well under a second.

    scripts/check-cycles.py [--graph] [SRC_DIR]
"""

import os
import re
import sys

# Cycles accepted for now, each with the reason; the check fails on any other cycle, and on an
# entry here that is no longer a cycle (delete it then, so that the cycle cannot come back).
ALLOWED = {
    frozenset({"python::convert::tags", "python::convert::write"}): "the tagged encoders write through "
    "convert::Writer, which dispatches to them (mutual recursion: a set's items are values); to be "
    "broken by a small sink trait in tags that Writer implements",
}

TOKEN = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<line_comment>//[^\n]*)
    | (?P<block_comment>/\*)
    | (?P<raw_string>(?:br|cr|r)(?P<hashes>\#*)")
    | (?P<string>(?:b|c)?"(?:\\.|[^"\\])*")
    | (?P<char>b?'(?:\\.|[^'\\])')
    | (?P<lifetime>'[A-Za-z_][A-Za-z0-9_]*)
    | (?P<ident>r\#[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*)
    | (?P<path_sep>::)
    | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokens(text):
    """Identifiers, `::` and single punctuation characters, with their line numbers; comments,
    strings and character literals dropped."""
    out = []
    pos, line = 0, 1
    n = len(text)
    while pos < n:
        m = TOKEN.match(text, pos)
        kind = m.lastgroup if m.lastgroup != "hashes" else "raw_string"
        if m.group("raw_string") is not None:
            kind = "raw_string"
        end = m.end()
        if kind == "block_comment":  # nested /* */
            depth, end = 1, pos + 2
            while depth and end < n:
                if text.startswith("/*", end):
                    depth, end = depth + 1, end + 2
                elif text.startswith("*/", end):
                    depth, end = depth - 1, end + 2
                else:
                    end += 1
        elif kind == "raw_string":
            close = '"' + m.group("hashes")
            found = text.find(close, end)
            end = n if found < 0 else found + len(close)
        elif kind == "ident":
            out.append((m.group(), line))
        elif kind in ("path_sep", "punct"):
            out.append((m.group(), line))
        line += text.count("\n", pos, end)
        pos = end
    return out


def module_of(rel):
    """`python/handles.rs` -> ('python', 'handles'); `python/mod.rs` -> ('python',); `lib.rs` -> ()."""
    parts = rel[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main") and (parts[-1] != "lib" or len(parts) == 1):
        parts = parts[:-1]
    return tuple(parts)


class File:
    def __init__(self, rel, text, modules):
        self.rel = rel
        self.modules = modules  # every file's module path
        self.module = module_of(rel)
        self.toks = tokens(text)
        # (path, line, is_pub_use): every use-tree leaf and every path written in the code, as
        # absolute segment tuples (relative to the crate root), before resolution.
        self.refs = []
        self.reexports = {}  # name -> absolute path, from `pub use`
        self.parse()

    def parse(self):
        toks = self.toks
        stack = [(self.module, None)]  # (module path, brace depth where an inline mod opened)
        aliases = [{}]  # per module scope: name -> absolute path, from `use`
        depth = 0
        i = 0
        n = len(toks)
        while i < n:
            t, line = toks[i]
            if t == "{":
                depth += 1
            elif t == "}":
                depth -= 1
                if stack[-1][1] == depth:
                    stack.pop()
                    aliases.pop()
            elif t == "mod" and i + 2 < n and toks[i + 2][0] == "{":
                stack.append((stack[-1][0] + (toks[i + 1][0],), depth))
                aliases.append({})
                depth += 1
                i += 3
                continue
            elif t == "use" and (i == 0 or toks[i - 1][0] not in ("::",)):
                is_pub = self.visibility_before(i)
                j, leaves = self.use_tree(i + 1, ())
                for path, alias, ln in leaves:
                    absolute = self.absolute(path, stack[-1][0], aliases[-1])
                    if absolute is None:
                        continue
                    self.refs.append((absolute, ln, is_pub))
                    if alias and alias != "_":
                        aliases[-1][alias] = absolute
                        if is_pub and len(stack) == 1:
                            self.reexports[alias] = absolute
                i = j
                continue
            elif t not in ("::",) and (t.isidentifier() or t.startswith("r#")) and i + 1 < n and toks[i + 1][0] == "::":
                if i > 0 and toks[i - 1][0] == "::":
                    i += 1
                    continue
                path = [t]
                j = i + 1
                while j + 1 < n and toks[j][0] == "::" and toks[j + 1][0].isidentifier():
                    path.append(toks[j + 1][0])
                    j += 2
                if j < n and toks[j][0] == "::":  # `Vec::<T>` or `foo::{...}` in a macro: stop
                    j += 1
                absolute = self.absolute(tuple(path), stack[-1][0], aliases[-1])
                if absolute is not None:
                    self.refs.append((absolute, line, False))
                i = j
                continue
            i += 1

    def visibility_before(self, i):
        toks = self.toks
        if i >= 1 and toks[i - 1][0] == "pub":
            return True
        if i >= 1 and toks[i - 1][0] == ")":  # pub(crate) / pub(super) / pub(in …)
            k = i - 1
            while k > 0 and toks[k][0] != "(":
                k -= 1
            return k >= 1 and toks[k - 1][0] == "pub"
        return False

    def use_tree(self, i, prefix):
        """Parses a use tree at token i; returns (index after the `;` or the tree, leaves), each
        leaf (path, alias, line)."""
        toks = self.toks
        path = list(prefix)
        leaves = []
        line = toks[i][1] if i < len(toks) else 0
        while i < len(toks):
            t, line = toks[i]
            if t == "{":
                i += 1
                while i < len(toks) and toks[i][0] != "}":
                    i, sub = self.use_tree(i, tuple(path))
                    leaves.extend(sub)
                    if i < len(toks) and toks[i][0] == ",":
                        i += 1
                i += 1  # the `}`
                break
            if t == "*":
                leaves.append((tuple(path), None, line))
                i += 1
                break
            if t == "self":
                leaves.append((tuple(path), path[-1] if path else None, line))
                i += 1
                if i + 1 < len(toks) and toks[i][0] == "as":
                    leaves[-1] = (tuple(path), toks[i + 1][0], line)
                    i += 2
                break
            if t == "::":
                i += 1
                continue
            if t in (";", ",", "}"):
                break
            path.append(t)
            i += 1
            if i < len(toks) and toks[i][0] == "as":
                leaves.append((tuple(path), toks[i + 1][0], line))
                i += 2
                break
            if i >= len(toks) or toks[i][0] != "::":
                leaves.append((tuple(path), path[-1], line))
                break
        if not prefix and i < len(toks) and toks[i][0] == ";":
            i += 1
        return i, leaves

    def absolute(self, path, here, aliases):
        """The path from the crate root, or None when it leaves the crate (std::, libc::, …)."""
        if not path:
            return None
        head = path[0]
        if head == "crate":
            return tuple(path[1:])
        if head in ("super", "self"):
            base = list(here)
            k = 0
            while k < len(path) and path[k] in ("super", "self"):
                if path[k] == "super":
                    if not base:
                        return None
                    base.pop()
                k += 1
            return tuple(base) + tuple(path[k:])
        if head in aliases:
            return aliases[head] + tuple(path[1:])
        if here + (head,) in self.modules:  # a child module: `use gil::Python` in python/mod.rs
            return here + tuple(path)
        return None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show_graph = "--graph" in sys.argv[1:]
    src = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    paths = []
    for root, _, names in os.walk(src):
        paths += [os.path.relpath(os.path.join(root, n), src) for n in sorted(names) if n.endswith(".rs")]
    modules = {module_of(rel) for rel in paths}
    files = {}
    for rel in sorted(paths):
        with open(os.path.join(src, rel), encoding="utf-8") as f:
            file = File(rel, f.read(), modules)
        files[file.module] = file

    def resolve(path, seen=()):
        """The file that defines what `path` names (following re-exports), or None."""
        k = len(path)
        while k > 0 and path[:k] not in files:
            k -= 1
        owner = path[:k]
        if owner not in files:
            return None
        rest = path[k:]
        if rest and rest[0] in files[owner].reexports and (owner, rest[0]) not in seen:
            target = files[owner].reexports[rest[0]] + rest[1:]
            found = resolve(target, seen + ((owner, rest[0]),))
            if found is not None:
                return found
        return owner

    edges = {m: {} for m in files}  # from -> to -> [line, ...]
    for module, file in files.items():
        for path, line, is_pub in file.refs:
            if is_pub and path[: len(module)] == module:
                continue  # re-exporting a descendant's item (a facade) is an alias, not a use
            target = resolve(path)
            if target is None or target == module:
                continue
            # A path into a child or parent module file (`super::api()`, `gil::with_gil` from
            # mod.rs) is a real dependency; only `mod` declarations are not (never parsed as paths).
            edges[module].setdefault(target, []).append(line)

    def name(m):
        return "::".join(m) or "crate"

    if show_graph:
        for m in sorted(edges):
            for t in sorted(edges[m]):
                print(f"{name(m)} -> {name(t)}")

    # Tarjan's strongly connected components (iterative).
    index, low, on_stack, stack, sccs = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                scc = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    scc.append(m)
                    if m == node:
                        break
                if len(scc) > 1:
                    sccs.append(sorted(scc))

    found = {frozenset(name(m) for m in scc) for scc in sccs}
    for cycle in sorted(ALLOWED, key=sorted):
        state = "present" if cycle in found else "GONE: delete its ALLOWED entry"
        print("allowed cycle {" + ", ".join(sorted(cycle)) + f"}} ({state}): {ALLOWED[cycle]}")
    stale = [c for c in ALLOWED if c not in found]
    sccs = [scc for scc in sccs if frozenset(name(m) for m in scc) not in ALLOWED]
    if not sccs:
        deps = sum(len(t) for t in edges.values())
        print(f"no other dependency cycles among {len(files)} source files ({deps} file-to-file dependencies)")
        return 1 if stale else 0
    print(f"{len(sccs)} dependency cycle(s) among src/ files:")
    for scc in sorted(sccs):
        print("  {" + ", ".join(name(m) for m in scc) + "}")
        members = set(scc)
        for m in scc:
            for t in sorted(edges[m]):
                if t in members:
                    lines = ", ".join(str(x) for x in sorted(set(edges[m][t]))[:6])
                    print(f"      {name(m)} -> {name(t)}  (src/{files[m].rel} line {lines})")
    return 1


if __name__ == "__main__":
    sys.exit(main())

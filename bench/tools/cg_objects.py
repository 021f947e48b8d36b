#!/usr/bin/env python3
"""Self instruction counts per shared object (and optionally per function) from a callgrind
output file, divided by a number of calls: where a hot path's instructions go.

    cg_objects.py callgrind.out CALLS [--functions N]
"""
import re
import sys
from collections import defaultdict


def main():
    path, calls = sys.argv[1], float(sys.argv[2])
    nfun = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--functions" else 0
    names = {"ob": {}, "fn": {}, "fl": {}}
    ob = fn = None
    skip_next = False
    per_ob = defaultdict(int)
    per_fn = defaultdict(int)
    pat = re.compile(r"^(c?ob|c?fn|c?fl|fi|fe)=\((\d+)\)(?: (.*))?$")
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = pat.match(line)
        if m:
            kind, ident, name = m.groups()
            base = kind.lstrip("c")
            base = "fl" if base in ("fi", "fe") else base
            if name is not None:
                names[base][ident] = name
            if kind == "ob":
                ob = names["ob"].get(ident)
            elif kind == "fn":
                fn = names["fn"].get(ident)
            continue
        if line.startswith("calls="):
            skip_next = True
            continue
        if line and (line[0].isdigit() or line[0] in "+-*"):
            if skip_next:
                skip_next = False
                continue
            parts = line.split()
            if len(parts) >= 2:
                c = int(parts[1])
                per_ob[ob] += c
                per_fn[(ob, fn)] += c
    total = sum(per_ob.values())
    for o, c in sorted(per_ob.items(), key=lambda x: -x[1]):
        if c / calls >= 0.5:
            print(f"{c / calls:8.1f}  {o}")
    print(f"{total / calls:8.1f}  total")
    if nfun:
        print()
        for (o, f), c in sorted(per_fn.items(), key=lambda x: -x[1])[:nfun]:
            print(f"{c / calls:8.1f}  {f}  [{(o or '').rsplit('/', 1)[-1]}]")


main()

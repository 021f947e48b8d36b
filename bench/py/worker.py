"""SUBPROCESS baseline: a long-lived worker answering JSON-lines requests on stdin.

Request:  {"module": "math", "function": "sqrt", "args": [16.0]}
Answer:   {"result": 4.0}   or   {"error": "ValueError: ..."}

This is what programs use instead of embedding: one python3 process kept running, driven
through pipes. Functions are looked up once per (module, function) and cached, as a careful
worker would do.
"""
import importlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    cache = {}
    out = sys.stdout
    for line in sys.stdin:
        try:
            req = json.loads(line)
            key = (req["module"], req["function"])
            fn = cache.get(key)
            if fn is None:
                fn = getattr(importlib.import_module(key[0]), key[1])
                cache[key] = fn
            answer = {"result": fn(*req.get("args", []))}
        except Exception as e:  # report, keep serving
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        out.write(json.dumps(answer, separators=(",", ":")))
        out.write("\n")
        out.flush()


if __name__ == "__main__":
    main()

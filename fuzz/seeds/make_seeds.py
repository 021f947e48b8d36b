#!/usr/bin/env python3
"""Writes the committed seed corpus of pyrt's fuzz targets (fuzz/seeds/<target>/).

Run from anywhere: python3 fuzz/seeds/make_seeds.py. The files are committed; re-running
rewrites them identically. Framing (fuzz/src/lib.rs `ops`): operations separated by 0x1D; byte 0
of each picks the function, byte 1 the flags, then fields separated by 0x1E ("-" = NULL).
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GS, RS = b"\x1d", b"\x1e"


def op(code, flags=0, *fields):
    return bytes([code, flags]) + RS.join(f if isinstance(f, bytes) else f.encode() for f in fields)


def write(target, seeds):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    for old in os.listdir(d):
        os.remove(os.path.join(d, old))
    for s in seeds:
        name = hashlib.sha1(s).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)


# ---- json_roundtrip: byte 0 bit 0 = tagged, then the JSON text
plain = [
    "null", "true", "false", "0", "-0", "-0.0", "1.5", "1e300", "5e-324", "1E400", "123456789012345678901234567890",
    '""', '"a\\u0000b"', '"\\ud83d\\ude00"', '"\\ud800"', '"\u00e9\u4e2d"', "[]", "{}", "[1,[2,[3]]]",
    '{"a":1,"a":2}', '{"k":[null,true,{"x":"y"}]}', "[" * 999 + "]" * 999, "[" * 1001 + "]" * 1001,
    '{"__pyrt__":"bytes","v":"AA=="}', " [1 , 2 ] ", "[1,]", "01", "\"\\x\"", "nan", "[1e-400]",
]
tagged = [
    '{"__pyrt__":"bytes","v":"AP8="}', '{"__pyrt__":"bytearray","v":""}', '{"__pyrt__":"tuple","v":[1,"a"]}',
    '{"__pyrt__":"set","v":[1,2,3]}', '{"__pyrt__":"frozenset","v":["x",{"__pyrt__":"float","v":"nan"}]}',
    '{"__pyrt__":"float","v":"-inf"}', '{"__pyrt__":"complex","v":[1.5,"nan"]}',
    '{"__pyrt__":"dict","v":[[{"__pyrt__":"tuple","v":[1,2]},"t"],[3,4]]}',
    '{"__pyrt__":"datetime","v":"2024-01-02T03:04:05.123456+05:30"}', '{"__pyrt__":"date","v":"0001-01-01"}',
    '{"__pyrt__":"time","v":"23:59:59.999999"}', '{"__pyrt__":"timedelta","v":[-1,86399,999999]}',
    '{"__pyrt__":"decimal","v":"-0E-1000"}', '{"__pyrt__":"decimal","v":"sNaN"}', '{"__pyrt__":"object","v":1}',
    '{"__pyrt__":"nope","v":1}', '{"__pyrt__":"bytes","v":"!!"}', '{"__pyrt__":"set","v":[[1]]}',
    '{"__pyrt__":"datetime","v":"9999-12-31T23:59:59-23:59"}', '{"__pyrt__":"tuple"}',
    '[{"__pyrt__":"tuple","v":[]},{"__pyrt__":"dict","v":[]}]',
]
write("json_roundtrip", [b"\x00" + s.encode() for s in plain] + [b"\x01" + s.encode() for s in tagged + plain[:8]])

# ---- capi: 0 run, 1 eval_json, 2 eval_object, 3 call_json, 4 call_value, 5 call_object,
#            6 import, 7 new(config), 8 run_file(missing), 9 bogus/NULL, 10 info/status_name
capi = [
    op(0, 0, "x = 1\ny = x + 2\n"), op(0, 0, "1/0"), op(0, 0, "raise SystemExit(3)"), op(0, 0, "raise KeyboardInterrupt"),
    op(0, 0, "def f(:\n"), op(0, 0, b"x = '\xff'"), op(0, 0, "x = [1]\nx.append(x)") + GS + op(1, 0, "x"),
    op(0, 0, "import os\nos._exit(1)"), op(0, 0, "while True: pass"),
    op(1, 0, "1 + 1"), op(1, 0, "{'a': [1, 2.5, None]}"), op(1, 0, "float('nan')"), op(1, 0, "b'x'"),
    op(1, 0, "9**9**9"), op(1, 0, "1) , (2"), op(2, 0, "[1, 2]"), op(2, 0, "set()"),
    op(3, 0, "pyrt_fuzz", "echo", "[1, \"a\", [null]]", '{"k": 2}'), op(3, 0, "pyrt_fuzz", "fail", "[3, \"boom\"]", "-"),
    op(3, 0, "pyrt_fuzz", "recurse", "-", "-"), op(3, 0, "pyrt_fuzz", "odd", "[5]", "-"),
    op(3, 0, "pyrt_fuzz", "nested", "[1200]", "-"), op(3, 0, "pyrt_fuzz", "selfref", "-", "-"),
    op(3, 0, "os", "system", '["true"]', "-"), op(3, 0, "", "", "-", "-"), op(3, 0, "pyrt_fuzz", "Box.get", "[]", "-"),
    op(3, 0, "pyrt_fuzz", "echo", "[1", "-"), op(3, 0, "pyrt_fuzz", "echo", "{}", "[]"), op(3, 0, "__main__", "__builtins__.exec", '["1"]', "-"),
    op(4, 1, "pyrt_fuzz:odd", "[0]", "-"), op(4, 3, "pyrt_fuzz:odd", "[20]", "-"), op(4, 1, "pyrt_fuzz:echo", '[{"__pyrt__":"set","v":[1]}]', "-"),
    op(4, 0x84, "pyrt_fuzz:echo", "[]", "-"), op(4, 0, "nocolon", "-", "-"), op(4, 0, "pyrt_fuzz:", "-", "-"),
    op(5, 0, "pyrt_fuzz:Box", "[5]", "-"), op(5, 2, "pyrt_fuzz:odd", "[21]", "-"),
    op(6, 0, "pyrt_fuzz"), op(6, 0, "os.path"), op(6, 0, ""), op(6, 0, b"\xc3\x28"),
    op(7, 0, "{}"), op(7, 0, "-"), op(7, 0, '{"unknown": 1}'), op(7, 0, '{"libpython": "/nonexistent/libpython3.99.so"}'),
    op(7, 0, '{"argv": ["a"]}'), op(7, 0, "[1]"), op(7, 0, '{"use_environment": true}'),
    op(8, 0, "x.py"), op(8, 0, "../../etc/passwd"), op(9, 0, "\x00\x00\x79\x70\x00\x00\x00\x00"), op(9, 0, "\x01"),
    op(10, 0xff), op(10, 11),
]
write("capi", capi)

# ---- objects: 0 from_json, 1 call pyrt_fuzz:<f>, 2 import, 3 to_json, 4 getattr, 5 setattr,
#               6 call method, 7 repr/str, 8 free, 9 bogus id, 10 typed call, 11 tagged ref,
#               12 object through a second runtime, 13 free that runtime
S0, S1, S2 = b"\x00", b"\x01", b"\x02"
objects = [
    op(0, 0, "[3, 1, 2]") + GS + op(6, 0, S0, "sort", "[]", '{"reverse": true}') + GS + op(3, 0, S0),
    op(2, 0, "pyrt_fuzz") + GS + op(4, 0x80, S0, "Box") + GS + op(6, 0x80, S1, "-", "[7]", "-") + GS + op(6, 0, S2, "get", "[]", "-"),
    op(1, 0, "Box", "[1]") + GS + op(5, 0, S0, "v", '{"__pyrt__":"tuple","v":[1]}') + GS + op(4, 1, S0, "v"),
    op(1, 0, "odd", "[21]") + GS + op(7, 0, S0) + GS + op(7, 1, S0) + GS + op(3, 3, S0),
    op(1, 0, "BadDel", "[]") + GS + op(8, 0, S0) + GS + op(3, 0, S0) + GS + op(8, 0, S0),
    op(0, 1, '{"__pyrt__":"bytes","v":"AP8="}') + GS + op(6, 0, S0, "hex", "[]", "-") + GS + op(11, 0, S0),
    op(1, 0, "fdouble", "-") + GS + op(10, 0, S0, b"\x01" + struct.pack("<d", 2.5)) + GS + op(10, 1, S0, b"\x00\x05\x00\x00\x00\x00\x00\x00\x00"),
    op(1, 0, "echo", "-") + GS + op(10, 2, S0, b"\x04\x03abc\x05\x02\x00\xff\x06\x00\x03\x02\x01") + GS + op(10, 3, S0, b"\x04\x02\xc3\x28"),
    op(9, 0, "\x00\x00\x62\x6f\x00\x00\x00\x00") + GS + op(9, 0, "\x08\x00\x62\x6f"),
    op(12, 0) + GS + op(13, 0) + GS + op(3, 0, S0) + GS + op(6, 0, S0, "get", "[]", "-"),
    op(1, 0, "nested", "[1001]") + GS + op(3, 0, S0) + GS + op(1, 0, "selfref", "[]") + GS + op(3, 1, S1),
    op(1, 0, "odd", "[7]") + GS + op(3, 2, S0) + GS + op(8, 0, S0) + GS + op(11, 0, S0),
    op(0, 0, '"text"') + GS + op(6, 0, S0, "encode", '["utf-16"]', "-") + GS + op(6, 0, S0, "__class__", "-", "-"),
    op(1, 0, "fail", "[6]") + GS + op(1, 0, "recurse", "[]") + GS + op(1, 0, "odd", "[33]") + GS + op(7, 0, S0),
    op(2, 0, "os") + GS + op(2, 0, "pyrt_fuzz") + GS + op(4, 0, S0, "_setup") + GS + op(4, 0, S0, b"\xff"),
]
write("objects", objects)
print("seeds written")

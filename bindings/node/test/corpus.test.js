'use strict';
// The shared value corpus, tests/corpus/values.json (docs/values.md), through the Node codec and
// a real runtime. For every case:
//   (a) the codec decodes `tagged` to a JS value that it encodes back to the same JSON (compared
//       as parsed trees with exact numbers: ints as BigInt, floats as floats, -0.0 kept);
//   (b) evaluating `python` and reading the value through the tagged API (rt.eval) gives the same
//       JS value as decoding `tagged`;
//   (c) that JS value sent back to Python is equal to eval(python), with the same type (checked
//       in Python, recursively: floats by value and sign, NaN equal to NaN).
//
// Exempt, in part: JS has one number type, so a float with an integral value (4.0) decodes to
// the JS number 4, and a JS number with an integral value is sent as an int (4), as it must be
// for the int 4. Such a float cannot come back as a float. For a case holding one (today only
// "integral float"), (a) expects the int of the same value in its place and (c) accepts an int
// equal to the float; (b) is unaffected. Floats that JS writes with a fraction or an exponent
// (0.1, 1e+300, 5e-324), and -0.0, round-trip exactly, and so do the parts of a complex.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { isDeepStrictEqual } = require('node:util');
const { Runtime, _internal } = require('..');

// ---- JSON with exact numbers ----------------------------------------------------------------------

/** A JSON number written as a float (with a fraction or an exponent). */
class JsonFloat {
  constructor(value) {
    this.value = value;
  }
}

/** Parses JSON keeping the kind of each number: an int is a BigInt, a float a JsonFloat. */
function parseLossless(text) {
  let i = 0;
  const fail = (what) => {
    throw new SyntaxError(`${what} at offset ${i}`);
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (c) => {
    ws();
    if (text[i] !== c) fail(`expected ${c}`);
    i++;
  };
  const string = () => {
    const m = /"(?:[^"\\]|\\.)*"/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (!r) fail('bad string');
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
        expect(':');
        Object.defineProperty(obj, k, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') { i++; continue; }
        expect('}');
        return obj;
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
        if (text[i] === ',') { i++; continue; }
        expect(']');
        return arr;
      }
    }
    if (c === '"') return string();
    for (const [word, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(word, i)) { i += word.length; return v; }
    }
    const m = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    m.lastIndex = i;
    const r = m.exec(text);
    if (!r) fail('bad JSON value');
    i = m.lastIndex;
    return r[1] === undefined && r[2] === undefined ? BigInt(r[0]) : new JsonFloat(Number(r[0]));
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing data');
  return v;
}

/** JSON text of a parseLossless tree, its numbers written so that they keep their kind. */
function writeJson(node) {
  if (node instanceof JsonFloat) {
    if (Object.is(node.value, -0)) return '-0.0';
    const s = String(node.value);
    return /^-?\d+$/.test(s) ? `${s}.0` : s;
  }
  if (typeof node === 'bigint') return node.toString();
  if (Array.isArray(node)) return `[${node.map(writeJson).join(',')}]`;
  if (node !== null && typeof node === 'object') {
    return `{${Object.keys(node).map((k) => `${JSON.stringify(k)}:${writeJson(node[k])}`).join(',')}}`;
  }
  return JSON.stringify(node);
}

// A float the JS codec sends as an int: an integral value that String() writes as digits only.
const jsSendsAsInt = (f) => !Object.is(f, -0) && /^-?\d+$/.test(String(f));

/** The tree with each float that JS sends as an int replaced by that int (not in a complex tag). */
function asJsSends(node) {
  if (node instanceof JsonFloat) return jsSendsAsInt(node.value) ? BigInt(node.value) : node;
  if (Array.isArray(node)) return node.map(asJsSends);
  if (node === null || typeof node !== 'object') return node;
  if (node.__pyrt__ === 'complex') return node; // its parts are always floats, and encoded so
  const out = {};
  for (const k of Object.keys(node)) Object.defineProperty(out, k, { value: asJsSends(node[k]), enumerable: true, writable: true, configurable: true });
  return out;
}

// ---- the corpus ---------------------------------------------------------------------------------------

const corpusFile = path.join(__dirname, '..', '..', '..', 'tests', 'corpus', 'values.json');
const corpus = parseLossless(fs.readFileSync(corpusFile, 'utf8'));

// Compares a value that came from JS (a) with eval(expr) (b): True, or what differs.
const SAME_PY = `
import datetime as _dt, decimal as _decimal, math as _math

def _corpus_same(a, expr, int_for_float):
    return _corpus_cmp(a, eval(expr), int_for_float)

def _corpus_cmp(a, b, int_for_float):
    if int_for_float and type(a) is int and type(b) is float:
        return True if a == b else f"{a!r} != {b!r}"
    if type(a) is not type(b):
        return f"{a!r} is a {type(a).__name__}, expected the {type(b).__name__} {b!r}"
    if type(a) is float:
        if _math.isnan(a) and _math.isnan(b):
            return True
        ok = a == b and _math.copysign(1.0, a) == _math.copysign(1.0, b)
    elif type(a) is complex:
        r = _corpus_cmp(a.real, b.real, False)
        return r if r is not True else _corpus_cmp(a.imag, b.imag, False)
    elif type(a) in (list, tuple):
        if len(a) != len(b):
            return f"{a!r} != {b!r}"
        for x, y in zip(a, b):
            r = _corpus_cmp(x, y, int_for_float)
            if r is not True:
                return r
        return True
    elif type(a) is dict:
        if len(a) != len(b) or any(k not in a for k in b):
            return f"{a!r} != {b!r}"
        for k in b:
            r = _corpus_cmp(a[k], b[k], int_for_float)
            if r is not True:
                return r
        return True
    elif type(a) in (_dt.datetime, _dt.time, _decimal.Decimal):
        ok = repr(a) == repr(b)  # == ignores the UTC offset of equal instants, and 1.10 vs 1.1
    else:
        ok = a == b
    return True if ok else f"{a!r} != {b!r}"
`;

const rt = new Runtime();
rt.run(SAME_PY);
const same = rt.evalObject('_corpus_same');
test.after(() => {
  same.free();
  rt.close();
});

test('the corpus has cases', () => {
  assert.ok(Array.isArray(corpus.cases) && corpus.cases.length > 0);
});

for (const c of corpus.cases) {
  test(`corpus: ${c.name}`, () => {
    const exempt = !isDeepStrictEqual(asJsSends(c.tagged), c.tagged);
    const decoded = _internal.decode(writeJson(c.tagged));

    // (a) decode, then encode back
    const encoded = _internal.encode(decoded);
    assert.deepEqual(parseLossless(encoded), exempt ? asJsSends(c.tagged) : c.tagged,
      `(a) ${writeJson(c.tagged)} was encoded back as ${encoded}`);

    // (b) the value of the Python expression, read through the tagged API
    assert.deepEqual(rt.eval(c.python), decoded, `(b) ${c.python}`);

    // (c) the decoded value sent back to Python
    const r = same.call(decoded, c.python, exempt);
    assert.equal(r, true, `(c) ${c.python}: ${r}`);
  });
}

// A fast reader for the v2 infer body. JSON.parse of `{"inputs": [{…, "data": [256 numbers]}]}`
// builds a JS array of doubles that readData then copies into a Float32Array: on a batched server
// that parse is a large share of a request's cost. Here the body's structure is walked by hand,
// plain strings are sliced, other values go to JSON.parse as small slices, and a tensor's `data`
// (a flat array of numbers) is parsed in one pass straight into a Float32Array. It reads the body's
// UTF-8 bytes (indexing a Buffer is cheaper than charCodeAt, and the text is never decoded);
// strings and other values are decoded from their own slices (a slice ends at an ASCII byte, so it
// decodes to the same text as that part of the whole body).
//
// It gives exactly what JSON.parse + the float32 copy give, or nothing: an escape in a key, a
// repeated key, `__proto__`, a syntax error, NaN tokens, nested data… → Miss, and the
// caller takes the JSON.parse path (which also writes the error answers).

/**
 * A JSON body handed over unparsed: the server's parser gives it to routes marked
 * `config: { jsonText: true }`. The fast reader walks its bytes; `text` decodes it (UTF-8, as the
 * parser's string mode does) only for the JSON.parse path.
 */
export class JsonText {
  private decoded: string | undefined;
  constructor(readonly bytes: Buffer) {}
  get text(): string {
    return (this.decoded ??= this.bytes.toString('utf8'));
  }
}

/** Thrown when the fast path does not apply; the caller falls back to JSON.parse. */
export class Miss extends Error {}
const miss = (): never => {
  throw new Miss('v2 fast path does not apply');
};

/** A tensor's `data` array read as float32: what storing JSON.parse's numbers into a Float32Array gives. */
export class DataSpan {
  constructor(readonly values: Float32Array) {}
}

let scratch = new Float32Array(4096);

/**
 * Reads the flat array of JSON numbers at `i` (`[`): each element is the double JSON.parse gives
 * for it, or one that rounds to the same float32, stored into a Float32Array. Throws Miss for anything else (nested arrays, NaN tokens, bad syntax).
 */
function readFloats(s: Buffer, i: number): [DataSpan, number] {
  i++;
  let c = s[i]!;
  while (c === 32 || c === 10 || c === 13 || c === 9) c = s[++i]!;
  let k = 0;
  let buf = scratch;
  if (c === 93) return [new DataSpan(new Float32Array(0)), i + 1];
  for (;;) {
    const start = i;
    let neg = false;
    if (c === 45) {
      neg = true;
      c = s[++i]!;
    }
    // Mantissa digits as an integer m, exact while m ≤ 2^53 (every partial value is then exact).
    let m = 0;
    let digits = 0;
    if (c === 48) {
      c = s[++i]!;
      digits = 1;
    } else if (c >= 49 && c <= 57) {
      do {
        m = m * 10 + (c - 48);
        digits++;
        c = s[++i]!;
      } while (c >= 48 && c <= 57);
    } else miss();
    let e10 = 0;
    if (c === 46) {
      c = s[++i]!;
      if (!(c >= 48 && c <= 57)) miss();
      do {
        m = m * 10 + (c - 48);
        digits++;
        e10--;
        c = s[++i]!;
      } while (c >= 48 && c <= 57);
    }
    let slow = false;
    if (c === 101 || c === 69) {
      c = s[++i]!;
      let eneg = false;
      if (c === 43 || c === 45) {
        eneg = c === 45;
        c = s[++i]!;
      }
      if (!(c >= 48 && c <= 57)) miss();
      let e = 0;
      let ed = 0;
      do {
        e = e * 10 + (c - 48);
        ed++;
        c = s[++i]!;
      } while (c >= 48 && c <= 57);
      if (ed > 6) slow = true;
      e10 += eneg ? -e : e;
    }
    let v: number;
    if (slow || digits > 20 || e10 < -22 || e10 > 22) {
      v = Number(s.toString('latin1', start, i));
    } else {
      // m and 10^|e10| exact: one rounding, the correctly rounded double (Clinger's fast path).
      const d = e10 < 0 ? m / POW10[-e10]! : m * POW10[e10]!;
      if (m <= 9007199254740992) v = d;
      else {
        // m was rounded (at most 20 digits: relative error well under 2^-48): the float32 is
        // certain when both ends of a wider interval round to the same float32.
        const f = Math.fround(d);
        v = f === Math.fround(d * (1 - 2 ** -44)) && f === Math.fround(d * (1 + 2 ** -44)) ? f : Number(s.toString('latin1', neg ? start + 1 : start, i));
      }
      if (neg) v = -v;
    }
    if (k === buf.length) {
      const grown = new Float32Array(buf.length * 2);
      grown.set(buf);
      scratch = buf = grown;
    }
    buf[k++] = v; // the store rounds to float32
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s[++i]!;
    if (c === 44) {
      c = s[++i]!;
      while (c === 32 || c === 10 || c === 13 || c === 9) c = s[++i]!;
      continue;
    }
    if (c === 93) return [new DataSpan(buf.slice(0, k)), i + 1];
    miss();
  }
}

const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

function ws(s: Buffer, i: number): number {
  while (isWs(s[i]!)) i++;
  return i;
}

/** The end of the JSON value starting at `i` (its text is checked later by JSON.parse or DataSpan). */
function skip(s: Buffer, i: number): number {
  const c = s[i]!;
  if (c === 34) return skipString(s, i);
  if (c === 91 || c === 123) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s[j]!;
      if (d === 34) j = skipString(s, j) - 1;
      else if (d === 91 || d === 123) depth++;
      else if (d === 93 || d === 125) {
        if (--depth === 0) return j + 1;
      }
    }
    return miss();
  }
  let j = i;
  for (; j < s.length; j++) {
    const d = s[j]!;
    if (d === 44 || d === 93 || d === 125 || isWs(d)) break;
  }
  return j === i ? miss() : j;
}

function skipString(s: Buffer, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s[j]!;
    if (c === 92) j++;
    else if (c === 34) return j + 1;
  }
  return miss();
}

// The keys and values every v2 request repeats, as their own strings: equal bytes give the same text
// without decoding a slice.
const COMMON = ['inputs', 'name', 'shape', 'datatype', 'data', 'parameters', 'outputs', 'id', 'FP32', 'INT64'].map((k) => [k, Buffer.from(k)] as const);

/** The text of bytes a..b (no quotes, no escapes). */
function text(s: Buffer, a: number, b: number): string {
  const n = b - a;
  outer: for (const [k, bytes] of COMMON) {
    if (bytes.length !== n) continue;
    for (let x = 0; x < n; x++) if (s[a + x] !== bytes[x]) continue outer;
    return k;
  }
  return s.toString('utf8', a, b);
}

/** A flat array of small non-negative integers (a shape: `[1,256]`) as JSON.parse reads it; undefined for anything else. */
function intArray(s: Buffer, i: number): [number[], number] | undefined {
  const out: number[] = [];
  i = ws(s, i + 1);
  if (s[i]! === 93) return [out, i + 1];
  for (;;) {
    let c = s[i]!;
    if (!(c >= 48 && c <= 57)) return undefined;
    let v = c - 48;
    let digits = 1;
    c = s[++i]!;
    if (v === 0 && c >= 48 && c <= 57) return undefined; // a leading zero: JSON.parse rejects it
    while (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      if (++digits > 15) return undefined;
      c = s[++i]!;
    }
    out.push(v);
    i = ws(s, i);
    c = s[i]!;
    if (c === 93) return [out, i + 1];
    if (c !== 44) return undefined;
    i = ws(s, i + 1);
  }
}

function value(s: Buffer, i: number): [unknown, number] {
  const first = s[i]!;
  if (first === 34) {
    // A string without escapes is its own text.
    for (let j = i + 1; j < s.length; j++) {
      const c = s[j]!;
      if (c === 34) return [text(s, i + 1, j), j + 1];
      if (c === 92 || c < 32) break;
    }
  } else if (first === 91) {
    const ints = intArray(s, i);
    if (ints) return ints;
  }
  const end = skip(s, i);
  return [JSON.parse(s.toString('utf8', i, end)), end];
}

/** An object at `i` (`{`), each member's value read by `member`; returns it and the index after `}`. */
function object(s: Buffer, i: number, member: (key: string, at: number) => [unknown, number]): [Record<string, unknown>, number] {
  const out: Record<string, unknown> = {};
  i = ws(s, i + 1);
  if (s[i]! === 125) return [out, i + 1];
  for (;;) {
    if (s[i]! !== 34) miss();
    let j = i + 1;
    for (;; j++) {
      if (j >= s.length) miss();
      const c = s[j]!;
      if (c === 34) break;
      if (c === 92 || c < 32) miss();
    }
    const key = text(s, i + 1, j);
    if (key === '__proto__' || Object.hasOwn(out, key)) miss();
    i = ws(s, j + 1);
    if (s[i]! !== 58) miss();
    i = ws(s, i + 1);
    const [v, end] = member(key, i);
    out[key] = v;
    i = ws(s, end);
    const c = s[i]!;
    if (c === 125) return [out, i + 1];
    if (c !== 44) miss();
    i = ws(s, i + 1);
  }
}

function tensor(s: Buffer, i: number): [unknown, number] {
  if (s[i]! !== 123) return value(s, i);
  return object(s, i, (key, at) => {
    if (key === 'data' && s[at]! === 91) return readFloats(s, at);
    return value(s, at);
  });
}

function inputs(s: Buffer, i: number): [unknown, number] {
  if (s[i]! !== 91) return value(s, i);
  const out: unknown[] = [];
  i = ws(s, i + 1);
  if (s[i]! === 93) return [out, i + 1];
  for (;;) {
    const [v, end] = tensor(s, i);
    out.push(v);
    i = ws(s, end);
    const c = s[i]!;
    if (c === 93) return [out, i + 1];
    if (c !== 44) miss();
    i = ws(s, i + 1);
  }
}

/**
 * The body as JSON.parse would give it, except that each `inputs[i].data` array is a DataSpan of
 * float32 values; undefined when the fast path does not apply (the caller then uses JSON.parse).
 */
export function readV2Body(body: string | Buffer): Record<string, unknown> | undefined {
  const text = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  try {
    const i = ws(text, 0);
    if (text[i]! !== 123) return undefined;
    const [body, end] = object(text, i, (key, at) => (key === 'inputs' ? inputs(text, at) : value(text, at)));
    return ws(text, end) === text.length ? body : undefined;
  } catch {
    return undefined;
  }
}

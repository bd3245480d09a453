// `--rank-by` expressions: a small, safe arithmetic language over `score` and numeric columns,
// parsed once and evaluated a whole batch at a time over typed arrays (never `eval`).
//   expr := term (('+' | '-') term)* ; term := unary (('*' | '/') unary)* ; unary := '-' unary | atom
//   atom := number | name | name '(' expr (',' expr)* ')' | '(' expr ')'
// Functions: abs, exp, log (natural), sqrt, min, max, pow. A name is `score`, a candidate column
// or a context column (per batch: a vector or one number). Example: `bid * score`.
import { UsageError } from '../core/errors.ts';

export type Node =
  | { op: 'num'; value: number }
  | { op: 'name'; name: string }
  | { op: 'neg'; arg: Node }
  | { op: '+' | '-' | '*' | '/'; a: Node; b: Node }
  | { op: 'call'; fn: keyof typeof FUNCS; args: Node[] };

const FUNCS = { abs: [1, Math.abs], exp: [1, Math.exp], log: [1, Math.log], sqrt: [1, Math.sqrt], min: [2, Math.min], max: [2, Math.max], pow: [2, Math.pow] } as const;

/** Parses an expression; errors name the position and what was expected. */
export function parseExpr(text: string): Node {
  const toks = [...text.matchAll(/\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(.))/gy)].map((m) => ({ num: m[1], name: m[2], sym: m[3], at: (m.index ?? 0) + m[0].length - (m[1] ?? m[2] ?? m[3] ?? '').length }));
  let i = 0;
  const bad = (what: string): never => {
    const t = toks[i];
    throw new UsageError(`--rank-by ${JSON.stringify(text)}: ${what} at ${t ? `position ${t.at + 1} (${JSON.stringify(t.num ?? t.name ?? t.sym)})` : 'the end'}`, { hint: 'write arithmetic over score and numeric columns, e.g. "bid * score"' });
  };
  const peek = (s: string) => toks[i]?.sym === s;
  const expr = (): Node => {
    let a = term();
    while (peek('+') || peek('-')) a = { op: toks[i++]!.sym as '+' | '-', a, b: term() };
    return a;
  };
  const term = (): Node => {
    let a = unary();
    while (peek('*') || peek('/')) a = { op: toks[i++]!.sym as '*' | '/', a, b: unary() };
    return a;
  };
  const unary = (): Node => (peek('-') ? (i++, { op: 'neg', arg: unary() }) : atom());
  const atom = (): Node => {
    const t = toks[i];
    if (!t) return bad('expected a number, a name or "("');
    if (t.num !== undefined) return i++, { op: 'num', value: Number(t.num) };
    if (t.sym === '(') {
      i++;
      const e = expr();
      if (!peek(')')) bad('expected ")"');
      i++;
      return e;
    }
    if (t.name === undefined) return bad('expected a number, a name or "("');
    i++;
    if (!peek('(')) return { op: 'name', name: t.name };
    const fn = t.name as keyof typeof FUNCS;
    if (!(fn in FUNCS)) {
      i--;
      bad(`unknown function ${t.name} (known: ${Object.keys(FUNCS).join(', ')})`);
    }
    i++;
    const args = [expr()];
    while (peek(',')) i++, args.push(expr());
    if (!peek(')')) bad('expected ")"');
    i++;
    if (args.length !== FUNCS[fn][0]) throw new UsageError(`--rank-by ${JSON.stringify(text)}: ${fn} takes ${FUNCS[fn][0]} argument(s), got ${args.length}`);
    return { op: 'call', fn, args };
  };
  const e = expr();
  if (i < toks.length) bad('unexpected text');
  return e;
}

/** Every name an expression reads. */
export function exprNames(n: Node): string[] {
  const out = new Set<string>();
  const walk = (x: Node): void => {
    if (x.op === 'name') out.add(x.name);
    else if (x.op === 'neg') walk(x.arg);
    else if (x.op === 'call') x.args.forEach(walk);
    else if (x.op !== 'num') (walk(x.a), walk(x.b));
  };
  walk(n);
  return [...out];
}

export type Value = number | Float32Array | Float64Array;

/**
 * Reusable result vectors for evaluating one expression batch after batch: an evaluation takes
 * them in the same order every time, so after the first batch it allocates nothing (a fresh
 * Float64Array per operator and batch was most of the stage's garbage). A result is valid until
 * the next evaluation with the same scratch.
 */
export class Scratch {
  private readonly bufs: Float64Array[] = [];
  private used = 0;

  reset(): void {
    this.used = 0;
  }

  take(n: number): Float64Array {
    let b = this.bufs[this.used];
    if (!b || b.length < n) this.bufs[this.used] = b = new Float64Array(n);
    this.used++;
    return b.length === n ? b : b.subarray(0, n);
  }
}

/** Evaluates over `n` rows: a name gives a vector of n values or one number for all rows. */
export function evalExpr(e: Node, env: (name: string) => Value, n: number, scratch?: Scratch): Value {
  scratch?.reset();
  return evalNode(e, env, n, scratch ? (m) => scratch.take(m) : (m) => new Float64Array(m));
}

function evalNode(e: Node, env: (name: string) => Value, n: number, alloc: (n: number) => Float64Array): Value {
  switch (e.op) {
    case 'num':
      return e.value;
    case 'name':
      return env(e.name);
    case 'neg':
      return map1(evalNode(e.arg, env, n, alloc), (x) => -x, n, alloc);
    case 'call': {
      const f = FUNCS[e.fn][1] as (a: number, b?: number) => number;
      const args = e.args.map((a) => evalNode(a, env, n, alloc));
      return args.length === 1 ? map1(args[0]!, f, n, alloc) : map2(args[0]!, args[1]!, f, n, alloc);
    }
    default: {
      const a = evalNode(e.a, env, n, alloc);
      const b = evalNode(e.b, env, n, alloc);
      // The four operators get their own loops: a function call per element would cost 3–5×.
      if (typeof a === 'number' && typeof b === 'number') return BIN[e.op](a, b);
      const out = alloc(n);
      if (e.op === '*') {
        if (typeof a === 'number') for (let i = 0; i < n; i++) out[i] = a * (b as Float64Array)[i]!;
        else if (typeof b === 'number') for (let i = 0; i < n; i++) out[i] = a[i]! * b;
        else for (let i = 0; i < n; i++) out[i] = a[i]! * b[i]!;
        return out;
      }
      return map2(a, b, BIN[e.op], n, alloc);
    }
  }
}

const BIN = { '+': (a: number, b: number) => a + b, '-': (a: number, b: number) => a - b, '*': (a: number, b: number) => a * b, '/': (a: number, b: number) => a / b };

function map1(a: Value, f: (x: number) => number, n: number, alloc: (n: number) => Float64Array): Value {
  if (typeof a === 'number') return f(a);
  const out = alloc(n);
  for (let i = 0; i < n; i++) out[i] = f(a[i]!);
  return out;
}

function map2(a: Value, b: Value, f: (x: number, y: number) => number, n: number, alloc: (n: number) => Float64Array): Value {
  if (typeof a === 'number' && typeof b === 'number') return f(a, b);
  const out = alloc(n);
  for (let i = 0; i < n; i++) out[i] = f(typeof a === 'number' ? a : a[i]!, typeof b === 'number' ? b : b[i]!);
  return out;
}

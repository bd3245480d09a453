// JSON with the non-finite tokens TensorFlow Serving's REST API allows: `NaN`, `Infinity` and
// `-Infinity` are accepted in requests and written in answers (its "JSON conformance" section).
// Plain JSON takes the fast path; only a body strict JSON rejects is scanned for the tokens.
import { HttpError } from './errors.ts';

const TOKENS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };
const MARK = '\u0000sluice:';

/** Parses a request body; a syntax error answers 400 with JSON.parse's own position. */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    if (/NaN|Infinity/.test(text)) {
      const marked = markTokens(text);
      if (marked !== text) {
        try {
          return JSON.parse(marked, (_k, v) => (typeof v === 'string' && v.startsWith(MARK) ? TOKENS[v.slice(MARK.length)] : v));
        } catch {
          // fall through to the original error
        }
      }
    }
    throw new HttpError(400, `body: not valid JSON: ${(e as Error).message}`);
  }
}

/** Replaces bare NaN / Infinity / -Infinity outside strings with marked strings. */
function markTokens(s: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      continue;
    }
    for (const t of ['-Infinity', 'Infinity', 'NaN']) {
      if (s.startsWith(t, i)) {
        out += s.slice(last, i) + JSON.stringify(MARK + t);
        i += t.length - 1;
        last = i + 1;
        break;
      }
    }
  }
  return out + s.slice(last);
}

/** JSON.stringify that writes NaN / ±Infinity as tokens instead of null; `nonFinite` false skips the work. */
export function stringifyAnswer(value: unknown, nonFinite: boolean): string {
  if (!nonFinite) return JSON.stringify(value);
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? MARK + String(v) : v));
  return text.replace(/"\\u0000sluice:(NaN|Infinity|-Infinity)"/g, '$1');
}

/** A row of output values as a JS number or array (TF Serving: a scalar per instance for [N], a list for [N, k]). */
export function rowValue(data: ArrayLike<number | bigint>, row: number, size: number, scalar: boolean, acc: { nonFinite: boolean }): number | number[] {
  if (scalar) return num(data[row]!, acc);
  const out = new Array<number>(size);
  for (let i = 0; i < size; i++) out[i] = num(data[row * size + i]!, acc);
  return out;
}

function num(v: number | bigint, acc: { nonFinite: boolean }): number {
  const n = Number(v);
  if (!Number.isFinite(n)) acc.nonFinite = true;
  return n;
}

// A batch's example lines (flatLine's NDJSON, one line per decided prediction) written straight
// into one UTF-8 buffer: plain ASCII pieces are copied char by char, so a line allocates next to
// nothing. Building each line as a string first (~40 pieces, then flattened to write it) made about
// 2 KB of garbage a line, and the young-generation collections it caused cost more than the lines.
// The plain version is `rows.map(flatLine).join('\n')` as UTF-8; lines.test.ts checks they agree.
//
// Example: const { lines } = exampleLines(decidedRows); // Buffer of NDJSON lines
import { clashesIn, flatLine } from './example.ts';
import type { PredRow } from './join.ts';

class ByteWriter {
  buf: Buffer;
  n = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1 << 16, size));
  }

  /** Room for `bytes` more. */
  reserve(bytes: number): void {
    if (this.n + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + bytes));
    this.buf.copy(bigger, 0, 0, this.n);
    this.buf = bigger;
  }

  /** `s`, known to be ASCII (a constant piece, a number). */
  ascii(s: string): void {
    this.reserve(s.length);
    const buf = this.buf;
    let n = this.n;
    for (let i = 0; i < s.length; i++) buf[n++] = s.charCodeAt(i);
    this.n = n;
  }

  /** Any string (from index `from`) as UTF-8 (a piece of JSON made elsewhere). */
  text(s: string, from = 0): void {
    this.reserve(s.length * 3);
    const buf = this.buf;
    let n = this.n;
    for (let i = from; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.n = n;
        this.n += buf.write(s.slice(i), n, 'utf8');
        return;
      }
      buf[n++] = c;
    }
    this.n = n;
  }

  /** A string as a JSON string (as JSON.stringify writes it); `open`: with its opening quote. */
  json(s: string | null, open = true): void {
    if (s === null) return this.ascii('null');
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) return this.text(JSON.stringify(s), open ? 0 : 1);
    }
    this.reserve(s.length + 2);
    const buf = this.buf;
    let n = this.n;
    if (open) buf[n++] = 0x22;
    for (let i = 0; i < s.length; i++) buf[n++] = s.charCodeAt(i);
    buf[n++] = 0x22;
    this.n = n;
  }

  /** A number as JSON (null when not finite); a safe integer digit by digit. */
  num(x: number | null): void {
    if (x === null || !Number.isFinite(x)) return this.ascii('null');
    if (!Number.isSafeInteger(x) || x < 0 || Object.is(x, -0)) return this.ascii(String(x));
    this.reserve(16);
    const buf = this.buf;
    let digits = 1;
    for (let t = x; t >= 10; t = Math.floor(t / 10)) digits++;
    let n = this.n + digits;
    this.n = n;
    let v = x;
    do {
      const q = Math.floor(v / 10);
      buf[--n] = 0x30 + (v - q * 10);
      v = q;
    } while (v > 0);
  }
}

/** The rows' lines, newline-separated, as UTF-8 bytes. */
export function exampleLines(rows: readonly PredRow[]): Buffer {
  const w = new ByteWriter(rows.length * 512);
  for (const p of rows) {
    if (w.n) w.ascii('\n');
    // a clashing field name: the plain line (renames fields)
    if (clashesIn(p)) {
      w.text(flatLine(p));
      continue;
    }
    w.ascii('{"_id":"feedback:');
    w.json(p.prediction_id, false);
    w.ascii(',"_ord":');
    w.num(p.ord);
    w.ascii(',"prediction_id":');
    w.json(p.prediction_id);
    w.ascii(',"model":');
    w.json(p.model);
    w.ascii(',"model_version":');
    w.num(p.version);
    w.ascii(',"arm":');
    w.json(p.arm);
    w.ascii(',"predicted_at":');
    w.num(p.tp);
    w.ascii(',"decided_at":');
    w.num(p.decided_at);
    w.ascii(p.label === 1 ? ',"label":1,"score":' : ',"label":0,"score":');
    w.num(p.score);
    w.ascii(',"event_id":');
    w.json(p.event_id);
    w.ascii(',"event_type":');
    w.json(p.event_type);
    w.ascii(',"picked_position":');
    w.num(p.picked_position);
    w.ascii(',"shown_count":');
    w.ascii(p.shown === null ? 'null' : String((JSON.parse(p.shown) as unknown[]).length));
    w.ascii(',"text":');
    w.json(p.text);
    w.ascii(',"scrub_rules":');
    w.json(p.scrub_rules);
    const f = p.fields;
    if (f === '{}') w.ascii('}');
    else {
      w.ascii(',');
      w.text(f, 1);
    }
  }
  return w.buf.subarray(0, w.n);
}

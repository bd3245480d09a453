// The independent accounting pass: splits a raw CSV/TSV or JSON Lines file into records by our
// own reading of the bytes (quotes, CR/LF, BOM, UTF-8), numbers each record and its first line,
// sets aside damaged records with their raw text and reason, and writes the good ones to a clean
// file DuckDB can parse without guessing: `__rec,__line,<fields…>` (CSV) or `rec␟line␟json` (JSONL).
//
// DuckDB's own reject handling is not trusted for the count: on a small test it read an
// unterminated quote as a value and split a quoted multi-line record into two rejects.
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';

export interface BadRecord {
  record: number;
  line: number;
  raw: string;
  reason: string;
}

export interface ScanResult {
  /** header field names as written (CSV/TSV only), after BOM removal */
  header: string[];
  /** records seen (header excluded; blank JSONL lines excluded) */
  records: number;
  good: number;
  bad: BadRecord[];
  /** names that appeared twice in the header and were renamed (`a` → `a__2`) */
  renamedHeaders: string[];
  blankLines: number;
  /** lines consumed (the header's included) */
  lines: number;
  /** a range scan whose last record runs past the range's end (the split point was inside a record) */
  partial?: boolean;
}

export interface ScanOptions {
  /** records whose raw text is longer than this are quarantined as too large */
  maxRecordBytes?: number;
  /** raw text kept per quarantined record */
  maxRawBytes?: number;
  /**
   * Scan only the bytes [from, to): the parts of a file split at a line end and scanned at the
   * same time. Record and line numbers then count from the range's start (1 = its first).
   */
  from?: number;
  to?: number;
  /** CSV/TSV range after the first: the header's names, read by the first range */
  header?: string[];
  /** CSV/TSV: stop after the header (returns it in `header`; writes nothing) */
  headerOnly?: boolean;
}

const CHUNK = 1 << 24;
const NL = 10;
const CR = 13;
const QUOTE = 34;
export const UNIT_SEP = 0x1f;

/** Buffered writer with in-place decimal formatting (a String() per record cost ~2x here). */
class Out {
  private buf = Buffer.allocUnsafe(CHUNK);
  private n = 0;
  constructor(private readonly fd: number) {}
  ensure(k: number): void {
    if (this.n + k > this.buf.length) {
      this.flush();
      if (k > this.buf.length) this.buf = Buffer.allocUnsafe(k * 2);
    }
  }
  int(v: number): void {
    this.ensure(20);
    if (v === 0) {
      this.buf[this.n++] = 48;
      return;
    }
    const digits = v < 10 ? 1 : v < 100 ? 2 : v < 1e3 ? 3 : v < 1e4 ? 4 : v < 1e5 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : v < 1e9 ? 9 : String(v).length;
    let p = this.n + digits;
    this.n = p;
    if (v < 2 ** 31) {
      // small integer arithmetic (no float division) for the usual record and line numbers
      for (let x = v | 0; x > 0; x = (x / 10) | 0) this.buf[--p] = 48 + (x % 10);
    } else for (let x = v; x > 0; x = (x - (x % 10)) / 10) this.buf[--p] = 48 + (x % 10);
  }
  /** write position, to take back a record found bad after it was written */
  get at(): number {
    return this.n;
  }
  rewind(to: number): void {
    this.n = to;
  }
  /**
   * Copies `src[start, end)` and counts the bytes equal to `d` in the same loop: one pass over a
   * record instead of a counting loop plus a Buffer.copy call per record. Call `ensure` first.
   */
  copyCounting(src: Buffer, start: number, end: number, d: number): number {
    const b = this.buf;
    let n = this.n;
    let f = 0;
    for (let k = start; k < end; k++) {
      const c = src[k]!;
      b[n++] = c;
      if (c === d) f++;
    }
    this.n = n;
    return f;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.n++] = b;
  }
  bytes(src: Buffer, start: number, end: number): void {
    this.ensure(end - start);
    src.copy(this.buf, this.n, start, end);
    this.n += end - start;
  }
  text(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.bytes(b, 0, b.length);
  }
  flush(): void {
    if (this.n) writeSync(this.fd, this.buf, 0, this.n);
    this.n = 0;
  }
}

/** Reads a file as one growing window of bytes so a record may span chunk boundaries. */
/** `start` skips a UTF-8 byte order mark at the beginning of the file. */
function* windows(path: string, from = 0, to = Infinity): Generator<{ buf: Buffer; end: number; eof: boolean; start: number; consume: (upTo: number) => void }> {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let start = 0;
    let end = 0;
    let eof = false;
    let consumed = 0;
    let first = from === 0; // a byte order mark only counts at the start of the file
    let at = from; // file position of the next read
    while (!eof) {
      // keep the unconsumed tail, then fill
      if (start > 0) {
        buf.copy(buf, 0, start, end);
        end -= start;
        start = 0;
      }
      if (end === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, end);
        buf = bigger;
      }
      const n = readSync(fd, buf, end, Math.min(buf.length - end, to - at), at);
      at += n;
      if (n === 0) eof = true;
      end += n;
      consumed = 0;
      const bom = first && end >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
      first = false;
      yield {
        buf,
        end,
        eof,
        start: bom ? 3 : 0,
        consume: (upTo: number) => {
          consumed = upTo;
        },
      };
      start = consumed;
    }
  } finally {
    closeSync(fd);
  }
}

function rawText(buf: Buffer, s: number, e: number, max: number): string {
  const t = buf.toString('utf8', s, Math.min(e, s + max));
  return e - s > max ? `${t}…[${e - s - max} more bytes]` : t;
}

/** Splits a header line into field names (quotes honoured). */
function parseHeader(line: string, delim: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (q) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          cur += '"';
          i++;
        } else q = false;
      } else cur += c;
    } else if (c === '"') q = true;
    else if (c === delim) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

function dedupeHeader(names: string[]): { names: string[]; renamed: string[] } {
  const seen = new Map<string, number>();
  const renamed: string[] = [];
  const out = names.map((n, i) => {
    const base = n === '' ? `column${i + 1}` : n;
    const k = (seen.get(base) ?? 0) + 1;
    seen.set(base, k);
    if (k > 1) renamed.push(`${base}→${base}__${k}`);
    return k > 1 ? `${base}__${k}` : base;
  });
  return { names: out, renamed };
}

function csvQuote(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Scans a CSV/TSV file: RFC 4180 quoting ("" inside quotes), CRLF, LF or lone CR line ends, a
 * UTF-8 BOM. Good records go to `cleanPath` as `__rec,__line,<fields…>` with the same delimiter.
 */
export function scanCsv(path: string, cleanPath: string, delimiter: ',' | '\t', o: ScanOptions = {}): ScanResult {
  const D = delimiter.charCodeAt(0);
  const maxRec = o.maxRecordBytes ?? 8 << 20;
  const maxRaw = o.maxRawBytes ?? 4096;
  const fd = o.headerOnly ? -1 : openSync(cleanPath, 'w');
  const out = new Out(fd);
  const res: ScanResult = { header: [], records: 0, good: 0, bad: [], renamedHeaders: [], blankLines: 0, lines: 0 };
  let expected = -1;
  let line = 1; // line number of the next record's first line
  if (o.header) {
    // a later range of a split file: the first range read the header
    res.header = o.header;
    expected = o.header.length;
    out.text(['__rec', '__line', ...o.header].map(csvQuote).join(delimiter) + '\n');
  }
  for (const w of windows(path, o.from, o.to)) {
    const { buf, end, eof } = w;
    let pos = w.start;
    const utf8Ok = isUtf8(buf.subarray(pos, end));
    let nextQuote = -1; // cached positions of the next quote and CR at or after pos
    let nextCr = -1;
    for (;;) {
      // one record from pos
      let i = pos;
      let fields = 1;
      let inQ = false;
      let badQuote = false;
      let lines = 1;
      let fieldStart = true;
      let afterQuote = false;
      let recEnd = -1; // exclusive end of the record's bytes (before the line end)
      let next = -1; // where the following record starts
      // Fast path: a line with no quote and no lone CR needs only its delimiters counted.
      const nl = buf.indexOf(NL, pos);
      if (nl >= 0 && nl < end) {
        if (nextQuote < pos) {
          nextQuote = buf.indexOf(QUOTE, pos);
          if (nextQuote < 0 || nextQuote >= end) nextQuote = end;
        }
        if (nextCr < pos) {
          nextCr = buf.indexOf(CR, pos);
          if (nextCr < 0 || nextCr >= end) nextCr = end;
        }
        if (nextQuote > nl && (nextCr >= nl || nextCr === nl - 1)) {
          recEnd = nextCr === nl - 1 ? nl - 1 : nl;
          next = nl + 1;
          if (expected >= 0 && recEnd > pos) {
            // A data record on one line: written to the clean file while its delimiters are
            // counted, and taken back if it turns out bad (same checks, same order as below).
            const recStart = pos;
            pos = next;
            const curLine = line++;
            const rec = ++res.records;
            out.ensure(recEnd - recStart + 44);
            const mark = out.at;
            out.int(rec);
            out.byte(D);
            out.int(curLine);
            out.byte(D);
            fields += out.copyCounting(buf, recStart, recEnd, D);
            out.byte(NL);
            let reason: string | undefined;
            if (fields !== expected) reason = `expected ${expected} fields, found ${fields}`;
            else if (recEnd - recStart > maxRec) reason = `record of ${recEnd - recStart} bytes exceeds the limit of ${maxRec}`;
            else if (!utf8Ok && !isUtf8(buf.subarray(recStart, recEnd))) reason = 'invalid UTF-8';
            if (reason) {
              out.rewind(mark);
              res.bad.push({ record: rec, line: curLine, raw: rawText(buf, recStart, recEnd, maxRaw), reason });
            } else res.good++;
            if (pos >= end && eof) break;
            continue;
          }
          for (let k = pos; k < recEnd; k++) if (buf[k] === D) fields++;
          i = end; // skip the byte loop
        }
      }
      for (; i < end; i++) {
        const c = buf[i]!;
        // fast path: ordinary text bytes (everything above the delimiter, quote and line ends)
        if (c > 44 && !inQ) {
          if (afterQuote) badQuote = true;
          fieldStart = false;
          continue;
        }
        if (inQ) {
          // jump to the next quote, counting the line ends inside the quoted field
          let q = buf.subarray(i, end).indexOf(QUOTE);
          q = q < 0 ? end : i + q;
          for (let k = i; k < q; k++) {
            const b = buf[k]!;
            if (b === NL || (b === CR && (k + 1 >= end || buf[k + 1] !== NL))) lines++;
          }
          i = q;
          if (q >= end) break;
          const nextc = q + 1 < end ? buf[q + 1]! : -1;
          if (nextc === QUOTE) i++;
          else if (nextc === -1 && !eof) break; // need more bytes to know
          else {
            inQ = false;
            afterQuote = true;
          }
          continue;
        }
        if (c === D) {
          fields++;
          fieldStart = true;
          afterQuote = false;
          continue;
        }
        if (c === NL || c === CR) {
          const nextc = i + 1 < end ? buf[i + 1]! : -1;
          if (c === CR && nextc === -1 && !eof) break;
          recEnd = i;
          next = c === CR && nextc === NL ? i + 2 : i + 1;
          break;
        }
        if (c === QUOTE) {
          if (fieldStart) inQ = true;
          else badQuote = true;
        } else if (afterQuote) badQuote = true;
        fieldStart = false;
      }
      if (recEnd < 0) {
        if (!eof) break; // incomplete record: read more
        if (pos >= end) break; // clean end of file
        if (o.to !== undefined) {
          // the range ends inside a record: the caller scans the file in one piece instead
          res.partial = true;
          break;
        }
        recEnd = end;
        next = end;
      }
      const recStart = pos;
      pos = next;
      const curLine = line;
      line += lines;
      if (expected < 0) {
        // the header
        const { names, renamed } = dedupeHeader(parseHeader(buf.toString('utf8', recStart, recEnd), delimiter));
        res.header = names;
        res.renamedHeaders = renamed;
        expected = names.length;
        if (o.headerOnly) {
          res.lines = line - 1;
          return res;
        }
        out.text(['__rec', '__line', ...names].map(csvQuote).join(delimiter) + '\n');
        continue;
      }
      if (recEnd === recStart && !inQ) {
        res.blankLines++;
        continue;
      }
      const rec = ++res.records;
      let reason: string | undefined;
      if (inQ) reason = 'unterminated quoted field (the record runs to the end of the file)';
      else if (badQuote) reason = 'stray quote inside an unquoted field, or text after a closing quote';
      else if (fields !== expected) reason = `expected ${expected} fields, found ${fields}`;
      else if (recEnd - recStart > maxRec) reason = `record of ${recEnd - recStart} bytes exceeds the limit of ${maxRec}`;
      else if (!utf8Ok && !isUtf8(buf.subarray(recStart, recEnd))) reason = 'invalid UTF-8';
      if (reason) {
        res.bad.push({ record: rec, line: curLine, raw: rawText(buf, recStart, recEnd, maxRaw), reason });
        continue;
      }
      res.good++;
      out.int(rec);
      out.byte(D);
      out.int(curLine);
      out.byte(D);
      out.bytes(buf, recStart, recEnd);
      out.byte(NL);
      if (pos >= end && eof) break;
    }
    w.consume(pos);
    if (res.partial) break;
  }
  if (o.headerOnly) {
    res.partial = true; // no complete header in the range
    return res;
  }
  out.flush();
  closeSync(fd);
  res.lines = line - 1;
  return res;
}

/**
 * Scans a JSON Lines file: one record per non-blank line. Good lines go to `cleanPath` as
 * `rec␟line␟json` (U+001F cannot appear raw in valid JSON). JSON validity is checked by DuckDB
 * later, per record, so a bad line is still quarantined with its line number.
 */
export function scanJsonl(path: string, cleanPath: string, o: ScanOptions = {}): ScanResult {
  const maxRec = o.maxRecordBytes ?? 8 << 20;
  const maxRaw = o.maxRawBytes ?? 4096;
  const fd = openSync(cleanPath, 'w');
  const out = new Out(fd);
  const res: ScanResult = { header: [], records: 0, good: 0, bad: [], renamedHeaders: [], blankLines: 0, lines: 0 };
  let line = 0;
  for (const w of windows(path, o.from, o.to)) {
    const { buf, end, eof } = w;
    let pos = w.start;
    const utf8Ok = isUtf8(buf.subarray(pos, end));
    const sepFree = buf.subarray(pos, end).indexOf(UNIT_SEP) < 0;
    while (pos < end) {
      // Unbounded search: it only runs past `end` once per window (when no line end is left).
      let nl = buf.indexOf(NL, pos);
      if (nl < 0 || nl >= end) {
        if (!eof) break;
        nl = end;
      }
      line++;
      let e = nl;
      if (e > pos && buf[e - 1] === CR) e--;
      const s = pos;
      pos = nl + 1;
      let blank = true;
      for (let k = s; k < e; k++) {
        const c = buf[k]!;
        if (c !== 32 && c !== 9 && c !== CR) {
          blank = false;
          break;
        }
      }
      if (blank) {
        res.blankLines++;
        continue;
      }
      const rec = ++res.records;
      let reason: string | undefined;
      if (e - s > maxRec) reason = `record of ${e - s} bytes exceeds the limit of ${maxRec}`;
      else if (!utf8Ok && !isUtf8(buf.subarray(s, e))) reason = 'invalid UTF-8';
      else if (!sepFree && buf.subarray(s, e).indexOf(UNIT_SEP) >= 0) reason = 'invalid JSON: raw control character U+001F';
      if (reason) {
        res.bad.push({ record: rec, line, raw: rawText(buf, s, e, maxRaw), reason });
        continue;
      }
      res.good++;
      out.int(rec);
      out.byte(UNIT_SEP);
      out.int(line);
      out.byte(UNIT_SEP);
      out.bytes(buf, s, e);
      out.byte(NL);
    }
    w.consume(Math.min(pos, end));
  }
  out.flush();
  closeSync(fd);
  res.lines = line;
  return res;
}

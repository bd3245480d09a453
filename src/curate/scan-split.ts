// The accounting scan on both cores: a large file is cut at a line end near its middle, the second
// half is scanned in a worker thread while this thread scans the first, and the halves' record and
// line numbers are joined by offsets (the clean files keep the half's own numbers; the relation
// that reads them adds the offsets). The result is the one-piece scan's: when the cut falls inside
// a record (a quoted field spanning lines), the file is scanned again in one piece.
import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { scanCsv, scanJsonl, type ScanOptions, type ScanResult } from './scan.ts';

/** Files smaller than this are scanned in one piece (a worker costs more than it saves). */
export const SPLIT_MIN_BYTES = 32 << 20;

export interface CleanFile {
  path: string;
  /** added to the file's record and line numbers */
  recordOffset: number;
  lineOffset: number;
}

export interface SplitScan {
  scan: ScanResult;
  files: CleanFile[];
}

type Kind = 'csv' | 'tsv' | 'jsonl';

function scanOne(kind: Kind, path: string, clean: string, o: ScanOptions): ScanResult {
  return kind === 'jsonl' ? scanJsonl(path, clean, o) : scanCsv(path, clean, kind === 'csv' ? ',' : '\t', o);
}

/** The byte after the first line feed at or after the middle of the file, if any. */
function cutPoint(path: string, size: number): number | undefined {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    const mid = Math.floor(size / 2);
    const n = readSync(fd, buf, 0, buf.length, mid);
    const nl = buf.subarray(0, n).indexOf(10);
    if (nl < 0 || mid + nl + 1 >= size) return undefined;
    return mid + nl + 1;
  } finally {
    closeSync(fd);
  }
}

interface Pool {
  worker: Worker;
  ready: Promise<boolean>;
  busy: boolean;
  job?: { resolve: (r: ScanResult) => void; reject: (e: Error) => void };
}
let pool: Pool | undefined;

/**
 * Starts the scan thread (once per process), so it is ready when the first large file comes: the
 * plan's hashing of the input files hides its start. Scans never wait for a thread started by them.
 */
export function warmScanWorker(): void {
  if (pool) return;
  const worker = new Worker(new URL('./scan-worker.js', import.meta.url));
  let ready!: (ok: boolean) => void;
  const p: Pool = { worker, ready: new Promise((r) => (ready = r)), busy: false };
  pool = p;
  const gone = (e: Error) => {
    if (pool === p) pool = undefined;
    ready(false);
    p.job?.reject(e);
    p.job = undefined;
  };
  worker.on('message', (m: { ready?: boolean; ok?: boolean; result?: ScanResult; error?: string }) => {
    if (m.ready) return ready(true);
    const job = p.job;
    p.job = undefined;
    p.busy = false;
    worker.unref();
    if (m.ok) job?.resolve(m.result!);
    else job?.reject(new Error(m.error));
  });
  worker.on('error', gone);
  worker.on('exit', () => gone(new Error('the scan thread exited')));
  // after the listeners: attaching a 'message' listener refs the thread again, and an idle scan
  // thread must not keep the process alive (a run whose scans never split did not exit)
  worker.unref();
}

function inWorker(p: Pool, kind: Kind, path: string, clean: string, options: ScanOptions): Promise<ScanResult> {
  p.busy = true;
  return new Promise((resolve, reject) => {
    p.job = { resolve, reject };
    p.worker.postMessage({ kind, path, clean, options });
  });
}

/** Scans `path` into `clean` (and `clean`.1 for a second half). Same result as one `scanCsv`/`scanJsonl`. */
export async function scanFile(kind: Kind, path: string, clean: string, o: ScanOptions, minBytes = SPLIT_MIN_BYTES): Promise<SplitScan> {
  const whole = (): SplitScan => ({ scan: scanOne(kind, path, clean, o), files: [{ path: clean, recordOffset: 0, lineOffset: 0 }] });
  const size = statSync(path).size;
  const cut = size >= minBytes ? cutPoint(path, size) : undefined;
  if (cut === undefined) return whole();
  let header: string[] | undefined;
  if (kind !== 'jsonl') {
    const h = scanCsv(path, clean, kind === 'csv' ? ',' : '\t', { ...o, to: Math.min(cut, 1 << 20), headerOnly: true });
    if (h.partial) return whole();
    header = h.header;
  }
  const p = pool;
  if (!p) {
    warmScanWorker(); // for the next file
    return whole();
  }
  p.worker.ref(); // an idle thread does not keep the process alive; one we wait for must
  if (!(await p.ready) || p.busy) {
    if (!p.busy) p.worker.unref();
    return whole();
  }
  const second = `${clean}.1`;
  const later = inWorker(p, kind, path, second, { ...o, from: cut, ...(header ? { header } : {}) });
  // Whatever happens here, wait for the worker before returning or throwing.
  let first: ScanResult;
  try {
    first = scanOne(kind, path, clean, { ...o, to: cut });
  } catch (e) {
    await later.catch(() => undefined);
    throw e;
  }
  const rest = await later.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  if (first.partial) {
    rmSync(second, { force: true });
    return whole();
  }
  if (rest instanceof Error) throw rest;
  const shift = (b: ScanResult['bad'][number]) => ({ ...b, record: b.record + first.records, line: b.line + first.lines });
  return {
    scan: {
      header: first.header,
      renamedHeaders: first.renamedHeaders,
      records: first.records + rest.records,
      good: first.good + rest.good,
      bad: [...first.bad, ...rest.bad.map(shift)],
      blankLines: first.blankLines + rest.blankLines,
      lines: first.lines + rest.lines,
    },
    files: [
      { path: clean, recordOffset: 0, lineOffset: 0 },
      { path: second, recordOffset: first.records, lineOffset: first.lines },
    ],
  };
}

// The accounting scan split across two threads gives the one-piece scan's result exactly: the same
// counts, the same bad records (numbers, raw text, reasons) and the same clean rows once the
// second half's offsets are added, wherever the cut falls (inside a quoted field included).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DuckSession, lit } from '../../src/engine/duckdb.ts';
import { scanCsv, scanJsonl } from '../../src/curate/scan.ts';
import { scanFile, warmScanWorker } from '../../src/curate/scan-split.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-split-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Rows of clean CSV files as DuckDB reads them, with the files' offsets applied. */
async function cleanRows(duck: DuckSession, files: { path: string; recordOffset: number; lineOffset: number }[], fields: string[]): Promise<unknown[]> {
  const cols = ['__rec', '__line', ...fields].map((n, i) => `${lit(n)}: '${i < 2 ? 'BIGINT' : 'VARCHAR'}'`).join(', ');
  const sql = files
    .map((f) => `SELECT * REPLACE (__rec + ${f.recordOffset} AS __rec, __line + ${f.lineOffset} AS __line) FROM read_csv(${lit(f.path)}, header = true, auto_detect = false, quote = '"', escape = '"', columns = {${cols}}, new_line = '\\n')`)
    .join(' UNION ALL ');
  return duck.all(`SELECT * FROM (${sql}) ORDER BY __rec`);
}

describe('split scan', () => {
  it('matches the one-piece scan of a damaged CSV for every cut near the middle', async () => {
    warmScanWorker();
    const duck = await DuckSession.open({ threads: 1 });
    const lines = ['a,b,c'];
    for (let i = 1; i <= 60; i++) {
      if (i % 7 === 0) lines.push(`${i},"quoted\nacross lines",x`); // a cut may fall inside it
      else if (i % 11 === 0) lines.push(`${i},short`);
      else if (i % 13 === 0) lines.push(`${i},bad"quote,y`);
      else if (i % 17 === 0) lines.push('');
      else lines.push(`${i},v${i},w${i}`);
    }
    const text = lines.join('\r\n') + '\n';
    let splits = 0;
    // vary where the middle falls by padding the first record
    for (let pad = 0; pad < 40; pad += 3) {
      const path = join(dir, `f${pad}.csv`);
      writeFileSync(path, text.replace('1,v1,w1', `1,v1${'p'.repeat(pad)},w1`));
      const whole = scanCsv(path, join(dir, 'whole.txt'), ',');
      const split = await scanFile('csv', path, join(dir, 'split.txt'), {}, 0);
      if (split.files.length > 1) splits++;
      expect({ ...split.scan, partial: undefined }).toEqual({ ...whole, partial: undefined });
      expect(await cleanRows(duck, split.files, whole.header)).toEqual(await cleanRows(duck, [{ path: join(dir, 'whole.txt'), recordOffset: 0, lineOffset: 0 }], whole.header));
    }
    expect(splits).toBeGreaterThan(0);
    duck.close();
  });

  it('matches the one-piece scan of JSON Lines with blank lines and a bad line', async () => {
    warmScanWorker();
    const rows = Array.from({ length: 50 }, (_, i) => (i % 9 === 4 ? '' : i % 10 === 3 ? '{"a": 1, "b":' : `{"a": ${i}}`));
    const path = join(dir, 'f.jsonl');
    writeFileSync(path, rows.join('\n') + '\n');
    const whole = scanJsonl(path, join(dir, 'wj.txt'));
    const split = await scanFile('jsonl', path, join(dir, 'sj.txt'), {}, 0);
    expect(split.files).toHaveLength(2);
    expect({ ...split.scan, partial: undefined }).toEqual({ ...whole, partial: undefined });
    const read = (f: { path: string; recordOffset: number; lineOffset: number }) =>
      readFileSync(f.path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\u001f'))
        .map(([r, n, j]) => `${Number(r) + f.recordOffset}|${Number(n) + f.lineOffset}|${j}`);
    expect(split.files.flatMap(read)).toEqual(read({ path: join(dir, 'wj.txt'), recordOffset: 0, lineOffset: 0 }));
  });

  it('does not keep a process alive with a scan thread that was started but never used', () => {
    const script = join(dir, 'idle.ts');
    const splitModule = join(import.meta.dirname, '..', '..', 'src', 'curate', 'scan-split.ts');
    writeFileSync(script, `import { warmScanWorker } from ${JSON.stringify(splitModule)};\nwarmScanWorker();\nawait new Promise((r) => setTimeout(r, 1500));\nconsole.log('done');\n`);
    const started = Date.now();
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', 'bin', 'run-ts.js'), script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('done');
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 40_000);
});

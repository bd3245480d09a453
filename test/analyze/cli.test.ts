// The analyze commands through the CLI: exit codes 0/1/2, --json output, files written, messages.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { fixture, type Fixture } from './fixture.ts';

let f: Fixture;
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(['node', 'sluice', '--project', f.dir, ...args]);
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  f = await fixture();
  await f.dataset('ads', `SELECT i AS user_id, (i % 20 = 0)::INTEGER AS clicked, ['a', 'b', 'c'][1 + i % 3] AS slot, (i % 97)::DOUBLE AS price FROM range(2000) r(i)`);
  await f.dataset('serving', `SELECT i AS user_id, ['a', 'b', 'd'][1 + i % 3] AS slot, (i % 50)::DOUBLE AS price FROM range(500) r(i)`);
});
afterAll(async () => f.close());

describe('analyze commands', () => {
  it('stats --json prints the label balance and --html writes the report', async () => {
    const html = join(f.dir, 'report.html');
    const r = await run('--json', 'stats', 'ads', '--label', 'clicked', '--html', html);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.label.classes).toEqual([{ value: '0', count: 1900, share: 0.95 }, { value: '1', count: 100, share: 0.05 }]);
    expect(s.label.suggestion.args).toEqual(['--label', 'clicked', '--oversample', '0.2']);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });

  it('stats exits 1 naming a label column that does not exist', async () => {
    const r = await run('stats', 'ads', '--label', 'click');
    expect(r.code).toBe(1);
    expect(r.err).toContain('label column "click" is not in ads@1');
  });

  it('schema infer writes a schema; validate lists anomalies and exits 1', async () => {
    const file = join(f.dir, 'ads.schema.json');
    expect((await run('schema', 'infer', 'ads', '--out', file)).code).toBe(0);
    expect((await run('schema', 'validate', 'ads', '--schema', file)).code).toBe(0);
    const r = await run('--json', 'schema', 'validate', 'serving', '--schema', file);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).anomalies.map((a: { column: string; kind: string }) => `${a.column}:${a.kind}`)).toEqual(['clicked:MISSING_COLUMN', 'slot:NEW_VALUES']);
    expect(r.err).toContain('2 anomalies in serving@1');
  });

  it('drift lists drifted features and exits 1 with --check', async () => {
    const r = await run('--json', 'drift', 'ads', 'serving', '--check');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).anomalies.map((a: { feature: string }) => a.feature)).toEqual(['user_id', 'slot', 'price']);
    expect((await run('drift', 'ads', 'ads', '--check')).code).toBe(0);
  });

  it('split makes named versions and rejects ratios that do not sum to 1 with exit code 2', async () => {
    const r = await run('--json', 'split', 'ads', '--ratios', '0.8,0.2', '--stratify', 'clicked', '--seed', '3');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).splits.map((s: { dataset: string; rows: number }) => [s.dataset, s.rows])).toEqual([['ads-train', 1600], ['ads-test', 400]]);
    const bad = await run('split', 'ads', '--ratios', '0.8,0.3');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--ratios "0.8,0.3" sum to 1.1, not 1');
  });

  it('rebalance oversamples and prints the rates; export writes TFRecord and WebDataset', async () => {
    const r = await run('--json', 'rebalance', 'ads-train', '--label', 'clicked', '--oversample', '0.2');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ dataset: 'ads-train', version: 2, rows: 1824, after: { '0': 1520, '1': 304 }, rates: { '0': 1, '1': 3.8 } });
    expect((await run('export', 'ads-train@2', '--format', 'tfrecord', '--out', join(f.dir, 'train.tfrecord'))).code).toBe(0);
    expect(existsSync(join(f.dir, 'train.tfrecord'))).toBe(true);
    const w = await run('export', 'ads', '--format', 'webdataset', '--out', join(f.dir, 'wds'));
    expect(w.code).toBe(2);
    expect(w.err).toContain('--format webdataset needs --image-column');
  });
});

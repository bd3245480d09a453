// `sluice demo --size tiny` runs end to end and every planted damage ends where it should.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sluice demo', () => {
  it('curates the messy sources, reports, splits and rebalances, with counts that reconcile', async () => {
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => (out.push(String(s)), true)) as typeof process.stdout.write;
    let code: number;
    try {
      code = await main(['node', 'sluice', '--json', 'demo', '--size', 'tiny', '--dir', join(dir, 'd')]);
    } finally {
      process.stdout.write = write;
    }
    expect(code).toBe(0);
    const r = JSON.parse(out.join('')) as { steps: { step: string; rows: number; detail: string }[]; report: string };
    expect(r.steps.map((s) => [s.rows, s.detail.replace(/, report .*$/, '')])).toEqual([
      [20000, '7 damaged records planted'],
      [20000, '20005 records: 20000 accepted, 4 quarantined, 1 to review'],
      [1295, '1356 records: 59 duplicates, 2 quarantined'],
      [778, '22 conflicting ads sent to review'],
      [20000, 'click rate 6.47%'],
      [20000, 'impressions-train@1 15000, impressions-test@1 5000'],
      [16808, 'impressions-train@2'],
    ]);
    expect(readFileSync(r.report, 'utf8')).toContain('<svg');
  });
});

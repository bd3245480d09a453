// The loop pays off: over 10 seeds of the tiny demo, v3 (trained on what users did after launch)
// has a lower log loss than v1 (trained before the drift) on fresh after-launch traffic in at least 8.
// Each seed runs the whole demo in its own process, two at a time; every run's join must also
// count each simulated click exactly once.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sluice-seeds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Loop {
  clicks: number;
  positives: number;
  v1: string;
  v3: string;
  judged: Record<string, { log_loss: number }>;
}

async function demo(seed: number): Promise<Loop> {
  const { stdout } = await run(process.execPath, ['bin/sluice.js', '--json', '--threads', '1', 'demo', '--size', 'tiny', '--seed', String(seed), '--dir', join(dir, `s${seed}`)], {
    maxBuffer: 16 << 20,
    env: { ...process.env, SLUICE_QUIET_WARNINGS: '1' },
  });
  return (JSON.parse(stdout) as { loop: Loop }).loop;
}

describe('sluice demo over 10 seeds', () => {
  it('v3 beats v1 on fresh after-launch traffic for at least 8 of 10 seeds, and every click is one positive', async () => {
    const seeds = Array.from({ length: 10 }, (_, i) => i + 1);
    const loops: Loop[] = [];
    for (let i = 0; i < seeds.length; i += 2) loops.push(...(await Promise.all(seeds.slice(i, i + 2).map(demo))));
    for (const l of loops) expect(l.positives).toBe(l.clicks);
    const wins = loops.filter((l) => l.judged[l.v3]!.log_loss < l.judged[l.v1]!.log_loss).length;
    expect(wins).toBeGreaterThanOrEqual(8);
  }, 900_000);
});

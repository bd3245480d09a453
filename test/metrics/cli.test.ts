// `sluice feedback metrics` and `sluice feedback dataset` end to end on a fixture project: the JSON
// equals the library's numbers, the HTML report holds them, serving drift flags a shifted day, and
// the training version takes each joined value as it was when the prediction was made.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../src/cli/feedback-metrics.ts';
import { computeMetrics } from '../../src/feedback/metrics/run.ts';
import { metricSlices } from '../../src/feedback/metrics/accumulate.ts';
import { openFeedbackDb } from '../../src/feedback/metrics/read.ts';
import { scanSql } from '../../src/core/dataset.ts';
import { generated, round10, T0 } from './examples.ts';
import { fixture, type Fixture } from './fixture.ts';

async function sluice(f: Fixture, ...args: string[]): Promise<{ out: string; error?: Error }> {
  const program = new Command('sluice').option('--project <dir>').option('--json').exitOverride();
  register(program);
  program.commands.forEach((c) => c.exitOverride().commands.forEach((s) => s.exitOverride()));
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'sluice', '--project', f.dir, ...args]);
    return { out: chunks.join('') };
  } catch (e) {
    return { out: chunks.join(''), error: e as Error };
  } finally {
    process.stdout.write = write;
  }
}

describe('sluice feedback metrics and dataset', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await fixture();
    const ex = generated(2000);
    // day 3 serves French traffic only: its country mix drifts from the training data
    for (const e of ex) if (e.predicted_at >= T0 + 2 * 86_400_000) e.fields.country = 'fr';
    await f.feedback(ex);
    await f.dataset('train', `SELECT (['de', 'fr', 'us'])[1 + i % 3] AS country, CASE WHEN i % 5 = 0 THEN 'desktop' ELSE 'mobile' END AS device, (i % 2)::INTEGER AS clicked FROM range(3000) t(i)`);
    await f.dataset('userfeat', `SELECT * FROM (VALUES ('u1', TIMESTAMP '2026-01-04 00:00:00', 'a'), ('u1', TIMESTAMP '2026-01-06 00:00:00', 'b'), ('u2', TIMESTAMP '2026-01-01 00:00:00', 'c')) t(user, valid_from, segment)`);
  });
  afterAll(() => f.close());

  it('prints the same figures as the library as JSON, and writes them into the HTML report', async () => {
    const html = join(f.dir, 'metrics.html');
    const r = await sluice(f, '--json', 'feedback', 'metrics', '--from', 'feedback@1', '--slice', 'country', '--training', 'train@1', '--html', html);
    expect(r.error).toBeUndefined();
    const got = JSON.parse(r.out);
    const want = await computeMetrics(f.project, { from: 'feedback@1', slices: ['country'], training: 'train@1' });
    expect(round10(got.groups)).toEqual(round10(want.groups));
    expect(got.source).toBe('feedback@1');
    expect(got.groups.map((g: { version: number; arm: string; n: number }) => [g.version, g.arm, g.n])).toEqual([[1, 'A', 1000], [2, 'B', 1000]]);
    const page = readFileSync(html, 'utf8');
    const a = want.groups[0]!;
    expect(page).toContain(`<td data-metric="rate" data-group="ctr@1 A">${(a.rate * 100).toFixed(2)}%</td>`);
    expect(page).toContain(`<td data-metric="auc" data-group="ctr@1 A">${a.auc!.toFixed(4)}</td>`);
    expect((page.match(/<svg /g) ?? []).length).toBe(7); // 5 over time, calibration, picked positions
  });

  it('flags the day whose country mix left the training distribution, and only that day', async () => {
    const s = await computeMetrics(f.project, { from: 'feedback@1', training: 'train@1' });
    const country = s.drift!.days.filter((d) => d.feature === 'country');
    expect(country.map((d) => d.day)).toEqual(['2026-01-05', '2026-01-06', '2026-01-07', '2026-01-08']);
    expect(country.map((d) => d.anomaly !== null)).toEqual([false, false, true, true]);
    expect(country[3]!.linf).toBeCloseTo(2 / 3, 9); // all French against a third in training
    expect(s.drift!.overall.features.map((x) => x.name).sort()).toEqual(['country', 'device']);
  });

  it('builds a training version whose joined values are those valid at each prediction time', async () => {
    const r = await sluice(f, '--json', 'feedback', 'dataset', '--from', 'feedback@1', '--join', 'userfeat@1', '--on', 'user', '--asof', 'valid_from', '--into', 'ctr-train');
    expect(r.error).toBeUndefined();
    const out = JSON.parse(r.out);
    expect(out).toMatchObject({ dataset: 'ctr-train', version: 1, rows: 2000, parents: ['feedback@1', 'userfeat@1'], lineage: { models: ['ctr@1', 'ctr@2'], predictions: 2000 } });
    const m = await f.project.catalog.resolve({ dataset: 'ctr-train', kind: 'latest' });
    const duck = await f.project.duck();
    const seg = await duck.all<{ user: string; before: boolean; segment: string | null; n: number }>(
      `SELECT user, predicted_at < TIMESTAMP '2026-01-06 00:00:00' AS before, segment, count(*)::INTEGER AS n FROM (${scanSql(f.project.dataDir, m)}) WHERE user IN ('u1', 'u2', 'u3') GROUP BY ALL ORDER BY ALL`,
    );
    expect(seg.map((x) => [x.user, x.before, x.segment])).toEqual([
      ['u1', false, 'b'], ['u1', true, 'a'], ['u2', false, 'c'], ['u2', true, 'c'], ['u3', false, null], ['u3', true, null],
    ]);
    expect(seg.reduce((n, x) => n + x.n, 0)).toBe(3 * 118); // 2000 = 17 × 117 + 11: users u0–u10 have 118 examples
  });

  it('refuses a --join without its --on and --asof, and a bad --per, as usage errors', async () => {
    expect((await sluice(f, 'feedback', 'dataset', '--join', 'userfeat@1', '--into', 'x')).error?.message).toBe('each --join needs one --on and one --asof: got 1 --join, 0 --on, 0 --asof');
    expect((await sluice(f, 'feedback', 'metrics', '--per', 'week')).error?.message).toBe('--per must be day or hour, got "week"');
    expect((await sluice(f, 'feedback', 'metrics', '--from', 'feedback@1', '--slice', 'nope')).error?.message).toBe('feedback@1 has no logged field "nope" to slice by');
  });

  it('sets the fields live metrics slice by with --track', async () => {
    const r = await sluice(f, '--json', 'feedback', 'metrics', '--track', 'country, device', '--no-drift');
    expect(r.error).toBeUndefined();
    const db = openFeedbackDb(f.project);
    try {
      expect(await metricSlices(db)).toEqual(['country', 'device']);
    } finally {
      await db.close();
    }
    expect(JSON.parse(r.out).source).toBe('feedback@1'); // the state is still empty: recomputed
  });

  it('recomputes from the feedback dataset when the incremental state is empty', async () => {
    const s = await computeMetrics(f.project, { drift: false });
    expect(s.source).toBe('feedback@1');
    expect(s.groups.reduce((n, g) => n + g.n, 0)).toBe(2000);
  });
});

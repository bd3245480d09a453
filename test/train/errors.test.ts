// The trainer's bad inputs fail before anything is registered, with messages naming what and
// where; the `train` command's help, --json summary and exit codes.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { ConfigError, InputError, UsageError } from '../../src/core/errors.ts';
import { listModels } from '../../src/model/registry.ts';
import { trainBaseline, type TrainOptions } from '../../src/model/train/train.ts';
import { fixture, type Fixture } from '../model/fixture.ts';
import { SPEC, syntheticSql } from './synthetic.ts';

let f: Fixture;
const base: TrainOptions = { baseline: 'logistic', features: SPEC, data: 'ads', label: 'clicked', epochs: 2 };

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(['node', 'sluice', '--project', f.dir, ...args]), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  f = await fixture(1);
  await f.dataset('ads', syntheticSql(2_000, 5, -1));
  await f.dataset('three', `SELECT x1, x2, noise, slot, ['a', 'b', 'c'][1 + ad_id % 3] AS clicked FROM (${syntheticSql(300, 6)})`);
  await f.dataset('one-class', `SELECT x1, x2, noise, slot, 0 AS clicked FROM (${syntheticSql(300, 6)})`);
  await f.dataset('empty', `SELECT * FROM (${syntheticSql(10, 6)}) WHERE false`);
  await f.dataset('words', `SELECT x1, x2, noise, slot, CASE WHEN clicked = 1 THEN 'yes' ELSE 'no' END AS clicked FROM (${syntheticSql(300, 6, 0)})`);
}, 60_000);
afterAll(async () => f.close());

describe('sluice train: bad input registers nothing', () => {
  it.each([
    ['a missing label column', { label: 'nope' }, InputError, 'label column "nope" is not in ads@1'],
    ['a label with three classes', { data: 'three' }, InputError, 'label column "clicked" of three@1 has 3 classes (a, b, c); the baseline trainer needs exactly two'],
    ['a label with one class', { data: 'one-class' }, InputError, 'label column "clicked" of one-class@1 has 1 class (0)'],
    ['empty data', { data: 'empty' }, InputError, 'empty@1 has no rows'],
    ['string classes without --positive', { data: 'words' }, UsageError, 'label column "clicked" has classes "no" and "yes": which one is positive?'],
    ['a feature spec that reads the label', { features: { inputs: [{ name: 'x', features: [{ number: 'clicked' }] }] } }, ConfigError, 'the feature spec reads the label column "clicked"'],
    ['a feature column the data lacks', { features: { inputs: [{ name: 'x', features: [{ number: 'price' }] }] } }, InputError, 'ads@1 has no column "price", which the feature spec reads'],
    ['an int64 input', { features: { inputs: [{ name: 'x', dtype: 'int64', features: [{ category: 'slot', vocab: ['a'] }] }] } }, ConfigError, 'input x is int64 (category ids); the baseline trainer has no embeddings'],
    ['a learning rate of zero', { lr: 0 }, UsageError, '--lr must be a number in (0, 10), got 0'],
  ] as const)('fails on %s', async (_, change, cls, message) => {
    const err = await trainBaseline(f.project, { ...base, ...change } as TrainOptions).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect((err as Error).message).toContain(message);
    expect(listModels(f.project)).toEqual([]);
    expect(existsSync(join(f.dir, 'models'))).toBe(false);
  });

  it('trains string classes with --positive, the label recorded as the output class', async () => {
    const r = await trainBaseline(f.project, { ...base, data: 'words', positive: 'yes', name: 'words' });
    expect(r.model).toBe('words@1');
    expect(listModels(f.project).map((m) => [m.name, m.labels])).toEqual([['words', ['yes']]]);
  });
});

describe('the train command', () => {
  it('--help shows an example', async () => {
    const r = await run('train', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('$ sluice train --baseline mlp --features features/ctr.yaml --data ads-train@2 --val ads-val@1 --label clicked --name ctr');
  });

  it('--json prints epochs, best epoch, metrics, throughput and the model ref', async () => {
    const spec = join(f.dir, 'ctr.yaml');
    writeFileSync(spec, stringify(SPEC));
    const r = await run('--json', 'train', '--baseline', 'mlp', '--features', spec, '--data', 'ads', '--val', 'ads', '--label', 'clicked', '--name', 'cli', '--epochs', '10', '--batch-size', '64', '--hidden', '8', '--seed', '4');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.model).toBe('cli@1');
    expect(s.rows).toBe(2000);
    expect(s.epochs).toBeGreaterThanOrEqual(1);
    expect(s.epochs).toBeLessThanOrEqual(10);
    expect(s.best_epoch).toBeLessThanOrEqual(s.epochs);
    expect(s.metrics_on).toBe('ads@1');
    expect(s.auc).toBeGreaterThan(0.9);
    expect(s.log_loss).toBeGreaterThan(0);
    expect(s.ece).toBeGreaterThanOrEqual(0);
    expect(s.examples_per_second).toBeGreaterThan(0);
    expect(s.calibration.rates).toEqual({});
  });

  it('exits 2 on a bad --baseline and 1 on a missing label column', async () => {
    expect((await run('train', '--baseline', 'tree', '--features', 'x.yaml', '--data', 'ads', '--label', 'clicked')).code).toBe(2);
    const r = await run('train', '--baseline', 'logistic', '--features', join(f.dir, 'ctr.yaml'), '--data', 'ads', '--label', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toContain('label column "nope" is not in ads@1');
  });
});

// `sluice mine` and `sluice score` from the command line: --json summaries, exit code 2 with a
// message that says how to fix bad usage, exit code 1 when the model is missing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeModel, mlpModel } from '../../src/model/onnx/build.ts';
import { addModel } from '../../src/model/registry.ts';
import { type Fixture, fixture } from '../model/fixture.ts';
import { cliRaw } from '../foundation/helpers.ts';

let fx: Fixture;
beforeEach(async () => {
  fx = await fixture();
  await fx.dataset('pool', `SELECT range AS k, (range / 10)::FLOAT AS p, (range % 2) AS label, (1 + range % 3)::DOUBLE AS bid FROM range(10)`);
  await fx.dataset('users', `SELECT 'u' || range AS uid, range::FLOAT AS w FROM range(2)`);
  const identity = { w1: Float32Array.of(1), b1: Float32Array.of(0), w2: Float32Array.of(1), b2: Float32Array.of(0), sizes: [1, 1, 1] as [number, number, number] };
  await addModel(fx.project, { file: fx.onnxFile('p.onnx', encodeModel(mlpModel(identity, { input: 'x', output: 'y' }, 'none'))), name: 'm', features: { inputs: [{ name: 'x', features: [{ number: 'p' }] }] } });
});
afterEach(async () => fx.close());

/** `sluice --project <fixture> --threads 1 <args…>` in this process. */
const cli = async (...args: string[]) => {
  const r = await cliRaw('--project', fx.dir, '--threads', '1', ...args);
  return { code: r.code, out: r.stdout, err: r.stderr };
};

describe('mine and score commands', () => {
  it('mines hard negatives and prints a JSON summary', async () => {
    const r = await cli('--json', 'mine', '--model', 'm@1', '--data', 'pool@1', '--hard-negatives', '2');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ dataset: 'pool-mined', version: 1, rows: 2, picked: 2, unscored: 0, review_items: 0 });
  });

  it('exits 2 when no strategy or two strategies are given', async () => {
    const none = await cli('mine', '--model', 'm@1', '--data', 'pool@1');
    expect(none.code).toBe(2);
    expect(none.err).toContain('give exactly one strategy, got none');
    const two = await cli('mine', '--model', 'm@1', '--data', 'pool@1', '--hard-negatives', '2', '--uncertainty', 'margin', '--top', '3');
    expect(two.code).toBe(2);
    expect(two.err).toContain('got hard-negatives, margin');
  });

  it('scores the top 2 per context ranked by an expression, and refuses k = 0 and a missing model', async () => {
    const r = await cli('--json', 'score', '--model', 'm@1', '--candidates', 'pool@1', '--contexts', 'users@1', '--top-k', '2', '--rank-by', 'bid * score + w', '--candidate-id', 'k', '--context-id', 'uid');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ dataset: 'pool-scores', version: 1, rows: 4, candidates: 10, pairs: 20, failed_candidates: 0, failed_contexts: [] });
    const k0 = await cli('score', '--model', 'm@1', '--candidates', 'pool@1', '--contexts', 'users@1', '--top-k', '0', '--context-id', 'uid');
    expect(k0.code).toBe(2);
    expect(k0.err).toContain('--top-k must be a whole number ≥ 1, got 0');
    const missing = await cli('score', '--model', 'nope@1', '--candidates', 'pool@1', '--contexts', 'users@1', '--top-k', '2', '--context-id', 'uid');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no model "nope"');
  });
});

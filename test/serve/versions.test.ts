// Versions: a hot swap under load fails no request (in-flight ones finish on the old version), a
// new registry version is picked up by the watcher, the A/B split is sticky and matches its ratio
// within 1 point over 10,000 keys, and shadow answers reach the log but never the client.
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compileSpec } from '../../src/model/features/compile.ts';
import { Arms } from '../../src/serve/arms.ts';
import { referenceMlp } from '../model/fixture.ts';
import { memorySink, post, serve, serveFixture, SPEC, until, weights, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
const spec = compileSpec(SPEC);
const expected = async (row: Record<string, unknown>, version: number) => referenceMlp(weights(version), (await spec.row(row)).x as Float32Array)[0]!;

beforeAll(async () => {
  fx = await serveFixture(2);
});
afterAll(async () => {
  await fx.close();
});

describe('hot reload', () => {
  test('a swap under load fails no request; answers come from the old version before and the new one after', async () => {
    const s2 = await serve(fx, { batch: { maxBatch: 16, maxDelayUs: 200, queueLimit: 4096 } });
    try {
      const row = { price: 1.25, age: 40, clicks: 2, country: 'de' };
      const v2 = await expected(row, 2);
      const v3 = await expected(row, 3);
      const seen: { status: number; value: number }[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const r = await post(`${s2.url}/v1/models/ctr:predict`, { instances: [row] });
          seen.push({ status: r.status, value: r.json.predictions?.[0]?.[0] });
        }
      };
      const workers = Array.from({ length: 8 }, worker);
      await until(() => seen.length >= 100);
      await fx.addVersion(3);
      const swap = await post(`${s2.url}/admin/reload`, {}, { authorization: `Bearer ${s2.token}` });
      const atSwap = seen.length;
      await until(() => seen.length >= atSwap + 100);
      stop = true;
      await Promise.all(workers);
      expect(swap.json).toEqual({ before: ['ctr@2'], after: ['ctr@3'] });
      expect(seen.filter((x) => x.status !== 200)).toEqual([]);
      expect(seen.every((x) => x.value === v2 || x.value === v3)).toBe(true);
      const firstNew = seen.findIndex((x) => x.value === v3);
      expect(firstNew).toBeGreaterThan(0);
      expect(seen.slice(firstNew).every((x) => x.value === v3)).toBe(true); // once swapped, never back
      expect(s2.metrics.reloads.get()).toBe(1);
    } finally {
      await s2.close();
    }
  });

  test('a reload that cannot load the new version answers the error and keeps serving the old one', async () => {
    const s = await serve(fx);
    try {
      const before = s.arms.current.arms[0]!.version.ref;
      const v = await fx.addVersion(7);
      appendFileSync(join(fx.dir, 'models', 'ctr', String(v), 'model.onnx'), 'tampered');
      const r = await post(`${s.url}/admin/reload`, {}, { authorization: `Bearer ${s.token}` });
      expect(r.status).toBe(500);
      expect(r.json.error).toMatch(new RegExp(`^model ctr@${v}: model.onnx has sha256 `));
      expect(s.arms.current.arms[0]!.version.ref).toBe(before);
      expect((await post(`${s.url}/v1/models/ctr:predict`, { instances: [{ price: 1 }] })).status).toBe(200);
      expect(s.metrics.reloads.get()).toBe(0);
      rmSync(join(fx.dir, 'models', 'ctr', String(v)), { recursive: true });
    } finally {
      await s.close();
    }
  });

  test('the registry watcher swaps to a new version of an unpinned model by itself', async () => {
    const s = await serve(fx, { watchMs: 50 });
    try {
      const before = (await post(`${s.url}/v2/models/ctr/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] })).json.model_version;
      const v = await fx.addVersion(5);
      await until(() => s.arms.current.arms[0]!.version.version === v);
      const after = await post(`${s.url}/v2/models/ctr/infer`, { inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] });
      expect([before, after.json.model_version]).toEqual([String(v - 1), String(v)]);
      expect(after.json.outputs[0].data).toEqual([referenceMlp(weights(5), [1, 2, 3, 4])[0]]);
    } finally {
      await s.close();
    }
  });
});

describe('A/B and shadow', () => {
  test('the A/B split is sticky per key and within 1 point of its ratio over 10,000 keys', async () => {
    const arms = await Arms.open(fx.project, { model: 'ctr', ab: [{ ref: 'ctr@1', weight: 0.9 }, { ref: 'ctr@2', weight: 0.1 }] }, { threads: 1, batch: { maxBatch: 8, maxDelayUs: 0, queueLimit: 100 } });
    try {
      const set = arms.current;
      const picks = Array.from({ length: 10_000 }, (_, i) => set.pick(`user-${i}`).name);
      const share = picks.filter((p) => p === 'ctr@2').length / picks.length;
      expect(Math.abs(share - 0.1)).toBeLessThanOrEqual(0.01);
      expect(Array.from({ length: 10_000 }, (_, i) => set.pick(`user-${i}`).name)).toEqual(picks);
    } finally {
      await arms.close();
    }
  });

  test('over HTTP each key stays on its arm, the answer comes from that arm’s version, and the arm is logged', async () => {
    const log = memorySink();
    const s = await serve(fx, { ab: [{ ref: 'ctr@1', weight: 0.5 }, { ref: 'ctr@2', weight: 0.5 }], abKey: 'user', log });
    try {
      const arm = new Map<string, string>();
      for (let round = 0; round < 2; round++) {
        for (let u = 0; u < 40; u++) {
          const row = { user: `u${u}`, price: u };
          const r = await post(`${s.url}/v1/models/ctr:predict`, { instances: [row] });
          const rec = log.records.at(-1)!;
          expect(rec.prediction_id).toBe(r.json.prediction_ids[0]);
          expect(rec.key).toBe(`u${u}`);
          expect(r.json.predictions[0][0]).toBe(await expected(row, rec.version));
          expect(rec.arm).toBe(`ctr@${rec.version}`);
          if (round === 0) arm.set(`u${u}`, rec.arm);
          else expect(rec.arm).toBe(arm.get(`u${u}`));
        }
      }
      expect(new Set(arm.values())).toEqual(new Set(['ctr@1', 'ctr@2']));
    } finally {
      await s.close();
    }
  });

  test('shadow answers never reach the client but are logged with shadow: true beside the served ones', async () => {
    const log = memorySink();
    const s = await serve(fx, { model: 'ctr@1', shadow: 'ctr@2', log });
    try {
      const rows = Array.from({ length: 20 }, (_, i) => ({ price: i / 4, age: 20 + i }));
      const r = await post(`${s.url}/v1/models/ctr:predict`, { instances: rows });
      expect(r.json.predictions).toEqual(await Promise.all(rows.map(async (x) => [await expected(x, 1)])));
      await until(() => log.records.length === 40);
      const main = log.records.filter((x) => !x.shadow);
      const shadow = log.records.filter((x) => x.shadow);
      expect(main.map((x) => x.prediction_id)).toEqual(r.json.prediction_ids);
      expect(shadow.map((x) => x.prediction_id)).toEqual(r.json.prediction_ids.map((id: string) => `${id}/shadow`));
      expect(shadow.every((x) => x.arm === 'ctr@2' && x.version === 2)).toBe(true);
      expect(shadow.map((x) => x.outputs.y)).toEqual(await Promise.all(rows.map((x) => expected(x, 2))));
      expect(JSON.stringify(r.json)).not.toContain('shadow');
    } finally {
      await s.close();
    }
  });
});

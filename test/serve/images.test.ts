// Image features online: TF Serving's binary encoding {"b64": …} goes through the spec's image
// transform (sharp), the same as batch inference reading bytes; a path string is refused, so a
// client cannot make the server read its files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compileSpec } from '../../src/model/features/compile.ts';
import { encodeModel, model, node, tensor, valueInfo } from '../../src/model/onnx/build.ts';
import { addModel } from '../../src/model/registry.ts';
import type { SluiceServer } from '../../src/serve/server.ts';
import { post, serve, serveFixture, type ServeFixture } from './fixture.ts';

let fx: ServeFixture;
let s: SluiceServer;
const SPEC = { inputs: [{ name: 'img', image: { column: 'photo', width: 4, height: 4, channels: 1 as const } }] };
// y = sum of the 16 pixel values / 16 (each in [0, 1]): the mean brightness.
const W = new Array(16).fill(1 / 16);

beforeAll(async () => {
  fx = await serveFixture(0);
  const file = join(fx.dir, 'img.onnx');
  writeFileSync(
    file,
    encodeModel(
      model({
        name: 'brightness',
        node: [node('Flatten', ['img'], ['f'], { axis: 1 }), node('MatMul', ['f', 'w'], ['y'])],
        initializer: [tensor('w', 'float32', [16, 1], W)],
        input: [valueInfo('img', 'float32', [null, 1, 4, 4])],
        output: [valueInfo('y', 'float32', [null, 1])],
      }),
    ),
  );
  await addModel(fx.project, { file, name: 'ctr', features: SPEC });
  s = await serve(fx);
});
afterAll(async () => {
  await s.close();
  await fx.close();
});

const png = (grey: number) => sharp(Buffer.alloc(16, grey), { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer();

test('an image sent as {"b64": …} is scored through the spec’s image transform, as batch inference would', async () => {
  const [dark, light] = await Promise.all([png(51), png(204)]);
  const r = await post(`${s.url}/v1/models/ctr:predict`, { instances: [{ photo: { b64: dark.toString('base64') } }, { photo: { b64: light.toString('base64') } }] });
  expect(r.status).toBe(200);
  const spec = compileSpec(SPEC);
  const { tensors } = await spec.batch({ photo: [dark, light] }, 2);
  const t = tensors.img as Float32Array;
  const mean = (k: number) => Math.fround(Array.from(t.subarray(k * 16, (k + 1) * 16)).reduce((a, b) => a + b / 16, 0));
  expect(r.json.predictions[0][0]).toBeCloseTo(mean(0), 6);
  expect(r.json.predictions[1][0]).toBeCloseTo(mean(1), 6);
  expect(r.json.predictions[0][0]).toBeCloseTo(0.2, 5);
});

test('an image field given as a path answers 400: the server reads no file a client names', async () => {
  const r = await post(`${s.url}/v1/models/ctr:predict`, { instances: [{ photo: 'sluice.yaml' }] });
  expect(r.status).toBe(400);
  expect(r.json.error).toBe('instances[0]: field photo: expected image bytes as {"b64": "<base64>"}, got string');
});

// The numeric and vocabulary parts of a feature spec exported as an ONNX preprocessing graph,
// merged in front of a model, run in ONNX Runtime: the tensors equal the TS transform's bit for bit.
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { compileSpec } from '../../src/model/features/compile.ts';
import { exportedInputs, withPreprocessing } from '../../src/model/features/export-onnx.ts';
import { encodeModel, mlpModel, model, node, valueInfo } from '../../src/model/onnx/build.ts';
import { dyadicMlp, referenceMlp } from './fixture.ts';

const spec = compileSpec({
  inputs: [
    {
      name: 'x',
      features: [
        { number: 'price', fill: -1, clip: [0, 100], standardize: { mean: 12.345678901234567, std: 3.3 } },
        { number: 'ratio', standardize: { mean: 0.1, std: 0.7 } },
        { category: 'country', vocab: ['de', 'fr', 'us'], encode: 'one_hot' },
        { category: 'country', vocab: ['de', 'fr', 'us'] },
      ],
    },
    { name: 'ids', dtype: 'int64', features: [{ category: 'lang', vocab: ['en', 'de'] }] },
    { name: 'h', features: [{ category: 'ad', hash: { buckets: 8 } }] },
  ],
}).spec;

const rows = [
  { price: 10.5, ratio: 0.3, country: 'de', lang: 'de', ad: 'a' },
  { price: NaN, ratio: 1e-3, country: 'xx', lang: 'fr', ad: 'b' },
  { price: 1e9, ratio: -2.75, country: 'us', lang: 'en', ad: 'c' },
  { price: -Infinity, ratio: 123456.789, country: 'fr', lang: '', ad: 'd' },
];

/** A model that returns its inputs: what comes out is what the preprocessing made. */
function echoModel(): Uint8Array {
  return encodeModel(
    model({
      name: 'echo',
      node: [node('Identity', ['x'], ['x_out']), node('Identity', ['ids'], ['ids_out']), node('Identity', ['h'], ['h_out'])],
      input: [valueInfo('x', 'float32', [null, 7]), valueInfo('ids', 'int64', [null, 1]), valueInfo('h', 'float32', [null, 8])],
      output: [valueInfo('x_out', 'float32', [null, 7]), valueInfo('ids_out', 'int64', [null, 1]), valueInfo('h_out', 'float32', [null, 8])],
    }),
  );
}

const bits = (a: ArrayLike<number | bigint>) => Array.from(a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : a, String);

describe('ONNX preprocessing export', () => {
  it('computes the numeric and vocabulary inputs in the graph, bit-identical to the TS transform', async () => {
    expect(exportedInputs(spec)).toEqual(['x', 'ids']);
    const merged = withPreprocessing(spec, echoModel());
    const session = await ort.InferenceSession.create(merged, { intraOpNumThreads: 1 });
    expect([...session.inputNames].sort()).toEqual(['h', 'raw_country', 'raw_lang', 'raw_price', 'raw_ratio']);
    const t = compileSpec(spec);
    const want = await Promise.all(rows.map((r) => t.row(r)));
    const n = rows.length;
    const out = await session.run({
      raw_price: new ort.Tensor('float64', Float64Array.from(rows.map((r) => r.price)), [n, 1]),
      raw_ratio: new ort.Tensor('float64', Float64Array.from(rows.map((r) => r.ratio)), [n, 1]),
      raw_country: new ort.Tensor('string', rows.map((r) => r.country), [n, 1]),
      raw_lang: new ort.Tensor('string', rows.map((r) => r.lang), [n, 1]),
      h: new ort.Tensor('float32', new Float32Array(n * 8), [n, 8]),
    });
    const x = out.x_out!.data as Float32Array;
    const ids = out.ids_out!.data as BigInt64Array;
    for (let i = 0; i < n; i++) {
      expect(bits(x.subarray(i * 7, (i + 1) * 7))).toEqual(bits(want[i]!.x as Float32Array));
      expect(ids[i]).toBe((want[i]!.ids as BigInt64Array)[0]);
    }
    // Row 2: NaN price → fill −1 → clip to 0 → standardized; 'xx' is out of vocabulary (bucket 0).
    expect(Array.from(x.subarray(7, 14))).toEqual([Math.fround((0 - 12.345678901234567) / 3.3), Math.fround((Math.fround(1e-3) - 0.1) / 0.7), 1, 0, 0, 0, 0]);
  });

  it('runs merged in front of an MLP, which scores the exported features like the reference', async () => {
    const w = dyadicMlp([2, 4, 1]);
    const s = compileSpec({ inputs: [{ name: 'x', features: [{ number: 'a', fill: 0.5 }, { number: 'b', clip: [-1, 1] }] }] }).spec;
    const session = await ort.InferenceSession.create(withPreprocessing(s, encodeModel(mlpModel(w, { input: 'x', output: 'y' }, 'none'))), { intraOpNumThreads: 1 });
    const out = await session.run({ raw_a: new ort.Tensor('float64', Float64Array.from([NaN, 0.25]), [2, 1]), raw_b: new ort.Tensor('float64', Float64Array.from([3, -0.75]), [2, 1]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([referenceMlp(w, [0.5, 1])[0], referenceMlp(w, [0.25, -0.75])[0]]);
  });
});

// The v2 body's fast reader against its reference, JSON.parse + a copy into a Float32Array: the same
// float32 values bit for bit (short decimals, 17-digit doubles, float32 midpoints, exponents,
// subnormals, -0), the same object around the data, and no answer (undefined) for anything
// JSON.parse would read differently or reject; and the hand-written v2 answer is JSON.stringify's.
import { expect, test } from 'vitest';
import { answerObject, answerText } from '../../src/serve/routes-v2.ts';
import { DataSpan, readV2Body } from '../../src/serve/v2-body.ts';
import type { IoSig } from '../../src/serve/version.ts';

/** Deterministic pseudo-random doubles in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 + (s = (Math.imul(s, 22695477) + 1) >>> 0) / 2 ** 64);
}

function viaSpan(tokens: string[], sep = ','): Float32Array {
  const text = `{"inputs":[{"name":"x","data":[${tokens.join(sep)}]}]}`;
  const body = readV2Body(text)!;
  const span = (body.inputs as { data: DataSpan }[])[0]!.data;
  expect(span).toBeInstanceOf(DataSpan);
  return span.values;
}

function viaJson(tokens: string[]): Float32Array {
  return Float32Array.from(JSON.parse(`[${tokens.join(',')}]`) as number[]);
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

test('numbers of every common spelling read to the same float32 bits as JSON.parse', () => {
  const r = rng(7);
  const tokens: string[] = ['0', '-0', '0.0', '-0.0', '1', '-1', '0.5', '1e5', '1E+5', '2.5e-3', '-7.25E-10', '123456789012345678', '9007199254740993', '1e-45', '1e-46', '3.4028235e38', '3.5e38', '1e39', '-1e400', '1e-400', '0.1000000000000000055511151231257827', '1.00000000000000000000000000001'];
  for (let i = 0; i < 3000; i++) {
    const x = (r() - 0.5) * 10 ** Math.floor(r() * 16 - 8);
    const f = Math.fround(x);
    tokens.push(JSON.stringify(x), JSON.stringify(f), x.toFixed(Math.floor(r() * 8)), x.toExponential(Math.floor(r() * 12)), x.toPrecision(1 + Math.floor(r() * 20)));
    // The double halfway between two neighbouring float32 values, and its neighbours: rounding ties.
    const next = new Float32Array([f]);
    new Uint32Array(next.buffer)[0]! += 1;
    const mid = (f + next[0]!) / 2;
    tokens.push(JSON.stringify(mid), mid.toPrecision(21), (mid * (1 + 2 ** -52)).toPrecision(19), (mid * (1 - 2 ** -52)).toPrecision(19), mid.toPrecision(17), mid.toPrecision(18));
  }
  const tokensOk = tokens.filter((t) => /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(t));
  expect(bits(viaSpan(tokensOk))).toEqual(bits(viaJson(tokensOk)));
  expect(bits(viaSpan(tokensOk.slice(0, 50), ' ,\n\t'))).toEqual(bits(viaJson(tokensOk.slice(0, 50))));
});

test('the rest of the body is what JSON.parse gives', () => {
  const text = ' {"id":"r\\u00e9q 1","parameters":{"user":"u1","n":[1,{"a":null}]},"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":null},"data":[1, 2.5,3,4]},{"name":"y","shape":[2],"datatype":"INT64","data":"oops"}, 7],"outputs":[{"name":"y"}]}\n';
  const body = readV2Body(text)!;
  const ref = JSON.parse(text) as Record<string, unknown>;
  const [x, ...rest] = body.inputs as Record<string, unknown>[];
  const [rx, ...rrest] = ref.inputs as Record<string, unknown>[];
  expect({ ...body, inputs: undefined }).toEqual({ ...ref, inputs: undefined });
  expect({ ...x, data: undefined }).toEqual({ ...rx, data: undefined });
  expect(rest).toEqual(rrest);
  expect(Array.from((x!.data as DataSpan).values)).toEqual(rx!.data);
});

test('anything JSON.parse reads differently or rejects gets no fast answer', () => {
  for (const text of ['', '[]', '{"inputs":[]', '{"inputs":[]}x', '{"a":1,"a":2}', '{"__proto__":{"inputs":1}}', '{"in\\u0070uts":[]}', '{"inputs":[{"data":[1]},]}', '{"id":tru}', "{'a':1}", '{"a":01}']) {
    expect(readV2Body(text), text).toBeUndefined();
  }
  for (const t of ['01', '1.', '.5', '+1', 'NaN', 'Infinity', '-Infinity', '1e', '-', '1,', '[1]', '"1"', 'null', '1 2', '0x10', '1,]']) {
    expect(readV2Body(`{"inputs":[{"data":[${t}]}]}`), t).toBeUndefined();
  }
  expect(Array.from((readV2Body('{"inputs":[{"data":[ ]}]}')!.inputs as { data: DataSpan }[])[0]!.data.values)).toEqual([]);
});

test('the hand-written v2 answer is the text JSON.stringify writes for the answer object', () => {
  const sigs: IoSig[] = [
    { name: 'y', dtype: 'float32', rowShape: [2], rowSize: 2 },
    { name: 'k', dtype: 'int64', rowShape: [], rowSize: 1 },
  ];
  const r = { outputs: { y: { type: 'float32' as const, data: Float32Array.from([0.1, -0, 1e-40, 3.4e38, 2.5, -7]), dims: [3, 2] }, k: { type: 'int64' as const, data: BigInt64Array.from([1n, -2n, 9007199254740993n]), dims: [3] } }, failed: new Map() };
  const ids = ['0b6c3c56-4bd0-4c39-9f61-3d0a9c5e6a11', '1b6c3c56-4bd0-4c39-9f61-3d0a9c5e6a11', '2b6c3c56-4bd0-4c39-9f61-3d0a9c5e6a11'];
  for (const id of ['req "1"\n', 7, undefined]) {
    const text = answerText('m "x"', 3, id, ids, 'ctr@3', sigs, r, 3);
    expect(text).toBe(answerObject('m "x"', 3, id, ids, 'ctr@3', sigs, r, 3));
    expect(JSON.parse(text!)).toEqual({ model_name: 'm "x"', model_version: '3', ...(typeof id === 'string' ? { id } : {}), parameters: { prediction_ids: ids, arm: 'ctr@3' }, outputs: [{ name: 'y', datatype: 'FP32', shape: [3, 2], data: Array.from(r.outputs.y.data, (x) => x + 0) }, { name: 'k', datatype: 'INT64', shape: [3], data: [1, -2, 9007199254740992] }] });
  }
  // NaN / ±Infinity are left to the object path, which writes them as tokens.
  const nan = { outputs: { y: { type: 'float32' as const, data: Float32Array.from([NaN, Infinity]), dims: [1, 2] } }, failed: new Map() };
  expect(answerText('m', 1, undefined, ids.slice(0, 1), 'main', sigs.slice(0, 1), nan, 1)).toBeUndefined();
  expect(answerObject('m', 1, undefined, ids.slice(0, 1), 'main', sigs.slice(0, 1), nan, 1)).toContain('"data":[NaN,Infinity]');
});

test('integer arrays (shapes), common keys and values, and bytes read as JSON.parse reads their text', () => {
  for (const shape of ['[1,256]', '[ 2 , 3 ]', '[]', '[ ]', '[0]', '[0,7]', '[123456789012345]', '[1234567890123456789]', '[-1]', '[1.0]', '[1e2]', '[01]', '[1,]', '[,1]', '[1 2]', '[[1]]', '[1,"a"]', '[1', '[1,2']) {
    const text = `{"id":"FP32","inputs":[{"name":"name","shape":${shape},"datatype":"INT64","parameters":{"shape":[4]},"data":[1]}],"outputs":[{"name":"data"}]}`;
    let ref: Record<string, unknown> | undefined;
    try {
      ref = JSON.parse(text) as Record<string, unknown>;
    } catch {
      ref = undefined;
    }
    for (const body of [readV2Body(text), readV2Body(Buffer.from(text))]) {
      if (!ref) {
        expect(body, shape).toBeUndefined();
        continue;
      }
      const [x] = body!.inputs as Record<string, unknown>[];
      const [rx] = ref.inputs as Record<string, unknown>[];
      expect({ ...body, inputs: undefined }, shape).toEqual({ ...ref, inputs: undefined });
      expect({ ...x, data: undefined }, shape).toEqual({ ...rx, data: undefined });
    }
  }
  // Non-ASCII text decodes from its own bytes as from the whole body's text.
  const text = '{"id":"réq ✓","inputs":[{"name":"ẋ","data":[1]}],"ключ":"значение"}';
  const body = readV2Body(Buffer.from(text))!;
  expect({ ...body, inputs: undefined }).toEqual({ ...(JSON.parse(text) as object), inputs: undefined });
  expect((body.inputs as { name: string }[])[0]!.name).toBe('ẋ');
});

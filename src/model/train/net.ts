// The two baseline networks as one flat parameter vector with forward and backward passes over
// row-major Float32Array batches: logistic regression (z = x·w + b) and a one-hidden-layer MLP
// (z = relu(x·W1 + b1)·w2 + b2). The score is sigmoid(z); the loss is weighted binary cross-entropy.
import type { Rng } from './rng.ts';

export type Arch = 'logistic' | 'mlp';

export interface Net {
  arch: Arch;
  /** input width D */
  inputs: number;
  /** hidden width H (0 for logistic) */
  hidden: number;
  /** logistic: w[D], b — mlp: W1[D][H] row-major, b1[H], w2[H], b2 */
  params: Float64Array;
}

export const paramCount = (arch: Arch, d: number, h: number): number => (arch === 'logistic' ? d + 1 : d * h + 2 * h + 1);

/** Fresh weights: zeros for logistic, He-normal for the MLP's first layer; the output bias starts at the base rate's log-odds. */
export function initNet(arch: Arch, d: number, h: number, r: Rng, baseRate: number): Net {
  const hidden = arch === 'logistic' ? 0 : h;
  const params = new Float64Array(paramCount(arch, d, hidden));
  const p = Math.min(Math.max(baseRate, 1e-6), 1 - 1e-6);
  params[params.length - 1] = Math.log(p / (1 - p));
  if (arch === 'mlp') {
    const s1 = Math.sqrt(2 / d);
    for (let i = 0; i < d * h; i++) params[i] = r.normal() * s1;
    const s2 = Math.sqrt(1 / h);
    for (let j = 0; j < h; j++) params[d * h + h + j] = r.normal() * s2;
  }
  return { arch, inputs: d, hidden, params };
}

/** The logit of each of `n` rows of `x` ([n][D]) into `out`. */
export function forward(net: Net, x: Float32Array, n: number, out: Float64Array): void {
  const { inputs: d, hidden: h, params: p } = net;
  const hid = new Float64Array(h);
  for (let r = 0; r < n; r++) out[r] = rowLogit(net, p, x, r * d, hid);
}

function rowLogit(net: Net, p: Float64Array, x: Float32Array, at: number, hid: Float64Array): number {
  const d = net.inputs;
  if (net.arch === 'logistic') {
    let z = p[d]!;
    for (let k = 0; k < d; k++) z += x[at + k]! * p[k]!;
    return z;
  }
  const h = net.hidden;
  const b1 = d * h;
  for (let j = 0; j < h; j++) hid[j] = p[b1 + j]!;
  // k outer, j inner: W1's row k is contiguous, and zero inputs (one-hot) are skipped
  for (let k = 0; k < d; k++) {
    const xk = x[at + k]!;
    if (xk === 0) continue;
    const base = k * h;
    for (let j = 0; j < h; j++) hid[j] = hid[j]! + xk * p[base + j]!;
  }
  const w2 = b1 + h;
  let z = p[w2 + h]!;
  for (let j = 0; j < h; j++) {
    const v = hid[j]!;
    if (v > 0) z += v * p[w2 + j]!;
    else hid[j] = 0;
  }
  return z;
}

/** log(1 + e^z) without overflow. */
export const softplus = (z: number): number => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/**
 * Adds the gradient of the batch's mean weighted loss to `grad` (zeroed by the caller) for the rows
 * `order[from..to)`; returns the batch's summed weighted loss.
 */
export function backward(net: Net, x: Float32Array, y: Float32Array, w: Float32Array, order: Uint32Array, from: number, to: number, grad: Float64Array): number {
  const { inputs: d, hidden: h, params: p } = net;
  const scale = 1 / (to - from);
  const hid = new Float64Array(h);
  const dh = new Float64Array(h);
  let loss = 0;
  for (let i = from; i < to; i++) {
    const r = order[i]!;
    const at = r * d;
    const z = rowLogit(net, p, x, at, hid);
    const yi = y[r]!;
    const wi = w[r]!;
    loss += wi * (softplus(z) - yi * z);
    const dz = wi * (sigmoid(z) - yi) * scale;
    if (net.arch === 'logistic') {
      for (let k = 0; k < d; k++) grad[k] = grad[k]! + dz * x[at + k]!;
      grad[d] = grad[d]! + dz;
      continue;
    }
    const b1 = d * h;
    const w2 = b1 + h;
    grad[w2 + h] = grad[w2 + h]! + dz;
    for (let j = 0; j < h; j++) {
      const v = hid[j]!;
      if (v > 0) {
        grad[w2 + j] = grad[w2 + j]! + dz * v;
        const g = dz * p[w2 + j]!;
        dh[j] = g;
        grad[b1 + j] = grad[b1 + j]! + g;
      } else dh[j] = 0;
    }
    for (let k = 0; k < d; k++) {
      const xk = x[at + k]!;
      if (xk === 0) continue;
      const base = k * h;
      for (let j = 0; j < h; j++) grad[base + j] = grad[base + j]! + xk * dh[j]!;
    }
  }
  return loss;
}

/** The network with every weight rounded to float32, as the ONNX model stores them. */
export function roundToFloat32(net: Net): Net {
  return { ...net, params: Float64Array.from(Float32Array.from(net.params)) };
}

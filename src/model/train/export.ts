// The trained network as a real ONNX graph (onnx-proto): the spec's inputs (concatenated when
// there are several) → Gemm [→ Relu → Gemm] → Add(prior correction) → Sigmoid → `score` [N, 1].
// The correction is a named initializer, so anyone reading the graph sees the calibration.
import { encodeModel, model, node, tensor, valueInfo } from '../onnx/build.ts';
import type { TensorPlan } from '../features/compile.ts';
import { type Net, sigmoid, forward } from './net.ts';

export const OUTPUT = 'score';
const OPSET = 17;

/** ONNX bytes of `net` with the logit shifted by `shift` (0 leaves the Add out). */
export function exportOnnx(net: Net, shift: number, inputs: TensorPlan[]): Buffer {
  const { inputs: d, hidden: h, params: p } = net;
  const nodes = [];
  let x = inputs[0]!.name;
  if (inputs.length > 1) {
    nodes.push(node('Concat', inputs.map((i) => i.name), ['features'], { axis: 1 }));
    x = 'features';
  }
  const init = [];
  if (net.arch === 'logistic') {
    init.push(tensor('w', 'float32', [d, 1], p.subarray(0, d)), tensor('b', 'float32', [1], p.subarray(d, d + 1)));
    nodes.push(node('Gemm', [x, 'w', 'b'], ['logit']));
  } else {
    const b1 = d * h;
    const w2 = b1 + h;
    init.push(
      tensor('w1', 'float32', [d, h], p.subarray(0, b1)),
      tensor('b1', 'float32', [h], p.subarray(b1, w2)),
      tensor('w2', 'float32', [h, 1], p.subarray(w2, w2 + h)),
      tensor('b2', 'float32', [1], p.subarray(w2 + h, w2 + h + 1)),
    );
    nodes.push(node('Gemm', [x, 'w1', 'b1'], ['hidden_pre']), node('Relu', ['hidden_pre'], ['hidden']), node('Gemm', ['hidden', 'w2', 'b2'], ['logit']));
  }
  let z = 'logit';
  if (shift !== 0) {
    init.push(tensor('calibration_shift', 'float32', [1], [shift]));
    nodes.push(node('Add', ['logit', 'calibration_shift'], ['calibrated_logit']));
    z = 'calibrated_logit';
  }
  nodes.push(node('Sigmoid', [z], [OUTPUT]));
  return encodeModel(
    model(
      {
        name: `sluice-baseline-${net.arch}`,
        node: nodes,
        initializer: init,
        input: inputs.map((i) => valueInfo(i.name, 'float32', [null, i.rowSize])),
        output: [valueInfo(OUTPUT, 'float32', [null, 1])],
      },
      OPSET,
    ),
  );
}

/**
 * The trainer's own scores for `n` rows of `x`: sigmoid(logit + shift), the shift rounded to
 * float32 as the graph stores it.
 */
export function predict(net: Net, shift: number, x: Float32Array, n: number): Float64Array {
  const z = new Float64Array(n);
  forward(net, x, n, z);
  const s = Math.fround(shift);
  for (let i = 0; i < n; i++) z[i] = sigmoid(z[i]! + s);
  return z;
}

// Adam (Kingma & Ba, 2015) over a flat parameter vector: the trainer keeps every weight in one
// Float64Array so the optimizer is one loop, whatever the network's shape.

export interface Adam {
  step(params: Float64Array, grad: Float64Array): void;
}

export function adam(size: number, lr: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): Adam {
  const m = new Float64Array(size);
  const v = new Float64Array(size);
  let t = 0;
  return {
    step(params, grad) {
      t++;
      // bias corrections folded into the step size (the paper's "more efficient" form)
      const a = (lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      for (let i = 0; i < size; i++) {
        const g = grad[i]!;
        const mi = (m[i] = beta1 * m[i]! + (1 - beta1) * g);
        const vi = (v[i] = beta2 * v[i]! + (1 - beta2) * g * g);
        params[i] = params[i]! - (a * mi) / (Math.sqrt(vi) + eps);
      }
    },
  };
}

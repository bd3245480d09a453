// The compiled feature spec: one transform for column batches (batch inference, mining, scoring)
// and single rows (serving). Both run the same kernels, so their tensors are bit-identical.
import { ConfigError } from '../../core/errors.ts';
import { imageKernel } from './image.ts';
import { FeatureError, type Kernel, kernelFor, type Out } from './kernels.ts';
import { type FeatureSpec, type InputSpec, FeatureSpecSchema, featureColumn, featureWidth, isCategory, isFrozen, specColumns } from './spec.ts';

export interface TensorPlan {
  name: string;
  dtype: 'float32' | 'int64';
  /** the shape of one row: [width] for features, [C, H, W] for images */
  rowShape: number[];
  rowSize: number;
}

/** Columns of a batch: arrays of JS values (null for NULL), or Float64Array with NaN for NULL. */
export type Columns = Record<string, ArrayLike<unknown>>;

export interface BatchResult {
  tensors: Record<string, Out>;
  /** row index → reason, for rows whose features failed (their tensor rows are zeros) */
  failed: Map<number, string>;
}

export interface CompiledSpec {
  spec: FeatureSpec;
  inputs: TensorPlan[];
  columns: string[];
  /** One row's tensors (each of `rowSize` values); throws FeatureError with the reason. */
  row(r: Record<string, unknown>): Promise<Record<string, Out>>;
  /** A batch of `n` rows; failing rows are reported, never thrown. */
  batch(cols: Columns, n: number): Promise<BatchResult>;
}

interface Slot {
  column: string;
  kernel: Kernel;
  offset: number;
}

/**
 * Compiles a frozen spec once.
 * @example const t = compileSpec(spec); const { tensors } = await t.batch({ price: [1, 2] }, 2);
 */
export function compileSpec(input: unknown, options: { root?: string } = {}): CompiledSpec {
  const parsed = FeatureSpecSchema.safeParse(input);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new ConfigError(`feature spec: ${i?.path.join('.') || '(root)'}: ${i?.message}`, { hint: 'see docs/features.md for the spec format' });
  }
  const spec = parsed.data;
  if (!isFrozen(spec)) throw new ConfigError('feature spec is not frozen: standardize: true or a vocabulary to build', { hint: 'freeze it from a dataset version: sluice model add … --stats <dataset@version>' });
  const plans: TensorPlan[] = [];
  const slots = new Map<string, Slot[]>();
  for (const inp of spec.inputs) {
    if ('image' in inp) {
      const { channels, height, width } = inp.image;
      plans.push({ name: inp.name, dtype: 'float32', rowShape: [channels, height, width], rowSize: channels * height * width });
      continue;
    }
    checkDtype(inp);
    let offset = 0;
    const s: Slot[] = [];
    for (const f of inp.features) {
      s.push({ column: featureColumn(f), kernel: kernelFor(f), offset });
      offset += featureWidth(f);
    }
    slots.set(inp.name, s);
    plans.push({ name: inp.name, dtype: inp.dtype, rowShape: [offset], rowSize: offset });
  }
  const alloc = (p: TensorPlan, n: number): Out => (p.dtype === 'int64' ? new BigInt64Array(n * p.rowSize) : new Float32Array(n * p.rowSize));
  const images = new Map(spec.inputs.flatMap((i) => ('image' in i ? [[i.name, i.image] as const] : [])));

  return {
    spec,
    inputs: plans,
    columns: specColumns(spec),
    async row(r) {
      const out: Record<string, Out> = {};
      for (const p of plans) {
        const t = alloc(p, 1);
        const img = images.get(p.name);
        if (img) await imageKernel(img, r[img.column], t as Float32Array, 0, options.root);
        else for (const s of slots.get(p.name)!) s.kernel(r[s.column], t, s.offset);
        out[p.name] = t;
      }
      return out;
    },
    async batch(cols, n) {
      const failed = new Map<number, string>();
      const tensors: Record<string, Out> = {};
      for (const p of plans) {
        const t = alloc(p, n);
        tensors[p.name] = t;
        const img = images.get(p.name);
        if (img) {
          const col = column(cols, img.column);
          for (let i = 0; i < n; i++) {
            try {
              await imageKernel(img, col[i], t as Float32Array, i * p.rowSize, options.root);
            } catch (e) {
              fail(failed, i, e);
            }
          }
          continue;
        }
        for (const s of slots.get(p.name)!) {
          const col = column(cols, s.column);
          // Plain loop per feature: the kernel is monomorphic here, and a throw only costs on bad rows.
          for (let i = 0; i < n; i++) {
            try {
              s.kernel(col[i], t, i * p.rowSize + s.offset);
            } catch (e) {
              fail(failed, i, e);
            }
          }
        }
      }
      for (const i of failed.keys()) for (const p of plans) tensors[p.name]!.fill(p.dtype === 'int64' ? (0n as never) : (0 as never), i * p.rowSize, (i + 1) * p.rowSize);
      return { tensors, failed };
    },
  };
}

function column(cols: Columns, name: string): ArrayLike<unknown> {
  const c = cols[name];
  if (!c) throw new FeatureError(`column ${JSON.stringify(name)} is missing from the batch`, { hint: `the batch has ${Object.keys(cols).join(', ')}` });
  return c;
}

function fail(failed: Map<number, string>, i: number, e: unknown): void {
  if (!(e instanceof FeatureError)) throw e;
  if (!failed.has(i)) failed.set(i, e.message);
}

function checkDtype(inp: Extract<InputSpec, { features: unknown }>): void {
  if (inp.dtype !== 'int64') return;
  const bad = inp.features.find((f) => !(isCategory(f) && f.encode === 'id'));
  if (bad) throw new ConfigError(`feature spec: input ${inp.name} is int64, so every feature must be a category with encode: id; ${featureColumn(bad)} is not`, { hint: 'put numbers, one-hot, text and lists in a float32 input' });
}

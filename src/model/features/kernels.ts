// Per-feature kernels: each writes one row's values into a tensor at an offset, or throws a
// FeatureError with the reason. Batch and single-row transforms both call these, so the tensors
// they build cannot differ.
import { SluiceError } from '../../core/errors.ts';
import { hashBucket, murmur3_32, ngrams, tokenize } from './hash.ts';
import { type CategoryFeature, type Feature, type ListFeature, type NumberFeature, type TextFeature, isCategory, isList, isNumber } from './spec.ts';

/** One row's feature could not be computed; the row goes to the dead-letter output with this reason. */
export class FeatureError extends SluiceError {}

/** |x| at or above this rounds to ±Infinity in float32 (2^128 − 2^103, the tie rounds away). */
export const F32_OVERFLOW = 3.4028235677973366e38;

export type Out = Float32Array | BigInt64Array;
export type Kernel = (value: unknown, out: Out, at: number) => void;

/** A value as float64, or NaN when it is missing (NULL, NaN, ±Infinity, not a number). */
export function asNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return NaN;
}

/** A category value as the string that is hashed or looked up: NULL is ''. */
export function asCategory(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return String(v);
}

function put(out: Out, at: number, x: number): void {
  if (out instanceof BigInt64Array) out[at] = BigInt(x);
  else out[at] = x;
}

export function numberKernel(f: NumberFeature): Kernel {
  const fill = f.fill;
  const [lo, hi] = f.clip ?? [-Infinity, Infinity];
  const st = f.standardize === true ? undefined : f.standardize;
  if (f.standardize === true) throw new FeatureError(`feature ${f.number}: standardize is not frozen yet`, { hint: 'add the model with --stats <dataset@version> to freeze mean and std' });
  const mean = st?.mean ?? 0;
  const std = st?.std ?? 1;
  return (value, out, at) => {
    let x = asNumber(value);
    if (x !== x) {
      if (fill === undefined) throw new FeatureError(`feature ${f.number}: missing value (${describe(value)}) and no fill rule`);
      x = fill;
    }
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    if (st) x = (x - mean) / std;
    if (!(Math.abs(x) < F32_OVERFLOW)) throw new FeatureError(`feature ${f.number}: value ${x} is outside the float32 range`);
    if (out instanceof BigInt64Array) throw new FeatureError(`feature ${f.number}: a number cannot feed an int64 input`);
    out[at] = x;
  };
}

export function categoryKernel(f: CategoryFeature): Kernel {
  if (f.vocab !== undefined && !Array.isArray(f.vocab)) throw new FeatureError(`feature ${f.category}: vocabulary is not frozen yet`, { hint: 'add the model with --stats <dataset@version> to build it' });
  const ids = new Map<string, number>((f.vocab ?? []).map((v, i) => [v, i + 1]));
  const hash = f.hash;
  const id = hash ? (s: string) => murmur3_32(s, hash.seed) % hash.buckets : (s: string) => ids.get(s) ?? 0;
  if (f.encode === 'id') return (value, out, at) => put(out, at, id(asCategory(value)));
  const width = hash ? hash.buckets : ids.size + 1;
  return (value, out, at) => {
    if (out instanceof BigInt64Array) throw new FeatureError(`feature ${f.category}: one_hot needs a float32 input`);
    out.fill(0, at, at + width);
    out[at + id(asCategory(value))] = 1;
  };
}

export function textKernel(f: TextFeature): Kernel {
  return (value, out, at) => {
    if (out instanceof BigInt64Array) throw new FeatureError(`feature ${f.text}: text needs a float32 input`);
    out.fill(0, at, at + f.buckets);
    if (value === null || value === undefined) return;
    for (const g of ngrams(tokenize(String(value)), f.ngrams)) {
      const b = at + hashBucket(g, f.buckets, f.seed);
      out[b] = f.binary ? 1 : out[b]! + 1;
    }
  };
}

export function listKernel(f: ListFeature): Kernel {
  return (value, out, at) => {
    if (out instanceof BigInt64Array) throw new FeatureError(`feature ${f.list}: a list of floats needs a float32 input`);
    const items = listItems(value);
    if (!items) throw new FeatureError(`feature ${f.list}: expected a list of ${f.length} numbers, got ${describe(value)}`);
    if (items.length !== f.length) throw new FeatureError(`feature ${f.list}: list has ${items.length} values, expected ${f.length}`);
    for (let i = 0; i < f.length; i++) {
      const x = asNumber(items[i]);
      if (x !== x || !(Math.abs(x) < F32_OVERFLOW)) throw new FeatureError(`feature ${f.list}: item ${i} is ${describe(items[i])}, not a finite float32`);
      out[at + i] = x;
    }
  };
}

function listItems(v: unknown): ArrayLike<unknown> | undefined {
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return v as unknown as ArrayLike<unknown>;
  if (v && typeof v === 'object' && 'items' in v && Array.isArray((v as { items: unknown }).items)) return (v as { items: unknown[] }).items;
  return undefined;
}

export function kernelFor(f: Feature): Kernel {
  if (isNumber(f)) return numberKernel(f);
  if (isCategory(f)) return categoryKernel(f);
  if (isList(f)) return listKernel(f);
  return textKernel(f);
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return String(v);
}

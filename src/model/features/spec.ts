// The feature spec: how dataset columns become named input tensors. YAML, validated with zod.
//
// Arithmetic (so another language can reproduce it bit for bit): a number is read as float64;
// NULL, NaN and ±Infinity are "missing" and take `fill` (or fail the row when there is none);
// then clip to [lo, hi]; then (v - mean) / std in float64; the result is rounded once to float32.
import { z } from 'zod';

const Num = z.number().refine(Number.isFinite, 'must be a finite number');

export const NumberFeature = z.strictObject({
  number: z.string().min(1),
  fill: Num.optional(),
  clip: z.tuple([Num, Num]).refine(([a, b]) => a <= b, 'clip is [lo, hi] with lo <= hi').optional(),
  /** `true` = freeze mean and std from a dataset version when the model is added */
  standardize: z.union([z.literal(true), z.strictObject({ mean: Num, std: Num.refine((s) => s > 0, 'std must be > 0') })]).optional(),
});

export const CategoryFeature = z
  .strictObject({
    category: z.string().min(1),
    /** frozen vocabulary (ids 1..n; 0 is the out-of-vocabulary bucket), or how to build it from data */
    vocab: z.union([z.array(z.string()), z.strictObject({ max_size: z.number().int().min(1).default(1000), min_count: z.number().int().min(1).default(1) })]).optional(),
    /** hashing instead of a vocabulary: murmur3_32(utf8(value), seed) mod buckets */
    hash: z.strictObject({ buckets: z.number().int().min(1).max(2 ** 24), seed: z.number().int().min(0).max(2 ** 32 - 1).default(0) }).optional(),
    encode: z.enum(['id', 'one_hot']).default('id'),
  })
  .refine((c) => (c.vocab === undefined) !== (c.hash === undefined), 'a category needs exactly one of vocab or hash');

export const TextFeature = z.strictObject({
  text: z.string().min(1),
  ngrams: z.array(z.number().int().min(1).max(5)).min(1).default([1]),
  buckets: z.number().int().min(1).max(2 ** 20),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  /** counts (bag of n-grams) or 0/1 presence */
  binary: z.boolean().default(false),
});

export const ListFeature = z.strictObject({
  list: z.string().min(1),
  length: z.number().int().min(1),
});

export const Feature = z.union([NumberFeature, CategoryFeature, TextFeature, ListFeature]);

export const ImageInput = z.strictObject({
  /** a BLOB column with encoded image bytes, or a VARCHAR column with a file path */
  column: z.string().min(1),
  /** where relative image paths are resolved (relative to the project folder) */
  base: z.string().optional(),
  width: z.number().int().min(1).max(4096),
  height: z.number().int().min(1).max(4096),
  channels: z.union([z.literal(1), z.literal(3)]).default(3),
  /** per channel, applied to value/255: (v/255 - mean) / std */
  mean: z.array(Num).optional(),
  std: z.array(Num.refine((s) => s > 0, 'std must be > 0')).optional(),
});

export const InputSpec = z.union([
  z.strictObject({ name: z.string().min(1), dtype: z.enum(['float32', 'int64']).default('float32'), features: z.array(Feature).min(1) }),
  z.strictObject({ name: z.string().min(1), image: ImageInput }),
]);

export const FeatureSpecSchema = z.strictObject({
  inputs: z.array(InputSpec).min(1),
  /** the dataset version statistics and vocabularies were frozen from */
  frozen_from: z.string().optional(),
});

export type NumberFeature = z.infer<typeof NumberFeature>;
export type CategoryFeature = z.infer<typeof CategoryFeature>;
export type TextFeature = z.infer<typeof TextFeature>;
export type ListFeature = z.infer<typeof ListFeature>;
export type Feature = z.infer<typeof Feature>;
export type ImageInput = z.infer<typeof ImageInput>;
export type InputSpec = z.infer<typeof InputSpec>;
export type FeatureSpec = z.infer<typeof FeatureSpecSchema>;
/** A spec as written (defaults not yet applied). */
export type FeatureSpecInput = z.input<typeof FeatureSpecSchema>;

export const isNumber = (f: Feature): f is NumberFeature => 'number' in f;
export const isCategory = (f: Feature): f is CategoryFeature => 'category' in f;
export const isText = (f: Feature): f is TextFeature => 'text' in f;
export const isList = (f: Feature): f is ListFeature => 'list' in f;

/** The dataset column a feature reads. */
export function featureColumn(f: Feature): string {
  return isNumber(f) ? f.number : isCategory(f) ? f.category : isText(f) ? f.text : f.list;
}

/** How many values a feature contributes to its input's last axis. */
export function featureWidth(f: Feature): number {
  if (isNumber(f)) return 1;
  if (isList(f)) return f.length;
  if (isText(f)) return f.buckets;
  if (f.encode === 'id') return 1;
  return f.hash ? f.hash.buckets : 1 + (Array.isArray(f.vocab) ? f.vocab.length : 0);
}

/** Every column the spec reads. */
export function specColumns(spec: FeatureSpec): string[] {
  const cols = spec.inputs.flatMap((i) => ('image' in i ? [i.image.column] : i.features.map(featureColumn)));
  return [...new Set(cols)];
}

/** True when nothing is left to freeze from data (no `standardize: true`, no vocab to build). */
export function isFrozen(spec: FeatureSpec): boolean {
  return spec.inputs.every((i) => 'image' in i || i.features.every((f) => !(isNumber(f) && f.standardize === true) && !(isCategory(f) && f.vocab && !Array.isArray(f.vocab))));
}

// Images → float32 CHW with sharp (libvips, prebuilt in the npm package): decode, resize to the
// spec's size (fill, no crop), drop alpha, then per channel (v / 255 − mean) / std, rounded to float32.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { safeJoin } from '../../core/names.ts';
import { FeatureError } from './kernels.ts';
import type { ImageInput } from './spec.ts';

// libvips takes the process's thread budget share; one decode at a time per call keeps it bounded.
sharp.concurrency(1);
sharp.cache(false);

/** Writes one image into `out` at `at` (C·H·W values), or throws FeatureError. */
export async function imageKernel(spec: ImageInput, value: unknown, out: Float32Array, at: number, root?: string): Promise<void> {
  const bytes = await imageBytes(spec, value, root);
  let raw: Buffer;
  try {
    const img = sharp(bytes, { failOn: 'error' }).resize(spec.width, spec.height, { fit: 'fill' }).removeAlpha();
    raw = await (spec.channels === 1 ? img.toColourspace('b-w') : img.toColourspace('srgb')).raw().toBuffer();
  } catch (e) {
    throw new FeatureError(`image ${spec.column}: cannot decode (${(e as Error).message.split('\n')[0]})`, { cause: e });
  }
  const c = spec.channels;
  const hw = spec.width * spec.height;
  if (raw.length !== hw * c) throw new FeatureError(`image ${spec.column}: decoded ${raw.length} bytes, expected ${hw * c}`);
  for (let ch = 0; ch < c; ch++) {
    const mean = spec.mean?.[ch] ?? 0;
    const std = spec.std?.[ch] ?? 1;
    const base = at + ch * hw;
    for (let p = 0; p < hw; p++) out[base + p] = (raw[p * c + ch]! / 255 - mean) / std;
  }
}

async function imageBytes(spec: ImageInput, value: unknown, root?: string): Promise<Uint8Array> {
  if (value instanceof Uint8Array) return value;
  if (value && typeof value === 'object' && 'bytes' in value && (value as { bytes: unknown }).bytes instanceof Uint8Array) return (value as { bytes: Uint8Array }).bytes;
  if (typeof value === 'string' && value) {
    const base = spec.base ? safeJoin(root ?? process.cwd(), spec.base) : (root ?? process.cwd());
    try {
      return await readFile(safeJoin(base, value));
    } catch (e) {
      throw new FeatureError(`image ${spec.column}: cannot read ${JSON.stringify(value)} (${(e as Error).message.split('\n')[0]})`, { cause: e });
    }
  }
  throw new FeatureError(`image ${spec.column}: expected image bytes or a path, got ${value === null || value === undefined ? 'NULL' : typeof value}`);
}

// model.yaml: what the registry knows about one model version (file hash, signature, feature spec,
// labels, training datasets with their licences, metrics).
import { z } from 'zod';
import { LicenceSchema } from '../core/manifest.ts';
import { FeatureSpecSchema } from './features/spec.ts';

const TensorSigSchema = z.object({ name: z.string(), type: z.string(), dims: z.array(z.union([z.number(), z.string(), z.null()])) });

export const ModelMetaSchema = z.strictObject({
  format: z.literal(1),
  name: z.string(),
  version: z.number().int().min(1),
  created_at: z.string(),
  file: z.literal('model.onnx'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().min(0),
  opset: z.number().int(),
  inputs: z.array(TensorSigSchema),
  outputs: z.array(TensorSigSchema),
  features: FeatureSpecSchema.optional(),
  labels: z.array(z.string()).optional(),
  trained_on: z.array(z.strictObject({ dataset: z.string(), licences: z.array(LicenceSchema).default([]) })).default([]),
  metrics: z.record(z.string(), z.number()).default({}),
});
export type ModelMeta = z.infer<typeof ModelMetaSchema>;

// A dataset version's manifest: the schema, the Parquet parts it reads, deletion files, lineage.
//
// Row identity follows Iceberg v3's row lineage: an imported part does not store `_id`; its
// manifest entry records the source file's hash prefix and the first record number, and every
// reader derives `_id = <prefix>:<record>` from the row's position in the part. Rewritten rows
// (merges, edits) store `_id` physically. Import then costs one streaming COPY, not a window.
import { z } from 'zod';
import { IntegrityError } from './errors.ts';

export const ColumnSchema = z.object({
  name: z.string(),
  type: z.string(),
  nullable: z.boolean().default(true),
  description: z.string().optional(),
});
export type Column = z.infer<typeof ColumnSchema>;

/** Where the rows of a part came from, when `_id` and `_source` are derived from position. */
export const LineageSchema = z.object({
  /** first 16 hex characters of the source file's sha256 */
  prefix: z.string().regex(/^[0-9a-f]{16}$/),
  source: z.string(),
  file: z.string(),
  /** record number (1-based) of the part's first row in the source file */
  first: z.number().int().min(1),
  /** when rows are not contiguous records: the part's columns holding each row's record and line */
  record_column: z.string().optional(),
  line_column: z.string().optional(),
});
export type Lineage = z.infer<typeof LineageSchema>;

export const FileEntrySchema = z.object({
  /** path relative to the project's data folder */
  path: z.string(),
  rows: z.number().int().min(0),
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type FileEntry = z.infer<typeof FileEntrySchema>;

export const PartSchema = FileEntrySchema.extend({
  /** row positions (0-based `pos` column) removed from this part in this version */
  deletes: FileEntrySchema.optional(),
  lineage: LineageSchema.optional(),
  /** columns stored in the file that readers do not see (e.g. a quarantined row's reason) */
  hidden: z.array(z.string()).optional(),
});
export type Part = z.infer<typeof PartSchema>;

export const LicenceSchema = z.object({
  source: z.string(),
  owner: z.string().optional(),
  licence: z.string(),
  expires: z.string().optional(),
  uses: z.array(z.string()).optional(),
});
export type Licence = z.infer<typeof LicenceSchema>;

export const ManifestSchema = z.object({
  format: z.literal(1),
  dataset: z.string(),
  version: z.number().int().min(1),
  created_at: z.string(),
  schema: z.array(ColumnSchema),
  parts: z.array(PartSchema),
  rows: z.number().int().min(0),
  parents: z.array(z.string()),
  operation: z.string(),
  config_hash: z.string(),
  config: z.unknown().optional(),
  licences: z.array(LicenceSchema).default([]),
  run_id: z.string().optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** What a writer hands to the catalog: a manifest without the fields the commit assigns. */
export type ManifestDraft = Omit<Manifest, 'format' | 'dataset' | 'version' | 'created_at'>;

/** Parses stored manifest JSON; a corrupt one is an IntegrityError naming the version. */
export function parseManifest(json: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new IntegrityError(`corrupt manifest for ${where}: not JSON (${(e as Error).message})`, {
      cause: e,
      hint: 'the catalog row was damaged outside sluice; restore the catalog from a backup or re-create the version',
    });
  }
  const r = ManifestSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new IntegrityError(`corrupt manifest for ${where}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`, {
      hint: 'the catalog row was damaged outside sluice; restore the catalog from a backup or re-create the version',
    });
  }
  return r.data;
}

/** Live rows of a part: its rows less its deleted positions. */
export function liveRows(p: Part): number {
  return p.rows - (p.deletes?.rows ?? 0);
}

/** Every file a manifest references (parts and deletion files), relative to the data folder. */
export function referencedFiles(m: Manifest): string[] {
  const out: string[] = [];
  for (const p of m.parts) {
    out.push(p.path);
    if (p.deletes) out.push(p.deletes.path);
  }
  return out;
}

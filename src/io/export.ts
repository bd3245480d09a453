// Export a version to Parquet, JSON Lines, CSV/TSV (spreadsheet-safe) or Arrow IPC.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Project } from '../core/project.ts';
import { parseRef } from '../core/ref.ts';
import { scanSql, verifyManifest } from '../core/dataset.ts';
import { lit } from '../engine/duckdb.ts';
import { csvWriterOptions, spreadsheetSafeColumns } from './csv.ts';
import { jsonlWriterOptions } from './json.ts';
import { parquetWriterOptions } from './parquet.ts';
import type { ExportFormat } from './formats.ts';
import type { WebDatasetOptions } from './webdataset.ts';
import { UsageError } from '../core/errors.ts';

export async function exportVersion(
  project: Project,
  refText: string,
  format: ExportFormat,
  out: string,
  options: Partial<WebDatasetOptions> = {},
): Promise<{ ref: string; rows: number; path: string; shards?: string[] }> {
  const m = await project.catalog.resolve(parseRef(refText));
  await verifyManifest(project.dataDir, m);
  const duck = await project.duck();
  const path = resolve(out);
  mkdirSync(dirname(path), { recursive: true });
  const src = scanSql(project.dataDir, m);
  // _source is a struct: flat text formats get it as JSON text.
  const hasSource = m.schema.some((c) => c.name === '_source');
  const flat = hasSource ? `SELECT * REPLACE (to_json(_source)::VARCHAR AS _source) FROM (${src})` : src;
  switch (format) {
    case 'parquet':
      await duck.run(`COPY (${src}) TO ${lit(path)} (${parquetWriterOptions()})`);
      break;
    case 'jsonl':
      await duck.run(`COPY (${src}) TO ${lit(path)} (${jsonlWriterOptions()})`);
      break;
    case 'csv':
    case 'tsv': {
      const cols = await duck.describe(`(${flat})`);
      await duck.run(`COPY (SELECT ${spreadsheetSafeColumns(cols)} FROM (${flat})) TO ${lit(path)} (${csvWriterOptions(format === 'csv' ? ',' : '\t')})`);
      break;
    }
    case 'arrow':
      await (await import('./arrow.ts')).writeArrowIpc(duck, flat, path);
      break;
    case 'json':
      throw new UsageError('export to a single JSON array is not offered', { hint: 'use --format jsonl' });
    case 'tfrecord':
      await (await import('./tfrecord.ts')).writeTfRecord(duck, src, path);
      break;
    case 'webdataset': {
      // `out` is a folder of shards
      if (!options.imageColumn) throw new UsageError('--format webdataset needs --image-column <col> (a BLOB of image bytes or a VARCHAR path)');
      const { shards } = await (await import('./webdataset.ts')).writeWebDataset(duck, src, path, { shardSize: options.shardSize ?? 1000, imageColumn: options.imageColumn });
      return { ref: `${m.dataset}@${m.version}`, rows: m.rows, path, shards };
    }
  }
  return { ref: `${m.dataset}@${m.version}`, rows: m.rows, path };
}

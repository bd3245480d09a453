// File formats sluice reads and writes, chosen from the file name; one module per format.
import { basename } from 'node:path';
import { InputError, UsageError } from '../core/errors.ts';

export type Format = 'csv' | 'tsv' | 'jsonl' | 'json' | 'parquet' | 'arrow';
export const FORMATS: readonly Format[] = ['csv', 'tsv', 'jsonl', 'json', 'parquet', 'arrow'];

const BY_EXT: Record<string, Format> = {
  csv: 'csv',
  tsv: 'tsv',
  tab: 'tsv',
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  parquet: 'parquet',
  pq: 'parquet',
  arrow: 'arrow',
  ipc: 'arrow',
  feather: 'arrow',
};

/** The format of a file from its extension (`.gz` is looked through). */
export function detectFormat(path: string): { format: Format; gzip: boolean } {
  const name = basename(path).toLowerCase();
  const gzip = name.endsWith('.gz');
  const stem = gzip ? name.slice(0, -3) : name;
  const ext = stem.includes('.') ? stem.slice(stem.lastIndexOf('.') + 1) : '';
  const format = BY_EXT[ext];
  if (!format) {
    throw new InputError(`unknown format for ${path}: extension ".${ext}"`, {
      hint: `name the file with one of .csv .tsv .jsonl .ndjson .json .parquet .arrow (optionally .gz), or pass --format`,
    });
  }
  if (gzip && (format === 'parquet' || format === 'arrow')) {
    throw new InputError(`${path}: gzip-compressed ${format} is not supported`, { hint: `decompress it first (gunzip ${path})` });
  }
  return { format, gzip };
}

/** Formats only written, for trainers: TFRecord (tf.train.Example) and WebDataset tar shards. */
export type ExportFormat = Format | 'tfrecord' | 'webdataset';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['parquet', 'jsonl', 'csv', 'tsv', 'arrow', 'tfrecord', 'webdataset'];

export function parseExportFormat(text: string): ExportFormat {
  if ((EXPORT_FORMATS as readonly string[]).includes(text)) return text as ExportFormat;
  throw new UsageError(`unknown export format ${JSON.stringify(text)}`, { hint: `use one of ${EXPORT_FORMATS.join(', ')}` });
}

export function parseFormat(text: string): Format {
  if ((FORMATS as readonly string[]).includes(text)) return text as Format;
  throw new UsageError(`unknown format ${JSON.stringify(text)}`, { hint: `use one of ${FORMATS.join(', ')}` });
}

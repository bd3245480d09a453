// Test fixtures for metrics: a fresh project, `feedback` versions written from FeedbackExample
// records (FEEDBACK_COLUMNS + one column per logged field, as the join writes them), datasets from SQL.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { ident, lit } from '../../src/engine/duckdb.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { importFiles } from '../../src/io/import.ts';
import { FEEDBACK_COLUMNS, type FeedbackExample } from '../../src/feedback/records.ts';

export interface Fixture {
  dir: string;
  project: Project;
  /** appends `examples` to the `name` dataset (a new version); fields typed as `fieldTypes` says (default VARCHAR) */
  feedback(examples: FeedbackExample[], o?: { name?: string; fieldTypes?: Record<string, string> }): Promise<Manifest>;
  dataset(name: string, query: string): Promise<Manifest>;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-metrics-'));
  Project.init(dir, 'metrics-test');
  const project = await Project.open(dir, { threads: 1 });
  let files = 0;
  const write = async (name: string, query: string, append: boolean) => {
    const duck = await project.duck();
    const path = join(dir, `in-${files++}-${name}.parquet`);
    await duck.run(`COPY (${query}) TO ${lit(path)} (FORMAT parquet)`);
    return importFiles(project, { name, files: [path], append }, new LocalRunner(duck, project.catalog));
  };
  return {
    dir,
    project,
    async feedback(examples, o = {}) {
      const fields = [...new Set(examples.flatMap((e) => Object.keys(e.fields)))].sort();
      const jsonl = join(dir, `in-${files++}.jsonl`);
      writeFileSync(jsonl, examples.map((e) => JSON.stringify({ ...e, fields: undefined, f: e.fields })).join('\n') + '\n');
      const cols = Object.entries(FEEDBACK_COLUMNS).map(([c, t]) =>
        c === 'predicted_at' || c === 'decided_at' ? `make_timestamp(${ident(c)}::BIGINT * 1000) AS ${ident(c)}` : `${ident(c)}::${t} AS ${ident(c)}`,
      );
      const fcols = fields.map((f) => `(f->>${lit(f)})::${o.fieldTypes?.[f] ?? 'VARCHAR'} AS ${ident(f in FEEDBACK_COLUMNS ? `field_${f}` : f)}`);
      const struct = Object.keys(FEEDBACK_COLUMNS).map((c) => `${lit(c)}: ${['model_version', 'label', 'picked_position', 'shown_count'].includes(c) ? 'BIGINT' : c.endsWith('_at') ? 'BIGINT' : c === 'score' ? 'DOUBLE' : 'VARCHAR'}`);
      const q = `SELECT ${[...cols, ...fcols].join(', ')} FROM read_json(${lit(jsonl)}, format = 'newline_delimited', columns = {${[...struct, `'f': 'JSON'`].join(', ')}})`;
      const name = o.name ?? 'feedback';
      return write(name, q, (await project.catalog.head(name)) !== null);
    },
    dataset: (name, query) => write(name, query, false),
    async close() {
      await project.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Test fixtures for analyze: a fresh project in its own temp folder, datasets made from SQL.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Project } from '../../src/core/project.ts';
import type { Manifest } from '../../src/core/manifest.ts';
import { lit } from '../../src/engine/duckdb.ts';
import { LocalRunner } from '../../src/engine/runners/local.ts';
import { importFiles } from '../../src/io/import.ts';

export interface Fixture {
  dir: string;
  project: Project;
  /** imports one Parquet file per SQL query as a dataset (one part per query) */
  dataset(name: string, ...queries: string[]): Promise<Manifest>;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-analyze-'));
  Project.init(dir, 'analyze-test');
  const project = await Project.open(dir, { threads: 1 });
  let files = 0;
  return {
    dir,
    project,
    async dataset(name, ...queries) {
      const duck = await project.duck();
      const paths: string[] = [];
      for (const q of queries) {
        const path = join(dir, `in-${files++}-${name}.parquet`);
        await duck.run(`COPY (${q}) TO ${lit(path)} (FORMAT parquet)`);
        paths.push(path);
      }
      return importFiles(project, { name, files: paths }, new LocalRunner(duck, project.catalog));
    },
    async close() {
      await project.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

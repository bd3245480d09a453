// The README's TypeScript API example: import a CSV as a dataset version, then query it with DuckDB
// by its `_id` lineage. Run: `node bin/run-ts.js docs/api-example.ts` (writes into a temp folder).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRunner, Project, importFiles, scanSql } from 'sluice';

const dir = mkdtempSync(join(tmpdir(), 'sluice-api-'));
writeFileSync(join(dir, 'clicks.csv'), 'user_id,ad_id,clicked\nu1,ad7,true\nu2,ad3,false\nu1,ad3,true\n');
Project.init(dir);
const project = await Project.open(dir);
try {
  const duck = await project.duck();
  const v1 = await importFiles(project, { name: 'clicks', files: [join(dir, 'clicks.csv')] }, new LocalRunner(duck, project.catalog));
  console.log(`${v1.dataset}@${v1.version}: ${v1.rows} rows, parts ${v1.parts.map((p) => p.path).join(', ')}`);
  // A version is a SQL relation: its parts, minus deleted rows, with `_id` and `_source` derived.
  const rows = await duck.all(`SELECT _id, _source.record AS record, user_id FROM (${scanSql(project.dataDir, v1)}) WHERE clicked`);
  console.log(rows);
} finally {
  await project.close();
}

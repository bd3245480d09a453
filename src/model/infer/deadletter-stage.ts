// The dead-letter version of a batch inference: no tasks, a commit listing the dead-letter files
// the inference tasks wrote (each row: the input columns, `_id`, and `_reason`).
import { SYSTEM_COLUMNS } from '../../core/dataset.ts';
import { configHash } from '../../core/hash.ts';
import type { Part } from '../../core/manifest.ts';
import { safeJoin } from '../../core/names.ts';
import { lit } from '../../engine/duckdb.ts';
import type { Stage } from '../../engine/plan.ts';

export const deadletterStage: Stage = {
  name: 'infer-deadletter',
  async map() {
    return {};
  },
  async commit(plan, _outputs, head, { duck, dataDir }) {
    const c = plan.config as { of: string; files: Part[] };
    const schema = (await duck.describe(`(SELECT * FROM read_parquet([${c.files.map((f) => lit(safeJoin(dataDir, f.path))).join(', ')}], union_by_name = true))`)).map((col) => ({
      name: col.name,
      type: col.type,
      nullable: !SYSTEM_COLUMNS.includes(col.name as never),
    }));
    return {
      schema,
      parts: c.files,
      rows: c.files.reduce((n, f) => n + f.rows, 0),
      parents: [c.of, ...(head ? [`${head.dataset}@${head.version}`] : [])],
      operation: 'infer-deadletter',
      config_hash: configHash(c),
      config: { of: c.of },
      licences: [],
    };
  },
};

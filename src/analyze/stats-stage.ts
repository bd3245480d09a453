// The `stats` stage: a plan of map tasks, one per part, each computing mergeable partials in
// DuckDB; pass 1 and pass 2 are two plans. It commits no version: results merge in stats.ts.
import { partSql } from '../core/dataset.ts';
import { InternalError } from '../core/errors.ts';
import type { Part } from '../core/manifest.ts';
import type { Json, Stage } from '../engine/plan.ts';
import { pass1, pass2, type ColumnSpec, type Pass2Column } from './stats-sql.ts';

export type StatsConfig =
  | { input: string; pass: 1; columns: ColumnSpec[]; exactQuantiles: boolean }
  | { input: string; pass: 2; columns: Pass2Column[] };

export const statsStage: Stage = {
  name: 'stats',

  async map(ctx, task) {
    const part = task.input as unknown as Part;
    const c = ctx.plan.config as unknown as StatsConfig;
    const rel = partSql(ctx.env.dataDir, part);
    // Parts of one version may differ in columns (appends): an absent column counts as missing.
    const present = new Set((await ctx.duck.describe(`(${rel})`)).map((d) => d.name));
    const stats = c.pass === 1 ? await pass1(ctx.duck, rel, c.columns, present, c.exactQuantiles) : await pass2(ctx.duck, rel, c.columns, present);
    ctx.progress(1, 1);
    return { stats: stats as unknown as Json };
  },

  async commit() {
    throw new InternalError('the stats stage commits no version', { hint: 'run it with runTasks (src/analyze/run.ts), not executePlan' });
  },
};

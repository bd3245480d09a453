// `sluice demo`: the whole loop on generated data. Today: generate, import, show; each stage
// joins the thread as it lands.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Project } from '../core/project.ts';
import { UsageError } from '../core/errors.ts';
import { importFiles } from '../io/import.ts';
import { showVersion } from '../core/inspect.ts';
import { LocalRunner } from '../engine/runners/local.ts';
import { generateImpressions, SIZES, type DemoSize } from '../demo/world.ts';
import { globals, intOption, output, planProgressBar, table } from './common.ts';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the data loop on a generated ad world, start to finish')
    .option('--dir <dir>', 'folder for the demo project', 'sluice-demo')
    .option('--size <size>', 'tiny | small | medium', 'small')
    .option('--seed <n>', 'random seed', intOption('--seed'), 7)
    .addHelpText('after', '\nExample:\n  $ npx sluice demo --size tiny --dir /tmp/demo')
    .action(async (opts: { dir: string; size: string; seed: number }, cmd: Command) => {
      const g = globals(cmd);
      if (!(opts.size in SIZES)) throw new UsageError(`unknown size ${JSON.stringify(opts.size)}`, { hint: `use one of ${Object.keys(SIZES).join(', ')}` });
      const dir = resolve(opts.dir);
      if (!existsSync(resolve(dir, 'sluice.yaml'))) Project.init(dir, 'sluice-demo');
      const project = await Project.open(dir, g.threads ? { threads: g.threads } : {});
      const steps: { step: string; rows: number; seconds: number }[] = [];
      const timed = async <T>(step: string, fn: () => Promise<T>, rows: (t: T) => number) => {
        const t0 = performance.now();
        if (!g.json && !g.quiet) process.stderr.write(`• ${step}…\n`);
        const r = await fn();
        steps.push({ step, rows: rows(r), seconds: (performance.now() - t0) / 1000 });
        return r;
      };
      try {
        const duck = await project.duck();
        const src = await timed('generate the ad world', () => generateImpressions(duck, dir, opts.size as DemoSize, opts.seed), (r) => r.rows);
        const bar = planProgressBar(g, 'import');
        const m = await timed(
          'import impressions',
          () => importFiles(project, { name: 'impressions', files: [src.path], source: 'impressions' }, new LocalRunner(duck, project.catalog), bar.onProgress),
          (r) => r.rows,
        );
        bar.stop();
        const shown = await showVersion(project, `impressions@${m.version}`, 3);
        output(g, { dir, steps, dataset: `impressions@${m.version}`, rows: m.rows, schema: shown.schema }, () =>
          [
            '',
            table(steps.map((s) => [s.step, s.rows, s.seconds.toFixed(2)]), ['step', 'rows', 'seconds']),
            '',
            `impressions@${m.version}: ${m.rows} rows, columns ${shown.schema.map((c) => c.name).join(', ')}`,
            `project: ${dir}   try: cd ${opts.dir} && npx sluice show impressions`,
          ].join('\n'),
        );
      } finally {
        await project.close();
      }
    });
}

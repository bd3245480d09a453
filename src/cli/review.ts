// `sluice review …`: add reviewers, serve the review UI, apply decisions, Label Studio interchange.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { InputError, UsageError } from '../core/errors.ts';
import { assertName } from '../core/names.ts';
import type { LsTask } from '../review/label-studio.ts';
import { openReviewStore } from '../review/store.ts';
import { intOption, output, withProject } from './common.ts';

function checkFormat(format: string): void {
  if (format !== 'label-studio') throw new UsageError(`unknown format ${JSON.stringify(format)}`, { hint: 'the only interchange format is label-studio' });
}

export function register(program: Command): void {
  const review = program.command('review').description('human review: reviewers, the web UI, folding decisions back into datasets');

  review
    .command('add-reviewer <name>')
    .description('add a reviewer and print their token (shown once; only its hash is kept)')
    .option('--adjudicator', 'may settle disagreements (their decision is final)')
    .addHelpText('after', '\nExample:\n  $ sluice review add-reviewer alice\n  $ sluice review add-reviewer bob --adjudicator')
    .action(async (name: string, opts: { adjudicator?: boolean }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const store = await openReviewStore(p);
        try {
          const { reviewer, token } = await store.addReviewer(name, opts.adjudicator ? 'adjudicator' : 'reviewer');
          output(g, { ...reviewer, token }, () => `${reviewer.name} (${reviewer.role}) token:\n${token}\nkeep it: it is not stored and cannot be shown again`);
        } finally {
          await store.close();
        }
      });
    });

  review
    .command('serve')
    .description('serve the review UI and API (every request needs a reviewer token)')
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', intOption('--port'), 7878)
    .option('--lease <seconds>', 'how long a claimed item stays with its reviewer', intOption('--lease'), 600)
    .addHelpText('after', '\nExample:\n  $ sluice review serve --port 7878\n  then open http://127.0.0.1:7878/#token=<your token>')
    .action(async (opts: { host: string; port: number; lease: number }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const store = await openReviewStore(p, { leaseMs: opts.lease * 1000 });
        const { buildReviewServer } = await import('../review/server.ts'); // Fastify loads only for `serve`
        const app = await buildReviewServer({ store, project: p });
        const url = await app.listen({ host: opts.host, port: opts.port });
        output(g, { url }, () => `review UI on ${url}/#token=<your token>  (Ctrl-C to stop)`);
        await new Promise<void>((done) => {
          const stop = () => void app.close().then(() => done());
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await store.close();
      });
    });

  review
    .command('apply <dataset>')
    .description('commit a new version with the final decisions folded in; rejected records go to <dataset>-quarantine')
    .addHelpText('after', '\nExample:\n  $ sluice review apply ads\n  (applying again changes nothing until there are new decisions)')
    .action(async (dataset: string, _opts: unknown, cmd: Command) => {
      assertName(dataset, 'dataset');
      await withProject(cmd, async (p, g) => {
        const store = await openReviewStore(p);
        try {
          const { applyReview } = await import('../review/apply.ts');
          const r = await applyReview(p, store, dataset);
          output(g, r, () =>
            r.to === null
              ? `${dataset}@${r.from}: no new decisions to apply`
              : `${dataset}@${r.from} → ${dataset}@${r.to}: ${r.added} added, ${r.replaced} replaced, ${r.removed} removed, ${r.quarantined} quarantined (${r.decisions.length} decisions)`,
          );
        } finally {
          await store.close();
        }
      });
    });

  review
    .command('export')
    .description('write review items and their decisions as Label Studio tasks (JSON)')
    .requiredOption('--format <format>', 'label-studio')
    .option('--dataset <name>', 'only this dataset\'s items')
    .option('-o, --output <file>', 'file to write (default: stdout)')
    .addHelpText('after', '\nExample:\n  $ sluice review export --format label-studio -o tasks.json')
    .action(async (opts: { format: string; dataset?: string; output?: string }, cmd: Command) => {
      checkFormat(opts.format);
      await withProject(cmd, async (p) => {
        const store = await openReviewStore(p);
        try {
          const { exportLabelStudio } = await import('../review/label-studio.ts');
          const text = JSON.stringify(await exportLabelStudio(store, opts.dataset), null, 2) + '\n';
          if (opts.output) writeFileSync(opts.output, text);
          else process.stdout.write(text);
        } finally {
          await store.close();
        }
      });
    });

  review
    .command('import <file>')
    .description('read Label Studio tasks (JSON): items are added, annotations become decisions')
    .requiredOption('--format <format>', 'label-studio')
    .option('--dataset <name>', 'dataset for tasks that were not exported by sluice')
    .addHelpText('after', '\nExample:\n  $ sluice review import tasks.json --format label-studio')
    .action(async (file: string, opts: { format: string; dataset?: string }, cmd: Command) => {
      checkFormat(opts.format);
      let tasks: LsTask[];
      try {
        tasks = JSON.parse(readFileSync(file, 'utf8')) as LsTask[];
      } catch (e) {
        throw new InputError(`cannot read ${file} as JSON: ${(e as Error).message}`, { cause: e });
      }
      await withProject(cmd, async (p, g) => {
        const store = await openReviewStore(p);
        try {
          const { importLabelStudio } = await import('../review/label-studio.ts');
          const r = await importLabelStudio(store, tasks, opts.dataset ? { dataset: opts.dataset } : {});
          output(g, r, () => `${r.tasks} tasks: ${r.itemsAdded} new items, ${r.decisions} decisions recorded, ${r.skipped} already there`);
        } finally {
          await store.close();
        }
      });
    });
}

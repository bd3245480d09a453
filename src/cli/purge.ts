// `sluice purge --source X`: new versions of every dataset without that source's rows.
import type { Command } from 'commander';
import { purgeSource } from '../curate/purge.ts';
import { output, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('purge')
    .description('commit new versions of every dataset without one source\'s rows (a licence ended), and list the models trained on them')
    .requiredOption('--source <name>', 'source name, as in the pipeline and in each row\'s _source.source')
    .addHelpText('after', '\nExample:\n  $ sluice purge --source partner-catalog\n  (older versions keep the rows until they are no longer needed; then run sluice gc)')
    .action(async (opts: { source: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const r = await purgeSource(p, opts.source);
        output(g, r, () =>
          [
            r.datasets.length
              ? table(r.datasets.map((d) => [d.dataset, `${d.from} → ${d.to}`, d.removedRows, d.droppedParts]), ['dataset', 'version', 'rows removed', 'parts dropped'])
              : `no dataset holds rows of source ${opts.source}`,
            r.models.length ? `\nmodels trained on data from ${opts.source} (retrain them):\n${r.models.map((m) => `  ${m.model}  (${m.trainedOn.join(', ')})`).join('\n')}` : '',
          ].join('\n'),
        );
      });
    });
}

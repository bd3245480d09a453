// `sluice model add <file.onnx> --name n [--features spec.yaml] [--stats ds@v]`: adds a model
// version to the registry after checking it against its feature spec.
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { output, withProject } from './common.ts';

export function register(program: Command): void {
  const model = program.command('model').description('manage the model registry');
  model
    .command('add <file>')
    .description('add an ONNX model as the next version of <name>')
    .requiredOption('--name <name>', 'model name')
    .option('--features <spec.yaml>', 'feature spec: dataset columns → the model inputs')
    .option('--stats <ref>', 'dataset version to freeze means, stds and vocabularies from')
    .option('--labels <list>', 'comma-separated class labels of the output')
    .option('--trained-on <refs>', 'comma-separated dataset versions it was trained on (their licences are recorded)')
    .option('--metric <name=value...>', 'metrics, e.g. --metric auc=0.71')
    .addHelpText('after', '\nExample:\n  $ sluice model add ctr.onnx --name ctr --features features/ctr.yaml --stats ads-train@2 --trained-on ads-train@2 --metric auc=0.71')
    .action(async (file: string, o: { name: string; features?: string; stats?: string; labels?: string; trainedOn?: string; metric?: string[] }, cmd: Command) => {
      const metrics: Record<string, number> = {};
      for (const m of o.metric ?? []) {
        const [k, v] = m.split('=');
        if (!k || v === undefined || !Number.isFinite(Number(v))) throw new UsageError(`--metric ${JSON.stringify(m)}: write name=number`);
        metrics[k] = Number(v);
      }
      await withProject(cmd, async (p, g) => {
        const { addModel } = await import('../model/registry.ts'); // ONNX Runtime loads only when used
        const added = await addModel(p, {
          file,
          name: o.name,
          ...(o.features ? { features: o.features } : {}),
          ...(o.stats ? { stats: o.stats } : {}),
          ...(o.labels ? { labels: o.labels.split(',') } : {}),
          ...(o.trainedOn ? { trainedOn: o.trainedOn.split(',') } : {}),
          metrics,
        });
        output(g, { model: added.ref, dir: added.dir, sha256: added.meta.sha256 }, () => `${added.ref}: ${added.dir} (sha256 ${added.meta.sha256.slice(0, 12)}…)`);
      });
    });
}

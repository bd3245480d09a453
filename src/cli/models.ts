// `sluice models`: the model registry's versions with their inputs, outputs and training data.
import type { Command } from 'commander';
import { output, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('models')
    .description('list the models in the registry (models/<name>/<version>/)')
    .addHelpText('after', '\nExample:\n  $ sluice models --json')
    .action(async (_opts: unknown, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const { listModels } = await import('../model/registry.ts');
        const ms = listModels(p);
        const sig = (ts: { name: string; dims: unknown[] }[]) => ts.map((t) => `${t.name}[${t.dims.map((d) => d ?? '?').join(',')}]`).join(' ');
        output(g, ms, () =>
          ms.length
            ? table(
                ms.map((m) => [`${m.name}@${m.version}`, sig(m.inputs), sig(m.outputs), m.features ? 'yes' : 'no', m.trained_on.map((t) => t.dataset).join(' '), m.sha256.slice(0, 12)]),
                ['model', 'inputs', 'outputs', 'features', 'trained on', 'sha256'],
              )
            : 'no models yet: sluice model add <file.onnx> --name <name> --features spec.yaml',
        );
      });
    });
}

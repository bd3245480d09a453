// `sluice init [dir]`: creates a project (sluice.yaml and .sluice/).
import type { Command } from 'commander';
import { Project } from '../core/project.ts';
import { globals, output } from './common.ts';

export function register(program: Command): void {
  program
    .command('init [dir]')
    .description('create a sluice project: sluice.yaml and the .sluice/ store')
    .option('--name <name>', 'project name (default: the folder name)')
    .addHelpText('after', '\nExample:\n  $ sluice init my-ctr && cd my-ctr')
    .action(async (dir: string | undefined, opts: { name?: string }, cmd: Command) => {
      const root = Project.init(dir ?? '.', opts.name);
      const p = await Project.open(root);
      await p.close();
      output(globals(cmd), { root }, () => `created sluice project in ${root}\nnext: sluice import <file> --name <dataset>`);
    });
}

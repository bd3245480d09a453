// `sluice gc`: removes part files no version references.
import type { Command } from 'commander';
import { collectGarbage } from '../core/gc.ts';
import { UsageError } from '../core/errors.ts';
import { humanBytes, output, withProject } from './common.ts';

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`bad duration ${JSON.stringify(text)}`, { hint: 'write e.g. 0, 30s, 10m, 2h, 1d' });
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * mult;
}

export function register(program: Command): void {
  program
    .command('gc')
    .description('remove part files that no version references (left by crashed or superseded writes)')
    .option('--min-age <duration>', 'only files older than this, so writes in progress are safe', '1h')
    .option('--dry-run', 'list what would be removed')
    .addHelpText('after', '\nExamples:\n  $ sluice gc --dry-run\n  $ sluice gc --min-age 0   # when no import is running')
    .action(async (opts: { minAge: string; dryRun?: boolean }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const r = await collectGarbage(p, { minAgeMs: parseDuration(opts.minAge), dryRun: Boolean(opts.dryRun) });
        output(g, r, () => `${r.dryRun ? 'would remove' : 'removed'} ${r.removed} file(s), ${humanBytes(r.bytesFreed)}; kept ${r.kept}`);
      });
    });
}

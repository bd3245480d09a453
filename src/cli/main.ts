// The `sluice` command line: one file per command under cli/, wired here.
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf } from '../core/errors.ts';
import { intOption } from './common.ts';
import * as init from './init.ts';
import * as importCmd from './import.ts';
import * as datasets from './datasets.ts';
import * as exportCmd from './export.ts';
import * as tag from './tag.ts';
import * as gc from './gc.ts';
import * as worker from './worker.ts';
import * as dedup from './dedup.ts';
import * as demo from './demo.ts';
import * as models from './models.ts';
import * as model from './model.ts';
import * as infer from './infer.ts';
import * as mineCmd from './mine.ts';
import * as scoreCmd from './score.ts';
import * as stats from './stats.ts';
import * as schemaCmd from './schema.ts';
import * as drift from './drift.ts';
import * as split from './split.ts';
import * as rebalance from './rebalance.ts';
import * as curateCmd from './curate.ts';
import * as purge from './purge.ts';
import * as review from './review.ts';
import * as feedback from './feedback.ts';
import * as feedbackMetrics from './feedback-metrics.ts';
import * as serveCmd from './serve.ts';
import * as train from './train.ts';

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('the data loop around a deep-learning product: curate, analyze, mine, score, serve, feed back')
    .version('0.1.0')
    .option('--project <dir>', 'project folder (default: found from the current folder)')
    .option('--threads <n>', 'thread budget for this process', intOption('--threads'))
    .option('--pg <url>', 'PostgreSQL catalog URL (overrides sluice.yaml; also SLUICE_PG)')
    .option('--json', 'print a machine-readable summary')
    .option('-q, --quiet', 'no progress output')
    .showHelpAfterError()
    .exitOverride();
  for (const m of [init, importCmd, curateCmd, purge, datasets, exportCmd, tag, gc, dedup, worker, demo, stats, schemaCmd, drift, split, rebalance, models, model, infer, mineCmd, scoreCmd, train, review, serveCmd, feedback, feedbackMetrics]) m.register(program);
  program.commands.forEach((c) => c.exitOverride());
  return program;
}

/** Runs the CLI; returns the exit code (0 ok, 1 failed, 2 bad usage). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      return 2; // commander already printed the message
    }
    process.stderr.write(describeError(e) + '\n');
    return exitCodeOf(e);
  }
}

// `sluice train --baseline logistic|mlp --features spec.yaml --data ref --label col`: trains a
// baseline model in TypeScript and registers it (ONNX, feature spec, lineage, validation metrics).
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError } from '../core/errors.ts';
import type { ClassWeighting } from '../model/train/calibration.ts';
import type { TrainOptions, TrainProgress } from '../model/train/train.ts';
import { type GlobalOptions, intOption, output, table, withProject } from './common.ts';

/** commander's options: the trainer's, with the choices still unchecked strings */
type Opts = Omit<TrainOptions, 'baseline' | 'features' | 'classWeights' | 'onProgress'> & { baseline: string; features: string; classWeights: string };

const number = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('train')
    .description('train a baseline model (logistic regression or a small MLP) and register it as ONNX')
    .requiredOption('--baseline <kind>', 'logistic or mlp')
    .requiredOption('--features <spec.yaml>', 'feature spec: dataset columns → model inputs (frozen from --data)')
    .requiredOption('--data <ref>', 'training dataset version')
    .requiredOption('--label <col>', 'binary label column')
    .option('--val <ref>', 'validation dataset version: metrics and early stopping')
    .option('--positive <value>', 'the positive class (default 1 or true)')
    .option('--name <model>', 'model name (default <dataset>-<baseline>)')
    .option('--epochs <n>', 'most epochs (default 20)', intOption('--epochs'))
    .option('--batch-size <n>', 'examples per Adam step (default 256)', intOption('--batch-size'))
    .option('--lr <x>', 'Adam learning rate (default 0.01)', number('--lr'))
    .option('--hidden <n>', 'hidden units of the MLP (default 64)', intOption('--hidden'))
    .option('--seed <n>', 'seed of initialization and shuffles (default 0)', intOption('--seed'))
    .option('--patience <n>', 'epochs without a better validation loss before stopping (default 3)', intOption('--patience'))
    .option('--class-weights <mode>', 'auto (from the label balance, unless resampled), none, inverse or effective', 'auto')
    .addHelpText(
      'after',
      '\nScores are calibrated back to true class rates when --data was rebalanced (rates recorded by\n`sluice rebalance`) or trained with class weights; the correction is part of the ONNX graph.\n\nExample:\n  $ sluice train --baseline mlp --features features/ctr.yaml --data ads-train@2 --val ads-val@1 --label clicked --name ctr',
    )
    .action(async (o: Opts, cmd: Command) => {
      if (o.baseline !== 'logistic' && o.baseline !== 'mlp') throw new UsageError(`--baseline ${JSON.stringify(o.baseline)}: choose logistic or mlp`);
      const baseline = o.baseline;
      await withProject(cmd, async (p, g) => {
        const { trainBaseline } = await import('../model/train/train.ts');
        const bar = epochBar(g);
        try {
          const r = await trainBaseline(p, { ...o, baseline, classWeights: o.classWeights as ClassWeighting, onProgress: bar.onProgress });
          bar.stop();
          const summary = {
            model: r.model,
            baseline: r.baseline,
            rows: r.rows,
            skipped: r.skipped,
            epochs: r.epochs,
            best_epoch: r.bestEpoch,
            stopped_early: r.stoppedEarly,
            metrics_on: r.metrics.on,
            log_loss: r.metrics.log_loss,
            auc: r.metrics.auc,
            ece: r.metrics.ece,
            mean_score: r.metrics.mean_score,
            positive_rate: r.metrics.positive_rate,
            examples_per_second: Math.round(r.examplesPerSecond),
            calibration: { rates: r.calibration.rates, recorded_in: r.calibration.recordedIn, class_weights: r.calibration.classWeights, logit_shift: r.calibration.logitShift },
          };
          const f = (x: number) => x.toFixed(4);
          output(g, summary, () =>
            [
              `${r.model}: ${r.baseline} trained on ${r.rows} rows${r.skipped ? ` (${r.skipped} skipped: a feature failed)` : ''}, ${r.epochs} epochs (best ${r.bestEpoch}${r.stoppedEarly ? ', stopped early' : ''}), ${Math.round(r.examplesPerSecond).toLocaleString('en')} examples/s`,
              `metrics on ${r.metrics.on}:`,
              table([[f(r.metrics.log_loss), f(r.metrics.auc), f(r.metrics.ece), f(r.metrics.mean_score), f(r.metrics.positive_rate)]], ['log loss', 'AUC', 'ECE', 'mean score', 'positive rate']),
              r.calibration.logitShift !== 0 ? `scores calibrated to true rates: logit ${r.calibration.logitShift >= 0 ? '+' : '−'} ${Math.abs(r.calibration.logitShift).toFixed(4)} (in the graph)` : 'no calibration needed (no resampling, no class weights)',
              `written: ${r.dir}/model.onnx, model.yaml`,
            ].join('\n'),
          );
        } finally {
          bar.stop();
        }
      });
    });
}

/** One bar for reading, then one pass per epoch, on a terminal only. */
function epochBar(g: GlobalOptions): { onProgress: (p: TrainProgress) => void; stop: () => void } {
  if (g.json || g.quiet || !process.stderr.isTTY) return { onProgress: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar({ format: 'train {phase} [{bar}] {percentage}% | {info}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  let phase = '';
  let valLoss = '';
  return {
    onProgress: (p) => {
      const key = p.phase === 'read' ? `read ${p.ref}` : `epoch ${p.epoch}/${p.epochs}`;
      const total = p.phase === 'read' ? p.total : p.batches;
      const value = p.phase === 'read' ? p.rows : p.batch;
      if (p.phase === 'train' && p.valLoss !== null) valLoss = `val log loss ${p.valLoss.toFixed(4)}`;
      const info = p.phase === 'read' ? `${p.rows} rows` : valLoss;
      if (!started || key !== phase) {
        if (started) bar.stop();
        bar.start(total, value, { phase: key, info });
        started = true;
        phase = key;
      } else bar.update(value, { info });
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

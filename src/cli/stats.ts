// `sluice stats <ref> [--label col] [--html out]`: per-column statistics and class balance.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { computeStats } from '../analyze/stats.ts';
import { statsHtml } from '../analyze/report.ts';
import { compact } from '../analyze/svg.ts';
import { makeRunner } from '../engine/execute.ts';
import { intOption, output, planProgressBar, table, withProject } from './common.ts';

export function register(program: Command): void {
  program
    .command('stats <ref>')
    .description('statistics of every column (two passes, as a plan), class balance and class weights for a label')
    .option('--label <col>', 'label column: class counts, imbalance, class weights, suggested resampling')
    .option('--columns <cols>', 'comma-separated columns (default: all)')
    .option('--top <k>', 'top values per category', intOption('--top'), 10)
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--runner <runner>', '`local` or a Redis URL')
    .addHelpText('after', '\nExample:\n  $ sluice stats ads@3 --label clicked --html report.html')
    .action(async (ref: string, opts: { label?: string; columns?: string; top: number; html?: string; runner?: string }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const runner = await makeRunner(p, opts.runner);
        const bar = planProgressBar(g, 'stats');
        try {
          const s = await computeStats(p, ref, {
            ...(opts.label ? { label: opts.label } : {}),
            ...(opts.columns ? { columns: opts.columns.split(',').map((c) => c.trim()) } : {}),
            topK: opts.top,
            runner,
            onProgress: bar.onProgress,
          });
          bar.stop();
          if (opts.html) writeFileSync(resolve(opts.html), statsHtml(s));
          output(g, { ...s, ...(opts.html ? { html: resolve(opts.html) } : {}) }, () => {
            const f = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'number' ? compact(v) : String(v));
            const lines = [
              `${s.ref}: ${s.rows} rows`,
              table(
                s.columns.map((c) => [c.name, c.type, c.count, c.missing, f(c.distinct), f(c.min), f(c.max), f(c.mean), f(c.std), f(c.quantiles?.p50), c.top?.slice(0, 3).map((t) => `${t.value}:${t.count}`).join(' ') ?? '']),
                ['column', 'type', 'count', 'missing', 'distinct', 'min', 'max', 'mean', 'std', 'p50', 'top'],
              ),
            ];
            if (s.label) {
              const l = s.label;
              lines.push('', `label ${l.column}: imbalance ${l.imbalanceRatio.toFixed(2)}:1`);
              lines.push(table(l.classes.map((c) => [c.value, c.count, `${(c.share * 100).toFixed(2)}%`, l.weights.inverse[c.value]!.toFixed(4), l.weights.effective[c.value]!.toFixed(4)]), ['class', 'count', 'share', 'weight', 'weight (eff. n)']));
              lines.push(`suggested: ${l.suggestion.text}${l.suggestion.args.length ? ` — sluice rebalance ${s.ref} ${l.suggestion.args.join(' ')}` : ''}`);
            }
            if (opts.html) lines.push(`report: ${resolve(opts.html)}`);
            return lines.join('\n');
          });
        } finally {
          bar.stop();
          await runner.close?.();
        }
      });
    });
}

// `sluice drift <a> <b>`: per-feature drift (PSI, Jensen–Shannon, L∞) with thresholds and a report.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { computeDrift } from '../analyze/drift.ts';
import { driftHtml } from '../analyze/report.ts';
import { InputError } from '../core/errors.ts';
import { parseRef } from '../core/ref.ts';
import { output, table, withProject } from './common.ts';

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
};

export function register(program: Command): void {
  program
    .command('drift <a> <b>')
    .description('drift of every feature from version a (e.g. training data) to b (new data, a serving log)')
    .option('--psi <x>', 'PSI threshold for numbers (default 0.2)', positive('--psi'))
    .option('--js <x>', 'Jensen–Shannon distance threshold for numbers (default 0.1)', positive('--js'))
    .option('--linf <x>', 'L-infinity threshold for categories (default 0.1)', positive('--linf'))
    .option('--features <cols>', 'comma-separated features (default: all in both)')
    .option('--html <file>', 'also write a self-contained HTML report: drift per feature, both versions side by side')
    .option('--check', 'exit with code 1 when a feature drifted past its threshold')
    .addHelpText('after', '\nExample:\n  $ sluice drift ads@3 serving-log@1 --html drift.html')
    .action(async (a: string, b: string, opts: { psi?: number; js?: number; linf?: number; features?: string; html?: string; check?: boolean }, cmd: Command) => {
      await withProject(cmd, async (p, g) => {
        const [ma, mb] = [await p.catalog.resolve(parseRef(a)), await p.catalog.resolve(parseRef(b))];
        const d = await computeDrift(p, ma, mb, {
          thresholds: { ...(opts.psi ? { psi: opts.psi } : {}), ...(opts.js ? { js: opts.js } : {}), ...(opts.linf ? { linf: opts.linf } : {}) },
          ...(opts.features ? { features: opts.features.split(',').map((s) => s.trim()) } : {}),
        });
        if (opts.html) writeFileSync(resolve(opts.html), driftHtml(d));
        const anomalies = d.features.filter((f) => f.drifted);
        output(g, { ...d, anomalies: anomalies.map((f) => ({ feature: f.name, reasons: f.reasons })) }, () =>
          [
            `${d.a} → ${d.b}`,
            table(d.features.map((f) => [f.name, f.kind, f.psi?.toFixed(4), f.js?.toFixed(4), f.linf?.toFixed(4), f.reasons.join('; ')]), ['feature', 'kind', 'PSI', 'JS', 'L∞', 'anomaly']),
            ...d.missing.map((m) => `only in ${m.in}: ${m.column}`),
            ...(opts.html ? [`report: ${resolve(opts.html)}`] : []),
          ].join('\n'),
        );
        if (opts.check && anomalies.length) throw new InputError(`${anomalies.length} feature(s) drifted from ${d.a} to ${d.b}: ${anomalies.map((f) => f.name).join(', ')}`);
      });
    });
}

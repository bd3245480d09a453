// `sluice feedback run` (the continuous exactly-once join, optionally hosting POST /v1/events) and
// `sluice feedback import <file>` (events from JSONL, CSV or Parquet into the `events` log).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { output, withProject } from './common.ts';
import { feedbackGroup } from './feedback-group.ts';

function portOption(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--listen: expected a port 0–65535, received ${JSON.stringify(v)}`);
  return n;
}

export function register(program: Command): void {
  const group = feedbackGroup(program);
  group
    .command('run')
    .description('join outcome events with logged predictions exactly once; publish labeled examples as feedback@N')
    .option('--spec <file>', 'join spec YAML (default: feedback.yaml in the project, else built-in defaults)')
    .option('--once', 'drain what the logs hold, publish, and stop')
    .option('--listen [port]', 'also accept events on POST /v1/events (127.0.0.1; default port 8787)')
    .option('--host <host>', 'address to bind with --listen', '127.0.0.1')
    .option('--batch <records>', 'records folded per transaction', (v) => Number(v), 20_000)
    .addHelpText(
      'after',
      '\nExamples:\n  $ sluice feedback run --once --json\n  $ SLUICE_EVENTS_TOKEN=secret sluice feedback run --listen 8787\n    then: curl -H "Authorization: Bearer secret" -H "Content-Type: application/x-ndjson" --data-binary @events.ndjson http://127.0.0.1:8787/v1/events',
    )
    .action(async (opts: { spec?: string; once?: boolean; listen?: string | boolean; host: string; batch: number }, cmd: Command) => {
      if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new UsageError(`--batch: expected a positive integer, received ${opts.batch}`);
      await withProject(cmd, async (project, g) => {
        const { openFeedback } = await import('../feedback/open.ts');
        const { runFeedback } = await import('../feedback/run.ts');
        const feedback = await openFeedback(project, opts.spec && resolve(opts.spec));
        const { spec, join, logs } = feedback;
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        let app: { close(): Promise<void> } | undefined;
        try {
          if (opts.listen !== undefined && opts.listen !== false) {
            const Fastify = (await import('fastify')).default;
            const { eventsRoute } = await import('../feedback/intake.ts');
            const { makeScrubber } = await import('../feedback/scrub.ts');
            const token = process.env.SLUICE_EVENTS_TOKEN ?? `sle_${randomBytes(24).toString('base64url')}`;
            const server = Fastify({ logger: false, forceCloseConnections: true });
            await server.register(eventsRoute, { log: logs.events, token, scrub: makeScrubber(spec.scrub) });
            const url = await server.listen({ host: opts.host, port: opts.listen === true ? 8787 : portOption(opts.listen) });
            app = server;
            if (!g.quiet) process.stderr.write(`events intake on ${url}/v1/events${process.env.SLUICE_EVENTS_TOKEN ? '' : `  token: ${token}`}\n`);
          }
          const quiet = g.quiet || g.json;
          const summary = await runFeedback(project, join, logs, {
            once: Boolean(opts.once),
            batchRecords: opts.batch,
            signal: stop.signal,
            onProgress: quiet
              ? undefined
              : (s) => process.stderr.write(`feedback: ${s.examples} examples in ${s.batches} batches | lag ${s.lag.predictions} prediction / ${s.lag.events} event entries | watermark ${s.watermark === null ? '-' : new Date(s.watermark).toISOString()}\n`),
          });
          output(g, summary, () => {
            const c = summary.counts;
            const v = summary.versions.length ? `published ${spec.publish.dataset}@${summary.versions.at(-1)}` : 'no new version';
            return [
              `${summary.examples} examples this run (${c.positives ?? 0} positive, ${c.negatives ?? 0} negative in total); ${v}`,
              `events: ${c.events ?? 0} first seen, ${c.duplicates ?? 0} duplicates, ${c.late ?? 0} late, ${c.pending ?? 0} waiting for their prediction, ${c.quarantined ?? 0} quarantined (${c.events_invalid ?? 0} invalid, ${c.unmatched ?? 0} unmatched)`,
              `lag: ${summary.lag.predictions} prediction / ${summary.lag.events} event entries`,
            ].join('\n');
          });
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          await app?.close();
          await feedback.close();
        }
      });
    });

  group
    .command('import <file>')
    .description('append outcome events from a JSONL, CSV or Parquet file to the events log (the same file twice appends once)')
    .option('--spec <file>', 'join spec YAML whose scrub rules apply (default: feedback.yaml, else built-in)')
    .addHelpText('after', '\nExample:\n  $ sluice feedback import clicks-2026-11-01.parquet && sluice feedback run --once')
    .action(async (file: string, opts: { spec?: string }, cmd: Command) => {
      await withProject(cmd, async (project, g) => {
        const { projectJoinSpec } = await import('../feedback/open.ts');
        const { importEvents } = await import('../feedback/import.ts');
        const { makeScrubber } = await import('../feedback/scrub.ts');
        const { projectLog } = await import('../log/open.ts');
        const spec = projectJoinSpec(project, opts.spec && resolve(opts.spec));
        const log = await projectLog<unknown>(project, 'events');
        try {
          const s = await importEvents(resolve(file), log, makeScrubber(spec.scrub), () => project.duck());
          output(g, s, () => `${s.records} events from ${file} (${s.valid} valid, ${s.invalid} invalid: the join quarantines them)${s.duplicates ? `; ${s.duplicates} of ${s.entries} entries were already in the log` : ''}`);
        } finally {
          await log.close();
        }
      });
    });
}

// `sluice serve --model name[@version]`: the online inference server (v2 + TF Serving REST), with
// dynamic batching, A/B and shadow arms, hot reload, and every prediction in the project's log.
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { intOption, output, withProject } from './common.ts';

interface Opts {
  model: string;
  host: string;
  port: number;
  token?: string;
  maxBatch: number;
  maxDelayUs: number;
  preferredBatch?: string;
  queueLimit: number;
  timeoutMs: number;
  concurrency?: number;
  bodyLimit: number;
  ab?: string;
  abKey?: string;
  shadow?: string;
  backend?: string;
  backendProtocol: string;
  log: boolean;
  watchMs: number;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve a model online: Open Inference Protocol v2 and TF Serving REST, batching, A/B, shadow, prediction log')
    .requiredOption('--model <name[@version]>', 'model from the registry (without a version: the latest, reloaded when a new one is added)')
    .option('--host <host>', 'address to bind (another than loopback requires the token for inference)', '127.0.0.1')
    .option('--port <n>', 'port (0: any free one)', intOption('--port'), 8080)
    .option('--token <token>', 'bearer token (default: SLUICE_SERVE_TOKEN, else one is generated and printed)')
    .option('--max-batch <n>', 'most rows in one model call (1: batching off)', intOption('--max-batch'), 64)
    .option('--max-delay-us <n>', 'longest a request waits for a batch to fill, in microseconds', intOption('--max-delay-us'), 500)
    .option('--preferred-batch <sizes>', 'comma-separated batch sizes that leave at once (e.g. 16,32)')
    .option('--queue-limit <n>', 'most rows waiting; more answers 503 with Retry-After', intOption('--queue-limit'), 2048)
    .option('--timeout-ms <n>', 'deadline per request (504 when it passes before its batch starts)', intOption('--timeout-ms'), 1000)
    .option('--concurrency <n>', 'batches running at once (default 1 in process, 4 in proxy mode)', intOption('--concurrency'))
    .option('--body-limit <bytes>', 'largest request body (413 over it)', intOption('--body-limit'), 1 << 20)
    .option('--ab <splits>', 'A/B split between versions by a hash of --ab-key, e.g. ctr@1=0.9,ctr@2=0.1')
    .option('--ab-key <field>', 'request field whose value picks the arm (TF instances, ranked context, v2 parameters; header x-sluice-key)')
    .option('--shadow <name@version>', 'a version that scores a copy of the traffic; logged, never returned')
    .option('--backend <url>', 'proxy mode: score on this v2 or TF Serving endpoint instead of in process')
    .option('--backend-protocol <p>', 'proxy protocol: v2 or tfserving', 'v2')
    .option('--no-log', 'do not write predictions to the event log')
    .option('--watch-ms <n>', 'poll the registry for new versions this often (0: only POST /admin/reload)', intOption('--watch-ms'), 2000)
    .addHelpText(
      'after',
      `
Examples:
  $ sluice serve --model ctr
  $ curl -s localhost:8080/v1/models/ctr:predict -d '{"instances": [{"price": 3.5, "country": "de"}]}'
  $ sluice serve --model ctr --ab ctr@1=0.9,ctr@2=0.1 --ab-key user_id --shadow ctr@3
  $ sluice serve --model ctr --backend http://triton:8000 --backend-protocol v2 --max-batch 128`,
    )
    .action(async (o: Opts, cmd: Command) => {
      if (o.backendProtocol !== 'v2' && o.backendProtocol !== 'tfserving') throw new UsageError(`--backend-protocol must be v2 or tfserving, got ${JSON.stringify(o.backendProtocol)}`);
      const preferred = o.preferredBatch?.split(',').map((s) => {
        const n = Number(s.trim());
        if (!Number.isInteger(n) || n < 1) throw new UsageError(`--preferred-batch: ${JSON.stringify(s)} is not a positive whole number`, { hint: 'e.g. --preferred-batch 16,32' });
        return n;
      });
      const { parseAb } = await import('../serve/arms.ts');
      const ab = o.ab ? parseAb(o.ab) : undefined;
      await withProject(cmd, async (p, g) => {
        const { startServer } = await import('../serve/server.ts'); // Fastify and ONNX Runtime load only here
        const { projectWriter } = await import('../log/open.ts');
        const predictions = o.log ? await projectWriter<import('../feedback/records.ts').PredictionRecord>(p, 'predictions', { idPrefix: 'serve' }) : undefined;
        const log = predictions?.log;
        const writer = predictions?.writer;
        const token = o.token ?? process.env.SLUICE_SERVE_TOKEN;
        const s = await startServer({
          project: p,
          model: o.model,
          ...(ab ? { ab } : {}),
          ...(o.shadow ? { shadow: o.shadow } : {}),
          ...(o.abKey ? { abKey: o.abKey } : {}),
          host: o.host,
          port: o.port,
          ...(token ? { token } : {}),
          batch: { maxBatch: Math.max(1, o.maxBatch), maxDelayUs: o.maxDelayUs, queueLimit: o.queueLimit, ...(preferred ? { preferred } : {}), ...(o.concurrency ? { concurrency: o.concurrency } : {}) },
          timeoutMs: o.timeoutMs,
          bodyLimit: o.bodyLimit,
          ...(o.backend ? { backend: { url: o.backend, protocol: o.backendProtocol as 'v2' | 'tfserving' } } : {}),
          ...(writer ? { log: writer } : {}),
          watchMs: o.watchMs,
        });
        const serving = s.arms.current.versions.map((v) => v.ref);
        output(g, { url: s.url, serving, token: token ? undefined : s.token, log: log ? log.kind : null }, () =>
          [
            `serving ${serving.join(', ')} on ${s.url}  (Ctrl-C to stop)`,
            `  v2:   POST ${s.url}/v2/models/${s.arms.current.name}/infer   TF: POST ${s.url}/v1/models/${s.arms.current.name}:predict`,
            token ? '' : `  token (admin; inference too when not on loopback): ${s.token}`,
            `  predictions log: ${log ? log.kind : 'off'}`,
          ].filter(Boolean).join('\n'),
        );
        await new Promise<void>((done) => {
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
        await s.close();
        await predictions?.close();
      });
    });
}

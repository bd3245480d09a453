// The measured side of bench/score: one `scoreCandidates` run in its own process, so the parent
// can read this process's peak RSS (VmHWM) apart from its own. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { Project } from '../src/core/project.ts';
import { LocalRunner } from '../src/engine/runners/local.ts';
import { scoreCandidates } from '../src/score/plan.ts';

const [root, into, threads, k] = process.argv.slice(2) as [string, string, string, string];
const project = await Project.open(root, { threads: Number(threads) });
const runner = new LocalRunner(await project.duck(), project.catalog);
// Two runs: the first in a fresh process (module loading, session creation, ORT's and DuckDB's
// first-use costs), the second warm, as the anchor's session and tensors are.
const times: number[] = [];
let cpu = 0;
let r: Awaited<ReturnType<typeof scoreCandidates>> | undefined;
for (const run of ['cold', 'warm']) {
  const t = performance.now();
  const cu = process.cpuUsage();
  r = await scoreCandidates(project, { model: 'mlp@1', candidates: 'ads@1', contexts: 'users@1', k: Number(k), rankBy: 'bid * score', candidateId: 'ad_id', contextId: 'user_id', into: `${into}-${run}`, batchSize: 8192 }, runner);
  times.push((performance.now() - t) / 1000);
  const d = process.cpuUsage(cu);
  cpu = (d.user + d.system) / 1e6;
}
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0);
await project.close();
process.stdout.write(JSON.stringify({ cold: times[0], warm: times[1], warm_cpu_s: cpu, pairs: r!.pairs, rows: r!.manifest.rows, peak_rss_kb: hwm }) + '\n');

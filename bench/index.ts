// `npm run bench [-- name…] [--quick] [--repeats n]`: runs the benchmarks under bench/ and prints
// each figure beside its anchor from the same run, with the ratio; writes bench/out/results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { formatMeasure, scratch, type Bench, type Measure } from './lib.ts';

const BENCHES: Record<string, () => Promise<Bench>> = {
  import: async () => (await import('./import.bench.ts')).bench,
  ingest: async () => (await import('./ingest.bench.ts')).bench,
  curate: async () => (await import('./curate.bench.ts')).bench,
  runners: async () => (await import('./runners.bench.ts')).bench,
  infer: async () => (await import('./infer.bench.ts')).bench,
  analyze: async () => (await import('./analyze.bench.ts')).bench,
  review: async () => (await import('./review.bench.ts')).bench,
  feedback: async () => (await import('./feedback.bench.ts')).bench,
  score: async () => (await import('./score.bench.ts')).bench,
  serve: async () => (await import('./serve.bench.ts')).bench,
  train: async () => (await import('./train.bench.ts')).bench,
  log: async () => (await import('./log.bench.ts')).bench,
  metrics: async () => (await import('./metrics.bench.ts')).bench,
};

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const ri = args.indexOf('--repeats');
const repeats = ri >= 0 ? Number(args[ri + 1]) : quick ? 1 : 3;
const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--repeats');
const chosen = names.length ? names : Object.keys(BENCHES);
const root = join(process.cwd(), 'bench', 'out');
mkdirSync(root, { recursive: true });

const results: { bench: string; measures: Measure[] }[] = [];
console.log(`sluice benchmarks — ${new Date().toISOString()} — ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, repeats ${repeats}${quick ? ', quick' : ''}`);
for (const name of chosen) {
  const load = BENCHES[name];
  if (!load) {
    console.error(`unknown benchmark ${name}; have: ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  const bench = await load();
  console.log(`\n== ${bench.name}`);
  const measures = await bench.run({ dir: scratch(root, name), repeats, quick, log: (m) => console.log(`   ${m}`) });
  for (const m of measures) console.log(formatMeasure(m));
  results.push({ bench: name, measures });
}
writeFileSync(join(root, 'results.json'), JSON.stringify({ date: new Date().toISOString(), cpus: cpus().length, results }, null, 2));

// The worker-thread side of scan-split.ts: scans byte ranges of files with scan.ts, one job at a
// time. Plain JavaScript that registers the TypeScript loader itself: a worker thread starts
// without it (loading it takes a few hundred milliseconds, so the thread is started early and kept).
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { scanCsv, scanJsonl } = await import('./scan.ts');
parentPort.on('message', ({ kind, path, clean, options }) => {
  try {
    const result = kind === 'jsonl' ? scanJsonl(path, clean, options) : scanCsv(path, clean, kind === 'csv' ? ',' : '\t', options);
    parentPort.postMessage({ ok: true, result });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e?.message ?? e) });
  }
});
parentPort.postMessage({ ready: true });

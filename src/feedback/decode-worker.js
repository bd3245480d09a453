// The worker-thread side of feed.ts: reads byte ranges of file-log segments, checks and parses
// their frames (segment.ts) and checks the records into a chunk of columns (decode.ts), while the
// join's thread folds the batch before. Plain JavaScript that registers the TypeScript loader
// itself: a worker thread starts without it.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { parseFrames } = await import('../log/segment.ts');
const { decodeEntries } = await import('./decode.ts');

const files = new Map();
function read(path, start, end) {
  let fd = files.get(path);
  if (fd === undefined) files.set(path, (fd = openSync(path, 'r')));
  const buf = Buffer.allocUnsafe(end - start);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, start + got);
    if (n === 0) throw new Error(`${path} ends at byte ${start + got}, before ${end}: was the log truncated?`);
    got += n;
  }
  return buf;
}

parentPort.on('message', ({ id, log, logName, ranges }) => {
  try {
    const entries = [];
    for (const r of ranges) entries.push(...parseFrames(read(r.path, r.start, r.end), r.first, logName, r.path));
    const chunk = decodeEntries(log, entries);
    const c = chunk.predictions ?? chunk.events;
    const transfer = [chunk.ok.buffer, ...Object.values(c).filter((v) => ArrayBuffer.isView(v)).map((v) => v.buffer)];
    parentPort.postMessage({ id, chunk }, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: String(e?.message ?? e), integrity: e?.name === 'IntegrityError' });
  }
});
process.on('exit', () => {
  for (const fd of files.values()) closeSync(fd);
});

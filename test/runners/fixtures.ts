// Generated input for the runner tests: CSV files of clicks in which one user's rows (u03) sit in
// every file, so dedup by key needs a real shuffle across map tasks.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Click {
  user_id: string;
  item: string;
  ts: number;
  file: string;
}

/** `files` CSVs of `rowsPerFile` clicks each; `ts` is unique, so "latest" has no ties. */
export function writeClicks(dir: string, files: number, rowsPerFile: number, users: number): { paths: string[]; clicks: Click[] } {
  const paths: string[] = [];
  const clicks: Click[] = [];
  for (let f = 0; f < files; f++) {
    const file = `clicks-${f}.csv`;
    const lines = ['user_id,item,ts'];
    for (let r = 0; r < rowsPerFile; r++) {
      // Timestamps interleave across files, so a key's latest row may be in any file.
      const c: Click = { user_id: `u${String((f * 7 + r * 3) % users).padStart(2, '0')}`, item: `i${f}-${r}`, ts: 1000 + r * files + ((f * 5) % files), file };
      lines.push(`${c.user_id},${c.item},${c.ts}`);
      clicks.push(c);
    }
    const path = join(dir, file);
    writeFileSync(path, lines.join('\n') + '\n');
    paths.push(path);
  }
  return { paths, clicks };
}

/** The latest click per user, computed plainly in JS: what dedup must keep. */
export function latestPerUser(clicks: Click[]): Map<string, Click> {
  const out = new Map<string, Click>();
  for (const c of clicks) {
    const best = out.get(c.user_id);
    if (!best || c.ts > best.ts) out.set(c.user_id, c);
  }
  return out;
}

// Reference-counted garbage collection: files in the data folder that no version references,
// older than a grace period (so a write in progress, not yet committed, is left alone).
import { readdirSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Project } from './project.ts';

export interface GcResult {
  kept: number;
  removed: number;
  bytesFreed: number;
  dryRun: boolean;
  files: string[];
}

export async function collectGarbage(project: Project, o: { minAgeMs: number; dryRun?: boolean }): Promise<GcResult> {
  const referenced = await project.catalog.referencedPaths();
  const root = project.dataDir;
  const cutoff = Date.now() - o.minAgeMs;
  const result: GcResult = { kept: 0, removed: 0, bytesFreed: 0, dryRun: Boolean(o.dryRun), files: [] };
  const walk = (dir: string): boolean => {
    let empty = true;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      if (e.isDirectory()) {
        // The folder's age is read before the walk: removing its files below touches its mtime.
        const old = statSync(abs).mtimeMs < cutoff;
        if (walk(abs) && !o.dryRun && old) rmdirSync(abs);
        else empty = false;
        continue;
      }
      const rel = relative(root, abs).split(sep).join('/');
      const st = statSync(abs);
      if (referenced.has(rel) || st.mtimeMs >= cutoff) {
        result.kept++;
        empty = false;
        continue;
      }
      result.removed++;
      result.bytesFreed += st.size;
      result.files.push(rel);
      if (!o.dryRun) unlinkSync(abs);
      else empty = false;
    }
    return empty;
  };
  walk(root);
  return result;
}

// What every command shares: opening the project, printing text or --json, progress bars.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { Project } from '../core/project.ts';
import type { PlanProgress } from '../engine/plan.ts';

export interface GlobalOptions {
  project?: string;
  threads?: number;
  pg?: string;
  json?: boolean;
  quiet?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

/** Opens the project named by --project (or found from the current folder), runs `fn`, closes it. */
export async function withProject<T>(cmd: Command, fn: (p: Project, g: GlobalOptions) => Promise<T>): Promise<T> {
  const g = globals(cmd);
  const project = await Project.open(g.project ?? process.cwd(), { ...(g.threads ? { threads: g.threads } : {}), ...(g.pg ? { postgres: g.pg } : {}) });
  try {
    return await fn(project, g);
  } finally {
    await project.close();
  }
}

/** Prints `value` as JSON with --json, else the text `render` makes. */
export function output(g: GlobalOptions, value: unknown, render: () => string): void {
  if (g.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else {
    const text = render();
    if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
}

/** A progress bar on stderr for a plan's phases (only on a terminal, never with --json). */
export function planProgressBar(g: GlobalOptions, label: string): { onProgress: (p: PlanProgress) => void; stop: () => void } {
  if (g.json || g.quiet || !process.stderr.isTTY) return { onProgress: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} {phase} [{bar}] {value}/{total} tasks | {duration_formatted}`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (p) => {
      if (!started) {
        bar.start(p.total, p.done, { phase: p.phase });
        started = true;
      }
      bar.setTotal(p.total);
      bar.update(p.done, { phase: p.phase });
    },
    stop: () => started && bar.stop(),
  };
}

/** Fixed-width table for terminal output. */
export function table(rows: (string | number | null | undefined)[][], header?: string[]): string {
  const all = header ? [header, ...rows] : rows;
  const cells = all.map((r) => r.map((c) => (c === null || c === undefined ? '' : String(c))));
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
  const lines = cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  if (header) lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines.join('\n');
}

export function humanBytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function intOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got ${JSON.stringify(v)}`);
    return n;
  };
}

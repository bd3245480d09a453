// Which model version answers a request: one main version, or an A/B split between versions by a
// hash of a request key (so one user stays on one arm), plus an optional shadow version that scores
// a copy of the traffic. Hot reload builds the next set (load, warm), swaps it in one assignment,
// and lets requests already holding the old set finish on it before its versions close.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { safeJoin } from '../core/names.ts';
import type { Project } from '../core/project.ts';
import { murmur3_32 } from '../model/features/hash.ts';
import { modelsRoot } from '../model/registry.ts';
import { ServedVersion, type VersionOptions } from './version.ts';

export interface ArmsConfig {
  /** `name` (latest) or `name@version` */
  model: string;
  /** A/B split: refs with their share of traffic (sums to 1) */
  ab?: { ref: string; weight: number }[];
  /** a version that scores a copy of every request; its answers are logged, never returned */
  shadow?: string;
}

export interface Arm {
  /** 'main' without a split, else the version's ref (`ctr@2`) */
  name: string;
  version: ServedVersion;
  weight: number;
}

/** The versions serving at one moment. Immutable: a reload makes a new one. */
export class ArmSet {
  private readonly cumulative: number[];
  constructor(readonly name: string, readonly arms: Arm[], readonly shadow: ServedVersion | undefined) {
    let c = 0;
    this.cumulative = arms.map((a) => (c += a.weight));
  }

  /** The arm for `key`: the same key always lands on the same arm (murmur3 of its UTF-8 bytes). */
  pick(key: string | undefined): Arm {
    if (this.arms.length === 1) return this.arms[0]!;
    const u = key === undefined ? Math.random() : murmur3_32(key) / 2 ** 32;
    const total = this.cumulative.at(-1)!;
    const i = this.cumulative.findIndex((c) => u * total < c);
    return this.arms[i < 0 ? this.arms.length - 1 : i]!;
  }

  /** The arm serving `version` (a request that names a version skips the split). */
  byVersion(version: number): Arm | undefined {
    return this.arms.find((a) => a.version.version === version);
  }

  get versions(): ServedVersion[] {
    return [...this.arms.map((a) => a.version), ...(this.shadow ? [this.shadow] : [])];
  }
}

/** Parses `ctr@1=0.9,ctr@2=0.1`. */
export function parseAb(text: string): { ref: string; weight: number }[] {
  const arms = text.split(',').map((part) => {
    const m = /^\s*([^=\s]+)\s*=\s*([0-9.]+)\s*$/.exec(part);
    if (!m || !Number.isFinite(Number(m[2])) || Number(m[2]) <= 0) throw new UsageError(`--ab: ${JSON.stringify(part)} is not name@version=ratio`, { hint: 'e.g. --ab ctr@1=0.9,ctr@2=0.1' });
    return { ref: m[1]!, weight: Number(m[2]) };
  });
  const sum = arms.reduce((a, b) => a + b.weight, 0);
  if (Math.abs(sum - 1) > 1e-6) throw new UsageError(`--ab: the ratios add up to ${sum}, not 1`, { hint: 'e.g. --ab ctr@1=0.9,ctr@2=0.1' });
  if (arms.length < 2) throw new UsageError('--ab needs at least two arms', { hint: 'e.g. --ab ctr@1=0.9,ctr@2=0.1' });
  return arms;
}

/** The newest version number of a model that has its model.yaml written (0 when none). */
export function latestVersion(project: Project, name: string): number {
  const dir = safeJoin(modelsRoot(project), name);
  if (!existsSync(dir)) return 0;
  const vs = readdirSync(dir).filter((d) => /^\d+$/.test(d) && existsSync(join(dir, d, 'model.yaml'))).map(Number);
  return vs.length ? Math.max(...vs) : 0;
}

const refName = (ref: string) => (ref.includes('@') ? ref.slice(0, ref.lastIndexOf('@')) : ref);

/** The live arm set and its reloads. */
export class Arms {
  private cache = new Map<string, ServedVersion>();
  private reloading: Promise<unknown> = Promise.resolve();
  private closing: Promise<void>[] = [];
  private watcher: NodeJS.Timeout | undefined;
  /** set by the server: called after each swap */
  onSwap: (before: ArmSet, after: ArmSet) => void = () => {};

  private constructor(private readonly project: Project, readonly config: ArmsConfig, private readonly options: VersionOptions, public current: ArmSet) {}

  static async open(project: Project, config: ArmsConfig, options: VersionOptions): Promise<Arms> {
    const a = new Arms(project, config, options, undefined as never);
    a.current = await a.build();
    return a;
  }

  private async version(ref: string): Promise<ServedVersion> {
    // Resolve `latest` first, so a reload reuses a version that did not change.
    const name = refName(ref);
    const resolved = ref.includes('@') && ref.slice(ref.lastIndexOf('@') + 1) !== 'latest' ? ref : `${name}@${latestVersion(this.project, name) || 'latest'}`;
    let v = this.cache.get(resolved);
    if (!v) {
      v = await ServedVersion.open(this.project, resolved, this.options);
      await v.warm();
      this.cache.set(v.ref, v);
    }
    return v;
  }

  private async build(): Promise<ArmSet> {
    const name = refName(this.config.model);
    const arms: Arm[] = this.config.ab
      ? await Promise.all(this.config.ab.map(async (a) => ({ name: a.ref, version: await this.version(a.ref), weight: a.weight })))
      : [{ name: 'main', version: await this.version(this.config.model), weight: 1 }];
    const shadow = this.config.shadow ? await this.version(this.config.shadow) : undefined;
    return new ArmSet(name, arms, shadow);
  }

  /**
   * Loads what the refs name now (new versions are loaded and warmed before anything changes),
   * then swaps. Versions no longer used drain and close in the background.
   */
  reload(): Promise<{ before: string[]; after: string[] }> {
    const run = this.reloading.then(async () => {
      const before = this.current;
      const next = await this.build();
      this.current = next;
      this.onSwap(before, next);
      const keep = new Set(next.versions);
      for (const v of before.versions) {
        if (keep.has(v)) continue;
        this.cache.delete(v.ref);
        this.closing.push(v.close());
      }
      return { before: before.versions.map((v) => v.ref), after: next.versions.map((v) => v.ref) };
    });
    this.reloading = run.catch(() => {});
    return run;
  }

  /** Polls the registry: when a ref without a pinned version gets a newer version, reload. */
  watch(intervalMs: number, onError: (e: unknown) => void): void {
    const refs = [this.config.model, ...(this.config.ab ?? []).map((a) => a.ref), ...(this.config.shadow ? [this.config.shadow] : [])];
    const floating = refs.filter((r) => !r.includes('@') || r.endsWith('@latest')).map(refName);
    if (!floating.length) return;
    let failed = '';
    this.watcher = setInterval(() => {
      const loaded = new Set(this.current.versions.map((v) => v.ref));
      const latest = floating.map((n) => `${n}@${latestVersion(this.project, n)}`);
      // A version that failed to load is tried again only once the registry changes again.
      if (latest.every((r) => loaded.has(r)) || latest.join() === failed) return;
      this.reload().catch((e) => {
        failed = latest.join();
        onError(e);
      });
    }, intervalMs);
    this.watcher.unref();
  }

  async close(): Promise<void> {
    if (this.watcher) clearInterval(this.watcher);
    await this.reloading;
    await Promise.all([...this.closing, ...this.current.versions.map((v) => v.close())]);
  }
}

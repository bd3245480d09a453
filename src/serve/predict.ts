// What both protocols share once a request is parsed: choosing the arm, scoring through the
// version's batcher, the shadow copy, and the prediction records for the log (PredictionRecord,
// the shape feedback/ joins on). Records are built here; serialization and batching of the log
// happen in the LogWriter, off the request's path.
import { randomUUID } from 'node:crypto';
import type { PredictionRecord } from '../feedback/records.ts';
import type { Arm, Arms, ArmSet } from './arms.ts';
import { HttpError } from './errors.ts';
import type { LogStats, ServeMetrics } from './metrics.ts';
import type { ServedVersion, Work, WorkResult } from './version.ts';

/** Where predictions go: `LogWriter<PredictionRecord>` (src/log/writer.ts) fits this. */
export interface PredictionSink {
  write(record: PredictionRecord): void;
  stats(): LogStats;
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface ServeContext {
  arms: Arms;
  metrics: ServeMetrics;
  log: PredictionSink | undefined;
  timeoutMs: number;
  /** the request field (TF instances, v2 parameters) whose value picks the A/B arm */
  abKey: string | undefined;
}

export const newPredictionId = (): string => randomUUID();

/** The request's deadline: the server's, or shorter when the client asks (header `x-sluice-timeout-ms`). */
export function timeoutOf(ctx: ServeContext, header: string | string[] | undefined): number {
  const asked = typeof header === 'string' ? Number(header) : NaN;
  return Number.isFinite(asked) && asked > 0 ? Math.min(asked, ctx.timeoutMs) : ctx.timeoutMs;
}

/** The arm for a request that names a version (`/versions/2`), or undefined to use the split. */
export function pinnedArm(set: ArmSet, version: string | undefined): Arm | undefined {
  if (version === undefined) return undefined;
  const arm = /^\d+$/.test(version) ? set.byVersion(Number(version)) : undefined;
  if (!arm) throw new HttpError(404, `model ${set.name} has no version ${JSON.stringify(version)} being served (serving ${set.arms.map((a) => a.version.version).join(', ')})`);
  return arm;
}

export function keyOf(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : undefined;
}

/** A request whose rows failed the feature spec answers 400 naming each row (`instances[3]: …`). */
export function checkFailed(result: WorkResult, where: (row: number) => string): void {
  if (!result.failed.size) return;
  const lines = [...result.failed].slice(0, 5).map(([i, r]) => `${where(i)}: ${r}`);
  throw new HttpError(400, lines.join('; ') + (result.failed.size > 5 ? `; and ${result.failed.size - 5} more` : ''));
}

/** One instance's outputs for the log: each output by name (a number for width 1, else an array). */
export function outputsOf(v: ServedVersion, r: WorkResult, row: number): Record<string, number | number[]> {
  const out: Record<string, number | number[]> = {};
  for (const s of v.outputs) {
    const d = r.outputs[s.name]!.data;
    out[s.name] = s.rowSize === 1 ? Number(d[row]!) : Array.from(d.subarray(row * s.rowSize, (row + 1) * s.rowSize), Number);
  }
  // feedback/ reads `score`: a model with one scalar output logs it under that name too.
  if (v.outputs.length === 1 && v.outputs[0]!.rowSize === 1 && !('score' in out)) out.score = out[v.outputs[0]!.name] as number;
  return out;
}

/** The first output's first value of a row: what a ranked answer sorts by. */
export function scoreOf(v: ServedVersion, r: WorkResult, row: number): number {
  const s = v.outputs[0]!;
  return Number(r.outputs[s.name]!.data[row * s.rowSize]!);
}

/** Logs the records `make` builds; without a log they are not even built (v2 rows copy every input value). */
export function write(ctx: ServeContext, make: () => PredictionRecord[], arm: string): void {
  if (!ctx.log) return;
  const records = make();
  for (const r of records) ctx.log.write(r);
  ctx.metrics.predictions.inc({ version: records[0] ? `${records[0].model}@${records[0].version}` : '', arm }, records.length);
}

/**
 * Scores a copy of `work` on the shadow version, in the background: its answers only reach the log
 * (`shadow: true`, id `<prediction id>/shadow`), so without a log it does nothing. A full shadow
 * queue drops the copy, never the answer.
 */
export function shadowCopy(ctx: ServeContext, set: ArmSet, work: Work, timeoutMs: number, records: (v: ServedVersion, r: WorkResult) => PredictionRecord[]): void {
  const s = set.shadow;
  if (!s || !ctx.log) return;
  s.score(work, timeoutMs).then(
    (r) => write(ctx, () => records(s, r).map((rec) => ({ ...rec, prediction_id: `${rec.prediction_id}/shadow`, arm: s.ref, shadow: true })), s.ref),
    () => ctx.metrics.shadowDropped.inc({ version: s.ref }),
  );
}

export function record(v: ServedVersion, arm: Arm, id: string, time: number, key: string | undefined, fields: Record<string, unknown>, outputs: PredictionRecord['outputs']): PredictionRecord {
  const r: PredictionRecord = { prediction_id: id, time, model: v.name, version: v.version, arm: arm.name, fields, outputs };
  if (key !== undefined) r.key = key;
  return r;
}

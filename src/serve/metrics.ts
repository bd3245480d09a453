// Prometheus metrics in the text exposition format (version 0.0.4): request latency and batch
// size histograms, queue depth, rejections, predictions, the versions and arms serving, and the
// prediction log's buffer. Small on purpose: counters and histograms keyed by a label string.
import type { ArmSet } from './arms.ts';

type Labels = Record<string, string>;

const escape = (v: string) => (/[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : v);

/** `{k="v",…}` (empty for no labels). On every request's path: a plain loop, escaping only when needed. */
const labelText = (l: Labels) => {
  let out = '';
  for (const k in l) out += `${out ? ',' : '{'}${k}="${escape(l[k]!)}"`;
  return out ? out + '}' : '';
};

class Counter {
  private values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).value += by;
  }
  /** A handle on one label set: `inc` without building the label key per call (hot paths). The series appears on first use. */
  handle(labels: Labels): { inc(by?: number): void } {
    let e: { value: number } | undefined;
    return { inc: (by = 1) => void ((e ??= this.entry(labels)).value += by) };
  }
  private entry(labels: Labels): { labels: Labels; value: number } {
    const k = labelText(labels);
    let e = this.values.get(k);
    if (!e) this.values.set(k, (e = { labels, value: 0 }));
    return e;
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelText(labels))?.value ?? 0;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const e of this.values.values()) lines.push(`${this.name}${labelText(e.labels)} ${e.value}`);
    return lines.join('\n');
  }
}

type HistSeries = { labels: Labels; counts: number[]; sum: number; count: number };

export class Histogram {
  private series = new Map<string, HistSeries>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(labels: Labels, v: number): void {
    this.add(this.entry(labels), v);
  }
  /** A handle on one label set: `observe` without building the label key per call (hot paths). The series appears on first use. */
  handle(labels: Labels): { observe(v: number): void } {
    let s: HistSeries | undefined;
    return { observe: (v) => this.add((s ??= this.entry(labels)), v) };
  }
  private entry(labels: Labels): HistSeries {
    const k = labelText(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels, counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }));
    return s;
  }
  private add(s: HistSeries, v: number): void {
    // Counts per bucket (not cumulative) while observing; render accumulates them.
    const b = this.buckets;
    let i = 0;
    while (i < b.length && !(v <= b[i]!)) i++;
    if (i < b.length) s.counts[i]!++;
    s.sum += v;
    s.count++;
  }
  /** Observations per series: `{ count, sum, buckets: { le → cumulative count } }` (tests read this). */
  snapshot(labels: Labels): { count: number; sum: number; buckets: Record<string, number> } {
    const s = this.series.get(labelText(labels));
    const buckets: Record<string, number> = {};
    let c = 0;
    this.buckets.forEach((b, i) => (buckets[String(b)] = c += s?.counts[i] ?? 0));
    return { count: s?.count ?? 0, sum: s?.sum ?? 0, buckets };
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      let c = 0;
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: String(b) })} ${(c += s.counts[i]!)}`));
      lines.push(`${this.name}_bucket${labelText({ ...s.labels, le: '+Inf' })} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export interface LogStats {
  buffered: number;
  spilled: number;
  appended: number;
  appendFailures: number;
}

export class ServeMetrics {
  readonly latency = new Histogram('sluice_request_duration_seconds', 'Time from request to answer, by route and status.', [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
  readonly batchSize = new Histogram('sluice_batch_size', 'Rows per batch run, by model version.', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
  readonly requests = new Counter('sluice_requests_total', 'Requests answered, by route and status.');
  readonly rejections = new Counter('sluice_rejections_total', 'Requests refused: queue_full (503), deadline (504), bad_request (400), unauthorized (401), too_large (413).');
  readonly predictions = new Counter('sluice_predictions_total', 'Predictions logged, by version and arm (shadow ones included).');
  readonly shadowDropped = new Counter('sluice_shadow_dropped_total', 'Shadow copies not scored (shadow queue full or failed).');
  readonly reloads = new Counter('sluice_reloads_total', 'Model swaps.');
  /** The answered v2 infer request's series, held so each answer skips building their label keys. */
  readonly v2Ok = { latency: this.latency.handle({ route: 'v2', code: '200' }), requests: this.requests.handle({ route: 'v2', code: '200' }) };

  render(set: ArmSet, log?: LogStats): string {
    const out = [this.latency.render(), this.batchSize.render(), this.requests.render(), this.rejections.render(), this.predictions.render(), this.shadowDropped.render(), this.reloads.render()];
    const gauge = (name: string, help: string, rows: [Labels, number][]) =>
      [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...rows.map(([l, v]) => `${name}${labelText(l)} ${v}`)].join('\n');
    const arms: [Labels, number][] = set.arms.map((a) => [{ model: a.version.name, version: String(a.version.version), arm: a.name, role: 'serving' }, a.weight]);
    if (set.shadow) arms.push([{ model: set.shadow.name, version: String(set.shadow.version), arm: set.shadow.ref, role: 'shadow' }, 0]);
    out.push(gauge('sluice_model_arm', 'Versions serving: the value is the arm’s share of traffic (0 for the shadow).', arms));
    out.push(gauge('sluice_queue_depth', 'Rows waiting for a batch, by version.', set.versions.map((v) => [{ version: v.ref }, v.batcher.depth])));
    out.push(gauge('sluice_batches_in_flight', 'Batches running, by version.', set.versions.map((v) => [{ version: v.ref }, v.batcher.inFlight])));
    if (log) {
      out.push(gauge('sluice_prediction_log_buffered', 'Prediction records waiting in memory for the log.', [[{}, log.buffered]]));
      out.push(gauge('sluice_prediction_log_spilled', 'Prediction records spilled to local disk, waiting for the log.', [[{}, log.spilled]]));
      out.push(gauge('sluice_prediction_log_appended', 'Prediction records appended to the log by this process.', [[{}, log.appended]]));
      out.push(gauge('sluice_prediction_log_append_failures', 'Failed appends to the log (retried; records spill).', [[{}, log.appendFailures]]));
    }
    return out.join('\n') + '\n';
  }
}

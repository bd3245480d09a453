// The join spec (YAML, validated with zod so errors name the path): label rules, the window and
// allowed lateness in event time, watermark delays, the unmatched-event timeout, scrub rules, publishing.
//
// Example (feedback.yaml):
//   window: 30m
//   lateness: 5m
//   rules:
//     - { type: click, label: 1 }
//     - { type: accept, label: 1, position: true }
//     - { type: typed_own, label: 0 }
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { loadYaml } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m", "10s", "1h", "250ms" or a number of milliseconds. */
export const Duration = z.union([z.number(), z.string()], { error: 'expected a duration like 30m, 10s, 1h or 250ms' }).transform((v, ctx) => {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0) return v;
    ctx.addIssue({ code: 'custom', message: `expected a whole number of milliseconds ≥ 0, received ${v}` });
    return z.NEVER;
  }
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 30m, 10s, 1h or 250ms, received ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
});

const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export const LabelRule = z
  .object({
    type: z.string().regex(EVENT_TYPE, 'an event type: a letter, then letters, digits, _ . - (at most 64)'),
    label: z.union([z.literal(0), z.literal(1)], { error: 'expected 0 (negative) or 1 (positive)' }),
    /** the event must come this soon after the prediction (default: the window) */
    within: Duration.optional(),
    /** record the event's `position` as the picked position */
    position: z.boolean().default(false),
  })
  .strict();

export const ScrubRule = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'a rule name: lower-case letters, digits, _ or -'),
    pattern: z.string().min(1),
    replace: z.string().default('[redacted]'),
  })
  .strict();

export const DEFAULT_SCRUB = [
  { name: 'email', pattern: '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}', replace: '[email]' },
  { name: 'card', pattern: '\\b(?:\\d[ -]?){13,19}\\b', replace: '[card]' },
  { name: 'phone', pattern: '(?:\\+\\d{1,3}[ .-]?)?(?:\\(\\d{1,4}\\)[ .-]?)?\\d{2,4}(?:[ .-]?\\d{2,4}){2,4}', replace: '[phone]' },
  { name: 'ip', pattern: '\\b\\d{1,3}(?:\\.\\d{1,3}){3}\\b', replace: '[ip]' },
  { name: 'url', pattern: 'https?://[^\\s,;]+', replace: '[url]' },
];

export const JoinSpecSchema = z
  .object({
    /** a prediction's window: events after prediction time + window do not decide its label */
    window: Duration.default(30 * 60_000),
    /** how long after the window closes (in event time) an event may still decide the label */
    lateness: Duration.default(0),
    /** bounded disorder of the events log: the event watermark is the largest event time seen minus this */
    watermark_delay: Duration.default(10_000),
    /** bounded disorder of the predictions log (same, for prediction times) */
    prediction_delay: Duration.default(10_000),
    /** an event waits for its prediction until the predictions' watermark passes event time + this */
    unmatched_timeout: Duration.default(10 * 60_000),
    rules: z.array(LabelRule).min(1).default([{ type: 'click', label: 1, position: false }]),
    /** write a correction record when a late event would have changed a label */
    corrections: z.boolean().default(true),
    /** free-text scrub rules, applied in order (default: email, card, phone, ip, url) */
    scrub: z.array(ScrubRule).default(DEFAULT_SCRUB),
    publish: z
      .object({
        dataset: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/).default('feedback'),
        /** commit a dataset version at most this often while running */
        every: Duration.default(10_000),
      })
      .strict()
      .default({ dataset: 'feedback', every: 10_000 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.rules.forEach((r, i) => {
      if (seen.has(r.type)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'type'], message: `a second rule for event type ${r.type}; one rule per type` });
      seen.add(r.type);
      if (r.within !== undefined && r.within > s.window) ctx.addIssue({ code: 'custom', path: ['rules', i, 'within'], message: `within (${r.within} ms) is longer than the window (${s.window} ms)` });
    });
    s.scrub.forEach((r, i) => {
      try {
        new RegExp(r.pattern, 'g');
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['scrub', i, 'pattern'], message: `not a valid regular expression: ${(e as Error).message}` });
      }
    });
  });
export type JoinSpec = z.infer<typeof JoinSpecSchema>;

/** The spec from `path`, or the defaults when no path is given and `fallback` does not exist. */
export function loadJoinSpec(path: string | undefined, fallback?: string): JoinSpec {
  if (path) return loadYaml(path, JoinSpecSchema);
  if (fallback && existsSync(fallback)) return loadYaml(fallback, JoinSpecSchema);
  return parseJoinSpec({});
}

export function parseJoinSpec(raw: unknown, where = 'join spec'): JoinSpec {
  const r = JoinSpecSchema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.slice(0, 5).map((i) => `${where}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`).join('\n');
    throw new ConfigError(msg, { hint: 'see the field named above' });
  }
  return r.data;
}

// `--since`: an ISO date or time, epoch milliseconds, or a span back from now (30m, 24h, 7d).
import { UsageError } from '../../core/errors.ts';

const UNIT: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** @example parseSince('7d', Date.UTC(2026, 0, 8)) === Date.UTC(2026, 0, 1) */
export function parseSince(text: string, now = Date.now()): number {
  const span = /^(\d+)([mhdw])$/.exec(text.trim());
  if (span) return now - Number(span[1]) * UNIT[span[2]!]!;
  if (/^\d{10,}$/.test(text.trim())) return Number(text.trim());
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text.trim()) ? `${text.trim()}T00:00:00Z` : text.trim());
  if (Number.isNaN(t)) throw new UsageError(`bad --since ${JSON.stringify(text)}`, { hint: 'write a date (2026-01-05), a time (2026-01-05T10:00:00Z), epoch milliseconds, or a span back from now (24h, 7d)' });
  return t;
}

// `--since` accepts a date, a time, epoch milliseconds or a span back from now, and names the forms on a bad value.
import { describe, expect, it } from 'vitest';
import { parseSince } from '../../src/feedback/metrics/since.ts';

describe('--since', () => {
  const now = Date.UTC(2026, 0, 8, 12);
  it('reads a date as its midnight UTC, a time as given, and epoch milliseconds as they are', () => {
    expect(parseSince('2026-01-05', now)).toBe(Date.UTC(2026, 0, 5));
    expect(parseSince('2026-01-05T10:30:00Z', now)).toBe(Date.UTC(2026, 0, 5, 10, 30));
    expect(parseSince('1767571200000', now)).toBe(1767571200000);
  });
  it('reads 30m, 24h, 7d and 2w as spans back from now', () => {
    expect([parseSince('30m', now), parseSince('24h', now), parseSince('7d', now), parseSince('2w', now)]).toEqual([now - 1_800_000, now - 86_400_000, Date.UTC(2026, 0, 1, 12), Date.UTC(2025, 11, 25, 12)]);
  });
  it('refuses anything else with the forms it takes', () => {
    expect(() => parseSince('last tuesday', now)).toThrow('bad --since "last tuesday"');
  });
});

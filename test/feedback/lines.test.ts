// The batch's example lines written byte by byte are the plain version's: each row's flatLine,
// joined with newlines, as UTF-8, for ids, names, texts and numbers of every awkward kind.
import { describe, expect, it } from 'vitest';
import { flatLine } from '../../src/feedback/example.ts';
import type { PredRow } from '../../src/feedback/join.ts';
import { exampleLines } from '../../src/feedback/lines.ts';
import { checkPrediction } from '../../src/feedback/predictions.ts';

const STRS = ['p1', 'a"b', 'back\\slash', 'tab\there', 'nl\n', 'ok 👍', 'lone\ud800x', 'é', 'feedback:x', '\u001f', 'plain-id_42'];
const NUMS = [0, -1, 1.5, -0, 1e9, 1e9 - 1, 1e15, 1790000000500, 2 ** 53, 2 ** 53 + 2, -1790000000500, 1e21, 0.1 + 0.2, 123456789];
const FIELDS: object[] = [{ a: 'x', b: 2 }, {}, { label: 1, x: 's' }, { _h: 1 }, { ok: true, n: null }, { d: '2026-01-01' }, { o: { z: 'é' } }, { t: 'ünï' }];

function rows(n: number): PredRow[] {
  const out: PredRow[] = [];
  for (let i = 0; i < n; i++) {
    const s = (k: number) => STRS[(i * 7 + k) % STRS.length]!;
    const x = (k: number) => NUMS[(i * 3 + k) % NUMS.length]!;
    const rec: Record<string, unknown> = { prediction_id: s(0), time: x(1), model: s(2), version: 1, arm: s(3), fields: FIELDS[i % FIELDS.length], outputs: { score: x(4) } };
    if (i % 3 === 0) rec.shown = [{ candidate_id: 'c', position: 0, score: 0.5 }, { candidate_id: 'd', position: 1, score: 0.25 }];
    const c = checkPrediction(rec);
    if (!c.ok) throw new Error(c.reason);
    out.push({
      ...c.cols, ord: x(5), close_at: 0, pw_before: null, label: i % 2, decided_at: x(6), event_id: i % 4 ? null : s(4), event_type: s(5),
      picked_position: i % 5 ? null : x(7), text: i % 2 ? s(6) : null, scrub_rules: s(7), batch: 1,
    });
  }
  return out;
}

describe('a batch of example lines', () => {
  it('is byte for byte the rows’ flatLine lines joined by newlines, over 3000 varied rows', () => {
    const r = rows(3000);
    const plain = Buffer.from(r.map(flatLine).join('\n'), 'utf8');
    expect(exampleLines(r).equals(plain)).toBe(true);
  });

  it('is empty for no rows', () => {
    expect(exampleLines([]).length).toBe(0);
  });
});

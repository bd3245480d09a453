// Agreement between reviewers: Cohen's kappa for two raters, Fleiss' kappa for more. Both are
// computed from integer counts as one fraction, so a hand-computed value compares exactly.

/** A kappa as the exact fraction it is and its value. */
export interface Kappa {
  num: number;
  den: number;
  value: number;
}

const kappa = (num: number, den: number): Kappa => ({ num, den, value: den === 0 ? 1 : num / den });

/**
 * Cohen's kappa of two raters over the same items: κ = (po − pe)/(1 − pe), with po the share of
 * items they agree on and pe the agreement their marginals predict. In counts (n items, A agreements,
 * S = Σ_c a_c·b_c over categories): κ = (A·n − S)/(n² − S).
 * @example cohenKappa(['y','y','n','n'], ['y','n','n','n']).value // 0.5
 */
export function cohenKappa(a: string[], b: string[]): Kappa {
  if (a.length !== b.length) throw new RangeError(`cohenKappa: ${a.length} ratings against ${b.length}`);
  const n = a.length;
  const ca = new Map<string, number>();
  const cb = new Map<string, number>();
  let agree = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) agree++;
    ca.set(a[i]!, (ca.get(a[i]!) ?? 0) + 1);
    cb.set(b[i]!, (cb.get(b[i]!) ?? 0) + 1);
  }
  let s = 0;
  for (const [c, x] of ca) s += x * (cb.get(c) ?? 0);
  return kappa(agree * n - s, n * n - s);
}

/**
 * Fleiss' kappa: each item rated by the same number m of raters (who they are may vary).
 * With N items, D = N·m ratings, Q = Σ_i Σ_c n_ic² − D and T = Σ_c t_c² (t_c: ratings in c):
 * κ = (Q·D − T·(m − 1)) / ((m − 1)·(D² − T)).
 * @example fleissKappa([['y','y','y'], ['n','n','n']]).value // 1
 */
export function fleissKappa(items: string[][]): Kappa {
  const m = items[0]?.length ?? 0;
  if (m < 2) throw new RangeError(`fleissKappa needs at least 2 ratings per item, got ${m}`);
  const totals = new Map<string, number>();
  let sq = 0;
  for (const ratings of items) {
    if (ratings.length !== m) throw new RangeError(`fleissKappa: every item needs ${m} ratings, one has ${ratings.length}`);
    const c = new Map<string, number>();
    for (const r of ratings) {
      c.set(r, (c.get(r) ?? 0) + 1);
      totals.set(r, (totals.get(r) ?? 0) + 1);
    }
    for (const x of c.values()) sq += x * x;
  }
  const d = items.length * m;
  let t = 0;
  for (const x of totals.values()) t += x * x;
  return kappa((sq - d) * d - t * (m - 1), (m - 1) * (d * d - t));
}

export interface AgreementReport {
  /** items with two or more reviewers' decisions */
  items: number;
  /** share of those items where every reviewer decided the same */
  observed: number | null;
  /** Cohen's kappa for each pair of reviewers over the items both decided */
  pairs: { a: string; b: string; items: number; kappa: Kappa }[];
  /** Fleiss' kappa for each number of ratings per item (m ≥ 2) */
  fleiss: { raters: number; items: number; kappa: Kappa }[];
}

/** Agreement over decisions given as (item, reviewer, outcome) triples. */
export function agreementOf(rows: { item_id: number; reviewer: string; outcome: string }[]): AgreementReport {
  const byItem = new Map<number, Map<string, string>>();
  for (const r of rows) {
    let m = byItem.get(r.item_id);
    if (!m) byItem.set(r.item_id, (m = new Map()));
    m.set(r.reviewer, r.outcome);
  }
  const multi = [...byItem.values()].filter((m) => m.size >= 2);
  const unanimous = multi.filter((m) => new Set(m.values()).size === 1).length;
  const pairRatings = new Map<string, { a: string[]; b: string[] }>();
  const byM = new Map<number, string[][]>();
  for (const m of multi) {
    const names = [...m.keys()].sort();
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const key = JSON.stringify([names[i], names[j]]);
        let p = pairRatings.get(key);
        if (!p) pairRatings.set(key, (p = { a: [], b: [] }));
        p.a.push(m.get(names[i]!)!);
        p.b.push(m.get(names[j]!)!);
      }
    }
    const list = byM.get(m.size) ?? [];
    list.push([...m.values()]);
    byM.set(m.size, list);
  }
  return {
    items: multi.length,
    observed: multi.length ? unanimous / multi.length : null,
    pairs: [...pairRatings].map(([k, p]) => {
      const [a, b] = JSON.parse(k) as [string, string];
      return { a, b, items: p.a.length, kappa: cohenKappa(p.a, p.b) };
    }),
    fleiss: [...byM].sort(([x], [y]) => x - y).map(([raters, items]) => ({ raters, items: items.length, kappa: fleissKappa(items) })),
  };
}

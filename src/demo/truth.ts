// The demo world's hidden click model, before and after launch. Users' tastes shift after launch
// (tablets and Brazil warm up, mobile and Japan cool down), so only data from real use can teach a
// model the new world. The same model is written in SQL (to generate history) and in TypeScript
// (to simulate users clicking on served ads), from one table of weights.

export const DEVICES = ['mobile', 'desktop', 'tablet'] as const;
export const COUNTRIES = ['US', 'DE', 'FR', 'JP', 'BR'] as const;

export interface Weights {
  bias: number;
  device: Record<(typeof DEVICES)[number], number>;
  country: Record<(typeof COUNTRIES)[number], number>;
  bid: number;
}

export const BEFORE: Weights = {
  bias: -3.3,
  device: { mobile: 1.0, desktop: 0, tablet: -0.4 },
  country: { US: 0.3, DE: -0.2, FR: 0, JP: 0.6, BR: -0.5 },
  bid: 0.5,
};

export const AFTER: Weights = {
  bias: -3.0,
  device: { mobile: -0.3, desktop: 0.1, tablet: 1.1 },
  country: { US: 0.2, DE: 0.3, FR: -0.4, JP: -0.6, BR: 0.8 },
  bid: 0.2,
};

/** After launch the audience shifts too: tablets take a larger share (a drift the stats can see). */
export const AFTER_DEVICE_SHARE: Record<(typeof DEVICES)[number], number> = { mobile: 0.3, desktop: 0.25, tablet: 0.45 };

/** A device drawn from the after-launch mix, given u uniform in [0, 1). */
export function afterDevice(u: number): string {
  let acc = 0;
  for (const d of DEVICES) if (u < (acc += AFTER_DEVICE_SHARE[d])) return d;
  return DEVICES[DEVICES.length - 1]!;
}

/** The same draw in SQL over a uniform expression. */
export function afterDeviceSql(u: string): string {
  let acc = 0;
  const whens = DEVICES.slice(0, -1).map((d) => `WHEN ${u} < ${(acc += AFTER_DEVICE_SHARE[d])} THEN '${d}'`);
  return `(CASE ${whens.join(' ')} ELSE '${DEVICES[DEVICES.length - 1]}' END)`;
}

export interface Context {
  device: string;
  country: string;
  bid: number;
}

/** P(click) under a set of weights. */
export function clickProbability(w: Weights, c: Context): number {
  const z = w.bias + (w.device[c.device as keyof Weights['device']] ?? 0) + (w.country[c.country as keyof Weights['country']] ?? 0) + w.bid * c.bid;
  return 1 / (1 + Math.exp(-z));
}

/** The same probability as a DuckDB expression over columns `device`, `country`, `bid`. */
export function clickProbabilitySql(w: Weights): string {
  const cases = (col: string, m: Record<string, number>) => `(CASE ${col} ${Object.entries(m).map(([k, v]) => `WHEN '${k}' THEN ${v}`).join(' ')} ELSE 0 END)`;
  return `(1 / (1 + exp(-(${w.bias} + ${cases('device', w.device)} + ${cases('country', w.country)} + ${w.bid} * bid))))`;
}

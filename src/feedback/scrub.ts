// Scrubs free text (what a user typed) of emails, phone numbers and similar identifiers before it is
// stored anywhere, and says which rules changed it (recorded with the example as `scrub_rules`).
//
// Example: makeScrubber(spec.scrub)('mail me: a@b.io') → { text: 'mail me: [email]', rules: ['email'] }
import type { JoinSpec } from './spec.ts';

export interface Scrubbed {
  text: string;
  /** names of the rules that replaced something, in rule order */
  rules: string[];
}

export type Scrubber = (text: string) => Scrubbed;

export function makeScrubber(rules: JoinSpec['scrub']): Scrubber {
  const compiled = rules.map((r) => ({ name: r.name, re: new RegExp(r.pattern, 'g'), replace: r.replace }));
  return (text) => {
    const applied: string[] = [];
    let out = text;
    for (const r of compiled) {
      r.re.lastIndex = 0;
      if (!r.re.test(out)) continue;
      r.re.lastIndex = 0;
      out = out.replace(r.re, r.replace);
      applied.push(r.name);
    }
    return { text: out, rules: applied };
  };
}

/** Merges rule-name lists (intake scrubbed once, the join again) keeping first-seen order. */
export function mergeRules(a: readonly string[] | undefined, b: readonly string[]): string[] {
  return [...new Set([...(a ?? []), ...b])];
}

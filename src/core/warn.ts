// Warnings for a person (expired licences, renamed headers): printed once per process on stderr,
// and kept so commands can put them in their --json summary.
const seen = new Set<string>();
export const warnings: string[] = [];

export function warn(message: string): void {
  if (seen.has(message)) return;
  seen.add(message);
  warnings.push(message);
  if (process.env.SLUICE_QUIET_WARNINGS !== '1') process.stderr.write(`warning: ${message}\n`);
}

/** Warns about licences whose expiry date has passed. */
export function warnExpired(licences: { source: string; licence: string; expires?: string | undefined }[], where: string, today = new Date()): void {
  const day = today.toISOString().slice(0, 10);
  for (const l of licences) {
    if (l.expires && l.expires < day) warn(`${where}: the licence of source ${l.source} (${l.licence}) expired on ${l.expires}`);
  }
}

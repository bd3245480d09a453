// sluice.yaml: the project's configuration, validated with zod so errors name the path.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.ts';

export const ProjectConfigSchema = z
  .object({
    name: z.string().min(1),
    /** folder holding dataset parts, relative to the project root */
    data: z.string().default('.sluice/data'),
    catalog: z
      .object({
        sqlite: z.string().default('.sluice/catalog.db'),
        /** a PostgreSQL URL; SLUICE_PG overrides it */
        postgres: z.string().optional(),
        schema: z.string().regex(/^[a-z_][a-z0-9_]*$/).default('sluice'),
      })
      .strict()
      .default({ sqlite: '.sluice/catalog.db', schema: 'sluice' }),
    /** threads for the whole process; default: all cores */
    threads: z.number().int().min(1).max(1024).optional(),
    /** `local` or a Redis URL for the BullMQ runner */
    runner: z.string().default('local'),
    /** event logs (predictions, events): local segment files unless `nats` names a JetStream server; SLUICE_NATS overrides */
    log: z
      .object({ nats: z.string().regex(/^(nats|tls):\/\/\S+$/, 'expected a NATS URL like nats://127.0.0.1:4222').optional() })
      .strict()
      .optional(),
  })
  .strict();
export type ProjectConfig = z.infer<typeof ProjectConfigSchema>;

/** Turns the first zod issue into "where: expected …, received …". */
export function zodMessage(err: z.ZodError, file: string): string {
  return err.issues
    .slice(0, 5)
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : '(top level)';
      return `${file}: ${where}: ${i.message}`;
    })
    .join('\n');
}

/** Reads and validates a YAML file against a schema; errors name the file and the field path. */
export function loadYaml<S extends z.ZodType>(path: string, schema: S): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text, { prettyErrors: true });
  } catch (e) {
    throw new ConfigError(`${path}: not valid YAML: ${(e as Error).message}`, { cause: e, hint: 'fix the YAML syntax at the line shown' });
  }
  const r = schema.safeParse(raw ?? {});
  if (!r.success) throw new ConfigError(zodMessage(r.error, path), { hint: 'see the field named above' });
  return r.data;
}

// Opens the catalog a spec names: SQLite (default, embedded) or PostgreSQL (shared).
import { Catalog } from './catalog.ts';
import { PostgresDb } from './postgres.ts';
import { SqliteDb } from './sqlite.ts';
import { ConfigError } from '../core/errors.ts';

export type CatalogSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string; schema: string };

export async function openCatalog(spec: CatalogSpec): Promise<Catalog> {
  const db = spec.kind === 'sqlite' ? new SqliteDb(spec.path) : new PostgresDb(spec.url, spec.schema);
  const catalog = new Catalog(db);
  try {
    await catalog.init();
  } catch (e) {
    await db.close().catch(() => {});
    const where = spec.kind === 'sqlite' ? spec.path : spec.url.replace(/\/\/[^@]*@/, '//***@');
    throw new ConfigError(`cannot open the ${spec.kind} catalog at ${where}: ${(e as Error).message}`, {
      cause: e,
      hint: spec.kind === 'postgres' ? 'check the server is running and the URL (catalog.postgres or SLUICE_PG) is right' : 'check the folder is writable',
    });
  }
  return catalog;
}

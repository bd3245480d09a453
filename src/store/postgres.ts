// SqlDb over node-postgres: a pool, `?` rewritten to `$n`, a schema of its own per project.
import pg from 'pg';
import { ConfigError, RetryableError } from '../core/errors.ts';
import type { Param, Row, SqlDb, SqlTx } from './sql.ts';

// BIGINT and NUMERIC come back as numbers: catalog counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));

function toPg(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

const TRANSIENT = new Set(['40001', '40P01', '57P01', '08006', '08001', '08003', '53300']);

function clientOf(q: pg.Pool | pg.PoolClient): SqlTx {
  const query = async (sql: string, params: Param[] = []) => {
    try {
      return await q.query(toPg(sql), params as unknown[]);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code && TRANSIENT.has(code)) throw new RetryableError(`catalog transient failure (${code}): ${(e as Error).message}`, { cause: e });
      throw e;
    }
  };
  return {
    run: async (sql, params) => (await query(sql, params)).rowCount ?? 0,
    all: async <T = Row>(sql: string, params?: Param[]) => (await query(sql, params)).rows as T[],
    get: async <T = Row>(sql: string, params?: Param[]) => (await query(sql, params)).rows[0] as T | undefined,
  };
}

export class PostgresDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly q: SqlTx;

  /** `schema` isolates one project's tables (tests use one schema each). */
  constructor(readonly url: string, readonly schema = 'sluice') {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigError(`bad PostgreSQL schema name ${JSON.stringify(schema)}`, { hint: 'use lower-case letters, digits and _' });
    // search_path is set at connection start, so no query can run before it.
    this.pool = new pg.Pool({ connectionString: url, max: 8, options: `-c search_path=${schema}` });
    this.pool.on('error', () => {}); // idle client errors surface on the next query instead
    this.q = clientOf(this.pool);
  }

  run(sql: string, params?: Param[]): Promise<number> {
    return this.q.run(sql, params);
  }
  all<T = Row>(sql: string, params?: Param[]): Promise<T[]> {
    return this.q.all<T>(sql, params);
  }
  get<T = Row>(sql: string, params?: Param[]): Promise<T | undefined> {
    return this.q.get<T>(sql, params);
  }
  async exec(sql: string): Promise<void> {
    const c = await this.pool.connect();
    try {
      // Several processes may create the same schema and tables at once; an advisory lock orders them.
      await c.query('SELECT pg_advisory_lock(775511)');
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
        await c.query(sql);
      } finally {
        await c.query('SELECT pg_advisory_unlock(775511)');
      }
    } finally {
      c.release();
    }
  }

  async transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      try {
        const out = await fn(clientOf(c));
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => {});
        throw e;
      }
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

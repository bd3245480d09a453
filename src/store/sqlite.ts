// SqlDb over better-sqlite3: WAL, a busy timeout for many processes, BEGIN IMMEDIATE transactions.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { RetryableError } from '../core/errors.ts';
import type { Param, Row, SqlDb, SqlTx } from './sql.ts';

/** Serializes async work on one connection, so a transaction never interleaves with other calls. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise((r) => (release = r));
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

// One mutex per database file in this process. better-sqlite3 is synchronous: if a second
// connection in the same process ran BEGIN IMMEDIATE while the first held the write lock across an
// `await`, it would block the event loop in SQLite's busy wait and the first could never commit.
// Other processes need no such lock: they wait on the file lock without blocking this thread.
const fileMutexes = new Map<string, Mutex>();

function mutexFor(path: string): Mutex {
  if (path === ':memory:') return new Mutex();
  const key = resolve(path);
  let m = fileMutexes.get(key);
  if (!m) fileMutexes.set(key, (m = new Mutex()));
  return m;
}

function toSqlite(params: Param[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

export class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly mutex: Mutex;
  private readonly direct: SqlTx;

  constructor(readonly path: string, options: { busyTimeoutMs?: number } = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.mutex = mutexFor(path);
    this.db = new Database(path);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 30_000}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    const db = this.db;
    // Prepared statements by SQL text: preparing costs as much as running a small indexed statement
    // (≈80 µs for the review claim), and hot paths repeat a handful of texts. A statement stays valid
    // across schema changes (SQLite re-prepares it itself); the cache is cleared when it grows past
    // 500 texts, so SQL with inlined values cannot grow it without bound.
    const cache = new Map<string, Database.Statement>();
    const prepare = (sql: string): Database.Statement => {
      let st = cache.get(sql);
      if (!st) {
        if (cache.size >= 500) cache.clear();
        cache.set(sql, (st = db.prepare(sql)));
      }
      return st;
    };
    const wrap = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw new RetryableError(`catalog busy: ${(e as Error).message}`, { cause: e });
        throw e;
      }
    };
    this.direct = {
      run: async (sql, params = []) => wrap(() => prepare(sql).run(...toSqlite(params)).changes),
      all: async <T = Row>(sql: string, params: Param[] = []) => wrap(() => prepare(sql).all(...toSqlite(params)) as T[]),
      get: async <T = Row>(sql: string, params: Param[] = []) => wrap(() => prepare(sql).get(...toSqlite(params)) as T | undefined),
    };
  }

  run(sql: string, params?: Param[]): Promise<number> {
    return this.mutex.lock(() => this.direct.run(sql, params));
  }
  all<T = Row>(sql: string, params?: Param[]): Promise<T[]> {
    return this.mutex.lock(() => this.direct.all<T>(sql, params));
  }
  get<T = Row>(sql: string, params?: Param[]): Promise<T | undefined> {
    return this.mutex.lock(() => this.direct.get<T>(sql, params));
  }
  async exec(sql: string): Promise<void> {
    await this.mutex.lock(async () => void this.db.exec(sql));
  }

  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T> {
    return this.mutex.lock(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.direct);
        this.db.exec('COMMIT');
        return out;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    await this.mutex.lock(async () => void this.db.close());
  }
}

// The thin SQL layer both stores share: `?` placeholders, rows as plain objects, transactions.
//
// Promises: statements run in order; `transaction` gives serializable-enough isolation for a
// read-check-write (SQLite takes the write lock up front with BEGIN IMMEDIATE; PostgreSQL callers
// lock the rows they read with FOR UPDATE). Not promised: nested transactions.

export type Row = Record<string, unknown>;
export type Param = string | number | bigint | boolean | null;

export interface SqlTx {
  run(sql: string, params?: Param[]): Promise<number>;
  all<T = Row>(sql: string, params?: Param[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: Param[]): Promise<T | undefined>;
}

export interface SqlDb extends SqlTx {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs `fn` in one transaction; commits if it resolves, rolls back if it throws. */
  transaction<T>(fn: (tx: SqlTx) => Promise<T>): Promise<T>;
  /** Runs DDL statements (several, separated by `;`). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** `FOR UPDATE` where the dialect has row locks; SQLite's BEGIN IMMEDIATE already holds the lock. */
export function forUpdate(db: { dialect: SqlDb['dialect'] }): string {
  return db.dialect === 'postgres' ? ' FOR UPDATE' : '';
}

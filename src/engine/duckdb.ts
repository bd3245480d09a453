// A DuckDB session: one instance per process with the thread budget applied, extension
// downloads off, SQL helpers, and results streamed in chunks for steps written in TypeScript.
import type { DuckDBInstance, DuckDBConnection, DuckDBValue, DuckDBValueConverter, Json } from '@duckdb/node-api';

// The native module takes about a second to load: it is loaded when the first session opens, so
// commands that never touch data (help, version, review, serve) start fast.
type DuckModule = typeof import('@duckdb/node-api');
let duckModule: Promise<DuckModule> | undefined;
const loadDuck = (): Promise<DuckModule> => (duckModule ??= import('@duckdb/node-api'));

/** DuckDB's JSON conversion, except that whole numbers come back as numbers when they are exact. */
function jsonish(mod: DuckModule): DuckDBValueConverter<Json> {
  const { DuckDBTypeId, JsonDuckDBValueConverter } = mod;
  return (value, type, converter) => {
    if (value !== null && (type.typeId === DuckDBTypeId.BIGINT || type.typeId === DuckDBTypeId.UBIGINT || type.typeId === DuckDBTypeId.HUGEINT)) {
      const n = Number(value as bigint);
      return Number.isSafeInteger(n) ? n : String(value);
    }
    return JsonDuckDBValueConverter(value, type, converter);
  };
}
import { InputError } from '../core/errors.ts';

export interface SessionOptions {
  threads?: number;
  memoryLimit?: string;
  tempDirectory?: string;
}

/** A batch of rows as columns, as a step written in TypeScript receives it. */
export interface Batch {
  names: string[];
  columns: unknown[][];
  rowCount: number;
}

export class DuckSession {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    private readonly toJsonish: DuckDBValueConverter<Json>,
    /** false for a connection opened by `connect()`: closing it leaves the database open */
    private readonly ownsInstance = true,
  ) {}

  /**
   * Another connection to the same database (its own temp tables and transaction; the same data,
   * settings and thread budget), for work that runs beside this session's.
   */
  async connect(): Promise<DuckSession> {
    return new DuckSession(this.instance, await this.instance.connect(), this.toJsonish, false);
  }

  static async open(options: SessionOptions = {}): Promise<DuckSession> {
    const config: Record<string, string> = {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    };
    if (options.threads) config.threads = String(options.threads);
    if (options.memoryLimit) config.memory_limit = options.memoryLimit;
    if (options.tempDirectory) config.temp_directory = options.tempDirectory;
    const mod = await loadDuck();
    const instance = await mod.DuckDBInstance.create(':memory:', config);
    return new DuckSession(instance, await instance.connect(), jsonish(mod));
  }

  async run(sql: string, values?: DuckDBValue[]): Promise<void> {
    await this.conn.run(sql, values);
  }

  /** All rows as JSON-friendly objects (BIGINT as number when safe, timestamps as strings). */
  async all<T = Record<string, unknown>>(sql: string, values?: DuckDBValue[]): Promise<T[]> {
    const r = await this.conn.runAndReadAll(sql, values);
    return r.convertRowObjects(this.toJsonish) as T[];
  }

  async one<T = Record<string, unknown>>(sql: string, values?: DuckDBValue[]): Promise<T> {
    const rows = await this.all<T>(sql, values);
    if (rows.length !== 1) throw new InputError(`expected one row, got ${rows.length} from: ${sql.slice(0, 200)}`);
    return rows[0]!;
  }

  /** Column names and DuckDB types of a query, without running it over the data. */
  async describe(sql: string): Promise<{ name: string; type: string; nullable: boolean }[]> {
    const rows = await this.all<{ column_name: string; column_type: string; null: string }>(`DESCRIBE ${sql}`);
    return rows.map((r) => ({ name: r.column_name, type: r.column_type, nullable: r.null !== 'NO' }));
  }

  /**
   * Streams a query's result in DuckDB chunks (2048 rows each), as columns of JS values.
   * @example for await (const b of s.batches('FROM t')) total += b.rowCount;
   */
  async *batches(sql: string): AsyncGenerator<Batch> {
    const result = await this.conn.stream(sql);
    const names = result.columnNames();
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) return;
      yield { names, columns: chunk.getColumns().map((c) => c.map(toPlain)), rowCount: chunk.rowCount };
    }
  }

  close(): void {
    this.conn.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}

function toPlain(v: DuckDBValue): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' && Number.isSafeInteger(Number(v)) ? Number(v) : v;
  return String(v);
}

/** Quotes a string as an SQL literal. */
export function lit(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Quotes an identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

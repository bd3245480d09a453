// A small durable EventLog over SQLite for the feedback tests (any EventLog works; the project's
// file and JetStream logs are tested in test/log/): entries survive SIGKILL, ids are appended once.
import Database from 'better-sqlite3';
import type { AppendResult, EventLog, LogEntry, ReadOptions } from '../../src/log/event-log.ts';

export class SqliteTestLog<R = unknown> implements EventLog<R> {
  readonly kind = 'file' as const;
  private readonly db: Database.Database;

  constructor(path: string, readonly name: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 30000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS log_${name} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, records TEXT NOT NULL)`);
  }

  async append(id: string, records: readonly R[]): Promise<AppendResult> {
    const old = this.db.prepare(`SELECT seq FROM log_${this.name} WHERE id = ?`).get(id) as { seq: number } | undefined;
    if (old) return { seq: old.seq, duplicate: true };
    const r = this.db.prepare(`INSERT INTO log_${this.name} (id, records) VALUES (?, ?)`).run(id, JSON.stringify(records));
    return { seq: Number(r.lastInsertRowid), duplicate: false };
  }

  async read(after: number, options: ReadOptions = {}): Promise<LogEntry<R>[]> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const rows = this.db.prepare(`SELECT seq, id, records FROM log_${this.name} WHERE seq > ? ORDER BY seq LIMIT ?`).all(after, options.max ?? 100) as { seq: number; id: string; records: string }[];
      if (rows.length || Date.now() >= deadline) return rows.map((r) => ({ seq: r.seq, id: r.id, records: JSON.parse(r.records) as R[] }));
      await new Promise((res) => setTimeout(res, 20));
    }
  }

  async head(): Promise<number> {
    const r = this.db.prepare(`SELECT MAX(seq) AS s FROM log_${this.name}`).get() as { s: number | null };
    return r.s ?? 0;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

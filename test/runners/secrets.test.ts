// Job data in Redis carries the task environment; a PostgreSQL password must not travel with it.
import { describe, expect, it } from 'vitest';
import { withoutSecrets } from '../../src/engine/runners/bullmq.ts';
import type { TaskEnv } from '../../src/engine/plan.ts';

const env = (url: string): TaskEnv => ({ dataDir: '/d', threads: 2, catalogSpec: { kind: 'postgres', url, schema: 's' } });

describe('the task environment sent to BullMQ workers', () => {
  it('drops the password of a PostgreSQL URL and keeps the user, host, port, database and options', () => {
    const out = withoutSecrets(env('postgres://alice:s3cr%40t@db.example:6543/prod?sslmode=require'));
    expect(out.catalogSpec).toEqual({ kind: 'postgres', url: 'postgres://alice@db.example:6543/prod?sslmode=require', schema: 's' });
    expect(JSON.stringify(out)).not.toContain('s3cr');
  });

  it('leaves a URL without a password and a SQLite catalog as they are', () => {
    expect(withoutSecrets(env('postgres://127.0.0.1:5432/test')).catalogSpec).toEqual({ kind: 'postgres', url: 'postgres://127.0.0.1:5432/test', schema: 's' });
    const lite: TaskEnv = { dataDir: '/d', threads: 1, catalogSpec: { kind: 'sqlite', path: '/p/catalog.db' } };
    expect(withoutSecrets(lite)).toBe(lite);
  });
});

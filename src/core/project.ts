// A sluice project: a folder with sluice.yaml, its data folder, its catalog and DuckDB session.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Catalog } from '../store/catalog.ts';
import { openCatalog, type CatalogSpec } from '../store/open.ts';
import { DuckSession } from '../engine/duckdb.ts';
import { threadBudget, type ThreadBudget } from '../engine/budget.ts';
import { loadYaml, ProjectConfigSchema, type ProjectConfig } from './config.ts';
import { ConfigError, UsageError } from './errors.ts';

export const CONFIG_FILE = 'sluice.yaml';

export interface OpenOptions {
  threads?: number;
  /** PostgreSQL URL overriding the config (also SLUICE_PG) */
  postgres?: string;
}

export class Project {
  private duckPromise: Promise<DuckSession> | undefined;

  private constructor(
    readonly root: string,
    readonly config: ProjectConfig,
    readonly catalog: Catalog,
    readonly catalogSpec: CatalogSpec,
    readonly budget: ThreadBudget,
  ) {}

  /** Absolute path of the data folder. */
  get dataDir(): string {
    return resolve(this.root, this.config.data);
  }

  /** The project's DuckDB session, opened on first use with the thread budget. */
  duck(): Promise<DuckSession> {
    this.duckPromise ??= DuckSession.open({ threads: this.budget.duckdb, tempDirectory: join(this.root, '.sluice', 'tmp') });
    return this.duckPromise;
  }

  async close(): Promise<void> {
    if (this.duckPromise) (await this.duckPromise).close();
    await this.catalog.close();
  }

  /** Creates sluice.yaml and .sluice/ in `dir` (which may exist); fails if a project is already there. */
  static init(dir: string, name?: string): string {
    const root = resolve(dir);
    const file = join(root, CONFIG_FILE);
    if (existsSync(file)) throw new UsageError(`${file} already exists`, { hint: 'this folder is already a sluice project' });
    mkdirSync(join(root, '.sluice', 'data'), { recursive: true });
    const projectName = name ?? (root.split('/').pop() || 'sluice');
    writeFileSync(
      file,
      [
        `# sluice project: the README lists every option`,
        `name: ${JSON.stringify(projectName)}`,
        `data: .sluice/data            # dataset parts`,
        `catalog:`,
        `  sqlite: .sluice/catalog.db  # the default, embedded catalog`,
        `  # postgres: postgres://127.0.0.1:5432/sluice   # shared catalog (or set SLUICE_PG)`,
        `# threads: 2                  # thread budget for DuckDB, ONNX Runtime, libvips`,
        `runner: local                 # or redis://127.0.0.1:6379 for BullMQ workers`,
        `# log:`,
        `#   nats: nats://127.0.0.1:4222  # event logs on NATS JetStream (default: files in .sluice/logs; or set SLUICE_NATS)`,
        '',
      ].join('\n'),
    );
    return root;
  }

  /** Finds sluice.yaml in `start` or a parent folder. */
  static find(start: string): string {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, CONFIG_FILE))) return dir;
      const up = dirname(dir);
      if (up === dir) {
        throw new ConfigError(`no ${CONFIG_FILE} in ${resolve(start)} or any parent folder`, {
          hint: 'run `sluice init` to create a project here, or pass --project <dir>',
        });
      }
      dir = up;
    }
  }

  static async open(start: string, options: OpenOptions = {}): Promise<Project> {
    const root = Project.find(start);
    const config = loadYaml(join(root, CONFIG_FILE), ProjectConfigSchema);
    const pgUrl = options.postgres ?? process.env.SLUICE_PG ?? config.catalog.postgres;
    const spec: CatalogSpec = pgUrl
      ? { kind: 'postgres', url: pgUrl, schema: config.catalog.schema }
      : { kind: 'sqlite', path: resolve(root, config.catalog.sqlite) };
    const catalog = await openCatalog(spec);
    mkdirSync(resolve(root, config.data), { recursive: true });
    return new Project(root, config, catalog, spec, threadBudget(options.threads ?? config.threads));
  }
}

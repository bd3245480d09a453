// Appends model outputs to a DuckDB temp table in 2048-row data chunks (one typed-array copy per
// column per chunk), so COPY can write them next to the input rows. Outputs are held in memory
// until `flush`: an appender on the connection that streams the input would end that stream early.
import { DuckDBBigIntType, type DuckDBBigIntVector, DuckDBDataChunk, DuckDBFloatType, type DuckDBFloatVector, type DuckDBAppender } from '@duckdb/node-api';
import { type DuckSession, ident } from '../../engine/duckdb.ts';
import type { Tensors } from '../backends/backend.ts';

export interface OutputColumn {
  /** model output name */
  output: string;
  /** dataset column */
  column: string;
  type: 'float32' | 'int64';
  /** values per row (1 → scalar column, k → FLOAT[k]) */
  width: number;
}

const CHUNK = 2048;

/** The physical columns of an output in the temp table: `__o_<column>_<j>`. */
export const physical = (o: OutputColumn, j: number) => `__o_${o.column}_${j}`;

/** The SELECT list that turns the temp table's columns back into the dataset's output columns. */
export function outputSelect(outputs: OutputColumn[], alias: string): string {
  return outputs
    .map((o) => {
      if (o.width === 1) return `${alias}.${ident(physical(o, 0))} AS ${ident(o.column)}`;
      const items = Array.from({ length: o.width }, (_, j) => `${alias}.${ident(physical(o, j))}`).join(', ');
      return `CASE WHEN ${alias}.${ident(physical(o, 0))} IS NULL THEN NULL ELSE [${items}]::${o.type === 'int64' ? 'BIGINT' : 'FLOAT'}[${o.width}] END AS ${ident(o.column)}`;
    })
    .join(', ');
}

export class OutputWriter {
  private rows = 0;
  readonly failures: { pos: number; reason: string }[] = [];

  private constructor(
    private readonly outputs: OutputColumn[],
    private readonly appender: DuckDBAppender,
    readonly table: string,
  ) {}

  static async open(duck: DuckSession, table: string, outputs: OutputColumn[]): Promise<OutputWriter> {
    const cols = outputs.flatMap((o) => Array.from({ length: o.width }, (_, j) => `${ident(physical(o, j))} ${o.type === 'int64' ? 'BIGINT' : 'FLOAT'}`));
    await duck.run(`CREATE OR REPLACE TEMP TABLE ${ident(table)} (${cols.join(', ')})`);
    return new OutputWriter(outputs, await duck.conn.createAppender(table), table);
  }

  private readonly held: { out: Tensors; n: number; failed: Map<number, string> }[] = [];

  /** Keeps one batch's outputs (copied); rows in `failed` get NULL outputs and are remembered with their reason. */
  append(out: Tensors, n: number, failed: Map<number, string>): void {
    const copy: Tensors = {};
    for (const o of this.outputs) {
      const t = out[o.output]!;
      copy[o.output] = { ...t, data: t.data.slice(0, n * o.width) as typeof t.data };
    }
    for (const [i, reason] of failed) this.failures.push({ pos: this.rows + i, reason });
    this.held.push({ out: copy, n, failed });
    this.rows += n;
  }

  /** Writes everything held into the temp table; call after the input stream has ended. */
  flush(): void {
    for (const h of this.held.splice(0)) this.write(h.out, h.n, h.failed);
    this.appender.flushSync();
  }

  private write(out: Tensors, n: number, failed: Map<number, string>): void {
    const types = this.outputs.flatMap((o) => Array.from({ length: o.width }, () => (o.type === 'int64' ? DuckDBBigIntType.instance : DuckDBFloatType.instance)));
    for (let from = 0; from < n; from += CHUNK) {
      const m = Math.min(CHUNK, n - from);
      const chunk = DuckDBDataChunk.create(types, m);
      let c = 0;
      for (const o of this.outputs) {
        const t = out[o.output]!;
        for (let j = 0; j < o.width; j++, c++) {
          const vec = chunk.getColumnVector(c) as DuckDBFloatVector | DuckDBBigIntVector;
          const items = (vec as unknown as { items: Float32Array | BigInt64Array }).items;
          if (o.width === 1) (items as Float32Array).set(t.data.subarray(from, from + m) as Float32Array);
          else for (let r = 0; r < m; r++) items[r] = t.data[(from + r) * o.width + j]!;
          for (const i of failed.keys()) if (i >= from && i < from + m) vec.setItem(i - from, null);
          vec.flush();
        }
      }
      this.appender.appendDataChunk(chunk);
    }
  }

  get rowCount(): number {
    return this.rows;
  }

  close(): void {
    this.appender.closeSync();
  }
}

// One thread budget per process: DuckDB, ONNX Runtime, libvips and libuv share it instead of
// each taking every core.
import { availableParallelism } from 'node:os';

export interface ThreadBudget {
  /** threads the whole process may use */
  total: number;
  /** DuckDB's share */
  duckdb: number;
  /** ONNX Runtime intra-op threads */
  onnx: number;
}

/** Splits `total` (default: all cores) between the engines. */
export function threadBudget(total?: number): ThreadBudget {
  const t = Math.max(1, Math.floor(total ?? availableParallelism()));
  return { total: t, duckdb: t, onnx: t };
}

import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const c = await inst.connect();
console.log((await c.runAndReadAll(`select count(*), sum((impression_id = file_row_number)::int) from read_parquet('/tmp/bx/bare.parquet', file_row_number=true)`)).getRows());

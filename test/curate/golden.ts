// The golden multi-source fixture: every kind of damage the ingest issue names, with the exact
// outcome each record must have. Files are written byte by byte so the expectations are exact.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineInput } from '../../src/curate/pipeline.ts';

export interface Expected {
  file: string;
  records: number;
  accepted: number;
  /** quarantined records: line → reason (substring) */
  quarantined: Record<number, string>;
}

const huge = 'x'.repeat(3000);

/** impressions.csv: BOM, CRLF and LF mixed, quoted newline, every kind of bad row. */
const impressions = Buffer.concat([
  Buffer.from([0xef, 0xbb, 0xbf]),
  Buffer.from(
    [
      'id,user,ts,amount,flag,kind\r\n', // line 1 header (CRLF)
      '1,alice,2026-10-01 10:00,"1,250.5",yes,M\r\n', // line 2 rec 1 ok (thousands)
      '2,bob,01/10/2026 11:30,3,no,male \n', // line 3 rec 2 ok (second date format, enum with space)
      '3,"carol\nsmith",2026-10-01 12:00,4,1,Female\n', // lines 4-5 rec 3 ok (quoted newline)
      '4,dave,2026-10-01 13:00,5,0\n', // line 6 rec 4 missing column
      '5,erin,2026-10-01 14:00,6,true,F,extra\n', // line 7 rec 5 extra column
      '6,fr"ank,2026-10-01 15:00,7,false,M\n', // line 8 rec 6 stray quote
    ].join(''),
  ),
  Buffer.from('7,gr'),
  Buffer.from([0xc3, 0x28]), // invalid UTF-8
  Buffer.from('ace,2026-10-01 16:00,8,yes,M\n'), // line 9 rec 7
  Buffer.from(
    [
      `8,${huge},2026-10-01 17:00,9,yes,M\n`, // line 10 rec 8 huge field
      '9,ivan,2026-10-01 18:00,NaN,yes,M\n', // line 11 rec 9 NaN
      '10,judy,2026-10-01 19:00,Infinity,yes,M\n', // line 12 rec 10 Infinity
      '11,mallory,31/02/2026 10:00,1,yes,M\n', // line 13 rec 11 bad date
      '12,niaj,2026-10-01 20:00,12abc,yes,M\n', // line 14 rec 12 bad number
      '13,olivia,2026-10-01 21:00,13,maybe,M\n', // line 15 rec 13 bad bool
      '14,peggy,2026-10-01 22:00,14,yes,robot\n', // line 16 rec 14 unknown enum
      '15,,2026-10-01 23:00,15,yes,M\r\n', // line 17 rec 15 required user empty
      '16,"trent, jr",2026-10-02 00:00,16,no,f\r', // line 18 rec 16 ok (quoted comma, lone CR ending)
      '17,victor,2026-10-02 01:00,17,no,"M', // line 19 rec 17 unterminated quote to EOF
    ].join(''),
  ),
]);

/** clicks.jsonl: blank line, invalid JSON, non-object, CRLF, invalid UTF-8, wrong types. */
const clicks = Buffer.concat([
  Buffer.from(
    [
      '{"id": 100, "user": "alice", "ts": "2026-10-01 10:05", "amount": "2.5", "flag": true, "kind": "m"}', // line 1 rec 1 ok
      '', // line 2 blank
      '{"id": 101, "user": "bob", "ts": "2026-10-01 10:06", "amount": 3, "flag": "no", "kind": "MALE"}\r', // line 3 rec 2 ok (CRLF)
      '{"id": 102, "user": "carol", "ts": "2026-10-01', // line 4 rec 3 invalid JSON
      '[1, 2, 3]', // line 5 rec 4 not an object
      '{"id": "x103", "user": "dave", "ts": "2026-10-01 10:08", "amount": 1, "flag": true, "kind": "f"}', // line 6 rec 5 bad int
    ].join('\n') + '\n',
  ),
  Buffer.from('{"id": 104, "user": "e'),
  Buffer.from([0xff]),
  Buffer.from('rin", "ts": "2026-10-01 10:09", "amount": 1, "flag": true, "kind": "f"}\n'), // line 7 rec 6 invalid UTF-8
  Buffer.from('{"id": 105, "user": "frank", "ts": "2026-10-01 10:10", "amount": 1e3, "flag": 1, "kind": "Male", "unused": {"a": 1}}\n'), // line 8 rec 7 ok
]);

/** dup-header.tsv: a header with a repeated name (renamed kind__2), TSV. */
const dupHeader = 'id\tuser\tts\tamount\tflag\tkind\tkind\n200\tzoe\t2026-10-03 09:00\t1\tyes\tF\tignored\n201\tyann\t2026-10-03 09:01\t2\tno\tm\tignored\n';

export const EXPECTED: Expected[] = [
  {
    file: 'data/clicks.jsonl',
    records: 7,
    accepted: 3,
    quarantined: { 4: 'invalid JSON', 5: 'not a JSON object', 6: 'id: cannot read "x103"', 7: 'invalid UTF-8' },
  },
  { file: 'data/dup-header.tsv', records: 2, accepted: 2, quarantined: {} },
  { file: 'data/empty.csv', records: 0, accepted: 0, quarantined: {} },
  { file: 'data/header-only.csv', records: 0, accepted: 0, quarantined: {} },
  {
    file: 'data/impressions.csv',
    records: 17,
    accepted: 4,
    quarantined: {
      6: 'expected 6 fields, found 5',
      7: 'expected 6 fields, found 7',
      8: 'stray quote',
      9: 'invalid UTF-8',
      10: 'exceeds the limit of 2000',
      11: 'amount: non-finite number "NaN"',
      12: 'amount: non-finite number "Infinity"',
      13: 'ts: cannot read "31/02/2026 10:00"',
      14: 'amount: cannot read "12abc" as a number',
      15: 'flag: cannot read "maybe"',
      16: 'kind: unknown value "robot"',
      17: 'user: required, but empty',
      19: 'unterminated quoted field',
    },
  },
];

export function writeGolden(dir: string): { pipelinePath: string; pipeline: PipelineInput } {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data', 'impressions.csv'), impressions);
  writeFileSync(join(dir, 'data', 'clicks.jsonl'), clicks);
  writeFileSync(join(dir, 'data', 'dup-header.tsv'), dupHeader);
  writeFileSync(join(dir, 'data', 'empty.csv'), '');
  writeFileSync(join(dir, 'data', 'header-only.csv'), 'id,user,ts,amount,flag,kind\n');
  const kind = { from: 'kind', values: { m: 'male', male: 'male', f: 'female', female: 'female' } };
  const common = {
    id: 'id',
    ts: { from: 'ts', formats: ['%Y-%m-%d %H:%M', '%d/%m/%Y %H:%M'] },
    amount: { from: 'amount', number: { thousands: ',' } },
  };
  const pipeline: PipelineInput = {
    target: 'events',
    schema: [
      { name: 'id', type: 'int', nullable: false },
      { name: 'user', type: 'string', nullable: false },
      { name: 'ts', type: 'timestamp', nullable: false },
      { name: 'amount', type: 'float' },
      { name: 'flag', type: 'bool' },
      { name: 'kind', type: 'string' },
      { name: 'big', type: 'bool', description: 'derived' },
    ],
    sources: [
      { name: 'csv-log', files: ['data/*.csv', 'data/*.tsv'], map: { ...common, kind, big: { sql: 'amount > 100' } } },
      { name: 'app-events', files: 'data/clicks.jsonl', licence: { owner: 'app-team', licence: 'internal' }, map: { ...common, kind, big: { sql: 'amount > 100' } } },
    ],
    options: { max_record_bytes: 2000 },
  };
  const yaml = JSON.stringify(pipeline, null, 2); // JSON is YAML
  const pipelinePath = join(dir, 'pipeline.yaml');
  writeFileSync(pipelinePath, yaml);
  return { pipelinePath, pipeline };
}

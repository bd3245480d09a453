// Exports for trainers: TFRecord byte-exact against a golden file built here from the format's
// spec, and WebDataset tar shards of a set size, both read back (tar also by the system's tar).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c, decodeExample, encodeExample, readRecords, readTfRecordFile, writeTfRecord } from '../../src/io/tfrecord.ts';
import { readWebDataset } from '../../src/io/webdataset.ts';
import { exportVersion } from '../../src/io/export.ts';
import { IntegrityError } from '../../src/core/errors.ts';
import { fixture, type Fixture } from './fixture.ts';

// An independent, bitwise CRC32C (no table), checked against the published test vector below.
function crcBitwise(bytes: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}
const masked = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
function frame(data: number[]): number[] {
  const len = [data.length, 0, 0, 0, 0, 0, 0, 0];
  return [...len, ...u32(masked(crcBitwise(Uint8Array.from(len)))), ...data, ...u32(masked(crcBitwise(Uint8Array.from(data))))];
}
const hex = (s: string) => s.split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16));

// 1×1 PNG
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

let f: Fixture;
beforeAll(async () => {
  f = await fixture();
  await f.dataset('photos', `SELECT i AS n, from_base64('${PNG}') AS image, CASE WHEN i % 2 = 0 THEN 'cat' ELSE 'dog' END AS label,
    [i, i + 1] AS box, DATE '2024-01-01' + i::INTEGER AS day, -i::BIGINT AS neg FROM range(25) r(i)`);
});
afterAll(async () => f.close());

describe('TFRecord export', () => {
  it('computes CRC32C as the published test vector says', () => {
    expect(crcBitwise(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('writes the golden file byte for byte: tf.train.Example records with masked CRC32C framing', async () => {
    const path = join(f.dir, 'golden.tfrecord');
    await writeTfRecord(await f.project.duck(), `SELECT * FROM (VALUES (1::BIGINT, 'hi', 0.5::FLOAT), (2, NULL, 1.5)) t(a, b, c)`, path);
    // Example{features{feature{key:"a" value{int64_list{value:1}}} feature{key:"b" value{bytes_list{value:"hi"}}} feature{key:"c" value{float_list{value:0.5}}}}}
    const first = hex(`0a 28  0a 0a 0a 01 61 12 05 1a 03 0a 01 01  0a 0b 0a 01 62 12 06 0a 04 0a 02 68 69  0a 0d 0a 01 63 12 08 12 06 0a 04 00 00 00 3f`);
    // the second row's NULL b is left out; 1.5f = 00 00 c0 3f
    const second = hex(`0a 1b  0a 0a 0a 01 61 12 05 1a 03 0a 01 02  0a 0d 0a 01 63 12 08 12 06 0a 04 00 00 c0 3f`);
    expect([...readFileSync(path)]).toEqual([...frame(first), ...frame(second)]);
  });

  it('exports a version and reads every row back with its values, checking each CRC', async () => {
    const path = join(f.dir, 'photos.tfrecord');
    const r = await exportVersion(f.project, 'photos', 'tfrecord', path);
    expect(r.rows).toBe(25);
    const ex = readTfRecordFile(path);
    expect(ex.length).toBe(25);
    const e3 = ex[3]!;
    expect(Object.keys(e3)).toEqual(['_id', '_source', 'n', 'image', 'label', 'box', 'day', 'neg']);
    expect(e3.n).toEqual({ int64: [3n] });
    expect(e3.neg).toEqual({ int64: [-3n] });
    expect(e3.box).toEqual({ int64: [3n, 4n] });
    expect(Buffer.from((e3.label as { bytes: Uint8Array[] }).bytes[0]!).toString()).toBe('dog');
    expect(Buffer.from((e3.day as { bytes: Uint8Array[] }).bytes[0]!).toString()).toBe('2024-01-04');
    expect(Buffer.from((e3.image as { bytes: Uint8Array[] }).bytes[0]!).toString('base64')).toBe(PNG);
    expect(JSON.parse(Buffer.from((e3._source as { bytes: Uint8Array[] }).bytes[0]!).toString())).toMatchObject({ source: 'photos', record: 4 });
  });

  it('round-trips floats, negative int64 and empty lists through the encoder', () => {
    const ex = decodeExample(encodeExample([['f', { float: [0.25, -2] }], ['i', { int64: [-1n, 2n ** 40n] }], ['e', { bytes: [] }]]));
    expect(ex).toEqual({ f: { float: [0.25, -2] }, i: { int64: [-1n, 2n ** 40n] }, e: { bytes: [] } });
  });

  it('refuses a file whose bytes changed, naming the record', async () => {
    const path = join(f.dir, 'photos.tfrecord');
    const bad = readFileSync(path);
    bad[40] = bad[40]! ^ 0xff;
    writeFileSync(join(f.dir, 'bad.tfrecord'), bad);
    expect(() => readRecords(bad, 'bad.tfrecord')).toThrow(IntegrityError);
    expect(() => readRecords(bad, 'bad.tfrecord')).toThrow('bad.tfrecord: record 0 at byte 0: data CRC mismatch');
  });
});

describe('WebDataset export', () => {
  it('writes tar shards of the set size, an image and a JSON per sample, readable by tar', async () => {
    const dir = join(f.dir, 'wds');
    const r = await exportVersion(f.project, 'photos', 'webdataset', dir, { imageColumn: 'image', shardSize: 10 });
    expect(r.shards).toEqual(['shard-000000.tar', 'shard-000001.tar', 'shard-000002.tar']);
    const samples = readWebDataset(r.shards!.map((s) => join(dir, s)));
    expect(samples.length).toBe(25);
    expect(samples.map((s) => Object.keys(s.files).sort().join('+'))).toEqual(Array.from({ length: 25 }, () => 'json+png'));
    expect(samples[7]!.key).toBe('000000007');
    expect(samples[7]!.files.png!.toString('base64')).toBe(PNG);
    expect(JSON.parse(samples[7]!.files.json!.toString())).toMatchObject({ n: 7, label: 'dog', box: [7, 8], day: '2024-01-08', neg: -7 });
    expect(execFileSync('tar', ['-tf', join(dir, 'shard-000002.tar')], { encoding: 'utf8' }).trim().split('\n')).toEqual(
      Array.from({ length: 5 }, (_, i) => [`0000000${20 + i}.png`, `0000000${20 + i}.json`]).flat(),
    );
  });

  it('reads images from paths when the image column holds file names', async () => {
    const img = join(f.dir, 'one.png');
    writeFileSync(img, Buffer.from(PNG, 'base64'));
    await f.dataset('paths', `SELECT '${img}' AS path, 1 AS k`);
    const r = await exportVersion(f.project, 'paths', 'webdataset', join(f.dir, 'wds2'), { imageColumn: 'path' });
    const [s] = readWebDataset(r.shards!.map((x) => join(f.dir, 'wds2', x)));
    expect(s!.files.png!.toString('base64')).toBe(PNG);
  });

  it('fails naming the image column when it is missing or of the wrong type', async () => {
    await expect(exportVersion(f.project, 'photos', 'webdataset', join(f.dir, 'x'), { imageColumn: 'photo' })).rejects.toThrow('image column "photo" is not in the export');
    await expect(exportVersion(f.project, 'photos', 'webdataset', join(f.dir, 'x'), { imageColumn: 'n' })).rejects.toThrow('image column "n" has type BIGINT');
    await expect(exportVersion(f.project, 'photos', 'webdataset', join(f.dir, 'x'))).rejects.toThrow('--format webdataset needs --image-column');
  });
});

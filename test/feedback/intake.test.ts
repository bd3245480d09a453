// POST /v1/events: token required, JSON arrays and NDJSON, body and count limits, invalid records
// reported and still logged (the join quarantines them with the reason), free text scrubbed before
// it reaches the log, and an Idempotency-Key retry appended once.
import Fastify, { type FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsRoute } from '../../src/feedback/intake.ts';
import { makeScrubber } from '../../src/feedback/scrub.ts';
import { parseJoinSpec } from '../../src/feedback/spec.ts';
import { openEventLog } from '../../src/log/open.ts';
import type { EventLog } from '../../src/log/event-log.ts';
import { tempProject } from './harness.ts';

const t = tempProject();
let app: FastifyInstance;
let log: EventLog<Record<string, unknown>>;
const auth = { authorization: 'Bearer s3cret' };

beforeAll(async () => {
  log = await openEventLog<Record<string, unknown>>({ kind: 'file', dir: join(t.dir, 'logs') }, 'events');
  app = Fastify();
  await app.register(eventsRoute, { log, token: 's3cret', scrub: makeScrubber(parseJoinSpec({}).scrub), bodyLimit: 4096, maxEvents: 10 });
});
afterAll(async () => {
  await app.close();
  await log.close();
  t.cleanup();
});

describe('POST /v1/events', () => {
  it('refuses a request without the token, or with a wrong one, with 401', async () => {
    const body = [{ event_id: 'e1', prediction_id: 'p1', type: 'click', time: 1 }];
    expect((await app.inject({ method: 'POST', url: '/v1/events', payload: body })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/v1/events', payload: body, headers: { authorization: 'Bearer nope' } })).statusCode).toBe(401);
    expect(await log.head()).toBe(0);
  });

  it('appends a JSON array as one entry and reports the invalid record with its reason', async () => {
    const r = await app.inject({
      method: 'POST', url: '/v1/events', headers: auth,
      payload: [{ event_id: 'e1', prediction_id: 'p1', type: 'click', time: '2026-11-01T10:00:00Z' }, { event_id: 'e2', prediction_id: 'p1', type: 'click' }],
    });
    expect(r.statusCode).toBe(202);
    expect(r.json()).toEqual({ appended: 2, valid: 1, invalid: [{ index: 1, reason: 'time: expected epoch milliseconds or an ISO 8601 time, received nothing' }], seq: 1, duplicate: false });
    const [entry] = await log.read(0);
    expect(entry!.records).toEqual([{ event_id: 'e1', prediction_id: 'p1', type: 'click', time: Date.UTC(2026, 10, 1, 10) }, { event_id: 'e2', prediction_id: 'p1', type: 'click' }]);
  });

  it('takes NDJSON, keeps a malformed line as a record to quarantine, and scrubs typed text before logging', async () => {
    const body = [
      JSON.stringify({ event_id: 'e3', prediction_id: 'p2', type: 'typed_own', time: 5, text: 'reach me at jo@ex.com or 030 1234 5678' }),
      '{not json',
    ].join('\n');
    const r = await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/x-ndjson' }, payload: body });
    expect(r.statusCode).toBe(202);
    expect(r.json().invalid[0].reason).toMatch(/^line 2: not JSON/);
    const [entry] = await log.read(1);
    expect(entry!.records[0]).toEqual({ event_id: 'e3', prediction_id: 'p2', type: 'typed_own', time: 5, text: 'reach me at [email] or [phone]', scrubbed: ['email', 'phone'] });
    expect(entry!.records[1]).toMatchObject({ _raw: '{not json' });
  });

  it('appends a retry with the same Idempotency-Key once', async () => {
    const req = { method: 'POST' as const, url: '/v1/events', headers: { ...auth, 'idempotency-key': 'batch-7' }, payload: [{ event_id: 'e9', prediction_id: 'p9', type: 'click', time: 9 }] };
    const a = (await app.inject(req)).json();
    const b = (await app.inject(req)).json();
    expect([a.duplicate, b.duplicate, b.seq]).toEqual([false, true, a.seq]);
  });

  it('refuses bodies over the byte limit (413), too many events (413) and non-event bodies (400)', async () => {
    const big = (await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: [{ event_id: 'x'.repeat(5000), prediction_id: 'p', type: 'click', time: 1 }] }));
    expect(big.statusCode).toBe(413);
    const many = Array.from({ length: 11 }, (_, i) => ({ event_id: `m${i}`, prediction_id: 'p', type: 'click', time: 1 }));
    expect((await app.inject({ method: 'POST', url: '/v1/events', headers: auth, payload: many })).statusCode).toBe(413);
    expect((await app.inject({ method: 'POST', url: '/v1/events', headers: { ...auth, 'content-type': 'application/json' }, payload: '"hello"' })).statusCode).toBe(400);
  });
});

describe('scrubbing rules', () => {
  it('replaces emails, cards, phone numbers, IPs and URLs and names the rules applied, in order', () => {
    const s = makeScrubber(parseJoinSpec({}).scrub);
    expect(s('card 4111 1111 1111 1111, ip 10.0.0.12, see https://x.io/a?b=1, mail a.b@c.de')).toEqual({
      text: 'card [card], ip [ip], see [url], mail [email]',
      rules: ['email', 'card', 'ip', 'url'],
    });
    expect(s('see you at 5')).toEqual({ text: 'see you at 5', rules: [] });
  });

  it('uses configured rules instead of the defaults', () => {
    const s = makeScrubber(parseJoinSpec({ scrub: [{ name: 'order', pattern: 'ORD-\\d+', replace: '[order]' }] }).scrub);
    expect(s('where is ORD-12345? mail x@y.io')).toEqual({ text: 'where is [order]? mail x@y.io', rules: ['order'] });
  });

  it('rejects an invalid pattern naming its path', () => {
    expect(() => parseJoinSpec({ scrub: [{ name: 'bad', pattern: '(' }] })).toThrow(/scrub\.0\.pattern: not a valid regular expression/);
  });
});

// Event intake over HTTP: `POST /v1/events` takes a JSON array (or one object) or NDJSON, needs the
// intake token, scrubs free text, and appends the batch to the `events` log as one entry. Invalid
// records are appended too (the join quarantines them with the same reason), so nothing is lost;
// the answer lists them. An `Idempotency-Key` header makes a client's retry append once.
//
// Example: curl -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/x-ndjson' \
//            --data-binary @events.ndjson http://127.0.0.1:8787/v1/events
import { randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { EventLog } from '../log/event-log.ts';
import type { Scrubber } from './scrub.ts';
import { checkEvent, type RawLine } from './validate.ts';

export interface IntakeOptions {
  log: EventLog<unknown>;
  token: string;
  scrub: Scrubber;
  /** bytes per request (default 8 MiB) */
  bodyLimit?: number;
  /** records per request (default 50000) */
  maxEvents?: number;
}

export interface IntakeAnswer {
  appended: number;
  valid: number;
  invalid: { index: number; reason: string }[];
  seq: number;
  duplicate: boolean;
}

/** Parses NDJSON; a bad line becomes a `{ _raw, _error }` record instead of failing the request. */
export function parseNdjson(text: string): unknown[] {
  const out: unknown[] = [];
  text.split('\n').forEach((line, i) => {
    const s = line.trim();
    if (!s) return;
    try {
      out.push(JSON.parse(s));
    } catch (e) {
      out.push({ _raw: s.slice(0, 4096), _error: `line ${i + 1}: not JSON (${(e as Error).message})` } satisfies RawLine);
    }
  });
  return out;
}

/** Scrubs what intake stores and checks each record; returns the records to log and the invalid ones. */
export function prepareRecords(records: unknown[], scrub: Scrubber): { records: unknown[]; valid: number; invalid: { index: number; reason: string }[] } {
  const invalid: { index: number; reason: string }[] = [];
  let valid = 0;
  const out = records.map((rec, index) => {
    const c = checkEvent(rec);
    if (!c.ok) {
      invalid.push({ index, reason: c.reason });
      const r = rec as Record<string, unknown> | null;
      if (r && typeof r === 'object' && typeof r.text === 'string') return { ...r, text: scrub(r.text).text };
      if (r && typeof r === 'object' && typeof r._raw === 'string') return { ...r, _raw: scrub(r._raw).text };
      return rec;
    }
    valid++;
    if (c.event.text === undefined) return c.event;
    const s = scrub(c.event.text);
    return { ...c.event, text: s.text, scrubbed: [...new Set([...(c.event.scrubbed ?? []), ...s.rules])] };
  });
  return { records: out, valid, invalid };
}

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export const eventsRoute: FastifyPluginAsync<IntakeOptions> = async (app, o) => {
  const maxEvents = o.maxEvents ?? 50_000;
  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl', 'text/plain'], { parseAs: 'string', bodyLimit: o.bodyLimit ?? 8 << 20 }, (_req, body, done) => {
    done(null, parseNdjson(body as string));
  });
  app.post('/v1/events', { bodyLimit: o.bodyLimit ?? 8 << 20 }, async (req, reply) => {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    if (!token || !sameToken(token, o.token)) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'the events token is required: Authorization: Bearer <token> (printed by `sluice feedback run --listen`)' });
    }
    const body = req.body;
    const records = Array.isArray(body) ? body : body && typeof body === 'object' ? [body] : null;
    if (!records) return reply.code(400).send({ error: 'expected a JSON array of events, one event object, or NDJSON (Content-Type: application/x-ndjson)' });
    if (records.length === 0) return reply.code(400).send({ error: 'no events in the body' });
    if (records.length > maxEvents) return reply.code(413).send({ error: `${records.length} events in one request, at most ${maxEvents}`, hint: 'split the batch' });
    const p = prepareRecords(records, o.scrub);
    const key = req.headers['idempotency-key'];
    const id = typeof key === 'string' && key.length > 0 && key.length <= 200 ? `http:${key}` : `http:${randomUUID()}`;
    const r = await o.log.append(id, p.records);
    const answer: IntakeAnswer = { appended: p.records.length, valid: p.valid, invalid: p.invalid.slice(0, 100), seq: r.seq, duplicate: r.duplicate };
    return reply.code(202).send(answer);
  });
};

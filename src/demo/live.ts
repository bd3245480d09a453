// The demo after launch: the server answers simulated users (v2 and v1 in an A/B split), users click
// according to the drifted true model, every prediction and outcome goes to the event logs, the
// feedback join turns them into labeled examples and live metrics. The users are simulated; the
// server, logs, join and metrics are the real ones, over HTTP and on disk.
import type { Project } from '../core/project.ts';
import type { EventLog } from '../log/event-log.ts';
import { projectLog, projectWriter } from '../log/open.ts';
import type { LogWriter } from '../log/writer.ts';
import type { OutcomeEvent, PredictionRecord } from '../feedback/records.ts';
import { startServer, type SluiceServer } from '../serve/server.ts';
import { AFTER, afterDevice, clickProbability, COUNTRIES } from './truth.ts';
import { rng } from '../model/train/rng.ts';

export interface Traffic {
  requests: number;
  predictions: number;
  clicks: number;
  /** the last event time sent (epoch ms) */
  lastEventAt: number;
}

export interface Live {
  server: SluiceServer;
  writer: LogWriter<PredictionRecord>;
  events: EventLog<OutcomeEvent>;
  close(): Promise<void>;
}

/** Starts `sluice serve` in this process with an A/B split (and a shadow), logging predictions. */
export async function goLive(project: Project, o: { ab?: { ref: string; weight: number }[]; shadow?: string; model: string; tag: string }): Promise<Live> {
  const predictions = await projectWriter<PredictionRecord>(project, 'predictions', { idPrefix: `demo-${o.tag}`, spill: `demo-${o.tag}` });
  const writer = predictions.writer;
  const server = await startServer({
    project,
    model: o.model,
    ...(o.ab ? { ab: o.ab } : {}),
    ...(o.shadow ? { shadow: o.shadow } : {}),
    abKey: 'user_id',
    batch: { maxBatch: 256, maxDelayUs: 2000, queueLimit: 10_000 },
    timeoutMs: 10_000,
    log: writer,
    port: 0,
  });
  const events = await projectLog<OutcomeEvent>(project, 'events');
  return {
    server,
    writer,
    events,
    async close() {
      await server.close();
      await predictions.close();
      await events.close();
    },
  };
}

/**
 * Simulated users: each request carries `perRequest` users (device, country, the ad's bid); each
 * user sees the ad and clicks with the drifted true probability. Events (an impression, and a click
 * half a second later in event time) go to the events log in batches, each with a unique id.
 */
export async function simulateUsers(live: Live, o: { model: string; users: number; perRequest: number; seed: number; concurrency?: number; tag: string }): Promise<Traffic> {
  const r = rng(o.seed);
  const random = r.next;
  const t: Traffic = { requests: 0, predictions: 0, clicks: 0, lastEventAt: 0 };
  const url = `${live.server.url}/v1/models/${o.model}:predict`;
  let next = 0;
  let batch = 0;
  const worker = async () => {
    while (next < o.users) {
      const n = Math.min(o.perRequest, o.users - next);
      const first = next;
      next += n;
      const instances = Array.from({ length: n }, (_, i) => ({
        user_id: `live-u${(first + i) % 3000}`,
        device: afterDevice(random()),
        country: COUNTRIES[Math.floor(random() * COUNTRIES.length)]!,
        bid: Math.round(random() * 3 * 10_000) / 10_000,
      }));
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${live.server.token}` }, body: JSON.stringify({ instances }) });
      if (!res.ok) throw new Error(`the server answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { predictions: unknown[]; prediction_ids: string[] };
      t.requests++;
      const now = Date.now();
      const events: OutcomeEvent[] = [];
      body.prediction_ids.forEach((id, i) => {
        t.predictions++;
        events.push({ event_id: `imp-${id}`, prediction_id: id, type: 'impression', time: now });
        if (random() < clickProbability(AFTER, instances[i]!)) {
          t.clicks++;
          events.push({ event_id: `click-${id}`, prediction_id: id, type: 'click', time: now + CLICK_DELAY_MS });
        }
      });
      t.lastEventAt = Math.max(t.lastEventAt, now + CLICK_DELAY_MS);
      await live.events.append(`demo-${o.tag}-${batch++}`, events);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 8 }, worker));
  await live.writer.flush();
  return t;
}

const CLICK_DELAY_MS = 500;
const WINDOW_MS = 2_000;

/**
 * The demo's join spec (written to feedback.yaml): a click within two seconds of the ad is a
 * positive (the simulated users decide fast; a real product would use minutes).
 */
export const DEMO_JOIN = {
  window: `${WINDOW_MS}ms`,
  lateness: '0s',
  watermark_delay: '0s',
  prediction_delay: '0s',
  unmatched_timeout: '10s',
  rules: [{ type: 'click', label: 1 }],
  publish: { dataset: 'feedback', every: '10s' },
};

/**
 * Event time only moves with events: after the last user, the product's clock tick (an event for
 * no prediction) moves the watermark past every window, so the join decides each prediction. The
 * tick is stamped when the last window closes, and this waits until the wall clock has passed it,
 * so the next phase's predictions are not already "late". The tick itself waits for a prediction
 * that never comes (it stays pending, never an example).
 */
export async function tick(live: Live, lastEventAt: number, tag: string): Promise<void> {
  const at = lastEventAt + WINDOW_MS + 100;
  await live.events.append(`demo-${tag}-tick`, [{ event_id: `tick-${tag}`, prediction_id: `tick-${tag}`, type: 'tick', time: at }]);
  const wait = at + 50 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

export async function runJoin(project: Project) {
  const { openFeedback } = await import('../feedback/open.ts');
  const { runFeedback } = await import('../feedback/run.ts');
  const f = await openFeedback(project);
  try {
    return await runFeedback(project, f.join, f.logs, { once: true });
  } finally {
    await f.close();
  }
}

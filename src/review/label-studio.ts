// Label Studio interchange: review items as Label Studio tasks and decisions as annotations
// (choices for the decision, the variant and the label; text areas for the comment and edited
// fields; rectangle labels for boxes on image items), so work moves between the two tools.
// Each task keeps the item's identity in `data._sluice`, so an import finds the same item again.
import { InputError } from '../core/errors.ts';
import { outcomeOf, type Box, type Decision, type DecisionInput, type ReviewStore } from './store.ts';
import type { ReviewItemInput } from './types.ts';

export interface LsResult {
  id?: string;
  from_name: string;
  to_name: string;
  type: 'choices' | 'textarea' | 'rectanglelabels';
  value: { choices?: string[]; text?: string[]; x?: number; y?: number; width?: number; height?: number; rotation?: number; rectanglelabels?: string[] };
}

export interface LsAnnotation {
  id?: number;
  completed_by?: number | string | { email?: string };
  created_at?: string;
  result: LsResult[];
  /** sluice's: `review` or `adjudication` */
  sluice_role?: string;
}

export interface LsTask {
  id?: number;
  data: Record<string, unknown> & { _sluice?: Omit<ReviewItemInput, 'record'> };
  annotations?: LsAnnotation[];
}

const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
const FIELD = 'field.';

/** The first image-valued field of a record (what boxes are drawn on). */
function imageField(record: Record<string, unknown>): string | undefined {
  return Object.keys(record).find((k) => typeof record[k] === 'string' && IMAGE.test(record[k] as string));
}

function results(d: Decision, target: string, image: string | undefined): LsResult[] {
  const out: LsResult[] = [{ from_name: 'decision', to_name: target, type: 'choices', value: { choices: [d.action] } }];
  if (d.variant) out.push({ from_name: 'variant', to_name: target, type: 'choices', value: { choices: [d.variant] } });
  if (d.label) out.push({ from_name: 'label', to_name: target, type: 'choices', value: { choices: [d.label] } });
  if (d.comment) out.push({ from_name: 'comment', to_name: target, type: 'textarea', value: { text: [d.comment] } });
  for (const [k, v] of Object.entries(d.record ?? {})) {
    out.push({ from_name: FIELD + k, to_name: target, type: 'textarea', value: { text: [typeof v === 'string' ? v : JSON.stringify(v)] } });
  }
  for (const b of d.boxes ?? []) {
    out.push({ from_name: 'bbox', to_name: image ?? target, type: 'rectanglelabels', value: { x: b.x, y: b.y, width: b.width, height: b.height, rotation: 0, rectanglelabels: [b.label] } });
  }
  return out;
}

/** Every item of `dataset` (or all) as Label Studio tasks, with their decisions as annotations. */
export async function exportLabelStudio(store: ReviewStore, dataset?: string): Promise<LsTask[]> {
  const tasks: LsTask[] = [];
  for (let offset = 0; ; offset += 1000) {
    const items = await store.list(dataset ? { dataset } : {}, { limit: 1000, offset });
    for (const it of items) {
      const { id, status: _s, decided: _d, lease_reviewer: _l, lease_until: _u, final_decision: _f, applied_in: _a, created_at: _c, record, ...meta } = it;
      const image = imageField(record);
      const target = image ?? 'record';
      const decisions = await store.decisions(id);
      tasks.push({
        id,
        data: { ...record, _sluice: meta },
        annotations: decisions.map((d) => ({ id: d.id, completed_by: { email: d.reviewer }, created_at: d.created_at, sluice_role: d.role, result: results(d, target, image) })),
      });
    }
    if (items.length < 1000) return tasks;
  }
}

/** A field's text back as the value it was: strings stay strings where the record had a string. */
function fieldValue(text: string, was: unknown): unknown {
  if (typeof was === 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function decisionOf(a: LsAnnotation, record: Record<string, unknown>, where: string): DecisionInput {
  const choice = (name: string) => a.result.find((r) => r.from_name === name && r.type === 'choices')?.value.choices?.[0];
  const label = choice('label');
  const action = (choice('decision') ?? (label ? 'label' : undefined)) as DecisionInput['action'] | undefined;
  if (!action) throw new InputError(`${where}: the annotation has no "decision" choice and no "label"`, { hint: 'export from sluice, or add a choices control named decision or label' });
  const d: DecisionInput = { action };
  const variant = choice('variant');
  if (variant) d.variant = variant;
  if (label) d.label = label;
  const comment = a.result.find((r) => r.from_name === 'comment')?.value.text?.join('\n');
  if (comment) d.comment = comment;
  const fields = a.result.filter((r) => r.from_name.startsWith(FIELD) && r.type === 'textarea');
  if (fields.length) d.record = Object.fromEntries(fields.map((r) => [r.from_name.slice(FIELD.length), fieldValue(r.value.text?.join('\n') ?? '', record[r.from_name.slice(FIELD.length)])]));
  const boxes: Box[] = a.result
    .filter((r) => r.type === 'rectanglelabels')
    .map((r) => ({ x: r.value.x ?? 0, y: r.value.y ?? 0, width: r.value.width ?? 0, height: r.value.height ?? 0, label: r.value.rectanglelabels?.[0] ?? '' }));
  if (boxes.length) d.boxes = boxes;
  return d;
}

function annotator(a: LsAnnotation): string {
  const c = a.completed_by;
  if (typeof c === 'string') return c;
  if (typeof c === 'number') return `ls-user-${c}`;
  if (c?.email) return c.email.replace(/[^A-Za-z0-9_.@-]/g, '_');
  return 'label-studio';
}

export interface ImportResult {
  tasks: number;
  itemsAdded: number;
  decisions: number;
  skipped: number;
}

/**
 * Imports Label Studio tasks: items are added (idempotently) and each annotation becomes a
 * decision by the annotator of that name (created without a usable token if unknown). An
 * annotation already recorded (same reviewer, same outcome) is skipped, so importing twice adds nothing.
 */
export async function importLabelStudio(store: ReviewStore, tasks: LsTask[], options: { dataset?: string } = {}): Promise<ImportResult> {
  if (!Array.isArray(tasks)) throw new InputError('a Label Studio export is a JSON array of tasks');
  const out: ImportResult = { tasks: tasks.length, itemsAdded: 0, decisions: 0, skipped: 0 };
  for (const [i, t] of tasks.entries()) {
    const where = `task ${t.id ?? i}`;
    const { _sluice, ...record } = t.data ?? {};
    let input: ReviewItemInput;
    if (_sluice) input = { ..._sluice, record } as ReviewItemInput;
    else if (options.dataset) input = { dataset: options.dataset, record_id: String(t.id ?? i), kind: 'label', record, fields: [], reasons: [{ message: 'imported from Label Studio' }], priority: 0 };
    else throw new InputError(`${where} has no data._sluice (it was not exported by sluice)`, { hint: 'pass --dataset NAME to import it as a label item of that dataset' });
    out.itemsAdded += await store.addItems([input]);
    const item = (await store.itemByKey(input))!;
    const annotations = [...(t.annotations ?? [])].sort((a, b) => Number(a.sluice_role === 'adjudication') - Number(b.sluice_role === 'adjudication'));
    for (const a of annotations) {
      const d = decisionOf(a, record, where);
      const reviewer = await store.reviewerNamed(annotator(a), a.sluice_role === 'adjudication' ? 'adjudicator' : 'reviewer');
      const existing = await store.decisions(item.id);
      if (existing.some((e) => e.reviewer_id === reviewer.id && e.outcome === outcomeOf(d))) {
        out.skipped++;
        continue;
      }
      await store.decide(reviewer, item.id, d, { requireLease: false, ...(a.created_at ? { at: a.created_at } : {}) });
      out.decisions++;
    }
  }
  return out;
}

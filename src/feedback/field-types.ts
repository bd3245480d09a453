// The DuckDB types of the examples' logged-field columns, worked out while their lines are made, so
// a publish reads the NDJSON once with the columns given instead of inferring them from the whole
// file (read_json with sample_size = -1 reads it twice; it was most of a publish). Only the plain
// cases are typed: strings, booleans and numbers, as read_json infers them. Anything else (objects,
// arrays, strings read_json might take for a date, time or UUID, mixed kinds, columns only ever null,
// names equal but for case) leaves the types unknown, and the publish infers them as before.
//
// Example: const t = new FieldTypes(); t.addShape(shapeOf({ ad: 'a1', bid: 0.5 }), (k) => k); t.result(true); // { ad: 'VARCHAR', bid: 'DOUBLE' }

export type FieldType = 'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN';
/** By column; 'NULL' for a column that held only nulls (typed by other batches, or else not typed). */
export type FieldTypeMap = Record<string, FieldType | 'NULL'>;

// Strings read_json may turn into DATE, TIME, TIMESTAMP or UUID (and more formats than these):
// any separator a date or time uses, digits next to a space, dot or comma, or 32 hex digits.
const MAYBE_TYPED = /[-:/]|\d[ .,]|[ .,]\d|^\{?[0-9a-f]{32}\}?$/i;

function kindOf(v: unknown): FieldType | null | undefined {
  switch (typeof v) {
    case 'string':
      return MAYBE_TYPED.test(v) ? undefined : 'VARCHAR';
    case 'boolean':
      return 'BOOLEAN';
    case 'number':
      return Number.isSafeInteger(v) ? 'BIGINT' : Number.isFinite(v) && !Number.isInteger(v) ? 'DOUBLE' : undefined;
    default:
      return v === null ? null : undefined;
  }
}

/** BIGINT and DOUBLE make DOUBLE (as read_json merges them); other pairs of kinds are not typed here. */
function merge(a: FieldType, b: FieldType): FieldType | undefined {
  if (a === b) return a;
  return (a === 'BIGINT' && b === 'DOUBLE') || (a === 'DOUBLE' && b === 'BIGINT') ? 'DOUBLE' : undefined;
}

const KINDS: readonly (FieldType | null)[] = ['VARCHAR', 'BIGINT', 'DOUBLE', 'BOOLEAN', null];

/**
 * The keys of a fields object and the kind of each value, interned: predictions logged with the
 * same keys and kinds share one Shape, so a batch types its columns once per shape, not per row
 * (parsing each row's fields again cost more than the line itself).
 */
export class Shape {
  private readonly next = new Map<string, (Shape | undefined)[]>();
  constructor(readonly fields: readonly (readonly [string, FieldType | null])[] | null) {}

  /** This shape with `key` of kind `k` (undefined: not typed here) appended. */
  with(key: string, k: FieldType | null | undefined): Shape {
    if (this.fields === null || k === undefined) return UNTYPED;
    const i = KINDS.indexOf(k);
    let slots = this.next.get(key);
    if (!slots) this.next.set(key, (slots = []));
    let s = slots[i];
    if (!s) {
      // fields that differ by key from row to row would grow this without end: then they go untyped
      if (++shapes > MAX_SHAPES) return UNTYPED;
      s = slots[i] = new Shape([...this.fields, [key, k]]);
    }
    return s;
  }
}

const MAX_SHAPES = 10_000;
let shapes = 0;

const UNTYPED = new Shape(null);
const EMPTY = new Shape([]);

/** The shape of a logged fields object (as JSON.stringify writes it). */
export function shapeOf(fields: object): Shape {
  if (Array.isArray(fields)) return UNTYPED;
  let s = EMPTY;
  const o = fields as Record<string, unknown>;
  for (const k in o) if (Object.hasOwn(o, k)) s = s.with(k, kindOf(o[k]));
  return s;
}

/** The interned Shape with these keys and kinds (a shape sent from another thread as its list). */
export function internShape(fields: readonly (readonly [string, FieldType | null])[] | null): Shape {
  if (fields === null) return UNTYPED;
  let s = EMPTY;
  for (const [k, kind] of fields) s = s.with(k, kind);
  return s;
}

/** Column types in order of first appearance; `null` while a column has held only nulls. */
export class FieldTypes {
  private readonly cols = new Map<string, FieldType | null>();
  private readonly lower = new Set<string>();
  private unknown = false;

  /** `reserved`: the other columns of the rows (a field equal to one but for case is not typed here). */
  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.lower.add(r.toLowerCase());
  }

  private readonly shapes = new Set<Shape>();

  /** A row's fields by their shape; `column` names each field's column. */
  addShape(shape: Shape, column: (key: string) => string): void {
    if (this.unknown || this.shapes.has(shape)) return;
    this.shapes.add(shape);
    if (shape.fields === null) return void (this.unknown = true);
    for (const [key, k] of shape.fields) this.put(column(key), k);
  }

  /** Folds in the types of another batch (null: unknown). */
  addAll(types: FieldTypeMap | null): void {
    if (types === null) return void (this.unknown = true);
    for (const [name, t] of Object.entries(types)) this.put(name, t === 'NULL' ? null : t);
  }

  private put(name: string, k: FieldType | null): void {
    if (this.unknown) return;
    const had = this.cols.get(name);
    if (had === undefined) {
      const low = name.toLowerCase();
      if (!name || this.lower.has(low)) return void (this.unknown = true);
      this.lower.add(low);
      this.cols.set(name, k);
    } else if (k !== null) {
      const m = had === null ? k : merge(had, k);
      if (m === undefined) return void (this.unknown = true);
      if (m !== had) this.cols.set(name, m);
    }
  }

  /** The types, or null when some column is not typed here; `complete`: a column of only nulls is not typed either. */
  result(complete = false): FieldTypeMap | null {
    if (this.unknown) return null;
    const out: FieldTypeMap = {};
    for (const [name, t] of this.cols) {
      if (t === null && complete) return null;
      out[name] = t ?? 'NULL';
    }
    return out;
  }
}

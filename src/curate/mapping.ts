// Compiles a source's mapping to the target schema into DuckDB SQL: every field typed with its
// explicit formats, and one `__reason` per row naming each field that failed (NULL when the row
// is good). Rules that can run in DuckDB run there, vectorized.
import { ConfigError } from '../core/errors.ts';
import { ident, lit } from '../engine/duckdb.ts';
import { fieldMap, type FieldMap, type Pipeline, type Source, type TargetField } from './pipeline.ts';

export { DUCK_TYPES } from './field-types.ts';
import { DUCK_TYPES } from './field-types.ts';

const TRUE_WORDS = ['true', 't', 'yes', 'y', '1', 'on'];
const FALSE_WORDS = ['false', 'f', 'no', 'n', '0', 'off'];

/** How the compiled SQL reaches a source column. */
export interface ColumnAccess {
  /** SQL for source column `name`, or undefined if the source has no such column */
  column(name: string): string | undefined;
  /** true when every source column arrives as text (CSV, JSON Lines) */
  text: boolean;
  /** the source's column names, for error messages */
  names: string[];
  /** empty fields already arrive as NULL (DuckDB's CSV reader), so no NULLIF is needed */
  emptyIsNull?: boolean;
}

function literal(v: string | number | boolean, type: TargetField['type']): string {
  if (typeof v === 'number') return `${v}::${DUCK_TYPES[type]}`;
  if (typeof v === 'boolean') return `${v}`;
  return `${lit(v)}::${DUCK_TYPES[type]}`;
}

/** SQL typing a text value `v` (already trimmed, '' → NULL) as the field's type. */
function typeText(v: string, f: TargetField, m: FieldMap): { expr: string; expect: string } {
  switch (f.type) {
    case 'string':
      return { expr: v, expect: 'text' };
    case 'int':
    case 'float': {
      let x = v;
      const th = m.number ? m.number.thousands : '';
      const dec = m.number?.decimal ?? '.';
      // replace() builds a new string for every row: only rows holding the separator need it
      if (th) x = `CASE WHEN contains(${x}, ${lit(th)}) THEN replace(${x}, ${lit(th)}, '') ELSE ${x} END`;
      if (dec !== '.') x = `replace(${x}, ${lit(dec)}, '.')`;
      return { expr: `TRY_CAST(${x} AS ${DUCK_TYPES[f.type]})`, expect: f.type === 'int' ? 'a whole number' : 'a number' };
    }
    case 'bool':
      // One CASE on lower(v): an IN list of six or more constants becomes a hash join in DuckDB's
      // plan, which cost about twice as much here. The usual spellings 'true' and 'false' are
      // matched first as written, so lower() runs only on the other rows.
      return {
        expr:
          `CASE ${v} WHEN 'true' THEN true WHEN 'false' THEN false ELSE ` +
          `CASE lower(${v}) ${TRUE_WORDS.map((w) => `WHEN ${lit(w)} THEN true`).join(' ')} ${FALSE_WORDS.map((w) => `WHEN ${lit(w)} THEN false`).join(' ')} END END`,
        expect: `one of ${[...TRUE_WORDS, ...FALSE_WORDS].join('/')}`,
      };
    case 'date':
    case 'timestamp': {
      const fmts = m.formats ?? [];
      const cast = f.type === 'date' ? '::DATE' : '::TIMESTAMP';
      if (fmts.length === 1 && fmts[0] === 'epoch_s') return { expr: `to_timestamp(TRY_CAST(${v} AS DOUBLE))::TIMESTAMP${cast}`, expect: 'seconds since 1970' };
      if (fmts.length === 1 && fmts[0] === 'epoch_ms') return { expr: `epoch_ms(TRY_CAST(${v} AS BIGINT))${cast}`, expect: 'milliseconds since 1970' };
      if (fmts.length === 0) return { expr: `TRY_CAST(${v} AS ${DUCK_TYPES[f.type]})`, expect: f.type === 'date' ? 'a date YYYY-MM-DD' : 'a timestamp YYYY-MM-DD HH:MM:SS' };
      return { expr: `try_strptime(${v}, [${fmts.map(lit).join(', ')}])${cast}`, expect: `a ${f.type} in one of the formats ${fmts.join(' | ')}` };
    }
  }
}

/** SQL typing an already-typed source column. */
function typeTyped(col: string, f: TargetField): string {
  return `TRY_CAST(${col} AS ${DUCK_TYPES[f.type]})`;
}

/** A condition that makes a row fail, and the SQL of its message. */
interface Check {
  cond: string;
  msg: string;
  /** a cheaper test that holds whenever `cond` does, for the per-row filter (default: `cond`) */
  gate?: string;
}

export interface CompiledMapping {
  /** SELECT list over the source relation: `__in_<field>`, the trimmed source text (NULL if empty) */
  inputs: string[];
  /** SELECT list over the inputs: `<field>`, typed */
  typed: string[];
  /** SELECT list over the typed fields: derived fields and `__reason` (NULL for a good row) */
  outer: string[];
}

/**
 * Compiles one source's mapping. Throws ConfigError if a mapped column does not exist in the
 * source (the whole file is unusable for this pipeline: fail before anything is committed).
 */
export function compileMapping(p: Pipeline, s: Source, access: ColumnAccess, where: string, joined: Set<string> = new Set()): CompiledMapping {
  const inputs: string[] = [];
  const typedList: string[] = [];
  const reasons: Check[] = [];
  const derived: string[] = [];
  for (const f of p.schema) {
    const m = fieldMap(s, f.name);
    const out = ident(f.name);
    if (m.sql) {
      derived.push(`TRY_CAST((${m.sql}) AS ${DUCK_TYPES[f.type]}) AS ${out}`);
      if (!f.nullable) reasons.push({ cond: `TRY_CAST((${m.sql}) AS ${DUCK_TYPES[f.type]}) IS NULL`, msg: lit(`${f.name}: required, but the expression gave no value`) });
      continue;
    }
    const name = m.from ?? f.name;
    const col = access.column(name);
    const explicit = s.map[f.name] !== undefined;
    if (col === undefined && joined.has(f.name)) {
      // filled by a point-in-time join after typing
      inputs.push(`NULL::VARCHAR AS ${ident(`__in_${f.name}`)}`);
      typedList.push(`NULL::${DUCK_TYPES[f.type]} AS ${out}`);
      continue;
    }
    if (col === undefined) {
      if (m.default !== undefined || (f.nullable && !explicit)) {
        inputs.push(`NULL::VARCHAR AS ${ident(`__in_${f.name}`)}`);
        typedList.push(`${m.default !== undefined ? literal(m.default, f.type) : `NULL::${DUCK_TYPES[f.type]}`} AS ${out}`);
        continue;
      }
      throw new ConfigError(`${where}: no column ${JSON.stringify(name)} for field ${f.name}`, {
        hint: `columns are: ${access.names.join(', ')}; map the field with \`from:\`, give it a default, or make it nullable`,
      });
    }
    // Values are not trimmed (only value maps fold case and spaces); numeric casts accept spaces.
    const raw = access.text ? (access.emptyIsNull ? col : `NULLIF(${col}, '')`) : `CAST(${col} AS VARCHAR)`;
    const inName = ident(`__in_${f.name}`);
    inputs.push(`${raw} AS ${inName}`);
    let typed: string;
    let expect: string;
    let unknownCheck: Check | undefined;
    if (m.values) {
      const entries = Object.entries(m.values);
      const known = entries.map(([k, v]) => `WHEN ${lit(k.trim().toLowerCase())} THEN ${lit(String(v))}`).join(' ');
      const fallback = m.unknown === 'keep' ? inName : 'NULL';
      const allowed = [...new Set(entries.map(([k]) => k))].slice(0, 12).join(', ');
      const unknownMsg = `${lit(`${f.name}: unknown value `)} || ${quoteSql(inName)} || ${lit(` (expected one of ${allowed})`)}`;
      if (f.type === 'string') {
        // The text as written is looked up first among the keys' plain spellings (lower, UPPER,
        // Capitalized), so only the other rows are folded with lower(trim(…)). A string field's
        // mapped value is NULL exactly when the folded text is no key (every mapped value is a
        // constant), so the unknown-value check reads the field instead of a folded column.
        const exact = exactSpellings(entries);
        const lookup = `CASE lower(trim(${inName})) ${known} ELSE ${fallback} END`;
        typed = exact.length ? `CASE ${inName} ${exact.map(([w, v]) => `WHEN ${lit(w)} THEN ${lit(v)}`).join(' ')} ELSE ${lookup} END` : lookup;
        expect = 'text';
        if (m.unknown === 'reject') unknownCheck = { cond: `${inName} IS NOT NULL AND ${out} IS NULL`, msg: unknownMsg };
      } else {
        // folded once, beside the source text, for both the lookup and the unknown-value check
        const folded = ident(`__f_${f.name}`);
        inputs.push(`lower(trim(${raw})) AS ${folded}`);
        const mapped = `CASE ${folded} ${known} ELSE ${fallback} END`;
        const t = typeText(mapped, f, m);
        typed = t.expr;
        expect = t.expect;
        if (m.unknown === 'reject') {
          unknownCheck = {
            // list_contains, not NOT IN: DuckDB turns a long IN list into a hash join
            cond: `${inName} IS NOT NULL AND NOT list_contains([${entries.map(([k]) => lit(k.trim().toLowerCase())).join(', ')}], ${folded})`,
            msg: unknownMsg,
          };
        }
      }
    } else if (access.text) {
      const t = typeText(inName, f, m);
      typed = t.expr;
      expect = t.expect;
    } else {
      typed = typeTyped(ident(`__raw_${f.name}`), f);
      inputs.push(`${col} AS ${ident(`__raw_${f.name}`)}`);
      expect = `a ${f.type}`;
    }
    if (m.scale !== undefined || m.offset !== undefined) typed = `(${typed} * ${m.scale ?? 1} + ${m.offset ?? 0})::${DUCK_TYPES[f.type]}`;
    const value = m.default !== undefined ? `CASE WHEN ${inName} IS NULL THEN ${literal(m.default, f.type)} ELSE ${typed} END` : typed;
    typedList.push(`${value} AS ${out}`);
    if (unknownCheck) reasons.push(unknownCheck);
    // text kept as it is cannot fail to read (the field is the non-NULL source text): no check
    else if (typed !== inName) reasons.push({ cond: `${inName} IS NOT NULL AND ${out} IS NULL`, msg: `${lit(`${f.name}: cannot read `)} || ${quoteSql(inName)} || ${lit(` as ${expect}`)}` });
    if (f.type === 'float' && !m.allow_nonfinite) reasons.push({ cond: `NOT isfinite(${out})`, msg: `${lit(`${f.name}: non-finite number `)} || ${quoteSql(inName)}` });
    if (!f.nullable) reasons.push({ cond: `${inName} IS NULL AND ${out} IS NULL`, msg: lit(`${f.name}: required, but empty`), gate: `${out} IS NULL` });
  }
  // Cheap boolean tests on every row; the message is built only for the rows that fail. A
  // required field's gate (`<field> IS NULL`) covers its unreadable and its empty check at once.
  const gates = [...new Set(reasons.map((r) => r.gate ?? r.cond))];
  const reason = reasons.length
    ? `CASE WHEN ${gates.map((g) => `(${g})`).join(' OR ')} THEN NULLIF(concat_ws('; ', ${reasons.map((r) => `CASE WHEN ${r.cond} THEN ${r.msg} END`).join(', ')}), '') END`
    : 'NULL::VARCHAR';
  const outer = [...derived, `${reason} AS __reason`];
  return { inputs, typed: typedList, outer };
}

/**
 * The spellings of a value map's keys that fold to the key unchanged (`us`, `US`, `Us` for the key
 * `us`), with the value of the first key of each folded form, as DuckDB's CASE would pick it.
 * Only keys of ASCII letters, digits, `_`, `-` and `.` qualify: lower(trim(x)) of those is exact.
 */
function exactSpellings(entries: [string, string | number | boolean][]): [string, string][] {
  const first = new Map<string, string>();
  for (const [k, v] of entries) {
    const fk = k.trim().toLowerCase();
    if (!first.has(fk)) first.set(fk, String(v));
  }
  const out = new Map<string, string>();
  for (const [fk, v] of first) {
    if (!/^[a-z0-9_.-]+$/.test(fk)) continue;
    for (const w of [fk, fk.toUpperCase(), fk[0]!.toUpperCase() + fk.slice(1)]) if (!out.has(w)) out.set(w, v);
  }
  return [...out];
}

function quoteSql(x: string): string {
  return `'"' || left(${x}, 200) || '"'`;
}

/** The columns of the target schema in order, as DuckDB column definitions. */
export function targetColumns(p: Pipeline): { name: string; type: string; nullable: boolean; description?: string }[] {
  return p.schema.map((f) => ({ name: f.name, type: DUCK_TYPES[f.type], nullable: f.nullable, ...(f.description ? { description: f.description } : {}) }));
}

// The review UI: a queue with filters and progress, an item page (record with the failing rule's
// fields highlighted, conflicting sources side by side, image previews, an edit form) and keyboard
// shortcuts. One module without imports: the sign-in page loads it from a blob URL.
const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
let token = '';
const state = { me: null, filter: {}, queue: null, item: null, decisions: [], schema: null, variant: 0, editing: false, message: '', error: '' };

const h = (tag, attrs = {}, ...kids) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  return el;
};

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || `${res.status} ${res.statusText}`);
  return data;
}

const query = () => new URLSearchParams(Object.entries(state.filter).filter(([, v]) => v)).toString();
const fmt = (v) => (v === null || v === undefined ? '∅' : typeof v === 'object' ? JSON.stringify(v) : String(v));

async function refreshQueue() {
  state.queue = await api('GET', `/api/queue?${query()}`);
}

async function openItem(id) {
  const r = await api('GET', `/api/items/${id}`);
  Object.assign(state, { item: r.item, decisions: r.decisions, schema: r.schema, variant: 0, editing: false });
}

async function next() {
  if (state.item && state.item.lease_reviewer === state.me.id) await api('POST', `/api/items/${state.item.id}/release`).catch(() => {});
  const { status, ...filter } = state.filter;
  const r = await api('POST', '/api/claim', { n: 1, filter });
  if (r.items.length) await openItem(r.items[0].id);
  else Object.assign(state, { item: null, message: 'Nothing left to claim for this filter.' });
  await refreshQueue();
  render();
}

async function decide(decision) {
  if (!state.item) return;
  const comment = document.getElementById('comment')?.value.trim();
  try {
    const r = await api('POST', `/api/items/${state.item.id}/decision`, { ...decision, ...(comment ? { comment } : {}) });
    state.message = `Item ${r.item.id}: ${decision.action}${decision.label ? ` ${decision.label}` : ''} recorded (${r.item.status}).`;
    state.error = '';
    state.item = null;
    await next();
  } catch (e) {
    state.error = e.message;
    render();
  }
}

function accept() {
  const v = state.item?.variants?.[state.variant];
  return decide({ action: 'accept', ...(v ? { variant: v.source } : {}) });
}

function label(i) {
  const l = state.item?.labels?.[i];
  if (l !== undefined) return decide({ action: 'label', label: l });
  return undefined;
}

function saveEdit(form) {
  const record = {};
  for (const input of form.querySelectorAll('[data-field]')) {
    const col = (state.schema || []).find((c) => c.name === input.dataset.field);
    const raw = input.value;
    let v = raw;
    if (raw === '') v = null;
    else if (col && /INT|DOUBLE|FLOAT|DECIMAL|REAL|NUMERIC/i.test(col.type)) v = Number(raw);
    else if (col && /BOOL/i.test(col.type)) v = raw === 'true';
    else if (col && /STRUCT|MAP|\[\]|LIST/i.test(col.type)) { try { v = JSON.parse(raw); } catch { v = raw; } }
    record[input.dataset.field] = v;
  }
  return decide({ action: 'edit', record });
}

async function bulk(action) {
  const n = state.queue?.progress.left ?? 0;
  if (!confirm(`${action} every item matching this filter that you may decide (${n} left)?`)) return;
  try {
    const { status, ...filter } = state.filter;
    const r = await api('POST', '/api/bulk', { filter, action });
    state.message = `${r.decided} items: ${action}.`;
    await refreshQueue();
  } catch (e) {
    state.error = e.message;
  }
  render();
}

function imagePreview(item, field, value, variant) {
  if (typeof value !== 'string' || !IMAGE.test(value)) return null;
  const img = h('img', { class: 'preview', alt: `${field} preview` });
  const q = new URLSearchParams({ field, ...(variant ? { variant } : {}) });
  fetch(`/api/items/${item.id}/image?${q}`, { headers: { Authorization: `Bearer ${token}` } })
    .then((r) => (r.ok ? r.blob() : null))
    .then((b) => b && (img.src = URL.createObjectURL(b)));
  return img;
}

function recordTable(item) {
  const hl = new Set(item.fields);
  return h('table', { class: 'record' },
    h('tr', {}, h('th', {}, 'field'), h('th', {}, 'value')),
    Object.entries(item.record).map(([k, v]) => h('tr', { class: hl.has(k) ? 'hl' : '' }, h('td', {}, k), h('td', {}, fmt(v), imagePreview(item, k, v)))));
}

function variantsTable(item) {
  const vs = item.variants;
  const keys = [...new Set(vs.flatMap((v) => Object.keys(v.record)))];
  return h('table', { class: 'variants' },
    h('tr', {}, h('th', {}, 'field'), vs.map((v, i) => h('th', { class: i === state.variant ? 'chosen' : '', onclick: () => { state.variant = i; render(); } }, `${i === state.variant ? '▶ ' : ''}${v.source}`))),
    keys.map((k) => {
      const values = vs.map((v) => JSON.stringify(v.record[k]));
      const differs = new Set(values).size > 1;
      return h('tr', { class: differs ? 'diff' : '' }, h('td', {}, k, differs ? ' ≠' : ''),
        vs.map((v, i) => h('td', { class: i === state.variant ? 'chosen' : '' }, fmt(v.record[k]), imagePreview(item, k, v.record[k], v.source))));
    }));
}

function editForm(item) {
  const cols = state.schema ? state.schema.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })) : Object.keys(item.record).map((name) => ({ name, type: '', nullable: true }));
  const base = item.variants?.[state.variant]?.record ?? item.record;
  const form = h('form', { id: 'edit', onsubmit: (e) => { e.preventDefault(); saveEdit(form); } },
    cols.map((c) => h('label', { class: item.fields.includes(c.name) ? 'hl' : '' }, `${c.name} `, h('small', {}, c.type, c.nullable ? '' : ' not null'),
      h('input', { 'data-field': c.name, value: base[c.name] === null || base[c.name] === undefined ? '' : typeof base[c.name] === 'object' ? JSON.stringify(base[c.name]) : String(base[c.name]) }))),
    h('button', { type: 'submit' }, 'Save edit (Enter)'), ' ', h('button', { type: 'button', onclick: () => { state.editing = false; render(); } }, 'Cancel (Esc)'));
  return form;
}

function itemPanel() {
  const item = state.item;
  if (!item) return h('section', { id: 'item' }, h('p', {}, 'Press n to claim the next item.'));
  return h('section', { id: 'item', 'data-item': item.id },
    h('h2', {}, `#${item.id} ${item.dataset} / ${item.record_id}`, h('span', { class: `badge ${item.kind}` }, item.kind), h('span', { class: 'badge' }, item.status)),
    h('ul', { class: 'reasons' }, item.reasons.map((r) => h('li', {}, r.rule ? h('b', {}, `${r.rule}: `) : r.field ? h('b', {}, `${r.field}: `) : '', r.message))),
    item.variants?.length ? variantsTable(item) : recordTable(item),
    item.labels?.length ? h('div', { class: 'labels' }, item.labels.map((l, i) => h('button', { onclick: () => label(i) }, `${i + 1} ${l}`))) : null,
    state.editing ? editForm(item) : null,
    h('div', { class: 'actions' },
      h('button', { onclick: accept }, 'a accept'), h('button', { onclick: () => decide({ action: 'reject' }) }, 'r reject'),
      h('button', { onclick: () => { state.editing = true; render(); } }, 'e edit'), h('button', { onclick: next }, 'n next'),
      h('input', { id: 'comment', placeholder: 'comment (optional)' })),
    state.decisions.length ? h('p', { class: 'muted' }, `decisions so far: ${state.decisions.map((d) => `${d.reviewer} ${d.action}`).join(', ')}`) : null);
}

function progressPanel() {
  const p = state.queue?.progress;
  if (!p) return h('section', { id: 'progress' });
  const pct = p.total ? Math.round((100 * p.done) / p.total) : 0;
  const k = p.agreement.pairs.map((x) => `${x.a}–${x.b} κ=${x.kappa.value.toFixed(2)} (${x.items})`).concat(p.agreement.fleiss.filter((f) => f.raters > 2).map((f) => `Fleiss κ=${f.kappa.value.toFixed(2)} (${f.items} items × ${f.raters})`));
  return h('section', { id: 'progress' },
    h('div', { class: 'bar' }, h('div', { style: `width:${pct}%` })),
    h('span', { id: 'count-done' }, `done ${p.done}`), ' · ', h('span', { id: 'count-left' }, `left ${p.left}`), ` · held ${p.held} · disputed ${p.disputed} · total ${p.total}`,
    h('div', { class: 'muted' }, 'per reviewer: ', p.reviewers.map((r) => `${r.name} ${r.decisions}`).join(', ') || 'none yet',
      ' · agreement: ', p.agreement.items ? `${Math.round(100 * p.agreement.observed)}% of ${p.agreement.items} items; ${k.join('; ')}` : 'no overlapping decisions yet'));
}

function filters() {
  const f = state.queue?.facets ?? { dataset: [], rule: [], source: [] };
  const sel = (name, options) => h('select', { 'aria-label': name, onchange: async (e) => { state.filter[name] = e.target.value; await refreshQueue(); render(); } },
    h('option', { value: '' }, `any ${name}`), options.map((o) => h('option', { value: o, selected: state.filter[name] === o }, o)));
  return h('div', { class: 'filters' }, sel('dataset', f.dataset), sel('rule', f.rule), sel('source', f.source), sel('status', ['pending', 'held', 'disputed', 'done']),
    h('button', { onclick: () => bulk('accept') }, 'accept all matching'), h('button', { onclick: () => bulk('reject') }, 'reject all matching'));
}

function queueList() {
  const items = state.queue?.items ?? [];
  return h('aside', { id: 'queue' }, h('table', {}, h('tr', {}, ['id', 'dataset', 'kind', 'status', 'prio', 'why'].map((c) => h('th', {}, c))),
    items.map((i) => h('tr', { class: state.item?.id === i.id ? 'current' : '' }, h('td', {}, i.id), h('td', {}, i.dataset), h('td', {}, i.kind), h('td', { class: `st-${i.status}` }, i.status), h('td', {}, i.priority), h('td', {}, i.reasons[0]?.rule ?? i.reasons[0]?.field ?? '')))));
}

function render() {
  const root = document.getElementById('app');
  root.replaceChildren(...[
    h('header', {}, h('h1', {}, 'sluice review'), h('span', { class: 'muted' }, `${state.me.name} (${state.me.role})`), filters()),
    progressPanel(),
    state.message ? h('p', { class: 'message' }, state.message) : null,
    state.error ? h('p', { class: 'error', role: 'alert' }, state.error) : null,
    h('main', {}, queueList(), itemPanel()),
    h('footer', { class: 'muted' }, 'keys: a accept · r reject · e edit · 1–9 label · n/j next · v next variant · Esc cancel'),
  ].filter(Boolean));
  if (state.editing) document.querySelector('#edit input')?.focus();
}

function onKey(e) {
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(e.target.tagName);
  if (e.key === 'Escape') { state.editing = false; e.target.blur?.(); render(); return; }
  if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === 'n' || e.key === 'j') next();
  else if (!state.item) return;
  else if (e.key === 'a') accept();
  else if (e.key === 'r') decide({ action: 'reject' });
  else if (e.key === 'e') { state.editing = true; render(); }
  else if (e.key === 'v' && state.item.variants?.length) { state.variant = (state.variant + 1) % state.item.variants.length; render(); }
  else if (/^[1-9]$/.test(e.key)) label(Number(e.key) - 1);
  else return;
  e.preventDefault();
}

export async function start(t) {
  token = t;
  state.me = await api('GET', '/api/me');
  const held = await api('GET', '/api/held');
  if (held.items.length) await openItem(held.items[0].id);
  await refreshQueue();
  document.addEventListener('keydown', onKey);
  render();
}

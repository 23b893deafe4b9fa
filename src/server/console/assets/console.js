// The web console's script, a plain ES module served as /console/console.js (no framework, no build):
// every value it shows goes in through textContent or a text node (never innerHTML of data, and the
// page's CSP allows no inline script), live runs arrive as server-sent events, the rest through the
// JSON API under /console/api/.
const $ = (selector) => document.querySelector(selector);
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('data-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== undefined && child !== null) node.append(child);
  return node;
}
// Every API call carries the console's header: the bridge answers nothing without it, so no image, link
// or form on another site can make this browser search or run code.
async function getJson(path, init = {}) {
  const response = await fetch(path, {
    credentials: 'same-origin',
    ...init,
    headers: { 'x-codemode-console': '1', ...(init.headers ?? {}) },
  });
  if (response.status === 401) {
    location.reload();
    throw new Error('signed out');
  }
  return response.json();
}

// Runs by id, as the page knows them: whole (`partial` false: from the live feed or /api/runs/<id>)
// or summaries from the listing (tool calls counted, not listed; fetched when opened).
const runs = new Map();
let me = { role: 'user' };

// Filters and the open run live in the address's fragment (#status=ok&server=x&run=<id>), so a link
// opens the same view.
const FILTERS = ['status', 'server', 'session', 'principal'];
function viewFromHash() {
  return new URLSearchParams(location.hash.slice(1));
}
function filters() {
  const view = viewFromHash();
  return Object.fromEntries(FILTERS.flatMap((name) => (view.get(name) ? [[name, view.get(name)]] : [])));
}
function setView(changes) {
  const view = viewFromHash();
  for (const [key, value] of Object.entries(changes)) {
    if (value) view.set(key, value);
    else view.delete(key);
  }
  const next = view.toString();
  if (next !== location.hash.slice(1)) location.hash = next;
}
function matchesFilters(run) {
  const wanted = filters();
  if (wanted.status && run.status !== wanted.status) return false;
  if (wanted.server && !run.servers.includes(wanted.server)) return false;
  if (wanted.session && !(run.session ?? '').startsWith(wanted.session)) return false;
  if (wanted.principal && run.principal?.id !== wanted.principal) return false;
  return true;
}

function callLine(call) {
  return (
    `+${call.atMs} ms ${call.server}.${call.tool} — ` +
    (call.outcome
      ? `${call.outcome} in ${call.durationMs} ms${call.error ? `: ${call.error}` : ''}`
      : 'running…')
  );
}
function renderCall(call, index) {
  return el(
    'li',
    { 'data-index': String(index), 'data-outcome': call.outcome ?? 'running' },
    el('span', { class: 'line' }, callLine(call)),
    call.policy
      ? el(
          'span',
          { class: `policy policy-${call.policy.action}` },
          ` ${call.policy.action} (${call.policy.rule})`,
        )
      : null,
    call.args !== undefined
      ? el('div', { class: 'args' }, el('span', { class: 'k' }, 'args '), call.args)
      : null,
    call.result !== undefined
      ? el('div', { class: 'result' }, el('span', { class: 'k' }, 'result '), call.result)
      : null,
  );
}

function summaryOf(run) {
  const calls = run.partial ? run.calls : run.toolCalls.length + (run.droppedCalls ?? 0);
  return el(
    'summary',
    {},
    el('span', { class: `status status-${run.status}` }, run.status),
    ' ',
    el('strong', {}, run.runId ?? run.id),
    ' ',
    new Date(run.startedAt).toLocaleString(),
    ' ',
    run.durationMs !== undefined ? `${Math.round(run.durationMs)} ms ` : '',
    calls ? `${calls} tool call(s)` : '',
    run.servers.length ? el('span', { class: 'servers' }, ` · ${run.servers.join(', ')}`) : '',
    run.principal ? el('span', { class: 'principal' }, ` · ${run.principal.name}`) : '',
    run.session ? ` · session ${String(run.session).slice(0, 8)}` : '',
    ' ',
    el(
      'a',
      { class: 'permalink', href: `#run=${encodeURIComponent(run.id)}`, title: 'Link to this run' },
      '#',
    ),
  );
}

function block(name, text) {
  return el(
    'div',
    { class: `block-${name}`, hidden: !text },
    el('h4', {}, name),
    el('pre', { class: name }, text ?? ''),
  );
}

function renderRun(run) {
  const existing = document.getElementById(`run-${run.id}`);
  const open = existing?.querySelector('details')?.open ?? false;
  const linked = existing?.classList.contains('linked') ?? false;
  const cancel =
    me.role === 'admin' && run.status === 'running'
      ? el('button', { class: 'cancel', type: 'button', onclick: () => cancelRun(run.id) }, 'Cancel run')
      : null;
  const timeline = el('ol', { class: 'timeline' }, ...(run.toolCalls ?? []).map(renderCall));
  const details = el(
    'details',
    { open, ontoggle: () => details.open && run.partial && void loadRun(run.id) },
    summaryOf(run),
    cancel,
    el('h4', {}, 'Code'),
    el('pre', { class: 'code' }, run.code),
    el(
      'div',
      { class: 'block-calls', hidden: !(run.toolCalls ?? []).length },
      el('h4', {}, 'Tool calls'),
      timeline,
    ),
    run.partial && run.calls ? el('p', { class: 'hint more' }, `${run.calls} tool call(s): loading…`) : null,
    run.droppedCalls ? el('p', { class: 'hint' }, `${run.droppedCalls} more tool call(s) not kept`) : null,
    block('stdout', run.stdout),
    block('stderr', run.stderr),
    block('error', run.error),
  );
  const item = el(
    'li',
    {
      class: linked ? 'run linked' : 'run',
      id: `run-${run.id}`,
      'data-status': run.status,
      'data-principal': run.principal?.id ?? '',
    },
    details,
  );
  if (existing) existing.replaceWith(item);
  else insertByTime(item, run);
  runs.set(run.id, run);
  $('#runs-empty').hidden = true;
  return item;
}
function insertByTime(item, run) {
  const list = $('#runs');
  for (const other of list.children) {
    const known = runs.get(other.id.slice(4));
    if (known && known.startedAt < run.startedAt) {
      list.insertBefore(item, other);
      return;
    }
  }
  list.append(item);
}
function refreshSummary(run) {
  const item = document.getElementById(`run-${run.id}`);
  if (!item) return;
  item.dataset.status = run.status;
  item.querySelector('summary').replaceWith(summaryOf(run));
}

// One delta of the live feed. Each carries the run's change number: one already applied (the run was
// fetched after it) is skipped, and a gap (a change missed) reloads the run.
function applyDelta(delta) {
  if (delta.type === 'run') {
    if (!matchesFilters(delta.run) && !runs.has(delta.run.id)) return;
    renderRun(delta.run);
    return;
  }
  const run = runs.get(delta.id);
  if (!run) {
    // A run hidden by the filters (or started before this page) that now matches: fetch it once.
    if (delta.type === 'end' && (!filters().status || filters().status === delta.end.status)) {
      void loadRun(delta.id, true);
    }
    return;
  }
  if (delta.seq <= run.seq) return;
  if (!run.partial && delta.seq > run.seq + 1) {
    void loadRun(delta.id);
    return;
  }
  run.seq = delta.seq;
  const item = document.getElementById(`run-${run.id}`);
  if (delta.type === 'call') {
    if (run.partial) run.calls++;
    else {
      run.toolCalls[delta.index] = delta.call;
      const timeline = item?.querySelector('.timeline');
      timeline?.append(renderCall(delta.call, delta.index));
      if (timeline) timeline.parentElement.hidden = false;
    }
  } else if (delta.type === 'call-end') {
    const call = run.toolCalls?.[delta.index];
    if (call) {
      Object.assign(call, delta.end);
      item
        ?.querySelector(`.timeline li[data-index="${delta.index}"]`)
        ?.replaceWith(renderCall(call, delta.index));
    }
  } else if (delta.type === 'output') {
    run[delta.stream] = (run[delta.stream] ?? '') + delta.text;
    const pre = item?.querySelector(`pre.${delta.stream}`);
    if (pre) {
      pre.append(delta.text);
      pre.parentElement.hidden = false;
    }
  } else if (delta.type === 'end') {
    Object.assign(run, delta.end);
    if (item) {
      for (const name of ['stdout', 'stderr', 'error']) {
        const pre = item.querySelector(`pre.${name}`);
        pre.textContent = run[name] ?? '';
        pre.parentElement.hidden = !run[name];
      }
      item.querySelector('button.cancel')?.remove();
    }
  }
  refreshSummary(run);
}

async function loadRun(id, onlyIfMatching = false) {
  const answer = await getJson(`/console/api/runs/${encodeURIComponent(id)}`);
  if (!answer.run || (onlyIfMatching && !matchesFilters(answer.run))) return undefined;
  return renderRun(answer.run);
}

async function cancelRun(id) {
  const response = await fetch(`/console/api/runs/${encodeURIComponent(id)}/cancel`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-codemode-console': '1' },
  });
  if (!response.ok) $('#runs-hint').textContent = (await response.json()).error;
}

async function openLinkedRun() {
  const id = viewFromHash().get('run');
  if (!id) return;
  // Opened whole (a listed run is a summary), even when the filters would hide it.
  const known = runs.get(id);
  const item = known && !known.partial ? document.getElementById(`run-${id}`) : await loadRun(id);
  if (!item) {
    $('#runs-hint').textContent = `Run ${id} is not kept any more, or is not yours to see.`;
    return;
  }
  for (const other of document.querySelectorAll('li.run.linked')) other.classList.remove('linked');
  item.classList.add('linked');
  item.querySelector('details').open = true;
  item.scrollIntoView({ block: 'start' });
}

async function loadState() {
  const state = await getJson('/console/api/state');
  me = state.me;
  $('#version').textContent = `v${state.version}`;
  $('#me').textContent = `${state.me.name} (${state.me.role})`;
  $('#me').dataset.role = state.me.role;
  $('#sign-out').hidden = state.http.auth.startsWith('none');
  $('#runs-hint').textContent =
    state.me.role === 'admin'
      ? "Live: every principal's runs appear as they start. Newest first."
      : 'Live: your runs appear as they start. Newest first.';
  const rows = [
    ['Sandbox', state.sandbox.backend],
    [
      'Pool',
      state.sandbox.ready +
        ' ready, ' +
        state.sandbox.starting +
        ' starting, ' +
        state.sandbox.inUse +
        ' running (target ' +
        state.sandbox.target +
        ')',
    ],
    [
      'MCP sessions',
      state.http.sessions.length +
        ' of ' +
        state.http.maxSessions +
        (state.http.sessions.length
          ? ' (' +
            state.http.sessions
              .map((s) => `${s.principal.name}: ${s.client || '?'}${s.inFlight ? ' busy' : ''}`)
              .join(', ') +
            ')'
          : ''),
    ],
    ['Auth', state.http.auth],
    ['Policy', state.policy || 'none'],
    ['Runs', state.runs],
    ['Telemetry', state.telemetry],
  ];
  $('#state').replaceChildren(
    ...rows.flatMap(([key, value]) => [el('dt', {}, key), el('dd', {}, String(value))]),
  );
  $('#servers tbody').replaceChildren(
    ...state.servers.map((server) =>
      el(
        'tr',
        {},
        el('td', {}, server.name),
        el('td', {}, server.alias),
        el('td', {}, server.connected ? 'connected' : 'not connected'),
        el('td', {}, server.policy || (state.policy ? '' : 'no policy: every call allowed')),
      ),
    ),
  );
  fillFilterChoices(state);
}

// The filters' choices: servers from the state, principals from the runs seen (an admin's filter).
function fillFilterChoices(state) {
  const choose = (select, values) => {
    const current = select.value;
    const known = new Set([...select.options].map((option) => option.value));
    for (const [value, label] of values) {
      if (!known.has(value)) select.append(el('option', { value }, label));
    }
    select.value = current;
  };
  choose(
    $('#filter-server'),
    state.servers.map((server) => [server.name, server.name]),
  );
  const principals = new Map();
  for (const run of runs.values()) principals.set(run.principal.id, run.principal.name);
  for (const session of state.http.sessions) principals.set(session.principal.id, session.principal.name);
  choose($('#filter-principal'), [...principals]);
  $('#filter-principal-label').hidden = me.role !== 'admin';
}

function showFilters() {
  const wanted = filters();
  for (const name of FILTERS) {
    const input = $(`#filter-${name}`);
    if (
      input.tagName === 'SELECT' &&
      wanted[name] &&
      ![...input.options].some((o) => o.value === wanted[name])
    ) {
      input.append(el('option', { value: wanted[name] }, wanted[name]));
    }
    input.value = wanted[name] ?? '';
  }
}

async function search(event) {
  event?.preventDefault();
  const query = $('#search').value.trim();
  $('#hits').replaceChildren(el('li', {}, 'searching…'));
  const answer = await getJson(`/console/api/search?q=${encodeURIComponent(query)}&limit=10`);
  if (answer.error) {
    $('#hits').replaceChildren(el('li', {}, answer.error));
    return;
  }
  $('#hits').replaceChildren(
    ...(answer.hits.length
      ? answer.hits.map((hit) =>
          el(
            'li',
            { class: 'hit' },
            el('strong', {}, `${hit.server}.${hit.tool}`),
            ' ',
            el('span', { class: 'hint' }, `score ${hit.score.toFixed(2)}`),
            el('code', { class: 'sig' }, `mcp_${hit.alias}.${hit.signature.replace(/^async def /, '')}`),
            hit.description ? el('div', {}, hit.description.slice(0, 400)) : null,
          ),
        )
      : [el('li', {}, 'no tools match')]),
  );
}

async function tryIt(event) {
  event.preventDefault();
  $('#try-run').disabled = true;
  $('#try-result').textContent = 'running…';
  try {
    const servers = $('#try-servers')
      .value.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const outcome = await getJson('/console/api/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-codemode-console': '1' },
      body: JSON.stringify({ code: $('#code').value, servers }),
    });
    $('#try-result').textContent = [outcome.status, outcome.stdout, outcome.stderr, outcome.error]
      .filter(Boolean)
      .join('\n');
  } catch (error) {
    $('#try-result').textContent = `not sent: ${error.message}`;
  } finally {
    $('#try-run').disabled = false;
  }
}

// The listing, as the filters narrow it: one request, summaries only.
async function loadRuns() {
  const query = new URLSearchParams(filters());
  const answer = await getJson(`/console/api/runs?${query}`);
  if (answer.error) {
    $('#runs-hint').textContent = answer.error;
    return;
  }
  runs.clear();
  $('#runs').replaceChildren();
  for (const run of answer.runs) renderRun(run);
  $('#runs-empty').hidden = answer.runs.length > 0;
}

// The live feed. The pill says what is true: `live` only while the stream is open; when the bridge
// stops answering the page says so, retries with a growing pause, and catches up once it is back.
let source;
let retryTimer;
let retryDelay = 1000;
function setLive(state, text) {
  $('#live').textContent = text;
  $('#live').dataset.state = state;
  document.body.dataset.connection = state;
}
function connect() {
  clearTimeout(retryTimer);
  source?.close();
  source = new EventSource('/console/api/events');
  source.addEventListener('open', async () => {
    retryDelay = 1000;
    setLive('live', 'live');
    // Changes made while the stream was down: reload what the filters show.
    await loadRuns().catch(() => {});
    await loadState().catch(() => {});
    await openLinkedRun().catch(() => {});
  });
  source.addEventListener('error', () => {
    // The browser retries by itself only sometimes (not after a refused or failed response): retry
    // here, always, and say so.
    source.close();
    // Signed out (the bridge restarted and forgot the sign-in, or it expired): back to the sign-in form.
    fetch('/console/api/me', { headers: { 'x-codemode-console': '1' } })
      .then((response) => response.status === 401 && location.reload())
      .catch(() => {});
    const seconds = Math.round(retryDelay / 1000);
    setLive('down', `disconnected: the bridge is not answering; retrying in ${seconds} s`);
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  });
  source.addEventListener('message', (event) => applyDelta(JSON.parse(event.data)));
}

async function refreshState() {
  if ($('#live').dataset.state !== 'live') return;
  await loadState().catch(() => {});
}

async function start() {
  $('#search-form').addEventListener('submit', search);
  $('#try-form').addEventListener('submit', tryIt);
  $('#filters').addEventListener('change', (event) => {
    setView({ [event.target.name]: event.target.value.trim() });
  });
  $('#filters').addEventListener('submit', (event) => event.preventDefault());
  let shownFilters = JSON.stringify(filters());
  window.addEventListener('hashchange', () => {
    const now = JSON.stringify(filters());
    showFilters();
    if (now !== shownFilters) {
      shownFilters = now;
      void loadRuns().then(openLinkedRun);
    } else void openLinkedRun();
  });
  await loadState();
  showFilters();
  connect();
  setInterval(refreshState, 5000);
  document.body.dataset.ready = 'true';
}
void start();

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
async function getJson(path, init) {
  const response = await fetch(path, { credentials: 'same-origin', ...init });
  if (response.status === 401) {
    location.reload();
    throw new Error('signed out');
  }
  return response.json();
}

const runs = new Map();
function renderRun(run) {
  const open = document.getElementById(`run-${run.id}`)?.querySelector('details')?.open ?? false;
  const calls = el(
    'ol',
    { class: 'timeline' },
    ...run.toolCalls.map((call) =>
      el(
        'li',
        {},
        '+' +
          call.atMs +
          ' ms ' +
          call.server +
          '.' +
          call.tool +
          ' — ' +
          (call.outcome
            ? `${call.outcome} in ${call.durationMs} ms${call.error ? `: ${call.error}` : ''}`
            : 'running…'),
      ),
    ),
  );
  const details = el(
    'details',
    { open },
    el(
      'summary',
      {},
      el('span', { class: `status status-${run.status}` }, run.status),
      ' ',
      el('strong', {}, run.id),
      ' ',
      new Date(run.startedAt).toLocaleTimeString(),
      ' ',
      run.durationMs !== undefined ? `${Math.round(run.durationMs)} ms` : '',
      ' ',
      run.toolCalls.length ? `${run.toolCalls.length} tool call(s)` : '',
      run.session ? ` · session ${String(run.session).slice(0, 8)}` : '',
    ),
    el('h4', {}, 'Code'),
    el('pre', { class: 'code' }, run.code),
    run.toolCalls.length ? el('h4', {}, 'Tool calls') : null,
    run.toolCalls.length ? calls : null,
    run.stdout ? el('h4', {}, 'stdout') : null,
    run.stdout ? el('pre', { class: 'stdout' }, run.stdout) : null,
    run.stderr ? el('h4', {}, 'stderr') : null,
    run.stderr ? el('pre', { class: 'stderr' }, run.stderr) : null,
    run.error ? el('h4', {}, 'error') : null,
    run.error ? el('pre', { class: 'error' }, run.error) : null,
  );
  const item = el('li', { class: 'run', id: `run-${run.id}`, 'data-status': run.status }, details);
  const existing = document.getElementById(`run-${run.id}`);
  if (existing) existing.replaceWith(item);
  else $('#runs').prepend(item);
  runs.set(run.id, run);
}

async function loadState() {
  const state = await getJson('/console/api/state');
  $('#version').textContent = `v${state.version}`;
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
            state.http.sessions.map((s) => (s.client || '?') + (s.inFlight ? ' busy' : '')).join(', ') +
            ')'
          : ''),
    ],
    ['Auth', state.http.auth],
    ['Policy', state.policy || 'none'],
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
        el('td', {}, server.policy || ''),
      ),
    ),
  );
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
  } finally {
    $('#try-run').disabled = false;
  }
}

async function loadRuns() {
  const { runs: recent } = await getJson('/console/api/runs');
  for (const run of recent.reverse()) renderRun(run);
}

function connect() {
  const source = new EventSource('/console/api/events');
  let opened = false;
  source.addEventListener('open', () => {
    $('#live').textContent = 'live';
    // A reconnection (the bridge drops a page that falls behind): catch up on what changed meanwhile.
    if (opened) void loadRuns();
    opened = true;
  });
  source.addEventListener('error', () => {
    $('#live').textContent = 'reconnecting…';
  });
  source.addEventListener('run', (event) => {
    renderRun(JSON.parse(event.data));
    void loadState();
  });
}

async function start() {
  $('#search-form').addEventListener('submit', search);
  $('#try-form').addEventListener('submit', tryIt);
  await loadRuns();
  await loadState();
  connect();
  setInterval(loadState, 5000);
  document.body.dataset.ready = 'true';
}
void start();

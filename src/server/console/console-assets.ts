/**
 * The console's page, stylesheet and script, as strings served from the package: no framework, no
 * CDN, no build step. The script is a plain ES module using the DOM's textContent for every value it
 * shows (no innerHTML of data), EventSource for live runs and fetch for the JSON API.
 */

export const CONSOLE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codemode-bridge console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/console.js"></script>
</head>
<body>
<header><h1>codemode-bridge</h1><span id="version"></span><span id="live" class="pill">connecting…</span></header>
<main>
<section id="state-section"><h2>State</h2><dl id="state"></dl><h3>Upstream servers</h3><table id="servers"><thead><tr><th>Server</th><th>Alias</th><th>Connection</th><th>Policy</th></tr></thead><tbody></tbody></table></section>
<section id="runs-section"><h2>Runs</h2><p class="hint">Live: runs from every session appear as they start. Newest first.</p><ol id="runs"></ol></section>
<section id="catalog-section"><h2>Catalog</h2>
<form id="search-form"><input id="search" type="search" placeholder="Search tools (same ranking as search_tool_docs)" aria-label="Search tools"><button type="submit">Search</button></form>
<ol id="hits"></ol></section>
<section id="try-section"><h2>Try it</h2><p class="hint">Runs under the same policy and limits as run_python.</p>
<form id="try-form"><textarea id="code" rows="6" spellcheck="false" aria-label="Python code">print("hello from the console")</textarea>
<input id="try-servers" placeholder="servers to grant, comma-separated" aria-label="Servers"><button type="submit" id="try-run">Run</button></form>
<pre id="try-result"></pre></section>
</main>
</body>
</html>
`;

export const CONSOLE_CSS = `
:root{--fg:#1b1f23;--muted:#6a737d;--line:#e1e4e8;--ok:#22863a;--bad:#cb2431;--run:#b08800;font:14px/1.45 system-ui,sans-serif;color:var(--fg)}
body{margin:0}header{display:flex;gap:1rem;align-items:baseline;padding:.6rem 1rem;border-bottom:1px solid var(--line)}
h1{font-size:1.1rem;margin:0}h2{font-size:1rem;margin:.2rem 0 .5rem}h3{font-size:.9rem}
main{display:grid;grid-template-columns:1fr 1fr;gap:1rem;padding:1rem}section{border:1px solid var(--line);border-radius:6px;padding:.6rem .8rem;min-width:0}
@media (max-width:900px){main{grid-template-columns:1fr}}
.pill{font-size:.8rem;padding:0 .5rem;border-radius:1rem;border:1px solid var(--line)}
.hint{color:var(--muted);margin:.2rem 0 .5rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:0}dt{color:var(--muted)}dd{margin:0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.15rem .4rem;border-bottom:1px solid var(--line)}
ol{list-style:none;padding:0;margin:0}li.run{border-bottom:1px solid var(--line);padding:.3rem 0}
.status{font-weight:600}.status-ok{color:var(--ok)}.status-running{color:var(--run)}.status-error,.status-timeout,.status-killed,.status-cancelled,.status-protocol_error,.status-not_started{color:var(--bad)}
pre{background:#f6f8fa;padding:.4rem;overflow:auto;max-height:16rem;margin:.3rem 0;white-space:pre-wrap}
.timeline li{font-family:ui-monospace,monospace;font-size:.85rem}
textarea,input{font:inherit;width:100%;box-sizing:border-box;margin-bottom:.4rem}textarea{font-family:ui-monospace,monospace}
code.sig{display:block;font-family:ui-monospace,monospace;font-size:.85rem;margin:.2rem 0}
li.hit{border-bottom:1px solid var(--line);padding:.3rem 0}
`;

export const CONSOLE_JS = `
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
  if (response.status === 401) { location.reload(); throw new Error('signed out'); }
  return response.json();
}

const runs = new Map();
function renderRun(run) {
  const open = document.getElementById('run-' + run.id)?.querySelector('details')?.open ?? false;
  const calls = el('ol', { class: 'timeline' }, ...run.toolCalls.map((call) =>
    el('li', {}, '+' + call.atMs + ' ms ' + call.server + '.' + call.tool + ' — ' +
      (call.outcome ? call.outcome + ' in ' + call.durationMs + ' ms' + (call.error ? ': ' + call.error : '') : 'running…'))));
  const details = el('details', { open },
    el('summary', {},
      el('span', { class: 'status status-' + run.status }, run.status), ' ',
      el('strong', {}, run.id), ' ',
      new Date(run.startedAt).toLocaleTimeString(), ' ',
      run.durationMs !== undefined ? Math.round(run.durationMs) + ' ms' : '', ' ',
      run.toolCalls.length ? run.toolCalls.length + ' tool call(s)' : '',
      run.session ? ' · session ' + String(run.session).slice(0, 8) : ''),
    el('h4', {}, 'Code'), el('pre', { class: 'code' }, run.code),
    run.toolCalls.length ? el('h4', {}, 'Tool calls') : null, run.toolCalls.length ? calls : null,
    run.stdout ? el('h4', {}, 'stdout') : null, run.stdout ? el('pre', { class: 'stdout' }, run.stdout) : null,
    run.stderr ? el('h4', {}, 'stderr') : null, run.stderr ? el('pre', { class: 'stderr' }, run.stderr) : null,
    run.error ? el('h4', {}, 'error') : null, run.error ? el('pre', { class: 'error' }, run.error) : null);
  const item = el('li', { class: 'run', id: 'run-' + run.id, 'data-status': run.status }, details);
  const existing = document.getElementById('run-' + run.id);
  if (existing) existing.replaceWith(item); else $('#runs').prepend(item);
  runs.set(run.id, run);
}

async function loadState() {
  const state = await getJson('/console/api/state');
  $('#version').textContent = 'v' + state.version;
  const rows = [
    ['Sandbox', state.sandbox.backend],
    ['Pool', state.sandbox.ready + ' ready, ' + state.sandbox.starting + ' starting, ' + state.sandbox.inUse + ' running (target ' + state.sandbox.target + ')'],
    ['MCP sessions', state.http.sessions.length + ' of ' + state.http.maxSessions + (state.http.sessions.length ? ' (' + state.http.sessions.map((s) => (s.client || '?') + (s.inFlight ? ' busy' : '')).join(', ') + ')' : '')],
    ['Auth', state.http.auth],
    ['Policy', state.policy || 'none'],
    ['Telemetry', state.telemetry],
  ];
  $('#state').replaceChildren(...rows.flatMap(([key, value]) => [el('dt', {}, key), el('dd', {}, String(value))]));
  $('#servers tbody').replaceChildren(...state.servers.map((server) =>
    el('tr', {}, el('td', {}, server.name), el('td', {}, server.alias),
      el('td', {}, server.connected ? 'connected' : 'not connected'), el('td', {}, server.policy || ''))));
}

async function search(event) {
  event?.preventDefault();
  const query = $('#search').value.trim();
  $('#hits').replaceChildren(el('li', {}, 'searching…'));
  const answer = await getJson('/console/api/search?q=' + encodeURIComponent(query) + '&limit=10');
  if (answer.error) { $('#hits').replaceChildren(el('li', {}, answer.error)); return; }
  $('#hits').replaceChildren(...(answer.hits.length ? answer.hits.map((hit) => el('li', { class: 'hit' },
    el('strong', {}, hit.server + '.' + hit.tool), ' ', el('span', { class: 'hint' }, 'score ' + hit.score.toFixed(2)),
    el('code', { class: 'sig' }, 'mcp_' + hit.alias + '.' + hit.signature.replace(/^async def /, '')),
    hit.description ? el('div', {}, hit.description.slice(0, 400)) : null)) : [el('li', {}, 'no tools match')]));
}

async function tryIt(event) {
  event.preventDefault();
  $('#try-run').disabled = true;
  $('#try-result').textContent = 'running…';
  try {
    const servers = $('#try-servers').value.split(',').map((s) => s.trim()).filter(Boolean);
    const outcome = await getJson('/console/api/run', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-codemode-console': '1' },
      body: JSON.stringify({ code: $('#code').value, servers }),
    });
    $('#try-result').textContent = [outcome.status, outcome.stdout, outcome.stderr, outcome.error].filter(Boolean).join('\\n');
  } finally {
    $('#try-run').disabled = false;
  }
}

function connect() {
  const source = new EventSource('/console/api/events');
  source.addEventListener('open', () => { $('#live').textContent = 'live'; });
  source.addEventListener('error', () => { $('#live').textContent = 'reconnecting…'; });
  source.addEventListener('run', (event) => { renderRun(JSON.parse(event.data)); void loadState(); });
}

async function start() {
  $('#search-form').addEventListener('submit', search);
  $('#try-form').addEventListener('submit', tryIt);
  const { runs: recent } = await getJson('/console/api/runs');
  for (const run of recent.reverse()) renderRun(run);
  await loadState();
  connect();
  setInterval(loadState, 5000);
  document.body.dataset.ready = 'true';
}
void start();
`;

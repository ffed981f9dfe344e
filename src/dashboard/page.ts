/**
 * The dashboard's one page: HTML, CSS and script inline (nothing is fetched from elsewhere: a
 * dashboard often runs where no CDN is reachable). It reads the JSON API, follows
 * /api/stream for status and /api/task/<id>/stream for one task's events, and draws the
 * machines' state trees as nested boxes, the live states highlighted.
 */
export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>task-swarm dashboard</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:13px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d232b;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{font-size:16px;margin:0}
header .stat b{font-size:15px}
main{display:grid;grid-template-columns:1fr 1fr;gap:12px;padding:12px}
section{background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:8px 12px;overflow:auto}
section.wide{grid-column:1 / span 2}
h2{font-size:14px;margin:4px 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eef0f3;white-space:nowrap;font-variant-numeric:tabular-nums}
td.last-event,td.limit{white-space:normal;min-width:10em}
tr.pick{cursor:pointer} tr.pick:hover{background:#eef4ff}
.alive,.active{color:#16794a;font-weight:600}.silent{color:#b26b00;font-weight:600}.dead{color:#b3261e;font-weight:600}
.chart{display:flex;flex-wrap:wrap;gap:4px}
.st{border:1px solid #b9c0ca;border-radius:5px;padding:2px 5px;margin:2px;background:#fff;font-size:11px}
.st.compound>.name{font-weight:600}
.st.final{border-style:double;border-width:3px}
.st.on{background:#ffe9a8;border-color:#d49b00;box-shadow:0 0 0 2px #ffd45c}
.st .who{font-size:10px;color:#7a4b00}
#events{max-height:220px;overflow:auto;font-family:ui-monospace,monospace;font-size:12px;background:#fafbfc;border:1px solid #eef0f3;padding:4px}
button{font-size:12px;margin-right:4px}
.muted{color:#6b7480}
#msg{padding:0 16px;color:#b3261e}
#stats.stale{opacity:.45}
pre{white-space:pre-wrap;margin:2px 0}
</style></head><body>
<header><h1>task-swarm</h1><span id="stats" class="stat"></span>
<span style="margin-left:auto"><span id="mode" class="muted"></span>
<label>token <input id="token" type="password" size="18" autocomplete="off"></label></span></header>
<div id="msg" role="alert"></div>
<main>
<section class="wide"><h2>Workers</h2><table id="workers"><thead><tr><th>address</th><th>health</th><th>machine state</th><th>tasks</th><th>functions</th><th>heartbeat</th></tr></thead><tbody></tbody></table></section>
<section class="wide"><h2>Worker statechart <span class="muted">(from machines/worker.ts; live workers' states highlighted)</span></h2><div id="chart-worker"></div></section>
<section><h2>Tasks</h2>
<div><select id="list"><option>running</option><option>queued</option><option>delayed</option><option>ended</option></select>
<input id="fn" placeholder="function filter" size="12"> <input id="search" placeholder="task id" size="16"><button id="go">open</button>
<button id="prev">&lt;</button><button id="next">&gt;</button> <span id="page" class="muted"></span></div>
<table id="tasks"><thead><tr><th>id</th><th>state</th><th>function</th><th>worker</th><th>attempt</th><th>age</th><th>last event</th></tr></thead><tbody></tbody></table></section>
<section><h2>Task <span id="task-id" class="muted">(pick one)</span></h2>
<div id="task-actions"><button id="stop">stop</button><button id="reload">reload</button><button id="cancel">cancel</button>
<input id="ev-name" placeholder="event name" size="10"><input id="ev-data" placeholder="JSON data" size="10"><button id="send">send event</button></div>
<div id="task-info"></div><h2>Events</h2><div id="events"></div>
<h2>Task statechart <span class="muted">(machines/task.ts; its worker's live machine state while it runs, else the state its hash stores)</span> <span id="machine-state" class="muted"></span></h2><div id="chart-task"></div></section>
<section><h2>Dead letters</h2><table id="dead"><thead><tr><th>key</th><th>reason</th><th>task</th><th>at</th><th></th></tr></thead><tbody></tbody></table></section>
<section><h2>Limits and schedules</h2><table id="limits"><tbody></tbody></table><table id="schedules"><tbody></tbody></table></section>
<section class="wide"><h2>Monitors</h2><table id="monitors"><thead><tr><th>name</th><th>health</th><th>last sweep</th></tr></thead><tbody></tbody></table>
<h2>Monitor statechart <span class="muted">(machines/monitor.ts; monitors that sweep highlighted in active: the state they sweep in)</span></h2><div id="chart-monitor"></div></section>
</main>
<script>
'use strict';
const $ = (s) => document.querySelector(s);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
// a limit in words (its stored JSON ran past the card); a value claims ignore says so
const limitText = (l) => l.invalid !== undefined ? 'not a limit (claims ignore it): ' + l.invalid
  : [l.concurrency != null ? 'at most ' + l.concurrency + ' at once' : '', l.rate ? 'at most ' + l.rate.max + ' starts per ' + l.rate.per + ' ms' : ''].filter(Boolean).join(', ');
const ago = (ms, now) => ms == null ? '' : Math.max(0, Math.round(((now ?? Date.now()) - ms) / 1000)) + 's';
const tokenInput = $('#token');
tokenInput.value = sessionStorage.getItem('task-swarm-token') || '';
// a link may carry the token after '#' (which no request sends): kept, and taken out of the address bar
const linked = new URLSearchParams(location.hash.slice(1)).get('token');
if (linked) { tokenInput.value = linked; sessionStorage.setItem('task-swarm-token', linked); window.history.replaceState(null, '', location.pathname + location.search); }
tokenInput.addEventListener('change', () => sessionStorage.setItem('task-swarm-token', tokenInput.value));
let machines = null, status = null, current = null, taskStream = null, from = '0', history = [];
/** the open task: the state its hash stores, and its machine's live state (machine-state events) */
let taskState = null, liveState = null;
const say = (t) => { $('#msg').textContent = t || ''; };

async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', 'x-task-swarm': '1', authorization: 'Bearer ' + tokenInput.value }, body: JSON.stringify(body || {}) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) { say(path + ': ' + r.status + ' ' + (j.error || '')); throw new Error(j.error); }
  say('');
  return j;
}

/** the paths a state value is in: 'a' -> [a]; {a: 'b'} -> [a, a.b] */
function paths(v, pre) {
  if (typeof v === 'string') return [pre + v];
  if (!v || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, c]) => [pre + k, ...paths(c, pre + k + '.')]);
}

function drawTree(node, marks) {
  const who = marks[node.path] || [];
  const cls = 'st ' + node.type + (who.length ? ' on' : '');
  const kids = node.children.map((c) => drawTree(c, marks)).join('');
  return '<div class="' + cls + '" data-path="' + esc(node.path) + '"><span class="name">' + esc(node.key) + (node.initial ? '' : '') + '</span>' +
    (who.length ? ' <span class="who">' + esc(who.join(', ')) + '</span>' : '') + (kids ? '<div class="chart">' + kids + '</div>' : '') + '</div>';
}
function drawChart(el, tree, marks) { el.innerHTML = '<div class="chart">' + tree.children.map((c) => drawTree(c, marks)).join('') + '</div>'; }

// (what the page said of Redis not answering: cleared once it answers, the counts marked old meanwhile)
let outage = false;
function renderStatus(s) {
  status = s;
  $('#stats').classList.toggle('stale', !!s.error);
  if (s.error) { outage = true; return say('status: ' + s.error); }
  if (outage) { outage = false; say(''); }
  const st = s.stats;
  // (labelled as task-swarm status labels them: "queued" here read as the sum of the functions' queued)
  $('#stats').innerHTML = [['queued', 'incoming'], ['tasks', 'claimed'], ['workers', 'workers'], ['dead', 'dead'], ['ended', 'ended (manual_end)']].map(([k, label]) => '<span class="stat">' + label + ' <b id="stat-' + k + '">' + esc(st[k]) + '</b></span> ').join('') + (st.paused ? ' <b>PAUSED</b>' : '');
  $('#mode').textContent = s.readOnly ? 'read-only' : s.canAct ? '' : 'no token set: read-only';
  const marks = Object.create(null);
  $('#workers tbody').innerHTML = s.workers.map((w) => {
    // a dead worker's last state is no live state: not highlighted
    if (w.health === 'alive') for (const p of paths(w.state, '')) (marks[p] ||= []).push(w.address);
    // (two processes or more under one address: they take each other for themselves as peers)
    const shared = w.processes.length > 1 ? ' <span class="dead" title="' + esc(w.processes.join(', ')) + ': give each worker an address of its own">(' + w.processes.length + ' processes)</span>' : '';
    return '<tr data-worker="' + esc(w.address) + '"><td>' + esc(w.address) + shared + '</td><td class="' + w.health + '">' + w.health + '</td><td class="state">' + esc(w.state === undefined ? '' : JSON.stringify(w.state)) +
      '</td><td>' + w.tasks.map((t) => '<a href="#" data-task="' + esc(t) + '">' + esc(t) + '</a>').join(' ') + '</td><td>' + esc(w.functions.join(', ')) + '</td><td>' + (w.overdueAt == null ? '' : w.overdueAt >= s.now ? 'due within ' + ((w.overdueAt - s.now) / 1000).toFixed(1) + 's' : 'overdue ' + ago(w.overdueAt, s.now)) + '</td></tr>';
  }).join('');
  if (machines) drawChart($('#chart-worker'), machines.worker, marks);
  const sweeping = s.monitors.filter((m) => m.health === 'active').map((m) => m.name);
  $('#monitors tbody').innerHTML = s.monitors.map((m) => '<tr data-monitor="' + esc(m.name) + '"><td>' + esc(m.name) + '</td><td class="' + m.health + '">' + m.health + '</td><td>' + ago(m.lastSweep, s.now) + ' ago</td></tr>').join('') || '<tr><td class="muted">none sweeping</td></tr>';
  if (machines) drawChart($('#chart-monitor'), machines.monitor, sweeping.length ? { active: sweeping } : {});
  $('#dead tbody').innerHTML = s.dead.map((d) => '<tr><td>' + esc(d.key) + '</td><td>' + esc(d.reason) + '</td><td>' + esc(d.id) + '</td><td>' + ago(d.at, s.now) + '</td><td><button data-retry="' + esc(d.key) + '">retry</button><button data-purge="' + esc(d.key) + '">purge</button></td></tr>').join('') || '<tr><td class="muted">none</td></tr>';
  $('#limits tbody').innerHTML = s.limits.map((l) => '<tr><td>limit ' + esc(l.function ? 'function ' + l.function : 'group ' + l.group) + '</td><td class="limit">' + esc(limitText(l)) + '</td><td>running ' + esc(l.running) + '</td></tr>').join('') || '<tr><td class="muted">no limits</td></tr>';
  $('#schedules tbody').innerHTML = s.schedules.map((x) => '<tr><td>schedule ' + esc(x.name) + '</td><td>' + esc(x.fn) + '</td><td>next ' + (x.next ? new Date(x.next).toISOString() : '') + '</td></tr>').join('') || '<tr><td class="muted">no schedules</td></tr>';
}

/** a task's last event: its name, the start of its data, how long ago */
function lastEvent(e, now) {
  if (!e) return '';
  const data = e.data === undefined || e.data === null ? '' : JSON.stringify(e.data);
  return esc(e.event) + (data ? ' <span class="muted">' + esc(data.length > 24 ? data.slice(0, 23) + '\u2026' : data) + '</span>' : '') + ' ' + ago(e.at, now) + ' ago';
}

async function loadTasks() {
  const list = $('#list').value;
  const r = await fetch('api/tasks?list=' + list + '&from=' + encodeURIComponent(from) + '&limit=25').then((x) => x.json());
  // (while the status says Redis is away, that is the line shown, not each list's failure)
  if (r.error) { if (!status?.error) { outage = true; say(r.error); } return; }
  const fn = $('#fn').value.trim();
  const now = status?.now;
  $('#tasks tbody').innerHTML = r.rows.filter((t) => !fn || t.function === fn).map((t) => '<tr class="pick" data-task="' + esc(t.id) + '"><td>' + esc(t.id) + '</td><td>' + esc(t.state) + (t.outcome ? ' ' + esc(t.outcome) : '') + '</td><td>' + esc(t.function) + '</td><td>' + esc(t.worker) + '</td><td>' + esc(t.attempt) + '</td><td>' + ago(t.start ?? t.score, now) + '</td><td class="last-event">' + lastEvent(t.lastEvent, now) + '</td></tr>').join('');
  $('#page').textContent = r.total + ' ' + list;
  $('#next').dataset.next = r.next ?? '';
}

async function openTask(id) {
  current = id;
  taskState = liveState = null;
  drawTaskChart();
  $('#task-id').textContent = id;
  $('#events').innerHTML = '';
  if (taskStream) taskStream.close();
  taskStream = new EventSource('api/task/' + encodeURIComponent(id) + '/stream');
  taskStream.addEventListener('task', (m) => {
    const ev = JSON.parse(m.data);
    // the machine's state, published while this page watches: drawn, not listed
    if (ev.event === 'machine-state') {
      if (ev.data && ev.data.id === current) { liveState = ev.data.value; drawTaskChart(); }
      return;
    }
    if (ev.event === 'end' || ev.event === 'requeued' || ev.event === 'retrying') { liveState = null; drawTaskChart(); }
    const line = document.createElement('div');
    line.className = 'event';
    line.textContent = new Date(ev.at || Date.now()).toISOString().slice(11, 23) + ' ' + ev.event + ' ' + JSON.stringify(ev.data ?? null);
    $('#events').prepend(line);
    refreshTask();
  });
  taskStream.addEventListener('refused', (m) => {
    const line = document.createElement('div');
    line.className = 'event';
    line.textContent = 'events not shown: ' + JSON.parse(m.data).error;
    $('#events').prepend(line);
  });
  await refreshTask();
}

async function refreshTask() {
  if (!current) return;
  const r = await fetch('api/task/' + encodeURIComponent(current));
  const t = await r.json();
  if (!r.ok) { $('#task-info').innerHTML = '<span class="muted">' + esc(t.error) + '</span>'; return; }
  const rows = [['state', t.state + (t.outcome ? ' (' + t.outcome + ')' : '')], ['function', t.function], ['worker', t.worker], ['attempt', t.attempt], ['data', JSON.stringify(t.data)],
    ['result', t.result === undefined ? '' : JSON.stringify(t.result)], ['error', t.error ? t.error.message : '']];
  $('#task-info').innerHTML = '<table id="task-table">' + rows.map(([k, v]) => '<tr><th>' + k + '</th><td class="f-' + k + '">' + esc(v) + '</td></tr>').join('') + '</table>' +
    (t.history ? '<h2>Attempts</h2><table>' + t.history.map((h) => '<tr><td>#' + h.attempt + '</td><td>' + esc(h.worker) + '</td><td>' + esc(h.outcome) + '</td><td>' + esc(h.reason || h.error?.message || '') + '</td></tr>').join('') + '</table>' : '');
  taskState = t.state;
  if (t.state !== 'RUNNING') liveState = null;
  drawTaskChart();
}

function drawTaskChart() {
  $('#machine-state').textContent = liveState ? 'live: ' + paths(liveState, '').pop() : '';
  if (!machines) return;
  const marks = Object.create(null);
  if (liveState) for (const p of paths(liveState, '')) marks[p] = [current];
  else if (taskState === 'RUNNING' || taskState === 'END') marks[taskState] = [current];
  drawChart($('#chart-task'), machines.task, marks);
}

document.addEventListener('click', async (e) => {
  const el = e.target.closest('[data-task],[data-retry],[data-purge]');
  if (!el) return;
  e.preventDefault();
  try {
    if (el.dataset.task) await openTask(el.dataset.task);
    else if (el.dataset.retry) await post('api/dead/retry', { key: el.dataset.retry });
    else await post('api/dead/purge', { key: el.dataset.purge });
  } catch {}
});
const act = (f) => async () => { if (!current) return say('pick a task first'); try { await f(); } catch {} };
// (a stop that found the task not running says what it did instead)
const STOP_SAID = { cancelled: 'it was between two attempts: cancelled, its next attempt will not run', waiting: 'it is not running yet: nothing done (cancel removes it)', ended: 'it had ended: nothing done' };
$('#stop').onclick = act(async () => { const j = await post('api/task/' + encodeURIComponent(current) + '/control', { message: 'stop' }); say(STOP_SAID[j.result] || ''); });
$('#reload').onclick = act(() => post('api/task/' + encodeURIComponent(current) + '/control', { message: 'reload' }));
$('#cancel').onclick = act(() => post('api/task/' + encodeURIComponent(current) + '/cancel'));
$('#send').onclick = act(() => { let data = null; try { data = $('#ev-data').value ? JSON.parse($('#ev-data').value) : null; } catch { return say('event data must be JSON'); } return post('api/task/' + encodeURIComponent(current) + '/control', { message: { event_name: $('#ev-name').value, event: data } }); });
$('#go').onclick = () => $('#search').value.trim() && openTask($('#search').value.trim());
$('#list').onchange = () => { from = '0'; history = []; loadTasks(); };
$('#fn').oninput = () => loadTasks();
$('#next').onclick = () => { if ($('#next').dataset.next) { history.push(from); from = $('#next').dataset.next; loadTasks(); } };
$('#prev').onclick = () => { if (history.length) { from = history.pop(); loadTasks(); } };

(async () => {
  machines = await fetch('api/machines').then((r) => r.json());
  drawChart($('#chart-task'), machines.task, {});
  renderStatus(await fetch('api/overview').then((r) => r.json()));
  loadTasks();
  const es = new EventSource('api/stream');
  es.addEventListener('status', (m) => { renderStatus(JSON.parse(m.data)); loadTasks(); if (current) refreshTask(); });
  // the dashboard itself gone (stopped, restarted): said, and the counts marked old, until a status
  // arrives again (EventSource reconnects on its own); they once stayed shown as current, nothing said
  es.addEventListener('error', () => { outage = true; $('#stats').classList.add('stale'); say('lost the dashboard at ' + location.host + ': the counts shown are the last read; reconnecting'); });
})();
</script></body></html>
`;

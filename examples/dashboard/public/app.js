// The dashboard page: the state comes from the application (GET /api/state),
// changes come live from fanoutd through @fanoutd/client and are applied
// with the same reducer the backend uses. After a gap (recovered:false, as
// after a daemon restart) bindQueries invalidates the state query and the
// page refetches it: the ADR-004 pattern.

import { bindQueries, FanoutClient } from '/client/index.js';
import { applyEvent } from '/model.js';

const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

let state = { projects: [] };
// What tests read: render latencies (publish to painted frame), refetches,
// events applied, and every subscribed reply's channel and recovered flag.
window.dashboard = { latencies: [], refetches: 0, events: 0, subscribed: [] };

// A minimal query cache with TanStack's invalidateQueries({queryKey}) shape.
const queries = {
  state: async () => (await fetch('/api/state', { cache: 'no-store' })).json(),
};
let refetching = null;
const queryClient = {
  invalidateQueries({ queryKey }) {
    if (queryKey[0] !== 'state' || refetching) return;
    refetching = queries.state().then((s) => {
      state = s;
      window.dashboard.refetches++;
      syncSubscriptions();
      renderAll();
    }).finally(() => { refetching = null; });
  },
};

const { wsUrl } = await (await fetch('/config')).json();
// The tabs of the dashboard share one connection (the client's default);
// ?shared=off gives this tab its own, which DevTools shows in the page's
// own network panel rather than the SharedWorker's.
const shared = new URLSearchParams(location.search).get('shared') !== 'off';
const client = new FanoutClient({ url: wsUrl, getToken: async () => (await fetch('/token')).text(), shared });

client.onState(({ state: s, transport }) => {
  const el = $('#conn');
  el.dataset.state = s;
  el.textContent = s === 'open' ? `live (${transport})` : s;
});

// project:<id> channels, one per project, each bound to the state query.
const bound = new Map();
function syncSubscriptions() {
  const ids = new Set(state.projects.map((p) => p.id));
  for (const [id, unbind] of bound) if (!ids.has(id)) { unbind(); bound.delete(id); }
  for (const id of ids) {
    if (bound.has(id)) continue;
    const unsubscribe = client.subscribe(`project:${id}`, onEvent);
    const unbind = bindQueries(client, queryClient, {
      channel: `project:${id}`,
      queryKeys: [['state']], // a gap in any project's events: refetch the state
      on: {}, // events are applied in place, not refetched
    });
    bound.set(id, () => { unsubscribe(); unbind(); });
  }
}

// The list of projects: created and deleted ones.
client.subscribe('projects', (e) => onEvent({ ...e, projectId: e.payload.projectId }), {
  onSubscribed: ({ recovered }) => { if (recovered === false) queryClient.invalidateQueries({ queryKey: ['state'] }); },
});

// A first subscribe (no recovered field) may come after events the state
// fetched earlier did not have yet: refetch once it is in place.
client.on('subscribed', (m) => {
  window.dashboard.subscribed.push({ channel: m.channel, recovered: m.recovered });
  if (m.recovered === undefined) queryClient.invalidateQueries({ queryKey: ['state'] });
});

function onEvent(e) {
  window.dashboard.events++;
  applyEvent(state, e);
  syncSubscriptions();
  const card = renderProject(e.projectId);
  logEvent(e);
  const sentAt = e.payload?.sentAt;
  requestAnimationFrame(() => {
    card?.querySelector(`[data-story="${CSS.escape(e.payload?.storyId ?? '')}"]`)?.classList.add('flash');
    if (typeof sentAt === 'number') {
      const ms = Date.now() - sentAt;
      window.dashboard.latencies.push({ type: e.type, storyId: e.payload?.storyId, status: e.payload?.status, ms });
      $('#latency').textContent = `publish → render ${ms} ms`;
    }
  });
}

function projectHTML(p) {
  const stories = p.stories.map((s) => `
    <li class="story" data-story="${esc(s.id)}">
      <span class="tag">${esc(s.id)}</span>
      <span class="title">${esc(s.title)}</span>
      ${s.agent ? `<span class="tag">⚙ ${esc(s.agent)}</span>` : ''}
      ${s.pr ? `<span class="tag">PR #${esc(s.pr.n)}${s.pr.merged ? ' ✔' : ''}</span>` : ''}
      <span class="status" data-status="${esc(s.status)}">${esc(s.status)}</span>
    </li>`).join('');
  const open = p.escalations.filter((e) => e.status === 'open');
  return `
    <h3>${esc(p.name)}</h3>
    <div class="phase">phase: <span data-phase>${esc(p.phase)}</span></div>
    <ul class="stories">${stories}</ul>
    ${open.map((e) => `<div class="escalation">⚑ ${esc(e.question)}</div>`).join('')}
    ${p.errors.map((m) => `<div class="error">✖ ${esc(m)}</div>`).join('')}`;
}

function renderProject(id) {
  const p = state.projects.find((x) => x.id === id);
  let card = document.querySelector(`[data-project="${CSS.escape(id ?? '')}"]`);
  if (!p) { card?.remove(); return null; }
  if (!card) {
    card = document.createElement('article');
    card.className = 'project';
    card.dataset.project = id;
    $('#projects').append(card);
  }
  card.innerHTML = projectHTML(p);
  return card;
}

function renderAll() {
  $('#projects').replaceChildren();
  for (const p of state.projects) renderProject(p.id);
}

function logEvent(e) {
  const li = document.createElement('li');
  li.textContent = `${e.type} ${e.channel} #${e.offset} ${JSON.stringify(e.payload ?? {})}`;
  $('#log').prepend(li);
  while ($('#log').children.length > 50) $('#log').lastChild.remove();
}

state = await queries.state();
syncSubscriptions();
renderAll();
client.connect();

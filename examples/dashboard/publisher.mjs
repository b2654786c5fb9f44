// The demo's publisher: every few seconds it makes one plausible change to
// the projects (a story moves on, an agent starts, a PR merges, an
// escalation is raised or answered, a phase changes, a workflow fails, now
// and then a project comes or goes) through the backend, which publishes it
// over fanoutd's Unix socket.
//
// Standalone, with its own state: node publisher.mjs --socket ./fanoutd.sock [--every 1500]

import { parseArgs } from 'node:util';
import { createBackend } from './backend.mjs';
import { PHASES, STATUSES } from './public/model.js';

const AGENTS = ['dev-agent', 'review-agent', 'test-agent'];
const NAMES = ['Dorado: audit log', 'Eridanus: SSO', 'Fornax: exports'];

/** The next change for state: [type, projectId, payload], or null when none applies. */
export function nextChange(state, random = Math.random) {
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const p = pick(state.projects);
  const roll = random();
  if (!p || roll < 0.03) {
    if (state.projects.length >= 5) return ['project.deleted', state.projects.at(-1).id, {}];
    const n = state.projects.length;
    const id = `p${Date.now().toString(36)}`;
    const stories = ['Kick-off', 'Spike', 'First cut'].map((title, j) => ({
      id: `${n + 1}-${j + 1}`, title, status: 'backlog', agent: null, pr: null,
    }));
    return ['project.created', id, { name: pick(NAMES), phase: PHASES[0], stories }];
  }
  const s = pick(p.stories);
  const open = p.escalations.find((e) => e.status === 'open');
  switch (true) {
    case roll < 0.5: {
      const i = STATUSES.indexOf(s.status);
      return ['story.status.changed', p.id, { storyId: s.id, status: STATUSES[(i + 1) % STATUSES.length] }];
    }
    case roll < 0.62: return s.agent
      ? ['agent.completed', p.id, { storyId: s.id, agent: s.agent }]
      : ['agent.started', p.id, { storyId: s.id, agent: pick(AGENTS) }];
    case roll < 0.74: return s.pr && !s.pr.merged
      ? ['pr.merged', p.id, { storyId: s.id, pr: s.pr.n }]
      : ['pr.created', p.id, { storyId: s.id, pr: 100 + Math.floor(random() * 900) }];
    case roll < 0.84: return open
      ? ['escalation.responded', p.id, { escalationId: open.id }]
      : ['escalation.created', p.id, { escalationId: `e${Date.now().toString(36)}`, question: `Which API for ${s.title}?` }];
    case roll < 0.9: return ['project.phase.changed', p.id, { phase: PHASES[(PHASES.indexOf(p.phase) + 1) % PHASES.length] }];
    case roll < 0.95: return ['project.updated', p.id, { name: p.name.replace(/ \(v\d+\)$/, '') + ` (v${2 + Math.floor(random() * 8)})` }];
    default: return ['workflow.error', p.id, { message: `${s.title}: test run failed` }];
  }
}

/** Makes a change every everyMs until the returned stop() is called. */
export function startPublisher(backend, everyMs = 1500, random = Math.random) {
  const timer = setInterval(() => {
    const c = nextChange(backend.state, random);
    if (c) backend.change(...c);
  }, everyMs);
  return () => clearInterval(timer);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { socket: { type: 'string' }, every: { type: 'string', default: '1500' } } });
  if (!values.socket) {
    console.error('usage: node publisher.mjs --socket PATH [--every MS]');
    process.exit(2);
  }
  startPublisher(createBackend({ socketPath: values.socket }), Number(values.every));
  console.log(`publishing a change every ${values.every} ms to ${values.socket}; Ctrl-C stops`);
}

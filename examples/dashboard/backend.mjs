// The demo's application backend: it owns the projects and stories, changes
// them, and publishes each change to fanoutd over its Unix socket as an
// ADR-004 event. The page reads the whole state from GET /api/state (its
// refetch after recovered:false) and the changes live from fanoutd.

import http from 'node:http';
import { applyEvent, PHASES } from './public/model.js';

const SEED = [
  ['atlas', 'Atlas: billing revamp', ['Invoice PDFs', 'Tax rules', 'Dunning e-mails', 'Refund flow']],
  ['borealis', 'Borealis: mobile onboarding', ['Sign-up screens', 'Push consent', 'Deep links', 'A/B harness']],
  ['cygnus', 'Cygnus: search', ['Indexer', 'Query parser', 'Typo tolerance', 'Facets', 'Ranking tests']],
];

/** The first state: three projects with their stories in the backlog. */
export function seedState() {
  return {
    projects: SEED.map(([id, name, titles], i) => ({
      id,
      name,
      phase: PHASES[i % PHASES.length],
      stories: titles.map((title, j) => ({ id: `${i + 1}-${j + 1}`, title, status: 'backlog', agent: null, pr: null })),
      escalations: [],
      errors: [],
    })),
  };
}

/** POST /v1/publish over the Unix socket; resolves to the HTTP status (0 when the daemon is down). */
export function publishEvent(socketPath, event) {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/v1/publish', method: 'POST', agent: false,
      headers: { 'Content-Type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(JSON.stringify(event));
  });
}

/**
 * The backend: state, and change(type, projectId, payload), which applies
 * the change and publishes it (project.created and project.deleted also on
 * the "projects" channel, which lists them). A change made while fanoutd is
 * down is kept in the state and reaches the page by its refetch.
 */
export function createBackend({ socketPath, state = seedState() }) {
  return {
    state,
    async change(type, projectId, payload = {}) {
      const body = { ...payload, sentAt: Date.now() };
      applyEvent(state, { type, projectId, payload: body });
      const events = [{ projectId, type, payload: body }];
      if (type === 'project.created' || type === 'project.deleted') events.push({ channel: 'projects', type, payload: { ...body, projectId } });
      return publishEvent(socketPath, events);
    },
  };
}

// The Agent Orchestrator dashboard's backend (ADR-004), with fanoutd doing
// the WebSocket side: the REST API stays in Fastify, and every change is
// published to fanoutd, which fans it out to the browsers subscribed to
// project:<id> (and to "projects" for the list). The backend keeps no
// WebSocket, no connection state and no heartbeat of its own.

import Fastify from 'fastify';
import { InvalidEventsError, Publisher, mintToken } from '@fanoutd/publish';

const STATUSES = ['backlog', 'ready', 'in-progress', 'review', 'done'];

/** The seed state: what the dashboard shows before anything happens. */
export function seed() {
  return new Map([
    ['abc-123', {
      id: 'abc-123', name: 'Billing revamp', phase: 'implementation',
      stories: [{ id: '6-5', title: 'Invoice PDFs', status: 'in-progress' }, { id: '6-6', title: 'Tax rules', status: 'backlog' }],
      escalations: [],
    }],
  ]);
}

/**
 * buildApp returns the Fastify instance. publisher is a @fanoutd/publish
 * Publisher; tokenSecret is fanoutd's auth.hmac_secret, with which GET
 * /api/token mints the browser's token (in production: after your own
 * authentication, with the user's id as sub).
 */
export function buildApp({ publisher, tokenSecret, projects = seed(), logger = false }) {
  const app = Fastify({ logger });

  // ADR-004's eventService.emit({type, projectId, payload}), now one call.
  // The request's Idempotency-Key, when the browser sends one, makes a
  // retried PATCH publish once; otherwise the library makes a key per call.
  async function emit(req, event) {
    const idempotencyKey = req.headers['idempotency-key'];
    const events = [{ projectId: event.projectId, type: event.type, payload: event.payload, idempotencyKey }];
    if (event.type.startsWith('project.')) events.push({ channel: 'projects', type: event.type, payload: { projectId: event.projectId, ...event.payload } });
    try {
      return await publisher.publishBatch(events);
    } catch (err) {
      if (err instanceof InvalidEventsError) throw err; // our bug: let Fastify answer 500
      // fanoutd down or the broker unavailable after the retries: the change is
      // saved, and browsers refetch the state when they resubscribe
      // (recovered: false), so the request still succeeds.
      req.log.warn({ err: err.message, attempts: err.attempts }, 'event not published');
      return null;
    }
  }

  app.get('/api/projects', async () => [...projects.values()]);

  app.get('/api/projects/:id', async (req, reply) => projects.get(req.params.id) ?? reply.code(404).send({ error: 'no such project' }));

  app.patch('/api/projects/:id/stories/:storyId', {
    schema: { body: { type: 'object', required: ['status'], properties: { status: { enum: STATUSES } } } },
  }, async (req, reply) => {
    const story = projects.get(req.params.id)?.stories.find((s) => s.id === req.params.storyId);
    if (!story) return reply.code(404).send({ error: 'no such story' });
    story.status = req.body.status;
    const published = await emit(req, { type: 'story.status.changed', projectId: req.params.id, payload: { storyId: story.id, status: story.status } });
    return { story, position: published?.positions[0] ?? null };
  });

  app.post('/api/projects/:id/escalations', {
    schema: { body: { type: 'object', required: ['question'], properties: { question: { type: 'string' } } } },
  }, async (req, reply) => {
    const project = projects.get(req.params.id);
    if (!project) return reply.code(404).send({ error: 'no such project' });
    const escalation = { id: `e${project.escalations.length + 1}`, question: req.body.question, status: 'open' };
    project.escalations.push(escalation);
    await emit(req, { type: 'escalation.created', projectId: project.id, payload: { escalationId: escalation.id, question: escalation.question } });
    return reply.code(201).send(escalation);
  });

  // The browser's fanoutd token: the channels of the projects it may see.
  app.get('/api/token', async (req) => ({
    token: mintToken(tokenSecret, { sub: String(req.query.user ?? 'demo-user'), channels: ['project:*', 'projects'], ttlSeconds: 600 }),
  }));

  app.addHook('onClose', async () => publisher.close());
  return app;
}

/** The publisher from the environment: FANOUTD_SOCKET, or FANOUTD_URL with FANOUTD_API_KEY. */
export function publisherFromEnv(env = process.env) {
  return env.FANOUTD_URL
    ? new Publisher({ url: env.FANOUTD_URL, apiKey: env.FANOUTD_API_KEY })
    : new Publisher({ socketPath: env.FANOUTD_SOCKET ?? '/run/fanoutd/fanoutd.sock' });
}

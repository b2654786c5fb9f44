// The dashboard's state and the one reducer both sides use: the backend
// applies a change and publishes it as an ADR-004 event; the page applies
// the same event to its copy. Plain data, no DOM, no Node.

export const STATUSES = ['backlog', 'in-progress', 'review', 'done'];
export const PHASES = ['analysis', 'planning', 'solutioning', 'implementation'];

/** The event types of ADR-004. */
export const EVENT_TYPES = [
  'project.created', 'project.updated', 'project.phase.changed', 'project.deleted',
  'story.status.changed',
  'escalation.created', 'escalation.responded',
  'agent.started', 'agent.completed',
  'pr.created', 'pr.merged',
  'workflow.error',
];

/** The project a change is about; undefined when gone. */
export const findProject = (state, id) => state.projects.find((p) => p.id === id);

const findStory = (project, id) => project?.stories.find((s) => s.id === id);

const reducers = {
  'project.created': (s, id, p) => {
    if (!findProject(s, id)) {
      s.projects.push({ id, name: p.name, phase: p.phase ?? PHASES[0], stories: p.stories ?? [], escalations: [],
        errors: [] });
    }
  },
  'project.updated': (s, id, p) => { const pr = findProject(s, id); if (pr && p.name) pr.name = p.name; },
  'project.phase.changed': (s, id, p) => { const pr = findProject(s, id); if (pr) pr.phase = p.phase; },
  'project.deleted': (s, id) => { s.projects = s.projects.filter((pr) => pr.id !== id); },
  'story.status.changed': (s, id, p) => { const st = findStory(findProject(s, id), p.storyId); if (st) st.status = p.status; },
  'escalation.created': (s, id, p) => {
    findProject(s, id)?.escalations.push({ id: p.escalationId, question: p.question, status: 'open' });
  },
  'escalation.responded': (s, id, p) => {
    const e = findProject(s, id)?.escalations.find((x) => x.id === p.escalationId);
    if (e) e.status = 'answered';
  },
  'agent.started': (s, id, p) => { const st = findStory(findProject(s, id), p.storyId); if (st) st.agent = p.agent; },
  'agent.completed': (s, id, p) => { const st = findStory(findProject(s, id), p.storyId); if (st) st.agent = null; },
  'pr.created': (s, id, p) => { const st = findStory(findProject(s, id), p.storyId); if (st) st.pr = { n: p.pr, merged: false }; },
  'pr.merged': (s, id, p) => { const st = findStory(findProject(s, id), p.storyId); if (st?.pr) st.pr.merged = true; },
  'workflow.error': (s, id, p) => {
    const pr = findProject(s, id);
    if (pr) pr.errors = [p.message, ...pr.errors].slice(0, 3);
  },
};

/** Applies an event ({type, projectId, payload}) to state in place; unknown types change nothing. */
export function applyEvent(state, { type, projectId, payload }) {
  reducers[type]?.(state, projectId, payload ?? {});
  return state;
}

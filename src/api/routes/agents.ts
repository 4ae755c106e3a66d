// /api/v1/agents: list agents, and mint registration tokens for new ones.
import type { Router } from 'express';
import * as v from 'valibot';
import type { AgentService } from '../../services/agents';
import { principalOf } from '../auth';
import { sendOk } from '../envelope';
import { routeGroup } from '../operations';
import type { Operation } from '../operations';
import { Pagination } from '../validate';

const CreateAgentToken = v.object({
  name: v.optional(v.pipe(v.string('must be a string'), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters')), 'agent'),
});

export function agentRoutes(deps: { agents: AgentService }, registry: Operation[]): Router {
  const g = routeGroup('/api/v1/agents', registry);
  g.add({ method: 'get', path: '/', action: 'read', summary: 'List agents with their status', query: v.object(Pagination) }, async (_req, res, { query }) => {
    sendOk(res, await deps.agents.list(query));
  });
  g.add({ method: 'post', path: '/tokens', action: 'admin', summary: 'Create an agent registration token', body: CreateAgentToken }, async (req, res, { body }) => {
    sendOk(res, await deps.agents.createToken({ name: body.name, createdBy: principalOf(req).name }));
  });
  return g.router;
}

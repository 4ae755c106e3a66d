// /api/v1/agents: list agents, and mint registration tokens for new ones.
import { Router } from 'express';
import * as v from 'valibot';
import type { AgentService } from '../../services/agents';
import { allow, principalOf } from '../auth';
import { sendOk } from '../envelope';
import { Pagination, parseInput } from '../validate';

const CreateToken = v.object({
  name: v.optional(v.pipe(v.string('must be a string'), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters')), 'agent'),
});

export function agentRoutes(deps: { agents: AgentService }): Router {
  const r = Router();
  r.get('/', allow('read'), async (req, res) => {
    sendOk(res, await deps.agents.list(parseInput(v.object(Pagination), req.query, 'query')));
  });
  r.post('/tokens', allow('admin'), async (req, res) => {
    const body = parseInput(CreateToken, req.body);
    sendOk(res, await deps.agents.createToken({ name: body.name, createdBy: principalOf(req).name }));
  });
  return r;
}

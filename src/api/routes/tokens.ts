// /api/v1/tokens: API tokens (admin only). The secret is in the create answer and nowhere else.
import type { Router } from 'express';
import * as v from 'valibot';
import { ROLES } from '../../roles';
import type { TokenService } from '../../services/tokens';
import { sendOk } from '../envelope';
import { routeGroup } from '../operations';
import type { Operation } from '../operations';
import { Pagination } from '../validate';

export const CreateToken = v.object({
  name: v.pipe(v.string('must be a string'), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters')),
  role: v.picklist(ROLES, `must be one of ${ROLES.join(', ')}`),
  projectIds: v.optional(
    v.nullable(
      v.pipe(
        v.array(v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters')), 'must be a list of project ids'),
        v.maxLength(100, 'must list at most 100 projects'),
      ),
    ),
  ),
  expiresAt: v.optional(
    v.nullable(
      v.pipe(
        v.string('must be an ISO-8601 time'),
        v.isoTimestamp('must be an ISO-8601 time such as 2030-01-01T00:00:00Z'),
        v.transform((s) => new Date(s)),
        v.check((d) => d.getTime() > Date.now(), 'must be in the future'),
      ),
    ),
  ),
});

export function tokenRoutes(deps: { tokens: TokenService }, registry: Operation[]): Router {
  const g = routeGroup('/api/v1/tokens', registry);
  g.add({ method: 'post', path: '/', action: 'admin', summary: 'Create an API token (its secret is in this answer only)', body: CreateToken }, async (_req, res, { body }) => {
    sendOk(res, await deps.tokens.create({ name: body.name, role: body.role, projectIds: body.projectIds ?? null, expiresAt: body.expiresAt ?? null }));
  });
  g.add({ method: 'get', path: '/', action: 'admin', summary: 'List live API tokens', query: v.object(Pagination) }, async (_req, res, { query }) => {
    sendOk(res, await deps.tokens.list(query));
  });
  g.add({ method: 'delete', path: '/:tokenId', action: 'admin', summary: 'Revoke an API token' }, async (req, res) => {
    await deps.tokens.revoke(String(req.params.tokenId));
    sendOk(res);
  });
  return g.router;
}

// /api/v1/approvals/:approvalId/approve|reject
import type { Router } from 'express';
import * as v from 'valibot';
import type { ApprovalService } from '../../services/approvals';
import { principalOf } from '../auth';
import { sendOk } from '../envelope';
import { routeGroup } from '../operations';
import type { Operation } from '../operations';

const Decide = v.object({
  operator: v.optional(v.pipe(v.string('must be a string'), v.maxLength(200, 'must be at most 200 characters'))),
  reason: v.optional(v.pipe(v.string('must be a string'), v.maxLength(2000, 'must be at most 2000 characters'))),
});

export function approvalRoutes(deps: { approvals: ApprovalService }, registry: Operation[]): Router {
  const g = routeGroup('/api/v1/approvals', registry);
  for (const [action, decision] of [
    ['approve', 'approved'],
    ['reject', 'rejected'],
  ] as const) {
    g.add({ method: 'post', path: `/:approvalId/${action}`, action: 'operate', summary: `${action === 'approve' ? 'Approve' : 'Reject'} a waiting approval gate (final)`, body: Decide, conflicts: true }, async (req, res, { body }) => {
      sendOk(res, await deps.approvals.decide(principalOf(req), String(req.params.approvalId), decision, body));
    });
  }
  return g.router;
}

// /api/v1/approvals/:approvalId/approve|reject
import { Router } from 'express';
import type { Request } from 'express';
import * as v from 'valibot';
import type { ApprovalService } from '../../services/approvals';
import { allow, principalOf } from '../auth';
import { sendOk } from '../envelope';
import { parseInput } from '../validate';

const Decide = v.object({
  operator: v.optional(v.pipe(v.string('must be a string'), v.maxLength(200, 'must be at most 200 characters'))),
  reason: v.optional(v.pipe(v.string('must be a string'), v.maxLength(2000, 'must be at most 2000 characters'))),
});

export function approvalRoutes(deps: { approvals: ApprovalService }): Router {
  const r = Router();
  for (const [action, decision] of [
    ['approve', 'approved'],
    ['reject', 'rejected'],
  ] as const) {
    r.post(`/:approvalId/${action}`, allow('operate'), async (req: Request, res) => {
      const body = parseInput(Decide, req.body);
      sendOk(res, await deps.approvals.decide(principalOf(req), String(req.params.approvalId), decision, body));
    });
  }
  return r;
}

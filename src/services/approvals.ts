// Approvals: list a run's gates, and decide one, once, by someone allowed to.
import { and, asc, eq } from 'drizzle-orm';
import type { Client } from '@temporalio/client';
import type { Db } from '../store/db';
import { approvals } from '../store/schema';
import { Conflict, Forbidden, NotFound } from '../errors';
import type { Principal } from '../roles';
import type { RunService } from './runs';
import { approvalDecisionSignal, jobRunWorkflowId, pipelineRunWorkflowId } from '../../workflows/definitions';

type ApprovalRow = typeof approvals.$inferSelect;

export function toApprovalView(a: ApprovalRow) {
  return {
    approvalId: a.approvalId,
    runId: a.runId,
    jobRunId: a.jobRunId,
    gate: a.gate,
    status: a.status,
    approvers: a.approvers,
    message: a.message,
    decidedBy: a.decidedBy,
    reason: a.reason,
    createdAt: a.createdAt.toISOString(),
    expiresAt: a.expiresAt ? a.expiresAt.toISOString() : null,
    decidedAt: a.decidedAt ? a.decidedAt.toISOString() : null,
  };
}

export function createApprovalService(deps: { db: Db; temporal: Client; runs: RunService; onSignalError: (message: string) => void }) {
  const { db } = deps;
  return {
    async listForRun(principal: Principal, runId: string) {
      await deps.runs.loadRun(principal, runId);
      const rows = await db.select().from(approvals).where(eq(approvals.runId, runId)).orderBy(asc(approvals.createdAt));
      return { list: rows.map(toApprovalView), total: rows.length };
    },

    async decide(principal: Principal, approvalId: string, decision: 'approved' | 'rejected', body: { operator?: string; reason?: string }) {
      const [row] = await db.select().from(approvals).where(eq(approvals.approvalId, approvalId));
      if (!row) throw new NotFound(`approval ${approvalId} not found`);
      await deps.runs.loadRun(principal, row.runId); // another project's run is not found either
      if (row.approvers.length > 0 && !row.approvers.includes(principal.name)) {
        throw new Forbidden(`${principal.name} is not one of this gate's approvers (${row.approvers.join(', ')})`);
      }
      const by = principal.name;
      const [decided] = await db
        .update(approvals)
        .set({ status: decision, decidedBy: by, reason: body.reason ?? null, decidedAt: new Date() })
        .where(and(eq(approvals.approvalId, approvalId), eq(approvals.status, 'pending')))
        .returning();
      if (!decided) {
        const [now] = await db.select().from(approvals).where(eq(approvals.approvalId, approvalId));
        if (now.status === decision) return toApprovalView(now); // the same decision again: already done
        throw new Conflict(`approval ${approvalId} is already ${now.status}; a decision is final`);
      }
      const workflowId = decided.jobRunId ? jobRunWorkflowId(decided.runId, decided.jobRunId) : pipelineRunWorkflowId(decided.runId);
      try {
        await deps.temporal.workflow.getHandle(workflowId).signal(approvalDecisionSignal, { approvalId, decision, by, reason: body.reason });
      } catch (err) {
        // The decision is stored; a gate that times out reads it from the store.
        deps.onSignalError(`approval ${approvalId}: could not signal ${workflowId}: ${(err as Error).message}`);
      }
      return toApprovalView(decided);
    },
  };
}

export type ApprovalService = ReturnType<typeof createApprovalService>;

// A durable approval gate: open it, wait for the decision signal or the timeout, and say how it ended.
import { condition, setHandler } from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control';
import type { ApprovalGate } from '../src/spec/model';
import type { ApprovalDecision } from './definitions';
import { approvalDecisionSignal } from './definitions';

export type GateOutcome = { approved: true } | { approved: false; reason: string };

type Control = Pick<ControlActivities, 'openApproval' | 'expireApproval'>;

export function createApprovalGate(control: Control) {
  const decisions = new Map<string, ApprovalDecision>();
  setHandler(approvalDecisionSignal, (d) => void decisions.set(d.approvalId, d));

  return async function waitForApproval(input: { approvalId: string; runId: string; jobRunId?: string; gate: ApprovalGate }): Promise<GateOutcome> {
    const { approvalId, gate } = input;
    await control.openApproval({
      approvalId,
      runId: input.runId,
      jobRunId: input.jobRunId,
      gate: input.jobRunId ? 'job' : 'pipeline',
      approvers: gate.approvers,
      message: gate.message,
      timeoutMs: gate.timeoutMs,
    });
    const decided = await condition(() => decisions.has(approvalId), gate.timeoutMs);
    const decision = decided ? decisions.get(approvalId)! : await lateDecision(approvalId);
    if (!decision) return { approved: false, reason: 'approval expired' };
    if (decision.decision === 'approved') return { approved: true };
    return { approved: false, reason: `approval rejected by ${decision.by}${decision.reason ? `: ${decision.reason}` : ''}` };
  };

  /** At the timeout, the store decides: a decision stored just before expiry still counts. */
  async function lateDecision(approvalId: string): Promise<ApprovalDecision | undefined> {
    const row = await control.expireApproval({ approvalId });
    if (row.status === 'approved' || row.status === 'rejected') return { approvalId, decision: row.status, by: row.decidedBy ?? '', reason: row.reason ?? undefined };
    return undefined;
  }
}

// Control activities: status writes from the workflows (through src/store/transitions), approvals, agent liveness.
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../src/store/db';
import { agents, approvals, jobRuns, pipelineRuns } from '../src/store/schema';
import { AGENT_OFFLINE_AFTER_MS } from '../src/services/agents';
import type { EventBus } from '../src/events';
import { createTransitions } from '../src/store/transitions';
import type { JobStatusChange, RunStatusChange, StepStatusChange } from '../src/store/transitions';

export type { JobStatusChange, RunStatusChange, StepStatusChange };

export interface ControlActivityDeps {
  db: Db;
  events: EventBus;
}

export function createControlActivities({ db, events }: ControlActivityDeps) {
  const transitions = createTransitions({ db, events });

  return {
    /** Is this boot of the agent still the one on its queue, and alive? (A restarted agent has a new queue.) */
    async agentQueueIsLive(input: { agentId: string; taskQueue: string }): Promise<boolean> {
      const [row] = await db.select().from(agents).where(eq(agents.agentId, input.agentId));
      if (!row || row.taskQueue !== input.taskQueue || row.status !== 'online' || !row.lastHeartbeatAt) return false;
      return Date.now() - row.lastHeartbeatAt.getTime() < AGENT_OFFLINE_AFTER_MS;
    },

    /**
     * Whether a job already ended `success`, and its run too: what an agent lost after its last
     * step may have recorded (RunStepInput.finishesJob) before its answer reached the workflow.
     */
    async jobSucceeded(input: { jobRunId: string; runId: string }): Promise<{ job: boolean; run: boolean }> {
      const [job] = await db.select({ status: jobRuns.status }).from(jobRuns).where(eq(jobRuns.jobRunId, input.jobRunId));
      const [run] = await db.select({ status: pipelineRuns.status }).from(pipelineRuns).where(eq(pipelineRuns.runId, input.runId));
      return { job: job?.status === 'success', run: run?.status === 'success' };
    },

    /** Opens an approval gate (idempotent: a retried activity finds it open). */
    async openApproval(input: { approvalId: string; runId: string; jobRunId?: string; gate: 'pipeline' | 'job'; approvers: string[]; message: string; timeoutMs: number }): Promise<void> {
      await db
        .insert(approvals)
        .values({
          approvalId: input.approvalId,
          runId: input.runId,
          jobRunId: input.jobRunId ?? null,
          gate: input.gate,
          approvers: input.approvers,
          message: input.message,
          expiresAt: new Date(Date.now() + input.timeoutMs),
        })
        .onConflictDoNothing();
    },

    /** The gate's time is up: expire it, unless a decision got there first (then that decision stands). */
    async expireApproval(input: { approvalId: string }): Promise<{ status: string; decidedBy: string | null; reason: string | null }> {
      await db
        .update(approvals)
        .set({ status: 'expired', decidedAt: sql`now()`, reason: 'approval expired' })
        .where(and(eq(approvals.approvalId, input.approvalId), eq(approvals.status, 'pending')));
      const [row] = await db.select().from(approvals).where(eq(approvals.approvalId, input.approvalId));
      return { status: row.status, decidedBy: row.decidedBy, reason: row.reason };
    },

    /**
     * A run's start: `running`, and the jobs it dispatches at once queued. The run's workflow does
     * not wait for it before starting those jobs (it is no local activity): each job's agent
     * finds it written well before it reports the job running.
     */
    async startRun(input: { runId: string; queueJobs: string[] }): Promise<void> {
      await transitions.recordRunStatus({ runId: input.runId, status: 'running' });
      await transitions.queueJobs(input.queueJobs);
    },
    recordRunStatus: (change: RunStatusChange) => transitions.recordRunStatus(change),
    recordJobStatus: (change: JobStatusChange) => transitions.recordJobStatus(change),
    recordStepStatus: (change: StepStatusChange) => transitions.recordStepStatus(change),
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;

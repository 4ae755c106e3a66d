// Control activities: every status transition of PipelineRun, JobRun and StepRun goes through here.
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../src/store/db';
import { agents, approvals, jobRuns, pipelineRuns, stepRuns } from '../src/store/schema';
import { AGENT_OFFLINE_AFTER_MS } from '../src/services/agents';
import type { EntityKind } from '../src/statuses';
import { allowedFrom, isFinal, isKnownStatus } from '../src/statuses';
import type { StatusEvent, EventBus } from '../src/events';

export interface RunStatusChange {
  runId: string;
  status: string;
  reason?: string;
}
export interface JobStatusChange {
  jobRunId: string;
  status: string;
  agentId?: string;
  attempt?: number;
  skipped?: boolean;
  reason?: string;
}
export interface StepStatusChange {
  stepRunId: string;
  status: string;
  exitCode?: number | null;
  attempt?: number;
  outputs?: Record<string, string>;
  reason?: string;
}

export interface ControlActivityDeps {
  db: Db;
  events: EventBus;
}

const TABLES = {
  run: { table: pipelineRuns, name: 'pipeline_runs', id: pipelineRuns.runId, status: pipelineRuns.status, runId: pipelineRuns.runId },
  job: { table: jobRuns, name: 'job_runs', id: jobRuns.jobRunId, status: jobRuns.status, runId: jobRuns.runId },
  step: { table: stepRuns, name: 'step_runs', id: stepRuns.stepRunId, status: stepRuns.status, runId: stepRuns.runId },
} as const;

export function createControlActivities({ db, events }: ControlActivityDeps) {
  /**
   * Moves one entity to `to` if the move is legal. Repeating the same move is a no-op, so a retried
   * activity is harmless; an illegal move is refused (non-retryable) rather than written.
   */
  async function transition(kind: EntityKind, id: string, to: string, fields: Record<string, unknown>): Promise<{ previous: string; runId: string } | null> {
    if (!isKnownStatus(kind, to)) throw ApplicationFailure.nonRetryable(`unknown ${kind} status "${to}"`, 'IllegalTransition');
    const { table, id: idCol, status: statusCol, runId: runIdCol, name } = TABLES[kind];
    const timeFields: Record<string, unknown> = {};
    if (to === 'running') timeFields.startedAt = sql`coalesce(started_at, now())`;
    if (isFinal(to)) timeFields.finishedAt = sql`now()`;
    // One statement: the row moves only from a status that may precede `to`. The subquery in
    // RETURNING reads the statement's snapshot, so it yields the status from before the update.
    const [moved] = await db
      .update(table)
      .set({ status: to, ...timeFields, ...fields } as never)
      .where(and(eq(idCol, id), inArray(statusCol, allowedFrom(kind, to))))
      .returning({ previous: sql<string>`(select p.status from ${sql.raw(name)} p where p.${sql.raw(idCol.name)} = ${id})`, runId: runIdCol });
    if (moved) return moved;
    const [current] = await db.select({ status: statusCol }).from(table).where(eq(idCol, id));
    if (!current) throw ApplicationFailure.nonRetryable(`${kind} ${id} does not exist`, 'IllegalTransition');
    // Already there (a retried activity), or final (a late write after a stop): nothing to do.
    if (current.status === to || isFinal(current.status)) return null;
    throw ApplicationFailure.nonRetryable(`${kind} ${id}: illegal transition ${current.status} -> ${to}`, 'IllegalTransition');
  }

  async function publish(event: StatusEvent) {
    await events.publish(event);
  }

  return {
    /** Is this boot of the agent still the one on its queue, and alive? (A restarted agent has a new queue.) */
    async agentQueueIsLive(input: { agentId: string; taskQueue: string }): Promise<boolean> {
      const [row] = await db.select().from(agents).where(eq(agents.agentId, input.agentId));
      if (!row || row.taskQueue !== input.taskQueue || row.status !== 'online' || !row.lastHeartbeatAt) return false;
      return Date.now() - row.lastHeartbeatAt.getTime() < AGENT_OFFLINE_AFTER_MS;
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

    async recordRunStatus(change: RunStatusChange): Promise<void> {
      const moved = await transition('run', change.runId, change.status, change.reason !== undefined ? { reason: change.reason } : {});
      if (moved) await publish({ kind: 'run', runId: change.runId, id: change.runId, status: change.status, previousStatus: moved.previous });
    },
    async recordJobStatus(change: JobStatusChange): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.agentId !== undefined) fields.agentId = change.agentId;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.skipped !== undefined) fields.skipped = change.skipped;
      if (change.reason !== undefined) fields.reason = change.reason;
      const moved = await transition('job', change.jobRunId, change.status, fields);
      if (moved) await publish({ kind: 'job', runId: moved.runId, id: change.jobRunId, status: change.status, previousStatus: moved.previous });
    },
    async recordStepStatus(change: StepStatusChange): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.exitCode !== undefined) fields.exitCode = change.exitCode;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.outputs !== undefined) fields.outputs = change.outputs;
      if (change.reason !== undefined) fields.reason = change.reason;
      const moved = await transition('step', change.stepRunId, change.status, fields);
      if (moved) await publish({ kind: 'step', runId: moved.runId, id: change.stepRunId, status: change.status, previousStatus: moved.previous });
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;

// Control activities: every status transition of PipelineRun, JobRun and StepRun goes through here.
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../src/store/db';
import { agents, jobRuns, pipelineRuns, stepRuns } from '../src/store/schema';
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
  run: { table: pipelineRuns, id: pipelineRuns.runId, status: pipelineRuns.status },
  job: { table: jobRuns, id: jobRuns.jobRunId, status: jobRuns.status },
  step: { table: stepRuns, id: stepRuns.stepRunId, status: stepRuns.status },
} as const;

export function createControlActivities({ db, events }: ControlActivityDeps) {
  /**
   * Moves one entity to `to` if the move is legal. Repeating the same move is a no-op, so a retried
   * activity is harmless; an illegal move is refused (non-retryable) rather than written.
   */
  async function transition(kind: EntityKind, id: string, to: string, fields: Record<string, unknown>): Promise<string | null> {
    if (!isKnownStatus(kind, to)) throw ApplicationFailure.nonRetryable(`unknown ${kind} status "${to}"`, 'IllegalTransition');
    const { table, id: idCol, status: statusCol } = TABLES[kind];
    const timeFields: Record<string, unknown> = {};
    if (to === 'running') timeFields.startedAt = sql`coalesce(started_at, now())`;
    if (isFinal(to)) timeFields.finishedAt = sql`now()`;
    return db.transaction(async (tx) => {
      const [current] = await tx.select({ status: statusCol }).from(table).where(eq(idCol, id)).for('update');
      if (!current) throw ApplicationFailure.nonRetryable(`${kind} ${id} does not exist`, 'IllegalTransition');
      const from = current.status;
      // Already there: a retried activity, unless the move is a legal self-move (a new attempt).
      if (from === to && !allowedFrom(kind, to).includes(from)) return null;
      if (!allowedFrom(kind, to).includes(from)) {
        if (isFinal(from)) return null; // final statuses are never rewritten (e.g. a late write after stop)
        throw ApplicationFailure.nonRetryable(`${kind} ${id}: illegal transition ${from} -> ${to}`, 'IllegalTransition');
      }
      await tx
        .update(table)
        .set({ status: to, ...timeFields, ...fields } as never)
        .where(and(eq(idCol, id), inArray(statusCol, [from])));
      return from;
    });
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

    async recordRunStatus(change: RunStatusChange): Promise<void> {
      const previous = await transition('run', change.runId, change.status, change.reason !== undefined ? { reason: change.reason } : {});
      if (previous !== null) await publish({ kind: 'run', runId: change.runId, id: change.runId, status: change.status, previousStatus: previous });
    },
    async recordJobStatus(change: JobStatusChange): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.agentId !== undefined) fields.agentId = change.agentId;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.skipped !== undefined) fields.skipped = change.skipped;
      if (change.reason !== undefined) fields.reason = change.reason;
      const previous = await transition('job', change.jobRunId, change.status, fields);
      if (previous !== null) {
        const [row] = await db.select({ runId: jobRuns.runId }).from(jobRuns).where(eq(jobRuns.jobRunId, change.jobRunId));
        await publish({ kind: 'job', runId: row.runId, id: change.jobRunId, status: change.status, previousStatus: previous });
      }
    },
    async recordStepStatus(change: StepStatusChange): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.exitCode !== undefined) fields.exitCode = change.exitCode;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.outputs !== undefined) fields.outputs = change.outputs;
      if (change.reason !== undefined) fields.reason = change.reason;
      const previous = await transition('step', change.stepRunId, change.status, fields);
      if (previous !== null) {
        const [row] = await db.select({ runId: stepRuns.runId }).from(stepRuns).where(eq(stepRuns.stepRunId, change.stepRunId));
        await publish({ kind: 'step', runId: row.runId, id: change.stepRunId, status: change.status, previousStatus: previous });
      }
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;

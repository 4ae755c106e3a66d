// The one module through which every PipelineRun, JobRun and StepRun status changes, whoever writes
// it (control activities on the control worker, step activities on an agent). Illegal moves are
// refused, not written; each move that happens publishes one event.
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Db } from './db';
import { jobRuns, pipelineRuns, stepRuns } from './schema';
import type { EntityKind } from '../statuses';
import { allowedFrom, isFinal, isKnownStatus } from '../statuses';
import type { EventBus } from '../events';

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

/** Failure types a caller may see: both are final, retrying cannot help. */
export const ILLEGAL_TRANSITION = 'IllegalTransition';
export const NOT_OWNER = 'NotOwner';

const TABLES = {
  run: { table: pipelineRuns, name: 'pipeline_runs', id: pipelineRuns.runId, status: pipelineRuns.status, runId: pipelineRuns.runId },
  job: { table: jobRuns, name: 'job_runs', id: jobRuns.jobRunId, status: jobRuns.status, runId: jobRuns.runId },
  step: { table: stepRuns, name: 'step_runs', id: stepRuns.stepRunId, status: stepRuns.status, runId: stepRuns.runId },
} as const;

/** A step may be reported only by the agent its job was given to. */
function ownedBy(agentId: string): SQL {
  return sql`exists (select 1 from job_runs j where j.job_run_id = ${stepRuns.jobRunId} and j.agent_id = ${agentId})`;
}

export function createTransitions({ db, events }: { db: Db; events: EventBus }) {
  /**
   * Moves one entity to `to` if the move is legal. Repeating the same move is a no-op, so a retried
   * activity is harmless; an illegal move is refused (non-retryable) rather than written.
   */
  async function transition(kind: EntityKind, id: string, to: string, fields: Record<string, unknown>, guard?: SQL): Promise<{ previous: string; runId: string } | null> {
    if (!isKnownStatus(kind, to)) throw ApplicationFailure.nonRetryable(`unknown ${kind} status "${to}"`, ILLEGAL_TRANSITION);
    const { table, id: idCol, status: statusCol, runId: runIdCol, name } = TABLES[kind];
    const timeFields: Record<string, unknown> = {};
    if (to === 'running') timeFields.startedAt = sql`coalesce(started_at, now())`;
    if (isFinal(to)) timeFields.finishedAt = sql`now()`;
    // One statement: the row moves only from a status that may precede `to`. The subquery in
    // RETURNING reads the statement's snapshot, so it yields the status from before the update.
    const [moved] = await db
      .update(table)
      .set({ status: to, ...timeFields, ...fields } as never)
      .where(and(eq(idCol, id), inArray(statusCol, allowedFrom(kind, to)), guard))
      .returning({ previous: sql<string>`(select p.status from ${sql.raw(name)} p where p.${sql.raw(idCol.name)} = ${id})`, runId: runIdCol });
    if (moved) return moved;
    const [current] = await db
      .select({ status: statusCol, owned: guard ? sql<boolean>`${guard}` : sql<boolean>`true` })
      .from(table)
      .where(eq(idCol, id));
    if (!current) throw ApplicationFailure.nonRetryable(`${kind} ${id} does not exist`, ILLEGAL_TRANSITION);
    if (!current.owned) throw ApplicationFailure.nonRetryable(`${kind} ${id} belongs to a job this agent does not hold`, NOT_OWNER);
    // Already there (a retried activity), or final (a late write after a stop): nothing to do.
    if (current.status === to || isFinal(current.status)) return null;
    throw ApplicationFailure.nonRetryable(`${kind} ${id}: illegal transition ${current.status} -> ${to}`, ILLEGAL_TRANSITION);
  }

  return {
    async recordRunStatus(change: RunStatusChange): Promise<void> {
      const moved = await transition('run', change.runId, change.status, change.reason !== undefined ? { reason: change.reason } : {});
      if (moved) await events.publish({ kind: 'run', runId: change.runId, id: change.runId, status: change.status, previousStatus: moved.previous });
    },
    async recordJobStatus(change: JobStatusChange): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.agentId !== undefined) fields.agentId = change.agentId;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.skipped !== undefined) fields.skipped = change.skipped;
      if (change.reason !== undefined) fields.reason = change.reason;
      const moved = await transition('job', change.jobRunId, change.status, fields);
      if (moved) await events.publish({ kind: 'job', runId: moved.runId, id: change.jobRunId, status: change.status, previousStatus: moved.previous });
    },
    /** With `agentId`, the move happens only if that agent holds the step's job (an agent's own report). */
    async recordStepStatus(change: StepStatusChange, reporter?: { agentId: string }): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.exitCode !== undefined) fields.exitCode = change.exitCode;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.outputs !== undefined) fields.outputs = change.outputs;
      if (change.reason !== undefined) fields.reason = change.reason;
      const moved = await transition('step', change.stepRunId, change.status, fields, reporter ? ownedBy(reporter.agentId) : undefined);
      if (moved) await events.publish({ kind: 'step', runId: moved.runId, id: change.stepRunId, status: change.status, previousStatus: moved.previous });
    },
  };
}

export type Transitions = ReturnType<typeof createTransitions>;

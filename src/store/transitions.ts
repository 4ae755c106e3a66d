// The one module through which every PipelineRun, JobRun and StepRun status changes, whoever writes
// it (control activities on the control worker, step activities on an agent). Illegal moves are
// refused, not written; each move that happens publishes one event.
import { ApplicationFailure } from '@temporalio/common';
import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { SQL } from 'drizzle-orm';
import type { Db } from './db';
import { jobRuns, pipelineRuns, stepRuns } from './schema';
import type { EntityKind } from '../statuses';
import { allowedFrom, isFinal, isKnownStatus } from '../statuses';
import type { EventBus, StatusCounters, StatusEvent } from '../events';

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

/**
 * A job's last step, reported by its agent, whose success ends the job `success` (nothing in the
 * job failed before it), and with `runId` the run too (the job is its run's only one, and no
 * failure was allowed in it).
 */
export interface JobFinish {
  jobRunId: string;
  runId?: string;
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

/** A step's run is running (not paused, not over): only then is a step queued ahead of the workflow. */
const RUN_IS_RUNNING = sql`exists (select 1 from pipeline_runs r where r.run_id = ${stepRuns.runId} and r.status = 'running')`;

interface Moved {
  previous: string;
  runId: string;
  pipelineId: string;
  projectId: string;
  jobRunId: string | null;
  agentId: string | null;
  tally: unknown;
  /** A job's run's status, as the statement found it. */
  runStatus?: string | null;
}

/** The tally of a run's jobs or a job's steps, as one JSON value computed inside the transition's statement. */
function tallyOf(kind: 'run' | 'job', id: string): SQL<unknown> {
  const rows =
    kind === 'run'
      ? sql`select status, skipped, count(*)::int as n from job_runs where run_id = ${id} group by status, skipped`
      : sql`select status, false as skipped, count(*)::int as n from step_runs where job_run_id = ${id} group by status`;
  return sql`(select coalesce(json_agg(json_build_array(t.status, t.skipped, t.n)), '[]'::json) from (${rows}) t)`;
}

const COUNTER_OF: Record<string, keyof StatusCounters> = {
  pending: 'pending',
  queued: 'pending',
  running: 'running',
  paused: 'running',
  success: 'succeeded',
  partial: 'succeeded',
  failed: 'failed',
  timeout: 'failed',
  cancelled: 'cancelled',
  skipped: 'skipped',
};

export function createTransitions({ db, events }: { db: Db; events: EventBus }) {
  /** A step of this agent's job moved ahead of the workflow: only from pending or queued, only while its run runs. */
  function startOrQueue(stepRunId: string, to: 'queued' | 'running', reporter: { agentId: string }) {
    const fields = to === 'running' ? { attempt: 1 } : {};
    return move('step', stepRunId, to, fields, and(inArray(stepRuns.status, ['pending', 'queued']), ownedBy(reporter.agentId), RUN_IS_RUNNING));
  }

  /**
   * Moves one entity to `to` if the move is legal. Repeating the same move is a no-op, so a retried
   * activity is harmless; an illegal move is refused (non-retryable) rather than written.
   */
  async function transition(kind: EntityKind, id: string, to: string, fields: Record<string, unknown>, guard?: SQL): Promise<Moved | null> {
    if (!isKnownStatus(kind, to)) throw ApplicationFailure.nonRetryable(`unknown ${kind} status "${to}"`, ILLEGAL_TRANSITION);
    const moved = await move(kind, id, to, fields, guard);
    if (moved) return moved;
    const { table, id: idCol, status: statusCol } = TABLES[kind];
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

  /** The move itself, in one statement: undefined when the row is not in a status that may precede `to`, or `guard` fails. */
  async function move(kind: EntityKind, id: string, to: string, fields: Record<string, unknown>, guard?: SQL): Promise<Moved | undefined> {
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
      .returning({
        previous: sql<string>`(select p.status from ${sql.raw(name)} p where p.${sql.raw(idCol.name)} = ${id})`,
        runId: runIdCol,
        // Who the event is about, for subscribers that filter by pipeline or project.
        pipelineId: sql<string>`(select r.pipeline_id from pipeline_runs r where r.run_id = ${sql.raw(`${name}.run_id`)})`,
        projectId: sql<string>`(select r.project_id from pipeline_runs r where r.run_id = ${sql.raw(`${name}.run_id`)})`,
        jobRunId: kind === 'step' ? stepRuns.jobRunId : kind === 'job' ? jobRuns.jobRunId : sql<string | null>`null`,
        agentId: kind === 'job' ? jobRuns.agentId : sql<string | null>`null`,
        runStatus: kind === 'job' ? sql<string | null>`(select r.status from pipeline_runs r where r.run_id = job_runs.run_id)` : sql<string | null>`null`,
        // A run's jobs, or a job's steps, by status: rows this statement does not touch.
        tally: kind === 'step' ? sql<null>`null` : tallyOf(kind, id),
      });
    return moved;
  }

  /**
   * A step's end and the start of the step after it (waiting on the agent), in one statement: the
   * end moves as `move` would; the next step moves to running only if the end did, it is pending
   * or queued, its job is this agent's, and its run runs. Nothing moved: both undefined.
   */
  async function endAndStart(change: StepStatusChange, agentId: string, nextStepRunId: string): Promise<{ ended?: Moved; started?: Moved }> {
    if (!isKnownStatus('step', change.status)) throw ApplicationFailure.nonRetryable(`unknown step status "${change.status}"`, ILLEGAL_TRANSITION);
    const from = sql.join(allowedFrom('step', change.status).map((status) => sql`${status}`), sql`, `);
    const owned = sql`exists (select 1 from job_runs j where j.job_run_id = step_runs.job_run_id and j.agent_id = ${agentId})`;
    const result = await db.execute(sql`
      with ended as (
        update step_runs set status = ${change.status}, exit_code = ${change.exitCode ?? null},
          outputs = ${JSON.stringify(change.outputs ?? {})}::jsonb, ${change.reason !== undefined ? sql`reason = ${change.reason}, ` : sql``}finished_at = now()
        where step_run_id = ${change.stepRunId} and status in (${from}) and ${owned}
        returning 1 as ord, step_run_id, run_id, job_run_id),
      started as (
        update step_runs set status = 'running', attempt = 1, started_at = coalesce(started_at, now())
        where step_run_id = ${nextStepRunId} and status in ('pending', 'queued') and ${owned}
          and exists (select 1 from pipeline_runs r where r.run_id = step_runs.run_id and r.status = 'running')
          and exists (select 1 from ended)
        returning 2 as ord, step_run_id, run_id, job_run_id)
      select m.ord, m.run_id, m.job_run_id, r.pipeline_id, r.project_id,
        (select p.status from step_runs p where p.step_run_id = m.step_run_id) as previous
      from (select * from ended union all select * from started) m join pipeline_runs r on r.run_id = m.run_id
      order by m.ord`);
    const rows = ((result as unknown as { rows?: unknown[] }).rows ?? (result as unknown as unknown[])) as Array<Record<string, unknown>>;
    const moved = (ord: number): Moved | undefined => {
      const row = rows.find((r) => Number(r.ord) === ord);
      if (!row) return undefined;
      return { previous: String(row.previous), runId: String(row.run_id), pipelineId: String(row.pipeline_id), projectId: String(row.project_id), jobRunId: String(row.job_run_id), agentId: null, tally: null };
    };
    return { ended: moved(1), started: moved(2) };
  }

  /** Counters from a tally of [status, skipped, count] rows (a skipped job counts as skipped). */
  function countersOf(tally: unknown): StatusCounters {
    const rows = (typeof tally === 'string' ? JSON.parse(tally) : tally ?? []) as Array<[string, boolean, number]>;
    const counters: StatusCounters = { total: 0, pending: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 };
    for (const [status, skipped, n] of rows) {
      counters.total += n;
      counters[skipped ? 'skipped' : (COUNTER_OF[status] ?? 'pending')] += n;
    }
    return counters;
  }

  async function publish(kind: EntityKind, id: string, status: string, moved: Moved, reason: string | undefined) {
    const event: StatusEvent = {
      kind,
      id,
      runId: moved.runId,
      pipelineId: moved.pipelineId,
      projectId: moved.projectId,
      status,
      previousStatus: moved.previous,
      timestamp: new Date().toISOString(),
    };
    if (moved.jobRunId) event.jobRunId = moved.jobRunId;
    if (moved.agentId) event.agentId = moved.agentId;
    if (reason !== undefined) event.reason = reason;
    if (kind !== 'step') event.counters = countersOf(moved.tally);
    await events.publish(event);
  }

  return {
    async recordRunStatus(change: RunStatusChange): Promise<void> {
      const moved = await transition('run', change.runId, change.status, change.reason !== undefined ? { reason: change.reason } : {});
      if (moved) await publish('run', change.runId, change.status, moved, change.reason);
    },
    async recordJobStatus(change: JobStatusChange): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.agentId !== undefined) fields.agentId = change.agentId;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.skipped !== undefined) fields.skipped = change.skipped;
      if (change.reason !== undefined) fields.reason = change.reason;
      const moved = await transition('job', change.jobRunId, change.status, fields);
      if (moved) await publish('job', change.jobRunId, change.status, moved, change.reason);
    },
    /**
     * Jobs about to be dispatched, queued with their run's start: only those still pending (the
     * agent that takes one may have recorded it running already). Events in the order given.
     */
    async queueJobs(jobRunIds: string[]): Promise<void> {
      for (const jobRunId of jobRunIds) {
        const moved = await move('job', jobRunId, 'queued', {}, eq(jobRuns.status, 'pending'));
        if (moved) await publish('job', jobRunId, 'queued', moved, undefined);
      }
    },
    /**
     * A job taken by an agent, reported by that agent: `running` on it, and with `queueStep` that
     * step queued too (a pending step of a running run only, as for recordStepEnd).
     */
    async recordJobRunning(change: { jobRunId: string; agentId: string; attempt: number }, queueStep?: string): Promise<{ stepQueued: boolean }> {
      const moved = await transition('job', change.jobRunId, 'running', { agentId: change.agentId, attempt: change.attempt });
      if (moved) await publish('job', change.jobRunId, 'running', moved, undefined);
      if (!moved) return { stepQueued: false };
      // The run still pending: its start (written alongside the job's dispatch, see
      // ControlActivities.startRun) is late. The job runs, so the run does: recorded here.
      if (moved.runStatus === 'pending') {
        const started = await move('run', moved.runId, 'running', {}, eq(pipelineRuns.status, 'pending'));
        if (started) await publish('run', moved.runId, 'running', started, undefined);
      }
      if (!queueStep) return { stepQueued: false };
      const queued = await startOrQueue(queueStep, 'queued', change);
      if (queued) await publish('step', queueStep, 'queued', queued, undefined);
      return { stepQueued: !!queued };
    },
    /** With `agentId`, the move happens only if that agent holds the step's job (an agent's own report). */
    async recordStepStatus(change: StepStatusChange, reporter?: { agentId: string }): Promise<void> {
      const fields: Record<string, unknown> = {};
      if (change.exitCode !== undefined) fields.exitCode = change.exitCode;
      if (change.attempt !== undefined) fields.attempt = change.attempt;
      if (change.outputs !== undefined) fields.outputs = change.outputs;
      if (change.reason !== undefined) fields.reason = change.reason;
      const moved = await transition('step', change.stepRunId, change.status, fields, reporter ? ownedBy(reporter.agentId) : undefined);
      if (moved) await publish('step', change.stepRunId, change.status, moved, change.reason);
    },
    /**
     * A step's end, reported by its agent. With `queueNext`, the step the workflow runs next (if
     * this one succeeded) is queued too, saving the workflow a write of its own; with `startNext`
     * as well (that step already waits on the agent, dispatched ahead), it is recorded running
     * instead, right after this end. Only a pending or queued step of a running run moves: a pause
     * or a stop that got there first keeps it where it is. Events follow in order.
     */
    async recordStepEnd(
      change: StepStatusChange,
      reporter: { agentId: string },
      queueNext?: string,
      startNext = false,
      finishes?: JobFinish,
    ): Promise<{ nextQueued: boolean; nextRunning: boolean; jobEnded?: boolean; runEnded?: boolean }> {
      const fields: Record<string, unknown> = { exitCode: change.exitCode, outputs: change.outputs };
      if (change.reason !== undefined) fields.reason = change.reason;
      const nextStatus = startNext ? 'running' : 'queued';
      const moveNext = () => (change.status === 'success' && queueNext ? startOrQueue(queueNext, nextStatus, reporter).catch(() => undefined) : undefined);
      const end = () => transition('step', change.stepRunId, change.status, fields, ownedBy(reporter.agentId));
      // A next step recorded running starts with this end, in the same statement (the same
      // `now()`, so never before it by the database's clock), and only if this end moved. Only
      // queued, it has no time to keep in order: both at once.
      const [ended, next] =
        startNext && change.status === 'success' && queueNext
          ? await endAndStart(change, reporter.agentId, queueNext).then(async (both) => (both.ended ? [both.ended, both.started] : [await end(), undefined]))
          : await Promise.all([end(), moveNext()]);
      if (ended) await publish('step', change.stepRunId, change.status, ended, change.reason);
      if (next) await publish('step', queueNext!, nextStatus, next, undefined);
      const result = { nextQueued: !!next && !startNext, nextRunning: !!next && startNext };
      if (!finishes || !ended || change.status !== 'success') return result;
      // The job's last step succeeded: the job succeeds with it, and the run with its only job. Each
      // moves only as the workflow's own write would (a stop or a failure that got there first
      // keeps it), the job only while this agent runs it, neither once a stop was asked for (the
      // stop decides how they end). What did not move, the workflow writes as before: so a write
      // that fails here is given up, rather than failing the step whose end is saved.
      const notStopped = sql`not exists (select 1 from pipeline_runs r where r.run_id = job_runs.run_id and r.stop_requested_at is not null)`;
      let jobEnded: Moved | undefined;
      let runEnded: Moved | undefined;
      try {
        jobEnded = await move('job', finishes.jobRunId, 'success', {}, and(eq(jobRuns.status, 'running'), eq(jobRuns.agentId, reporter.agentId), notStopped));
        if (jobEnded) await publish('job', finishes.jobRunId, 'success', jobEnded, undefined);
        runEnded = jobEnded && finishes.runId ? await move('run', finishes.runId, 'success', {}, isNull(pipelineRuns.stopRequestedAt)) : undefined;
        if (runEnded) await publish('run', finishes.runId!, 'success', runEnded, undefined);
      } catch {
        // left to the workflow (see above)
      }
      return { ...result, jobEnded: !!jobEnded, runEnded: !!runEnded };
    },
    /**
     * A step dispatched ahead of its turn, starting on its agent after the step before it succeeded:
     * `running` only if it is still pending or queued, its job is this agent's, and its run runs
     * (a pause that got there first keeps it from starting). Says whether it moved.
     */
    async recordStepStartedAhead(stepRunId: string, reporter: { agentId: string }): Promise<boolean> {
      const moved = await startOrQueue(stepRunId, 'running', reporter);
      if (moved) await publish('step', stepRunId, 'running', moved, undefined);
      return !!moved;
    },
  };
}

export type Transitions = ReturnType<typeof createTransitions>;

// PipelineRuns: trigger (validated, idempotent per requestId), read the tree, control, and read logs.
import { and, asc, count, desc, eq, lt, notInArray, sql } from 'drizzle-orm';
import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Db } from '../store/db';
import { approvals, jobRuns, pipelineRuns, pipelines, stepRuns } from '../store/schema';
import { Conflict, InvalidInput, NotFound } from '../errors';
import { idFor, newId } from '../ids';
import type { Principal } from '../roles';
import { canSeeProject, systemPrincipal } from '../roles';
import { RUN_STATUSES, isFinal } from '../statuses';
import type { PipelineRow, PipelineService } from './pipelines';
import { isUniqueViolation } from './pipelines';
import type { CompiledPipeline } from '../spec/model';
import type { SpecChecker } from './spec-checker';
import type { TemporalSettings } from '../temporal/temporal-config';
import type { CronTriggerInput, PipelineRunInput, PreparedRun } from '../../workflows/definitions';
import { PIPELINE_RUN_WORKFLOW, RUN_SEARCH_ATTRIBUTES, pauseSignal, pipelineRunWorkflowId, resumeSignal } from '../../workflows/definitions';
import type { PreparedScheduledRun } from '../../activities/schedule';
import { readStepLogs } from '../store/log-store';
import { triggerFacts } from '../../workflows/expression-context';

/** A run in one of these has ended: a stop finds nothing to do. */
const FINAL_RUN_STATUSES = RUN_STATUSES.filter(isFinal);

const SA = RUN_SEARCH_ATTRIBUTES;

export interface TriggerInput {
  variables?: Record<string, string | number | boolean>;
  triggeredBy?: string;
  requestId?: string;
  ref?: string;
  commitSha?: string;
  /** For event triggers: push, tag, pull_request. */
  event?: string;
}

export interface RunServiceDeps {
  db: Db;
  temporal: Client;
  settings: TemporalSettings;
  pipelinesService: PipelineService;
  specs: SpecChecker;
  temporalUiUrl?: string;
  /** A run whose workflow could not be started (it is marked failed with the reason). */
  onStartFailed?: (runId: string, err: Error) => void;
}

type RunRow = typeof pipelineRuns.$inferSelect;

/** The rows of `db.execute`: postgres.js answers an array, PGlite an object holding one. */
function rowsOf<T>(result: unknown): T[] {
  return ((result as { rows?: T[] }).rows ?? (result as T[])) as T[];
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const durationMs = (a: Date | null, b: Date | null) => (a && b ? b.getTime() - a.getTime() : null);

/** Who starts the runs of cron schedules: the system itself, for every project. */
const SCHEDULE_PRINCIPAL = systemPrincipal('schedule');

export function createRunService(deps: RunServiceDeps) {
  const { db, temporal, settings } = deps;
  /** Workflow starts in flight in this process, by run: a stop of a run still starting waits for them. */
  const starting = new Map<string, Promise<void>>();

  async function loadRun(principal: Principal, runId: string, pipelineId?: string): Promise<RunRow> {
    const [run] = await db.select().from(pipelineRuns).where(eq(pipelineRuns.runId, runId));
    if (!run || !canSeeProject(principal, run.projectId) || (pipelineId && run.pipelineId !== pipelineId)) {
      throw new NotFound(`run ${runId} not found`);
    }
    return run;
  }

  function uiUrl(workflowId: string) {
    if (!deps.temporalUiUrl) return null;
    return `${deps.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  async function view(run: RunRow) {
    const jobs = await db.select().from(jobRuns).where(eq(jobRuns.runId, run.runId)).orderBy(asc(jobRuns.stageIndex), asc(jobRuns.jobIndex));
    const steps = await db.select().from(stepRuns).where(eq(stepRuns.runId, run.runId)).orderBy(asc(stepRuns.stepIndex));
    const waiting = await db
      .select()
      .from(approvals)
      .where(and(eq(approvals.runId, run.runId), eq(approvals.status, 'pending')));
    const stages: Array<{ name: string; index: number; jobs: unknown[] }> = [];
    for (const job of jobs) {
      let stage = stages.find((s) => s.index === job.stageIndex);
      if (!stage) stages.push((stage = { name: job.stageName, index: job.stageIndex, jobs: [] }));
      stage.jobs.push({
        jobRunId: job.jobRunId,
        name: job.name,
        status: job.status,
        skipped: job.skipped,
        matrix: job.matrix,
        agentId: job.agentId,
        attempt: job.attempt,
        reason: job.reason,
        startedAt: iso(job.startedAt),
        finishedAt: iso(job.finishedAt),
        durationMs: durationMs(job.startedAt, job.finishedAt),
        steps: steps
          .filter((s) => s.jobRunId === job.jobRunId)
          .map((s) => ({
            stepRunId: s.stepRunId,
            name: s.name,
            status: s.status,
            exitCode: s.exitCode,
            attempt: s.attempt,
            outputs: s.outputs,
            agentId: job.agentId,
            reason: s.reason,
            startedAt: iso(s.startedAt),
            finishedAt: iso(s.finishedAt),
            durationMs: durationMs(s.startedAt, s.finishedAt),
          })),
      });
    }
    return {
      runId: run.runId,
      pipelineId: run.pipelineId,
      projectId: run.projectId,
      number: run.number,
      status: run.status,
      triggerType: run.triggerType,
      triggeredBy: run.triggeredBy,
      variables: run.variables,
      ref: run.ref,
      commitSha: run.commitSha,
      definitionCommitSha: run.definitionCommitSha,
      target: run.target,
      reason: run.reason,
      createdAt: iso(run.createdAt),
      startedAt: iso(run.startedAt),
      finishedAt: iso(run.finishedAt),
      durationMs: durationMs(run.startedAt, run.finishedAt),
      stages,
      // The gates the run waits on right now.
      waitingFor: waiting.map((a) => ({ approvalId: a.approvalId, gate: a.gate, jobRunId: a.jobRunId, message: a.message, expiresAt: a.expiresAt ? a.expiresAt.toISOString() : null })),
      temporal: { workflowId: run.workflowId, uiUrl: uiUrl(run.workflowId) },
    };
  }

  /** The workflow input of a recorded run. */
  function preparedRun(opts: { run: RunRow; pipelineRow: PipelineRow; pipeline: CompiledPipeline; ids: PipelineRunInput['ids']; event?: string }): PreparedRun {
    const { run, pipelineRow, pipeline } = opts;
    const triggerType = run.triggerType as PipelineRunInput['triggerType'];
    const workflowInput: PipelineRunInput = {
      runId: run.runId,
      pipelineId: run.pipelineId,
      projectId: run.projectId,
      pipelineName: pipelineRow.name,
      number: run.number,
      triggerType,
      variables: run.variables,
      facts: {
        trigger: triggerFacts({ type: triggerType, ref: run.ref ?? undefined, commitSha: run.commitSha ?? undefined, actor: run.triggeredBy, event: opts.event }),
        variables: run.variables,
        pipeline: { id: run.pipelineId, name: pipelineRow.name, namespace: pipeline.namespace, runId: run.runId, number: run.number },
      },
      pipeline,
      ids: opts.ids,
      taskQueues: { control: settings.taskQueues.control, agentPool: settings.taskQueues.agentPool },
      stepTimeouts: {
        heartbeatMs: settings.stepActivityMs.heartbeatTimeout,
        scheduleToStartMs: settings.stepActivityMs.scheduleToStartTimeout,
        defaultMs: settings.stepActivityMs.defaultTimeout,
      },
    };
    return { workflowId: run.workflowId, input: workflowInput };
  }

  /** Starts the PipelineRun workflow of a recorded run; a start that already happened is fine. */
  async function startRunWorkflow(opts: { run: RunRow; pipelineRow: PipelineRow; pipeline: CompiledPipeline; ids: PipelineRunInput['ids']; event?: string }) {
    const { workflowId, input } = preparedRun(opts);
    try {
      await temporal.workflow.start(PIPELINE_RUN_WORKFLOW, {
        workflowId,
        taskQueue: settings.taskQueues.control,
        args: [input],
        typedSearchAttributes: new TypedSearchAttributes([
          { key: SA.pipelineId, value: input.pipelineId },
          { key: SA.projectId, value: input.projectId },
          { key: SA.runStatus, value: 'pending' },
          { key: SA.triggerType, value: input.triggerType },
        ]),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
  }

  /** A recorded run's definition and ids, read back (a restart, or a retried scheduled run). */
  async function recordedRun(run: RunRow) {
    const found = await deps.pipelinesService.definitionOfRun(run.pipelineId, run.definitionCommitSha);
    if (!found) throw new Error('its pipeline or definition is gone');
    const pipeline = deps.specs.compileOrReject(found.definition.spec, found.definition.format);
    const jobs = await db.select().from(jobRuns).where(eq(jobRuns.runId, run.runId));
    const steps = await db.select().from(stepRuns).where(eq(stepRuns.runId, run.runId)).orderBy(asc(stepRuns.stepIndex));
    const ids: PipelineRunInput['ids'] = { jobs: {} };
    for (const job of jobs) ids.jobs[job.jobKey] = { jobRunId: job.jobRunId, stepRunIds: steps.filter((s) => s.jobRunId === job.jobRunId).map((s) => s.stepRunId) };
    return { run, pipelineRow: found.row, pipeline, ids };
  }

  /**
   * Records a run: its rows, numbered, in one transaction under the pipeline's row lock. The spec is
   * compiled first (400, nothing written); a repeated requestId finds the run it made.
   */
  async function record(principal: Principal, pipelineId: string, input: TriggerInput, triggerType: 'manual' | 'cron' | 'event') {
    // A git-backed definition is read at the commit (or ref) the run is for.
    const { row: pipelineRow, definition } = await deps.pipelinesService.definitionFor(principal, pipelineId, { ref: input.ref, commitSha: input.commitSha });
    if (!definition) throw new InvalidInput('the pipeline has no definition yet: save a spec first', [{ path: 'spec', message: 'missing' }]);
    if (!pipelineRow.enabled) throw new Conflict(`pipeline ${pipelineId} is disabled; enable it (PUT with {"enabled": true}) to run it`);
    const pipeline = deps.specs.compileOrReject(definition.spec, definition.format);
    const variables: Record<string, string> = { ...pipeline.variables };
    for (const [k, v] of Object.entries(input.variables ?? {})) variables[k] = String(v);

    // With a requestId the run id, and so the workflow id, follows from it: even a second start that
    // got past the database check would be refused by Temporal as a duplicate workflow id.
    const runId = input.requestId ? idFor('run', `${pipelineId}\u0000${input.requestId}`) : newId('run');
    const workflowId = pipelineRunWorkflowId(runId);
    const ids: PipelineRunInput['ids'] = { jobs: {} };
    const jobRows: Array<Record<string, unknown>> = [];
    const stepRows: Array<Record<string, unknown>> = [];
    for (const [jobIndex, job] of pipeline.jobs.entries()) {
      const jobRunId = newId('job');
      const stepRunIds = job.steps.map(() => newId('step'));
      ids.jobs[job.key] = { jobRunId, stepRunIds };
      jobRows.push({ job_run_id: jobRunId, stage_index: job.stageIndex, stage_name: job.stageName, job_index: jobIndex, job_key: job.key, name: job.displayName, matrix: job.matrix ?? null });
      job.steps.forEach((step, i) => stepRows.push({ step_run_id: stepRunIds[i], job_run_id: jobRunId, step_index: i, name: step.name }));
    }
    const run: RunRow = {
      runId,
      pipelineId,
      projectId: pipelineRow.projectId,
      number: 0,
      status: 'pending',
      triggerType,
      triggeredBy: input.triggeredBy ?? principal.name,
      requestId: input.requestId ?? null,
      variables,
      ref: input.ref ?? null,
      commitSha: input.commitSha ?? null,
      definitionCommitSha: definition.commitSha,
      target: pipeline.target ?? null,
      reason: null,
      workflowId,
      createdAt: new Date(),
      startedAt: null,
      finishedAt: null,
      stopRequestedAt: null,
    };
    // One statement, so one atomic step however busy the database: the pipeline's counter moves
    // (its row lock orders the triggers of a pipeline) and the run, its jobs and its steps are
    // written, unless the requestId already made a run. Two triggers racing with one requestId:
    // the second fails on the unique key, its counter move undone, and finds the first's run.
    let inserted: Array<{ number: number; created_at: string | Date }> = [];
    try {
      inserted = rowsOf(
        await db.execute(sql`
          with counter as (
            update pipelines set run_counter = run_counter + 1
            where pipeline_id = ${pipelineId} and deleted_at is null
              and not exists (select 1 from pipeline_runs r where r.pipeline_id = ${pipelineId} and r.request_id = ${run.requestId})
            returning run_counter
          ), run as (
            insert into pipeline_runs (run_id, pipeline_id, project_id, number, status, trigger_type, triggered_by, request_id, variables, ref, commit_sha, definition_commit_sha, target, workflow_id)
            select ${runId}, ${pipelineId}, ${run.projectId}, counter.run_counter, 'pending', ${triggerType}, ${run.triggeredBy}, ${run.requestId}, ${JSON.stringify(variables)}::jsonb,
              ${run.ref}, ${run.commitSha}, ${run.definitionCommitSha}, ${run.target}, ${workflowId}
            from counter
            returning number, created_at
          ), jobs as (
            insert into job_runs (job_run_id, run_id, stage_index, stage_name, job_index, job_key, name, matrix, status)
            select j.job_run_id, ${runId}, j.stage_index, j.stage_name, j.job_index, j.job_key, j.name, j.matrix, 'pending'
            from run, jsonb_to_recordset(${JSON.stringify(jobRows)}::jsonb) as j(job_run_id text, stage_index int, stage_name text, job_index int, job_key text, name text, matrix jsonb)
          ), steps as (
            insert into step_runs (step_run_id, job_run_id, run_id, step_index, name, status)
            select s.step_run_id, s.job_run_id, ${runId}, s.step_index, s.name, 'pending'
            from run, jsonb_to_recordset(${JSON.stringify(stepRows)}::jsonb) as s(step_run_id text, job_run_id text, step_index int, name text)
          )
          select number, created_at from run`),
      );
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    if (inserted.length === 0) {
      const [existing] = input.requestId
        ? await db
            .select()
            .from(pipelineRuns)
            .where(and(eq(pipelineRuns.pipelineId, pipelineId), eq(pipelineRuns.requestId, input.requestId)))
        : [];
      if (!existing) throw new NotFound(`pipeline ${pipelineId} not found`); // deleted meanwhile
      return { fresh: false as const, run: existing };
    }
    run.number = Number(inserted[0].number);
    run.createdAt = new Date(inserted[0].created_at);
    await deps.pipelinesService.changed(pipelineId); // its lastRun
    return { fresh: true as const, run, pipelineRow, pipeline, ids };
  }

  return {
    loadRun,

    /**
     * Starts the workflow of every run recorded but never started (its server died between the
     * two): runs still `pending` after `olderThanMs` whose workflow Temporal does not know. Safe on
     * many servers at once: the workflow id is the run's.
     */
    async reconcilePendingRuns(olderThanMs = 30_000): Promise<string[]> {
      const stale = await db
        .select()
        .from(pipelineRuns)
        .where(and(eq(pipelineRuns.status, 'pending'), lt(pipelineRuns.createdAt, new Date(Date.now() - olderThanMs))));
      const started: string[] = [];
      for (const run of stale) {
        try {
          await temporal.workflow.getHandle(run.workflowId).describe();
          continue; // started after all (it has not reached running yet)
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        try {
          await startRunWorkflow(await recordedRun(run));
          started.push(run.runId);
        } catch (err) {
          await db
            .update(pipelineRuns)
            .set({ status: 'failed', reason: `could not start the run after a restart: ${(err as Error).message}`, finishedAt: sql`now()` })
            .where(and(eq(pipelineRuns.runId, run.runId), eq(pipelineRuns.status, 'pending')));
          await deps.pipelinesService.changed(run.pipelineId);
        }
      }
      return started;
    },

    /**
     * Records a run and answers with it, `pending`; its workflow is started right after, off the
     * answer's path, so a trigger costs the same however busy Temporal is. The record is the
     * commitment: a start that never happened (its server died first) is made by the reconciler,
     * and a start Temporal refuses fails the run with the reason.
     */
    async trigger(principal: Principal, pipelineId: string, input: TriggerInput, triggerType: 'manual' | 'cron' | 'event' = 'manual') {
      const recorded = await record(principal, pipelineId, input, triggerType);
      if (!recorded.fresh) return { runId: recorded.run.runId, number: recorded.run.number, status: recorded.run.status };
      const { run } = recorded;
      const start = startRunWorkflow({ ...recorded, event: input.event })
        .catch(async (err: Error) => {
          await db
            .update(pipelineRuns)
            .set({ status: 'failed', reason: `could not start the run on Temporal: ${err.message}`, finishedAt: sql`now()` })
            .where(and(eq(pipelineRuns.runId, run.runId), eq(pipelineRuns.status, 'pending')));
          await deps.pipelinesService.changed(run.pipelineId);
          deps.onStartFailed?.(run.runId, err);
        })
        .catch((err: Error) => deps.onStartFailed?.(run.runId, err)) // the database is gone too: the reconciler will see it
        .finally(() => starting.delete(run.runId));
      starting.set(run.runId, start);
      return { runId: run.runId, number: run.number, status: run.status };
    },

    /**
     * A cron schedule's run: recorded here, started by the schedule's workflow (as its child). A
     * retried activity finds the run its requestId made and prepares the same start again.
     */
    async prepareScheduled(input: CronTriggerInput & { requestId: string }): Promise<PreparedScheduledRun> {
      const [row] = await db.select().from(pipelines).where(eq(pipelines.pipelineId, input.pipelineId));
      if (!row || row.deletedAt) return { kind: 'skip', reason: 'the pipeline was deleted' };
      if (!row.enabled) return { kind: 'skip', reason: 'the pipeline is disabled' };
      let recorded;
      try {
        recorded = await record(SCHEDULE_PRINCIPAL, input.pipelineId, { variables: input.variables, triggeredBy: 'schedule', requestId: input.requestId }, 'cron');
      } catch (err) {
        if (err instanceof InvalidInput || err instanceof NotFound || err instanceof Conflict) return { kind: 'skip', reason: err.message };
        throw err;
      }
      if (recorded.run.status !== 'pending') return { kind: 'skip', reason: `run ${recorded.run.runId} already started` };
      return { kind: 'start', run: preparedRun(recorded.fresh ? recorded : await recordedRun(recorded.run)) };
    },

    async get(principal: Principal, runId: string) {
      return view(await loadRun(principal, runId));
    },

    async list(principal: Principal, pipelineId: string, q: { status?: string; page: number; pageSize: number }) {
      await deps.pipelinesService.load(principal, pipelineId);
      const where = q.status ? and(eq(pipelineRuns.pipelineId, pipelineId), eq(pipelineRuns.status, q.status)) : eq(pipelineRuns.pipelineId, pipelineId);
      const [{ total }] = await db.select({ total: count() }).from(pipelineRuns).where(where);
      const rows = await db
        .select()
        .from(pipelineRuns)
        .where(where)
        .orderBy(desc(pipelineRuns.number))
        .limit(q.pageSize)
        .offset((q.page - 1) * q.pageSize);
      return { list: await Promise.all(rows.map(view)), total, page: q.page, pageSize: q.pageSize };
    },

    async control(principal: Principal, pipelineId: string, runId: string, action: 'pause' | 'resume' | 'stop', body: { reason?: string; operator?: string }) {
      const run = await loadRun(principal, runId, pipelineId);
      const handle = temporal.workflow.getHandle(run.workflowId);
      const req = { reason: body.reason, operator: body.operator ?? principal.name };
      if (action === 'pause') {
        if (run.status !== 'running') throw new Conflict(`run ${runId} is ${run.status}; only a running run can be paused`);
        await handle.signal(pauseSignal, req);
      } else if (action === 'resume') {
        if (run.status !== 'paused') throw new Conflict(`run ${runId} is ${run.status}; only a paused run can be resumed`);
        await handle.signal(resumeSignal, req);
      } else {
        if (isFinal(run.status)) throw new Conflict(`run ${runId} is already ${run.status}`);
        // Its start under way here: the run may yet fail to start (then the mark below finds it ended).
        if (starting.has(runId)) await starting.get(runId);
        // Marked first: an agent ending the run's last step now no longer ends the run (or its
        // job) with it, so the stop decides how the run ends (cancelled), as it does in the workflow.
        // Only while it has not ended: an agent's end of the run and this mark take the same row's
        // lock, so exactly one of them comes first.
        const marked = await db
          .update(pipelineRuns)
          .set({ stopRequestedAt: sql`coalesce(stop_requested_at, now())` })
          .where(and(eq(pipelineRuns.runId, runId), notInArray(pipelineRuns.status, FINAL_RUN_STATUSES)))
          .returning({ status: pipelineRuns.status });
        if (marked.length === 0) throw new Conflict(`run ${runId} has already ended`);
        try {
          await handle.cancel();
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          // Recorded, not yet started (by another server, or one that died): start it, so that
          // stopping it runs the workflow's own cleanup and every row ends cancelled.
          await startRunWorkflow(await recordedRun(run));
          await handle.cancel();
        }
      }
    },

    /** A step of a run the principal may see (NotFound otherwise, the same for missing and hidden). */
    async step(principal: Principal, runId: string, stepRunId: string) {
      await loadRun(principal, runId);
      const [step] = await db.select().from(stepRuns).where(and(eq(stepRuns.stepRunId, stepRunId), eq(stepRuns.runId, runId)));
      if (!step) throw new NotFound(`step run ${stepRunId} not found in run ${runId}`);
      return step;
    },

    /** Every line of a step's log from `fromLine`, page by page (a download of any size). */
    async *allLogLines(principal: Principal, runId: string, stepRunId: string, fromLine: number) {
      await this.step(principal, runId, stepRunId);
      for (let from = fromLine; ; ) {
        const lines = await readStepLogs(db, stepRunId, from, 5000);
        if (lines.length === 0) return;
        yield lines;
        from = lines[lines.length - 1].line + 1;
      }
    },

    async logs(principal: Principal, runId: string, stepRunId: string, fromLine: number, limit: number) {
      const step = await this.step(principal, runId, stepRunId);
      const lines = await readStepLogs(db, stepRunId, fromLine, limit);
      const nextLine = lines.length ? lines[lines.length - 1].line + 1 : fromLine;
      const complete = isFinal(step.status) && lines.length < limit;
      return { lines, nextLine, complete };
    },
  };
}

export type RunService = ReturnType<typeof createRunService>;

// PipelineRunWorkflow: stages in order, the jobs of a stage as a DAG of child JobRun workflows.
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/common';
import type { ControlActivities } from '../activities/control';
import type { CompiledJob } from '../src/spec/model';
import type { JobRunResult, LiveTree, PipelineRunInput } from './definitions';
import { JOB_RUN_WORKFLOW, RUN_SEARCH_ATTRIBUTES, approvalIdFor, jobRunWorkflowId, liveTreeQuery, pauseSignal, resumeSignal } from './definitions';
import { runOutcome } from './outcome';
import { createApprovalGate } from './approval-gate';
import { sendNotifications } from './notify';
import type { NotifyOutcome } from './notify';

export const RUN_STATUS_ATTRIBUTE = RUN_SEARCH_ATTRIBUTES.runStatus;
/** Histories from before a pause was recorded ahead of forwarding it replay without it. */
const PAUSE_RECORDED_FIRST_PATCH = 'pause-recorded-before-forwarding';
const RESUME_RECORDED_FIRST_PATCH = 'resume-recorded-before-forwarding';
const PAUSE_JOBS_STARTED_DURING_PAUSE_PATCH = 'pause-jobs-started-during-pause';
/** …and those from before the run's status writes were made one after another, with them concurrent. */
const STATUS_WRITES_IN_ORDER_PATCH = 'run-status-writes-in-order';
/** …and those from before a handler stopped midway left the stop to the main flow, with it failing. */
const HANDLER_LEAVES_STOP_PATCH = 'signal-handler-leaves-stop-to-run';
/** …and those from before the run's start was written alongside its first jobs' dispatch, with it written first. */
const RUN_STARTED_ALONGSIDE_PATCH = 'run-started-alongside-first-jobs';

export async function PipelineRunWorkflow(input: PipelineRunInput): Promise<{ status: string }> {
  const { pipeline, ids, runId } = input;
  // Local activities: status writes run in the control worker itself, without a task-queue round trip.
  const controlOptions = {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', maximumInterval: '10s', nonRetryableErrorTypes: ['IllegalTransition'] } satisfies RetryPolicy,
  } as const;
  const control = proxyLocalActivities<ControlActivities>(controlOptions);
  // The run's start, as an activity of the control worker (dispatched to it eagerly, with the
  // workflow task that starts the first jobs): a local activity would hold that task until written.
  const { startRun } = proxyActivities<ControlActivities>({ ...controlOptions, taskQueue: input.taskQueues.control });

  // eslint-disable-next-line no-restricted-properties
  const deadlineMs = pipeline.timeoutMs ? Date.now() + pipeline.timeoutMs : undefined;
  let status = 'pending';
  const waitForApproval = createApprovalGate(control);
  let paused = false;
  const jobStatus: Record<string, string> = Object.fromEntries(pipeline.jobs.map((j) => [j.key, 'pending']));
  const runningChildren = new Set<string>();
  const results = new Map<string, JobRunResult>();

  // The run's status writes leave one after another, in the order they were made: a pause and a
  // resume (or a pause and the run's end) arriving together must not reach the database swapped.
  let lastWrite: Promise<unknown> = Promise.resolve();
  const setStatus = async (next: string, reason?: string) => {
    status = next;
    upsertSearchAttributes([{ key: RUN_STATUS_ATTRIBUTE, value: next }]);
    if (!patched(STATUS_WRITES_IN_ORDER_PATCH)) return void (await control.recordRunStatus({ runId, status: next, reason }));
    const write = lastWrite.then(() => control.recordRunStatus({ runId, status: next, reason }));
    lastWrite = write.catch(() => undefined);
    await write;
  };
  const forward = async (signal: typeof pauseSignal) => {
    await Promise.all(
      [...runningChildren].map((childId) =>
        getExternalWorkflowHandle(childId)
          .signal(signal)
          .catch(() => undefined), // a child that just finished has nothing left to pause
      ),
    );
  };

  setHandler(liveTreeQuery, (): LiveTree => ({
    runId,
    status,
    paused,
    jobs: Object.fromEntries(pipeline.jobs.map((j) => [j.key, { jobRunId: ids.jobs[j.key].jobRunId, status: jobStatus[j.key] }])),
  }));
  /**
   * A stop that comes while a handler waits (for its status write) is the main flow's to handle: it
   * records what was left unfinished and the run's `cancelled`. A handler failing with it would end
   * the workflow there and then, with none of that done.
   */
  const leavingStopToRun =
    (handler: (req?: { reason?: string }) => Promise<void>) =>
    async (req?: { reason?: string }): Promise<void> => {
      try {
        await handler(req);
      } catch (err) {
        if (isCancellation(err) && patched(HANDLER_LEAVES_STOP_PATCH)) return;
        throw err;
      }
    };
  setHandler(pauseSignal, leavingStopToRun(async (req) => {
    if (paused || status !== 'running') return;
    paused = true;
    // Recorded before the jobs hear of it: a step dispatched ahead starts only while the run's
    // status is running, so none starts once a job has paused.
    if (patched(PAUSE_RECORDED_FIRST_PATCH)) {
      await setStatus('paused', req?.reason);
      if (paused) await forward(pauseSignal); // unless a resume came in meanwhile (it told the jobs nothing)
      return;
    }
    await forward(pauseSignal);
    await setStatus('paused', req?.reason);
  }));
  setHandler(resumeSignal, leavingStopToRun(async (req) => {
    if (!paused) return;
    paused = false;
    // Recorded first too: a step dispatched ahead right after the resume is not refused.
    if (patched(RESUME_RECORDED_FIRST_PATCH)) {
      await setStatus('running', req?.reason);
      if (!paused) await forward(resumeSignal); // unless a pause came in meanwhile
      return;
    }
    await forward(resumeSignal);
    await setStatus('running', req?.reason);
  }));

  /** Jobs the run's start records queued (see startRunAlongside): they do not write it themselves. */
  let queuedByRun = new Set<string>();
  const firstStage = pipeline.jobs.filter((job) => job.stageIndex === pipeline.stages[0]?.index && job.needs.length === 0);
  /**
   * Whether the run may start (`running`) while its first jobs are dispatched rather than before:
   * when each of them goes straight to an agent, the first thing it writes (the agent's `running`)
   * comes well after, and that agent records the run running should its start be late
   * (Transitions.recordJobRunning). A gate (the run's, or a first job's) or a first job's `when`
   * would write at once: then the run starts first, as it always did.
   */
  const startsAlongside = !pipeline.approval && firstStage.length > 0 && firstStage.every(dispatchedAtOnce);
  /**
   * The run's start goes with the workflow task that starts its first jobs, and queues them (they
   * do not write it themselves). Later status writes of the run wait for it (setStatus).
   */
  const startRunAlongside = () => {
    queuedByRun = new Set(firstStage.map((job) => job.key));
    status = 'running';
    upsertSearchAttributes([{ key: RUN_STATUS_ATTRIBUTE, value: 'running' }]);
    // Not cancellable: a stop arriving at once must find it written, not merely asked for, before
    // its own `cancelled` (which waits for it, see setStatus).
    lastWrite = CancellationScope.nonCancellable(() => startRun({ runId, queueJobs: firstStage.map((job) => ids.jobs[job.key].jobRunId) })).catch((err: Error) =>
      log.warn('the run start could not be recorded', { error: err.message }),
    );
  };
  /** Goes straight to an agent once started: nothing to wait for, nothing to write first. */
  function dispatchedAtOnce(job: CompiledJob) {
    if (job.needs.length > 0 || job.when || job.approval) return false;
    const group = job.matrixGroup;
    return !group?.maxParallel || pipeline.jobs.filter((j) => j.matrixGroup?.name === group.name).length <= group.maxParallel;
  }

  const runJob = async (job: CompiledJob): Promise<JobRunResult> => {
    const { jobRunId, stepRunIds } = ids.jobs[job.key];
    await condition(() => !paused);
    const childId = jobRunWorkflowId(runId, jobRunId);
    const child = await startChild(JOB_RUN_WORKFLOW, {
      workflowId: childId,
      taskQueue: input.taskQueues.control,
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      args: [
        {
          runId,
          pipelineId: input.pipelineId,
          job,
          jobRunId,
          stepRunIds,
          env: { ...pipeline.env },
          facts: input.facts,
          deadlineMs,
          taskQueues: input.taskQueues,
          stepTimeouts: input.stepTimeouts,
          ...(pipeline.jobs.length === 1 ? { onlyJob: true } : {}),
          ...(queuedByRun.has(job.key) ? { queuedByRun: true } : {}),
        },
      ],
    });
    runningChildren.add(childId);
    jobStatus[job.key] = 'running';
    try {
      // A pause that came while the child was starting was forwarded without it. A child already
      // done has nothing to pause.
      if (paused && patched(PAUSE_JOBS_STARTED_DURING_PAUSE_PATCH)) await child.signal(pauseSignal).catch(() => undefined);
      const result = (await child.result()) as JobRunResult;
      jobStatus[job.key] = result.status;
      return result;
    } finally {
      runningChildren.delete(childId);
    }
  };

  // Matrix groups: at most maxParallel combinations at once; with failFast, one failure stops the rest.
  const groupRunning = new Map<string, number>();
  const groupFailure = new Map<string, string>();
  const groupScopes = new Map<string, Set<CancellationScope>>();
  const runInMatrixGroup = async (job: CompiledJob): Promise<JobRunResult> => {
    const group = job.matrixGroup;
    if (!group) return runJob(job);
    const limit = group.maxParallel ?? Number.POSITIVE_INFINITY;
    const mayProceed = () => (group.failFast && groupFailure.has(group.name)) || (groupRunning.get(group.name) ?? 0) < limit;
    // Several waiters wake in the same activation: each re-checks before taking a slot.
    do await condition(mayProceed);
    while (!mayProceed());
    const failFastReason = () => `fail-fast: ${groupFailure.get(group.name)} failed`;
    if (group.failFast && groupFailure.has(group.name)) {
      await markNotRun([job], failFastReason());
      return { status: 'cancelled', allowedFailure: false, reason: failFastReason() };
    }
    groupRunning.set(group.name, (groupRunning.get(group.name) ?? 0) + 1);
    const scope = new CancellationScope();
    const scopes = groupScopes.get(group.name) ?? new Set<CancellationScope>();
    groupScopes.set(group.name, scopes);
    scopes.add(scope);
    let result: JobRunResult;
    try {
      result = await scope.run(() => runJob(job));
    } catch (err) {
      if (!(isCancellation(err) && groupFailure.has(group.name) && !CancellationScope.current().consideredCancelled)) throw err;
      result = { status: 'cancelled', allowedFailure: false, reason: failFastReason() };
    } finally {
      scopes.delete(scope);
      groupRunning.set(group.name, (groupRunning.get(group.name) ?? 1) - 1);
    }
    if (result.status === 'cancelled' && groupFailure.has(group.name) && result.reason === 'cancelled') result = { ...result, reason: failFastReason() };
    if (group.failFast && result.status === 'failed' && !groupFailure.has(group.name)) {
      groupFailure.set(group.name, job.displayName);
      for (const other of scopes) other.cancel();
    }
    return result;
  };

  try {
    if (startsAlongside && patched(RUN_STARTED_ALONGSIDE_PATCH)) startRunAlongside();
    else await setStatus('running');
    if (pipeline.approval) {
      const gate = await waitForApproval({ approvalId: approvalIdFor(runId), runId, gate: pipeline.approval });
      if (!gate.approved) {
        await markNotRun(pipeline.jobs, gate.reason);
        await setStatus('failed', gate.reason);
        await notifyRun('failed');
        return { status: 'failed' };
      }
    }
    let failed = false;
    for (const stage of pipeline.stages) {
      const jobs = stage.jobKeys.map((key) => pipeline.jobs.find((j) => j.key === key)!);
      if (failed) {
        await markNotRun(jobs, `not run: an earlier stage failed`);
        continue;
      }
      // Jobs of a stage run in parallel; each waits for the jobs it needs.
      const started = new Map<string, Promise<JobRunResult>>();
      const startJob = (job: CompiledJob): Promise<JobRunResult> => {
        let p = started.get(job.key);
        if (!p) {
          p = (async () => {
            const needed = await Promise.all(job.needs.map((key) => results.get(key) ?? startedOrDone(key)));
            if (needed.some((r) => r.status !== 'success')) {
              await markNotRun([job], 'not run: a job it needs did not succeed');
              return { status: 'cancelled', allowedFailure: false, reason: 'not run' } satisfies JobRunResult;
            }
            const r = await runInMatrixGroup(job);
            results.set(job.key, r);
            return r;
          })();
          started.set(job.key, p);
        }
        return p;
      };
      const startedOrDone = (key: string): Promise<JobRunResult> => {
        const job = jobs.find((j) => j.key === key);
        if (!job) throw ApplicationFailure.nonRetryable(`job ${key} is needed but neither ran nor is in this stage`);
        return startJob(job);
      };
      const settled = await Promise.allSettled(jobs.map(startJob));
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
      if (settled.some((s) => s.status === 'fulfilled' && s.value.status !== 'success')) failed = true;
    }
    const outcome = runOutcome([...results.values()], false);
    paused = false; // paused during its last steps: nothing is held any more, a late resume has nothing to do
    // Its only job's last step recorded the run's success already (with that step's end).
    if (outcome === 'success' && [...results.values()].some((r) => r.runRecorded)) {
      status = outcome;
      upsertSearchAttributes([{ key: RUN_STATUS_ATTRIBUTE, value: outcome }]);
      await lastWrite; // the run's start, and any pause written meanwhile (each a no-op by now)
    } else await setStatus(outcome, outcome === 'failed' ? firstFailure() : undefined);
    await notifyRun(outcome);
    return { status: outcome };
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await CancellationScope.nonCancellable(async () => {
      await markNotRun(
        pipeline.jobs.filter((j) => jobStatus[j.key] === 'pending'),
        'cancelled',
      );
      await setStatus('cancelled', 'stopped');
      await notifyRun('cancelled');
    });
    return { status: 'cancelled' };
  }

  async function notifyRun(outcome: NotifyOutcome) {
    await sendNotifications({ notify: pipeline.notify, outcome, runId, pipelineId: input.pipelineId, taskQueues: input.taskQueues, stepTimeouts: input.stepTimeouts });
  }

  async function markNotRun(jobs: CompiledJob[], reason: string) {
    for (const job of jobs) {
      const { jobRunId, stepRunIds } = ids.jobs[job.key];
      for (const stepRunId of stepRunIds) await control.recordStepStatus({ stepRunId, status: 'cancelled' });
      await control.recordJobStatus({ jobRunId, status: 'cancelled', reason });
      // Only once written: a stop arriving midway must still find this job unfinished.
      jobStatus[job.key] = 'cancelled';
    }
  }

  function firstFailure(): string | undefined {
    for (const job of pipeline.jobs) {
      const r = results.get(job.key);
      if (r?.status === 'failed') return `job ${job.displayName} failed${r.reason ? `: ${r.reason}` : ''}`;
    }
    return undefined;
  }
}


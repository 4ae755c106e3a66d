// JobRunWorkflow: picks an agent, then runs the job's steps in order on that agent's own task queue.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import type { AgentPoolActivities, AcquiredAgent } from '../activities/agent-pool';
import type { ControlActivities } from '../activities/control';
import type { RunStepResult, StepActivities } from '../activities/step';
import type { JobRunInput, JobRunResult, RunFacts } from './definitions';
import { approvalIdFor, pauseSignal, resumeSignal } from './definitions';
import { createApprovalGate } from './approval-gate';
import { sendNotifications } from './notify';
import type { StepState } from './expression-context';
import { expressionContext } from './expression-context';
import { prepareStep, resolveEnv, shouldRun } from './step-plan';

/** How often a job is dispatched again after its agent disappeared. */
const AGENT_LOST_REDISPATCHES = 1;
const STEP_TIMEOUT_MARGIN_MS = 30_000;
const NO_FACTS: RunFacts = {
  trigger: { type: 'manual', ref: '', branch: '', tag: '', commitSha: '', event: 'manual', actor: '' },
  variables: {},
  pipeline: { id: '', name: '', namespace: '', runId: '', number: 0 },
};

export async function JobRunWorkflow(input: JobRunInput): Promise<JobRunResult> {
  const { job, jobRunId, taskQueues, stepTimeouts } = input;
  const facts = input.facts ?? { ...NO_FACTS, variables: {} };
  // Local activities: status writes run in the control worker itself, without a task-queue round trip.
  const control = proxyLocalActivities<ControlActivities>({
    startToCloseTimeout: '30s',
    retry: { initialInterval: '500ms', maximumInterval: '10s', nonRetryableErrorTypes: ['IllegalTransition'] },
  });
  const pool = proxyActivities<AgentPoolActivities>({
    taskQueue: taskQueues.agentPool,
    startToCloseTimeout: '30s',
    // Waits for a matching agent to poll; a job with no matching agent fails after this.
    scheduleToCloseTimeout: '1h',
    retry: { initialInterval: '1s', maximumInterval: '15s', backoffCoefficient: 1.5 },
  });

  const waitForApproval = createApprovalGate(control);
  let paused = false;
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));

  const stepStatus: string[] = job.steps.map(() => 'pending');
  const stepState: Record<string, StepState> = {};
  let allowedFailure = false;
  let failedReason: string | undefined;
  const lostQueues: string[] = [];
  let heldAgent: AcquiredAgent | undefined;
  let jobEnv: Record<string, string> = {};
  const context = (env: Record<string, string>) =>
    expressionContext(facts, {
      env,
      matrix: job.matrix,
      jobName: job.displayName,
      jobStatus: failedReason ? 'failure' : 'success',
      steps: stepState,
      status: { success: !failedReason, failure: !!failedReason, cancelled: false },
    });

  const finishRemaining = async (status: 'skipped' | 'cancelled') => {
    for (let i = 0; i < job.steps.length; i++) {
      if (stepStatus[i] === 'pending' || stepStatus[i] === 'queued' || stepStatus[i] === 'running') {
        await control.recordStepStatus({ stepRunId: input.stepRunIds[i], status });
        stepStatus[i] = status;
      }
    }
  };

  try {
    try {
      jobEnv = resolveEnv([input.env, job.env], context);
    } catch (err) {
      failedReason = `expression error in env: ${(err as Error).message}`;
    }
    // A job that `when` turns off ends success, marked skipped, with every step skipped.
    if (job.when && !shouldRun(job.when, context(jobEnv))) {
      await finishRemaining('skipped');
      await control.recordJobStatus({ jobRunId, status: 'success', skipped: true, reason: `when: ${job.when}` });
      return { status: 'success', allowedFailure: false, reason: 'skipped' };
    }
    if (job.approval) {
      const gate = await waitForApproval({ approvalId: approvalIdFor(input.runId, jobRunId), runId: input.runId, jobRunId, gate: job.approval });
      if (!gate.approved) {
        await finishRemaining('skipped');
        await control.recordJobStatus({ jobRunId, status: 'failed', reason: gate.reason });
        return { status: 'failed', allowedFailure: false, reason: gate.reason };
      }
    }
    // The job's own timeout and the pipeline's, whichever ends first (the SDK's Date is replay-safe).
    // eslint-disable-next-line no-restricted-properties
    const started = Date.now();
    const deadline = Math.min(job.timeoutMs ? started + job.timeoutMs : Infinity, input.deadlineMs ?? Infinity);
    await control.recordJobStatus({ jobRunId, status: 'queued' });
    // The agent that takes the job records it running, and queues its first step when that step
    // is sure to be dispatched next (no `when` of its own, nothing failed yet).
    const firstStepRuns = job.steps.length > 0 && !job.steps[0].when && !failedReason;
    let agent: AcquiredAgent = await pool.acquireAgent({
      jobRunId,
      selector: job.agentSelector,
      excludeTaskQueues: [],
      markRunning: { queueStep: firstStepRuns ? input.stepRunIds[0] : undefined },
    });
    heldAgent = agent;
    if (!agent.recorded) await control.recordJobStatus({ jobRunId, status: 'running', agentId: agent.agentId, attempt: 1 });
    if (agent.stepQueued) stepStatus[0] = 'queued';

    for (let i = 0; i < job.steps.length; i++) {
      const step = job.steps[i];
      const stepRunId = input.stepRunIds[i];
      if (paused) {
        await condition(() => !paused);
        // Every process may have restarted during the pause: find a live agent before the next step.
        if (!(await control.agentQueueIsLive({ agentId: agent.agentId, taskQueue: agent.taskQueue }))) agent = await redispatch('agent gone during pause');
      }

      const prepared = prepareStep(step, jobEnv, context);
      if (prepared.kind === 'skip') {
        await control.recordStepStatus({ stepRunId, status: 'skipped' });
        stepStatus[i] = 'skipped';
        stepState[step.name] = { outputs: {}, status: 'skipped' };
        continue;
      }
      let result: RunStepResult | undefined;
      if (prepared.kind === 'error') {
        await control.recordStepStatus({ stepRunId, status: 'running', attempt: 1 });
        result = { status: 'failed', exitCode: null, outputs: {}, reason: 'setup_failed', message: prepared.message, lines: 0 };
      }
      // eslint-disable-next-line no-restricted-properties
      const remaining = deadline - Date.now();
      const stepTimeoutMs = step.timeoutMs ?? stepTimeouts.defaultMs;
      const cutByDeadline = remaining < stepTimeoutMs;
      if (!result && remaining <= 0) {
        await control.recordStepStatus({ stepRunId, status: 'running', attempt: 1 });
        result = { status: 'timeout', exitCode: null, outputs: {}, reason: 'timeout', message: 'the job ran out of time before this step', lines: 0 };
      }
      const runnable = prepared.kind === 'run' ? prepared : null;
      const maxAttempts = Math.max(1, step.retry.maxAttempts);
      for (let attempt = 1; runnable && !result && attempt <= maxAttempts; attempt++) {
        // Queued: dispatched to the agent's queue; the agent itself reports running and the end (and,
        // when the step before succeeded there, it has queued this one already).
        if (stepStatus[i] === 'pending') await control.recordStepStatus({ stepRunId, status: 'queued' });
        stepStatus[i] = 'running';
        // eslint-disable-next-line no-restricted-properties
        const timeoutMs = Math.max(1, Math.min(stepTimeoutMs, deadline - Date.now()));
        const steps = proxyActivities<StepActivities>({
          taskQueue: agent.taskQueue,
          startToCloseTimeout: timeoutMs + STEP_TIMEOUT_MARGIN_MS,
          scheduleToStartTimeout: stepTimeouts.scheduleToStartMs,
          heartbeatTimeout: stepTimeouts.heartbeatMs,
          retry: { maximumAttempts: 1 },
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        });
        let outcome: RunStepResult;
        try {
          outcome = await steps.runStep({
            runId: input.runId,
            pipelineId: input.pipelineId,
            jobRunId,
            stepRunId,
            step: runnable.step,
            env: runnable.env,
            secrets: [],
            timeoutMs,
            source: job.source ? { repo: job.source.repo, ref: job.source.ref ?? facts.trigger.ref } : undefined,
            attempt,
            lastAttempt: attempt === maxAttempts,
            // The next step runs if this one succeeds, unless it has its own `when`, or the job has
            // already failed (then `success()` is false).
            queueNext: i + 1 < job.steps.length && !job.steps[i + 1].when && !failedReason ? input.stepRunIds[i + 1] : undefined,
            lastStep: i === job.steps.length - 1,
          });
        } catch (err) {
          if (!isAgentLost(err)) throw err;
          if (lostQueues.length >= AGENT_LOST_REDISPATCHES) {
            result = { status: 'failed', exitCode: null, outputs: {}, reason: 'setup_failed', message: 'agent lost', lines: 0 };
            failedReason = 'agent lost';
            break;
          }
          // The agent vanished mid-step: dispatch the job once more, to another agent, from this step on.
          agent = await redispatch('agent lost; dispatching again');
          attempt--; // a lost agent does not use up one of the step's own attempts
          continue;
        }
        if (outcome.status === 'success' || outcome.status === 'cancelled' || attempt === maxAttempts) result = outcome;
        else if (step.retry.delayMs > 0) await sleepUnlessPaused(step.retry.delayMs);
      }
      if (!result) throw ApplicationFailure.nonRetryable(`step ${step.name} produced no result`);
      if (!result.recorded) await control.recordStepStatus({ stepRunId, status: result.status, exitCode: result.exitCode, outputs: result.outputs, reason: result.message ?? result.reason });
      // Only once written: a stop arriving midway must still find this step unfinished.
      stepStatus[i] = result.status;
      if (result.nextQueued) stepStatus[i + 1] = 'queued';
      if (result.released) heldAgent = undefined; // its agent freed the job's slot with the last step
      stepState[step.name] = { outputs: result.outputs, status: result.status };
      if (result.status === 'timeout' && cutByDeadline) {
        failedReason ??= `job timed out while step ${step.name} ran`;
      } else if (result.status === 'failed' || result.status === 'timeout') {
        if (step.continueOnError) allowedFailure = true;
        else failedReason ??= `step ${step.name} ${result.status === 'timeout' ? 'timed out' : 'failed'}${result.message ? `: ${result.message}` : ''}`;
      }
    }
    await finishRemaining('skipped');
    if (heldAgent) await release(agent);
    if (failedReason && !job.continueOnError) {
      await control.recordJobStatus({ jobRunId, status: 'failed', reason: failedReason });
      await notifyJob('failed');
      return { status: 'failed', allowedFailure, reason: failedReason };
    }
    await control.recordJobStatus({ jobRunId, status: 'success', reason: failedReason });
    await notifyJob('success');
    return { status: 'success', allowedFailure: allowedFailure || !!failedReason, reason: failedReason };
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Stop: record what was left unfinished, whatever else is being cancelled.
    await CancellationScope.nonCancellable(async () => {
      if (heldAgent) await release(heldAgent);
      await finishRemaining('cancelled');
      await control.recordJobStatus({ jobRunId, status: 'cancelled', reason: 'cancelled' });
      await notifyJob('cancelled');
    });
    return { status: 'cancelled', allowedFailure, reason: 'cancelled' };
  }

  async function notifyJob(outcome: 'success' | 'failed' | 'cancelled') {
    await sendNotifications({ notify: job.notify, outcome, runId: input.runId, pipelineId: input.pipelineId, jobRunId, taskQueues, stepTimeouts });
  }

  /** Moves the job to another agent (its workspace so far stays behind with the old one). */
  async function redispatch(reason: string): Promise<AcquiredAgent> {
    lostQueues.push(heldAgent?.taskQueue ?? '');
    await control.recordJobStatus({ jobRunId, status: 'queued', reason });
    const next = await pool.acquireAgent({ jobRunId, selector: job.agentSelector, excludeTaskQueues: lostQueues });
    heldAgent = next;
    await control.recordJobStatus({ jobRunId, status: 'running', agentId: next.agentId, attempt: lostQueues.length + 1 });
    return next;
  }

  /** Frees the job's slot on its agent; an agent that is gone has nothing to free. */
  async function release(on: AcquiredAgent) {
    heldAgent = undefined;
    const agentQueue = proxyActivities<StepActivities>({ taskQueue: on.taskQueue, startToCloseTimeout: '10s', scheduleToStartTimeout: '10s', retry: { maximumAttempts: 1 } });
    await agentQueue.releaseAgent({ jobRunId }).catch((err: Error) => log.warn('could not release the agent', { agent: on.name, error: err.message }));
  }

  async function sleepUnlessPaused(ms: number) {
    await sleep(ms);
    await condition(() => !paused);
  }
}

function isAgentLost(err: unknown): boolean {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof TimeoutFailure)) return false;
  return err.cause.timeoutType === TimeoutType.HEARTBEAT || err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

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
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { TimeoutType } from '@temporalio/common';
import type { AgentPoolActivities, AcquiredAgent } from '../activities/agent-pool';
import type { ControlActivities } from '../activities/control';
import type { RunStepResult, StepActivities } from '../activities/step';
import type { CompiledStep } from '../src/spec/model';
import type { JobRunInput, JobRunResult, RunFacts } from './definitions';
import { approvalIdFor, pauseSignal, resumeSignal } from './definitions';
import { createApprovalGate } from './approval-gate';
import { sendNotifications } from './notify';
import type { StepState } from './expression-context';
import { expressionContext } from './expression-context';
import { prepareStep, resolveEnv, shouldRun } from './step-plan';

/** How often a job is dispatched again after its agent disappeared. */
const AGENT_LOST_REDISPATCHES = 1;
/** Histories from before steps were dispatched one ahead replay without it. */
const RUN_AHEAD_PATCH = 'dispatch-next-step-ahead';
/** …and those from before two were, with one. */
const TWO_AHEAD_PATCH = 'dispatch-two-steps-ahead';
/** …and those from before three were (an agent that holds three under the code that sent two), with two. */
const THREE_AHEAD_PATCH = 'dispatch-three-steps-ahead';
/** …and those from before a refused start waited for a pause, without that wait. */
const REFUSED_WAITS_FOR_PAUSE_PATCH = 'refused-start-waits-for-pause';
/**
 * How long a job waits for a pause signal after a step dispatched ahead was refused its start: the
 * run's `paused` is recorded before its jobs are told, so the refusal can come first.
 */
const REFUSED_PAUSE_WAIT_MS = 5_000;
/** …and those from before a retry's own deadline cut was told apart, with the first attempt's. */
const RETRY_DEADLINE_PATCH = 'retry-cut-by-job-deadline';
/** …and those from before an agent lost after the job's last step was asked whether it ended the job, without asking. */
const LOST_AFTER_JOB_END_PATCH = 'lost-agent-may-have-ended-job';
/** At most this many steps wait on the agent behind the one being decided. */
const MAX_AHEAD_DEPTH = 3;
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
  /** Pause and resume signals taken in: a wait for a pause also ends on a resume (see notStartedAhead). */
  let signalsIn = 0;
  setHandler(pauseSignal, () => void ((paused = true), signalsIn++));
  setHandler(resumeSignal, () => void ((paused = false), signalsIn++));

  const stepStatus: string[] = job.steps.map(() => 'pending');
  const stepState: Record<string, StepState> = {};
  let allowedFailure = false;
  let failedReason: string | undefined;
  /** The last step's agent recorded the job's `success` (and the run's) with that step's. */
  let endRecorded: { job: boolean; run: boolean } = { job: false, run: false };
  /** A dispatch of the last step asked its agent to end the job with it (RunStepInput.finishesJob). */
  let finishSent = false;
  const lostQueues: string[] = [];
  let heldAgent: AcquiredAgent | undefined;
  let agent: AcquiredAgent | undefined;
  let deadline = Infinity;
  /**
   * Steps dispatched ahead, by index, a chain following the step being decided: on the agent, each
   * waits for the dispatch before it to succeed. At most the depth the agent holds (one to three),
   * and one more for a moment once the step being decided has succeeded.
   */
  const ahead = new Map<number, Ahead>();
  /**
   * The scope the steps dispatched ahead run in: one for the whole chain, since they are only ever
   * let go all together (dropAhead), then a new one. A scope of its own per step cost each step
   * three more promises, and each promise a workflow makes costs the SDK a stack trace.
   */
  let aheadScope: CancellationScope | undefined;
  /**
   * Each step dispatch has its own id, which a step dispatched after it names: counted, and unique
   * to this run of the workflow (a reset one counts anew, under another run id).
   */
  let dispatches = 0;
  const nextDispatchId = () => `${workflowInfo().runId}:${++dispatches}`;
  /**
   * Steps dispatched ahead that may show running without having run to an end: let go after their
   * agent was lost, or just as the end before them recorded them running.
   */
  const mayHaveStarted = new Set<number>();
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

  /** A step that will not run is skipped, or cancelled when it may show running (see mayHaveStarted). */
  const notRun = (i: number, status: 'skipped' | 'cancelled') => (mayHaveStarted.has(i) ? 'cancelled' : status);
  const finishRemaining = async (status: 'skipped' | 'cancelled') => {
    for (let i = 0; i < job.steps.length; i++) {
      if (stepStatus[i] === 'pending' || stepStatus[i] === 'queued' || stepStatus[i] === 'running') {
        await control.recordStepStatus({ stepRunId: input.stepRunIds[i], status: notRun(i, status) });
        stepStatus[i] = notRun(i, status);
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
    deadline = Math.min(job.timeoutMs ? started + job.timeoutMs : Infinity, input.deadlineMs ?? Infinity);
    if (!input.queuedByRun) await control.recordJobStatus({ jobRunId, status: 'queued' });
    // The agent that takes the job records it running, and queues its first step when that step
    // is sure to be dispatched next (no `when` of its own, nothing failed yet).
    const firstStepRuns = job.steps.length > 0 && !job.steps[0].when && !failedReason;
    agent = await pool.acquireAgent({
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
      // Dispatched ahead while the step before ran: how it ended, unless it did not start.
      let early: Settled | undefined;
      const waiting = ahead.get(i);
      if (waiting) {
        early = await waiting.settled;
        ahead.delete(i);
        if ('result' in early && early.result.notStarted) early = await notStartedAhead(i, early.result);
      }
      if (!early && paused) {
        await condition(() => !paused);
        // Every process may have restarted during the pause: find a live agent before the next step.
        if (!(await control.agentQueueIsLive({ agentId: agent.agentId, taskQueue: agent.taskQueue }))) agent = await redispatch('agent gone during pause');
      }

      const prepared = prepareStep(step, jobEnv, context);
      if (prepared.kind === 'skip') {
        await control.recordStepStatus({ stepRunId, status: notRun(i, 'skipped') });
        stepStatus[i] = notRun(i, 'skipped');
        stepState[step.name] = { outputs: {}, status: notRun(i, 'skipped') };
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
      const cutBeforeStart = remaining < stepTimeoutMs;
      let cutByDeadline = cutBeforeStart;
      if (!result && !early && remaining <= 0) {
        await control.recordStepStatus({ stepRunId, status: 'running', attempt: 1 });
        result = { status: 'timeout', exitCode: null, outputs: {}, reason: 'timeout', message: 'the job ran out of time before this step', lines: 0 };
      }
      const runnable = prepared.kind === 'run' ? prepared : null;
      const maxAttempts = Math.max(1, step.retry.maxAttempts);
      for (let attempt = 1; runnable && !result && attempt <= maxAttempts; attempt++) {
        let outcome: RunStepResult;
        try {
          if (early) {
            const taken = early;
            early = undefined;
            if ('failure' in taken) throw taken.failure;
            outcome = taken.result;
            cutByDeadline = !!outcome.deadlineCut;
          } else {
            // Queued: dispatched to the agent's queue; the agent itself reports running and the end
            // (and, when the step before succeeded there, it has queued this one already).
            if (stepStatus[i] === 'pending') await control.recordStepStatus({ stepRunId, status: 'queued' });
            stepStatus[i] = 'running';
            // eslint-disable-next-line no-restricted-properties
            const timeoutMs = Math.max(1, Math.min(stepTimeoutMs, deadline - Date.now()));
            // Whether the job's deadline, not the step's own timeout, bounds this attempt: a retry, or
            // a dispatch to another agent after one was lost, has less of the job's time left.
            cutByDeadline = (attempt > 1 || lostQueues.length > 0) && patched(RETRY_DEADLINE_PATCH) ? timeoutMs < stepTimeoutMs : cutBeforeStart;
            const dispatchId = nextDispatchId();
            const running = dispatchStep(i, runnable, attempt, timeoutMs, dispatchId);
            fillAhead(i, { stepRunId, attempt, dispatchId, mayTakeMs: timeoutMs });
            outcome = await running;
          }
        } catch (err) {
          const dropped = await dropAhead();
          if (!isAgentLost(err)) throw err;
          for (const index of dropped) mayHaveStarted.add(index);
          // The lost agent may have run the job to its end, its answer lost with it: then the job
          // is over (its steps all succeeded there), and another agent could not report for it.
          if (finishSent && patched(LOST_AFTER_JOB_END_PATCH)) {
            const ended = await control.jobSucceeded({ jobRunId, runId: input.runId });
            if (ended.job) {
              heldAgent = undefined; // a lost agent has no slot to free
              result = { status: 'success', exitCode: null, outputs: {}, lines: 0, recorded: true, jobRecorded: true, runRecorded: ended.run };
              break;
            }
          }
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
        // Not succeeded: the steps ahead will not start, let them go. Succeeded: the step ahead runs
        // on the agent now, and one more is dispatched to wait at the end of the chain.
        if (outcome.status !== 'success') await dropAhead();
        else extendAhead(i + 1);
        if (outcome.status === 'success' || outcome.status === 'cancelled' || attempt === maxAttempts) result = outcome;
        else if (step.retry.delayMs > 0) await sleepUnlessPaused(step.retry.delayMs);
      }
      if (!result) throw ApplicationFailure.nonRetryable(`step ${step.name} produced no result`);
      if (!result.recorded) await control.recordStepStatus({ stepRunId, status: result.status, exitCode: result.exitCode, outputs: result.outputs, reason: result.message ?? result.reason });
      // Only once written: a stop arriving midway must still find this step unfinished.
      stepStatus[i] = result.status;
      if (result.nextQueued) stepStatus[i + 1] = 'queued';
      if (result.released) heldAgent = undefined; // its agent freed the job's slot with the last step
      endRecorded = { job: !!result.jobRecorded, run: !!result.runRecorded };
      if (endRecorded.job) break; // ended on its agent: with the last step, or before it was lost
      stepState[step.name] = { outputs: result.outputs, status: result.status };
      if (result.status === 'timeout' && cutByDeadline) {
        failedReason ??= `job timed out while step ${step.name} ran`;
      } else if (result.status === 'failed' || result.status === 'timeout') {
        if (step.continueOnError) allowedFailure = true;
        else failedReason ??= `step ${step.name} ${result.status === 'timeout' ? 'timed out' : 'failed'}${result.message ? `: ${result.message}` : ''}`;
      }
    }
    if (!endRecorded.job) await finishRemaining('skipped');
    if (heldAgent) await release(agent);
    if (failedReason && !job.continueOnError) {
      await control.recordJobStatus({ jobRunId, status: 'failed', reason: failedReason });
      await notifyJob('failed');
      return { status: 'failed', allowedFailure, reason: failedReason };
    }
    if (!endRecorded.job) await control.recordJobStatus({ jobRunId, status: 'success', reason: failedReason });
    await notifyJob('success');
    return { status: 'success', allowedFailure: allowedFailure || !!failedReason, reason: failedReason, ...(endRecorded.run ? { runRecorded: true } : {}) };
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Stop: record what was left unfinished, whatever else is being cancelled.
    await CancellationScope.nonCancellable(async () => {
      // Cancelled with the job: their agent lets them go first.
      for (const dispatched of ahead.values()) await dispatched.settled;
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

  /** Dispatches attempt `attempt` of step `i` to the agent's queue (after `after`, when dispatched ahead). */
  function dispatchStep(
    i: number,
    run: { step: CompiledStep; env: Record<string, string> },
    attempt: number,
    timeoutMs: number,
    dispatchId: string,
    after?: Dispatched,
    endsWithinMs?: number,
  ) {
    if (!agent) throw ApplicationFailure.nonRetryable('a step was dispatched before the job had an agent');
    const maxAttempts = Math.max(1, job.steps[i].retry.maxAttempts);
    const steps = proxyActivities<StepActivities>({
      taskQueue: agent.taskQueue,
      // A step dispatched ahead may first wait out the steps before it.
      startToCloseTimeout: (after ? after.mayTakeMs + STEP_TIMEOUT_MARGIN_MS : 0) + timeoutMs + STEP_TIMEOUT_MARGIN_MS,
      scheduleToStartTimeout: stepTimeouts.scheduleToStartMs,
      heartbeatTimeout: stepTimeouts.heartbeatMs,
      retry: { maximumAttempts: 1 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
    // The last step ends the job on its agent when nothing failed before it (a step dispatched
    // ahead starts only after the ones before it succeeded, so what holds now holds when it runs).
    const finishesJob = i === job.steps.length - 1 && !failedReason ? { run: !!input.onlyJob && !allowedFailure } : undefined;
    if (finishesJob) finishSent = true;
    return steps.runStep({
      runId: input.runId,
      pipelineId: input.pipelineId,
      jobRunId,
      stepRunId: input.stepRunIds[i],
      step: run.step,
      env: run.env,
      secrets: [],
      timeoutMs,
      source: job.source ? { repo: job.source.repo, ref: job.source.ref ?? facts.trigger.ref } : undefined,
      attempt,
      lastAttempt: attempt === maxAttempts,
      // The next step runs if this one succeeds, unless it has its own `when`, or the job has
      // already failed (then `success()` is false).
      queueNext: i + 1 < job.steps.length && !job.steps[i + 1].when && !failedReason ? input.stepRunIds[i + 1] : undefined,
      lastStep: i === job.steps.length - 1,
      ...(finishesJob ? { finishesJob } : {}),
      dispatchId,
      ...(after ? { after: { stepRunId: after.stepRunId, attempt: after.attempt, dispatchId: after.dispatchId } } : {}),
      ...(endsWithinMs !== undefined ? { endsWithinMs } : {}),
    });
  }

  /**
   * While `before` (a dispatch of step `i`) runs or waits on the agent, dispatches step i+1 too when
   * it is sure to run as it is should that dispatch succeed: no `when` of its own, nothing failed,
   * and nothing in it reads `steps` (what that dispatch is yet to produce; the rest of what its
   * expressions read is the same then as now). The agent starts it the moment that dispatch
   * succeeds (or tells it did not start), so a step costs no Temporal round trip of its own. Only
   * agents that say they wait for `after` get such a step: an older one would start it at once.
   */
  function dispatchAhead(i: number, before: Dispatched): Ahead | undefined {
    const next = job.steps[i + 1];
    if (!next || next.when || failedReason || paused || ahead.has(i + 1) || !agent?.runsAhead) return undefined;
    let readsSteps = false;
    const prepared = prepareStep(next, jobEnv, (env) => {
      const ctx = context(env);
      return {
        ...ctx,
        get steps() {
          readsSteps = true;
          return ctx.steps;
        },
      };
    });
    if (readsSteps || prepared.kind !== 'run' || !patched(RUN_AHEAD_PATCH)) return undefined;
    const timeoutMs = next.timeoutMs ?? stepTimeouts.defaultMs;
    // The job's deadline counts the wait too: the agent cuts the step's timeout to what is left.
    // eslint-disable-next-line no-restricted-properties
    const endsWithinMs = deadline === Infinity ? undefined : Math.max(1, deadline - Date.now());
    const dispatchId = nextDispatchId();
    // A stop taken in by this very activation reaches the shared scope a moment later than the
    // workflow's own: a new scope has it at once, so the step is never scheduled (as with a scope
    // made for each step).
    if (!aheadScope || (CancellationScope.current().consideredCancelled && !aheadScope.consideredCancelled)) aheadScope = new CancellationScope();
    const outcome = aheadScope.run(() => dispatchStep(i + 1, prepared, 1, timeoutMs, dispatchId, before, endsWithinMs));
    const entry: Ahead = {
      dispatchId,
      timeoutMs,
      mayTakeMs: before.mayTakeMs + STEP_TIMEOUT_MARGIN_MS + timeoutMs,
      state: 'waiting',
      settled: outcome.then(
        (result) => {
          entry.state = result.status === 'success' && !result.notStarted ? 'succeeded' : 'over';
          return { result };
        },
        (failure: unknown) => {
          entry.state = 'over';
          return { failure };
        },
      ),
    };
    ahead.set(i + 1, entry);
    return entry;
  }

  /**
   * Dispatches steps ahead after `before` (a dispatch of step `i`, the step being decided), each
   * after the one before it, as deep as the agent holds them; those dispatched already stay.
   */
  function fillAhead(i: number, before: Dispatched) {
    let last = i;
    let after = before;
    while (last + 1 <= i + aheadDepth(last + 1 - i)) {
      const entry = ahead.get(last + 1) ?? dispatchAhead(last, after);
      if (!entry) return;
      last++;
      after = { stepRunId: input.stepRunIds[last], attempt: 1, dispatchId: entry.dispatchId, mayTakeMs: entry.mayTakeMs };
    }
  }

  /**
   * Step `i`, dispatched ahead, runs now (the step before it succeeded): the chain after it waits
   * for less than it did, and grows by one at its end, unless a step in it is over already.
   */
  function extendAhead(i: number) {
    const running = ahead.get(i);
    if (!running) return;
    let mayTakeMs = 0;
    for (let k = i; ahead.has(k); k++) {
      const entry = ahead.get(k)!;
      if (entry.state === 'over') return;
      mayTakeMs = entry.mayTakeMs = (k === i ? 0 : mayTakeMs + STEP_TIMEOUT_MARGIN_MS) + entry.timeoutMs;
    }
    fillAhead(i, { stepRunId: input.stepRunIds[i], attempt: 1, dispatchId: running.dispatchId, mayTakeMs: running.mayTakeMs });
  }

  /**
   * How deep steps are dispatched ahead: one, or as many as the agent holds, up to three (unless
   * the history is one from before that depth). Each patch is asked only when a dispatch at its
   * depth is due, so histories keep their order.
   */
  function aheadDepth(wanted: number): number {
    if (wanted <= 1) return 1;
    if (Math.min(MAX_AHEAD_DEPTH, agent?.aheadDepth ?? 1) < wanted || !patched(TWO_AHEAD_PATCH)) return 1;
    if (wanted >= 3 && !patched(THREE_AHEAD_PATCH)) return 1;
    return wanted;
  }

  /**
   * Step `i`, dispatched ahead, did not start: it is dispatched as usual (so undefined: nothing to
   * take as its first attempt), and whatever was dispatched after it is let go first.
   */
  async function notStartedAhead(i: number, result: RunStepResult): Promise<undefined> {
    if (result.runningRecorded) mayHaveStarted.add(i); // it shows running, though it did not run
    await dropAhead();
    // Refused because its run no longer runs: most likely paused, the signal still on its way. It
    // must not start again before that signal is in (a stop cancels this wait).
    // A resume ends the wait too: the run was paused and resumed before the pause reached this job.
    if (result.notStarted === 'refused' && !paused && patched(REFUSED_WAITS_FOR_PAUSE_PATCH)) {
      const seen = signalsIn;
      await condition(() => paused || signalsIn !== seen, REFUSED_PAUSE_WAIT_MS);
    }
    return undefined;
  }

  /**
   * Cancels the steps dispatched ahead, and waits until their agent has let them go. Says which of
   * them may have started (they did not come back as not started).
   */
  async function dropAhead(): Promise<number[]> {
    const dropped = [...ahead];
    ahead.clear();
    aheadScope?.cancel();
    aheadScope = undefined;
    const results = await CancellationScope.nonCancellable(() => Promise.all(dropped.map(([, { settled }]) => settled)));
    const notStarted = (r: Settled) => 'result' in r && !!r.result.notStarted && !r.result.runningRecorded;
    return dropped.filter((_, n) => !notStarted(results[n])).map(([index]) => index);
  }

  /** Moves the job to another agent (its workspace so far stays behind with the old one). */
  async function redispatch(reason: string): Promise<AcquiredAgent> {
    for (const index of await dropAhead()) mayHaveStarted.add(index);
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

type Settled = { result: RunStepResult } | { failure: unknown };

/** A dispatch of a step: what a step dispatched after it waits for, and the time it may take. */
interface Dispatched {
  stepRunId: string;
  attempt: number;
  dispatchId: string;
  /** Its wait for the steps before it, if any, and its own timeout. */
  mayTakeMs: number;
}

interface Ahead {
  dispatchId: string;
  timeoutMs: number;
  mayTakeMs: number;
  /** How its dispatch ended, taken as the step's first attempt: its result or its failure. */
  settled: Promise<Settled>;
  /** Over: it did not start, or did not succeed; a step dispatched after it would wait in vain. */
  state: 'waiting' | 'succeeded' | 'over';
}

function isAgentLost(err: unknown): boolean {
  if (!(err instanceof ActivityFailure) || !(err.cause instanceof TimeoutFailure)) return false;
  return err.cause.timeoutType === TimeoutType.HEARTBEAT || err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

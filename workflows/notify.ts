// Notifications at the end of a run or job: plugin steps (e.g. actions/notify-webhook) on any agent.
// A notification that fails is logged and never changes the run.
import { ActivityCancellationType, log, proxyActivities } from '@temporalio/workflow';
import type { AgentPoolActivities } from '../activities/agent-pool';
import type { StepActivities } from '../activities/step';
import type { NotifySpec } from '../src/spec/model';
import type { JobRunInput } from './definitions';

const NOTIFY_ATTEMPTS = 3;

export type NotifyOutcome = 'success' | 'failed' | 'cancelled' | 'partial';

export function targetsFor(notify: NotifySpec | undefined, outcome: NotifyOutcome) {
  if (!notify) return [];
  if (outcome === 'cancelled') return notify.onCancel;
  return outcome === 'failed' ? notify.onFailure : notify.onSuccess;
}

export async function sendNotifications(opts: {
  notify: NotifySpec | undefined;
  outcome: NotifyOutcome;
  runId: string;
  pipelineId: string;
  /** Set for a job's own notify block. */
  jobRunId?: string;
  taskQueues: JobRunInput['taskQueues'];
  stepTimeouts: JobRunInput['stepTimeouts'];
}): Promise<void> {
  const targets = targetsFor(opts.notify, opts.outcome);
  if (targets.length === 0) return;
  const owner = `notify-${opts.jobRunId ?? opts.runId}`;
  const pool = proxyActivities<AgentPoolActivities>({ taskQueue: opts.taskQueues.agentPool, startToCloseTimeout: '30s', scheduleToCloseTimeout: '5m' });
  try {
    const agent = await pool.acquireAgent({ jobRunId: owner, selector: { matchLabels: {}, matchExpressions: [] }, excludeTaskQueues: [] });
    const steps = proxyActivities<StepActivities>({
      taskQueue: agent.taskQueue,
      startToCloseTimeout: '2m',
      scheduleToStartTimeout: opts.stepTimeouts.scheduleToStartMs,
      heartbeatTimeout: opts.stepTimeouts.heartbeatMs,
      // A notice is not a step: a failed delivery is tried again, then given up on.
      retry: { maximumAttempts: NOTIFY_ATTEMPTS, initialInterval: '2s', backoffCoefficient: 2 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    });
    for (const [i, target] of targets.entries()) {
      await steps
        .sendNotification({
        runId: opts.runId,
        pipelineId: opts.pipelineId,
        jobRunId: owner,
        stepRunId: `${owner}-${opts.outcome}-${i}`,
        step: { name: `notify-${i}`, index: i, uses: target.uses, args: target.args, env: {}, continueOnError: true, retry: { maxAttempts: 1, delayMs: 0 } },
        // The job a notice is about (none for the pipeline's own notify block), not the notification's own slot.
        env: { ARCENTRA_RUN_STATUS: opts.outcome, ARCENTRA_NOTIFY_JOB_RUN_ID: opts.jobRunId ?? '' },
        secrets: [],
        timeoutMs: 60_000,
      })
        .catch((err: Error) => log.warn('notification failed', { uses: target.uses, attempts: NOTIFY_ATTEMPTS, error: (err.cause as Error | undefined)?.message ?? err.message }));
    }
    await steps.releaseAgent({ jobRunId: owner });
  } catch (err) {
    log.warn('notification could not be sent', { error: (err as Error).message });
  }
}

// CronTriggerWorkflow: the action of a pipeline's cron schedule. It records one run (an activity on
// the control worker: the run's rows, numbered like any run) and runs it as a child, so the
// schedule's overlap policy sees that run still going. The run outlives this workflow if need be.
import { ParentClosePolicy, executeChild, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import { TypedSearchAttributes } from '@temporalio/common';
import type { ScheduleActivities } from '../activities/schedule';
import type { CronTriggerInput } from './definitions';
import { PIPELINE_RUN_WORKFLOW, RUN_SEARCH_ATTRIBUTES } from './definitions';

export async function CronTriggerWorkflow(input: CronTriggerInput): Promise<{ runId: string | null; skipped?: string }> {
  const schedule = proxyActivities<ScheduleActivities>({
    startToCloseTimeout: '2m',
    retry: { initialInterval: '2s', maximumAttempts: 5 },
  });
  // This workflow's id is the schedule's id plus the scheduled time: one run per firing, even if retried.
  const prepared = await schedule.prepareScheduledRun({ ...input, requestId: workflowInfo().workflowId });
  if (prepared.kind === 'skip') {
    log.info('scheduled run skipped', { pipelineId: input.pipelineId, reason: prepared.reason });
    return { runId: null, skipped: prepared.reason };
  }
  const run = prepared.run.input;
  try {
    await executeChild(PIPELINE_RUN_WORKFLOW, {
      workflowId: prepared.run.workflowId,
      taskQueue: run.taskQueues.control,
      args: [run],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: RUN_SEARCH_ATTRIBUTES.pipelineId, value: run.pipelineId },
        { key: RUN_SEARCH_ATTRIBUTES.projectId, value: run.projectId },
        { key: RUN_SEARCH_ATTRIBUTES.runStatus, value: 'pending' },
        { key: RUN_SEARCH_ATTRIBUTES.triggerType, value: 'cron' },
      ]),
    });
  } catch (err) {
    // The run's own outcome (failed, cancelled) is in its record; this workflow only started it.
    log.info('scheduled run ended', { runId: run.runId, outcome: (err as Error).message });
  }
  return { runId: run.runId };
}

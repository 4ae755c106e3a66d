// The control worker: runs the workflows and the control activities on the control task queue.
import type { NativeConnection } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { Db } from '../store/db';
import type { EventBus } from '../events';
import type { TemporalSettings } from '../temporal/temporal-config';
import { createControlActivities } from '../../activities/control';
import { cachedWorkflowBundle } from './workflow-bundle';
import { createScheduleActivities } from '../../activities/schedule';
import type { ScheduledRunRecorder } from '../../activities/schedule';
import type { WorkflowBundle } from './workflow-bundle';

export type { WorkflowBundle };

export async function createControlWorker(opts: {
  connection: NativeConnection;
  settings: TemporalSettings;
  namespace: string;
  db: Db;
  events: EventBus;
  bundle?: WorkflowBundle;
  /** Records the runs of cron schedules (a server's run service). */
  scheduledRuns?: ScheduledRunRecorder;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.settings.taskQueues.control,
    workflowBundle: opts.bundle ?? (await cachedWorkflowBundle()),
    activities: {
      ...createControlActivities({ db: opts.db, events: opts.events }),
      ...(opts.scheduledRuns ? createScheduleActivities(opts.scheduledRuns) : {}),
    },
    shutdownGraceTime: '5s',
  });
}

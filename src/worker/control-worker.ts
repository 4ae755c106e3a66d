// The control worker: runs the workflows and the control activities on the control task queue.
import { fileURLToPath } from 'node:url';
import type { NativeConnection } from '@temporalio/worker';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { Db } from '../store/db';
import type { EventBus } from '../events';
import type { TemporalSettings } from '../temporal/temporal-config';
import { createControlActivities } from '../../activities/control';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export type WorkflowBundle = { code: string } | { codePath: string };

let bundled: Promise<WorkflowBundle> | undefined;
/** Bundles the workflow code once per process. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundled ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger }).then((b) => ({ code: b.code }));
  return bundled;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export async function createControlWorker(opts: {
  connection: NativeConnection;
  settings: TemporalSettings;
  namespace: string;
  db: Db;
  events: EventBus;
  bundle?: WorkflowBundle;
}): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.settings.taskQueues.control,
    workflowBundle: opts.bundle ?? (await workflowBundle()),
    activities: createControlActivities({ db: opts.db, events: opts.events }),
    shutdownGraceTime: '5s',
  });
}

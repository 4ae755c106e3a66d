// The activity behind a cron schedule's action: record one run of the pipeline, on the control worker.
import type { CronTriggerInput, PreparedRun } from '../workflows/definitions';

export type PreparedScheduledRun = { kind: 'start'; run: PreparedRun } | { kind: 'skip'; reason: string };

export interface ScheduledRunRecorder {
  /** Records the run (or finds the one this requestId made) and says how to start it. */
  prepareScheduled(input: CronTriggerInput & { requestId: string }): Promise<PreparedScheduledRun>;
}

export function createScheduleActivities(recorder: ScheduledRunRecorder) {
  return {
    async prepareScheduledRun(input: CronTriggerInput & { requestId: string }): Promise<PreparedScheduledRun> {
      return recorder.prepareScheduled(input);
    },
  };
}

export type ScheduleActivities = ReturnType<typeof createScheduleActivities>;

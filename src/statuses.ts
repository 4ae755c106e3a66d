// Statuses of PipelineRun, JobRun and StepRun (the seed's sets) and the transitions each may take.
// Pure: imported by workflows, control activities and the API alike.

export const RUN_STATUSES = ['pending', 'running', 'success', 'failed', 'cancelled', 'paused', 'partial'] as const;
export const JOB_STATUSES = ['pending', 'queued', 'running', 'success', 'failed', 'cancelled'] as const;
export const STEP_STATUSES = ['pending', 'queued', 'running', 'success', 'failed', 'cancelled', 'timeout', 'skipped'] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];
export type JobStatus = (typeof JOB_STATUSES)[number];
export type StepStatus = (typeof STEP_STATUSES)[number];
export type EntityKind = 'run' | 'job' | 'step';

const FINAL = new Set<string>(['success', 'failed', 'cancelled', 'partial', 'timeout', 'skipped']);

export function isFinal(status: string): boolean {
  return FINAL.has(status);
}

const RUN_NEXT: Record<RunStatus, RunStatus[]> = {
  pending: ['running', 'paused', 'cancelled', 'failed'],
  running: ['paused', 'success', 'failed', 'cancelled', 'partial'],
  // paused -> success / partial: the run was paused during its last steps, and nothing was left to hold
  paused: ['running', 'success', 'partial', 'cancelled', 'failed'],
  success: [],
  failed: [],
  cancelled: [],
  partial: [],
};
const JOB_NEXT: Record<JobStatus, JobStatus[]> = {
  pending: ['queued', 'running', 'success', 'failed', 'cancelled'],
  queued: ['queued', 'running', 'success', 'failed', 'cancelled'],
  // running -> queued: the job is dispatched again after its agent was lost
  running: ['queued', 'success', 'failed', 'cancelled'],
  success: [],
  failed: [],
  cancelled: [],
};
const STEP_NEXT: Record<StepStatus, StepStatus[]> = {
  pending: ['queued', 'running', 'skipped', 'cancelled', 'failed'],
  queued: ['running', 'skipped', 'cancelled', 'failed', 'timeout'],
  // running -> running: a retry attempt or a re-dispatch after a lost agent; running -> queued: a
  // step dispatched ahead that may have started on a lost agent, dispatched again
  running: ['queued', 'running', 'success', 'failed', 'cancelled', 'timeout'],
  success: [],
  failed: [],
  cancelled: [],
  timeout: [],
  skipped: [],
};

/** The statuses an entity may be in just before moving to `to`. */
export function allowedFrom(kind: EntityKind, to: string): string[] {
  const table: Record<string, string[]> = kind === 'run' ? RUN_NEXT : kind === 'job' ? JOB_NEXT : STEP_NEXT;
  return Object.entries(table)
    .filter(([, next]) => next.includes(to))
    .map(([from]) => from);
}

export function isKnownStatus(kind: EntityKind, status: string): boolean {
  const list: readonly string[] = kind === 'run' ? RUN_STATUSES : kind === 'job' ? JOB_STATUSES : STEP_STATUSES;
  return list.includes(status);
}

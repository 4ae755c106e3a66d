// Pure status logic of a PipelineRun: unit-tested without Temporal.
import type { JobRunResult } from './definitions';

export type RunOutcome = 'success' | 'failed' | 'cancelled' | 'partial';

/** The final status of a run from its jobs' results (CONTRACT section 7). */
export function runOutcome(results: JobRunResult[], cancelled: boolean): RunOutcome {
  // A job ends with reason 'cancelled' only when the run was stopped.
  if (cancelled || results.some((r) => r.status === 'cancelled' && r.reason === 'cancelled')) return 'cancelled';
  if (results.some((r) => r.status === 'failed')) return 'failed';
  if (results.some((r) => r.allowedFailure)) return 'partial';
  return 'success';
}

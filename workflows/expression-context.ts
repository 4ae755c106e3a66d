// Builds the expression context of a step from the run's facts: pure, so it can run inside workflows.
import type { RunFacts } from './definitions';

export interface StepState {
  outputs: Record<string, string>;
  status: string;
}

export interface StatusFlags {
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}

export function expressionContext(facts: RunFacts, opts: { env: Record<string, string>; matrix?: Record<string, unknown>; jobName: string; jobStatus: string; steps: Record<string, StepState>; status: StatusFlags }) {
  return {
    trigger: facts.trigger,
    variables: facts.variables,
    env: opts.env,
    matrix: opts.matrix ?? {},
    // Secret values never enter workflow history; `secrets.*` resolves to nothing here.
    secrets: {},
    pipeline: facts.pipeline,
    job: { name: opts.jobName, status: opts.jobStatus },
    steps: opts.steps,
    status: opts.status,
  };
}

/** Trigger facts from a ref: `refs/heads/x` is branch x, `refs/tags/v1` is tag v1, a bare name is a branch. */
export function triggerFacts(input: { type: string; ref?: string | null; commitSha?: string | null; actor: string; event?: string | null }) {
  const ref = input.ref ?? '';
  const tag = ref.startsWith('refs/tags/') ? ref.slice('refs/tags/'.length) : '';
  const branch = ref.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : ref && !ref.startsWith('refs/') ? ref : '';
  return { type: input.type, ref, branch, tag, commitSha: input.commitSha ?? '', event: input.event ?? input.type, actor: input.actor };
}

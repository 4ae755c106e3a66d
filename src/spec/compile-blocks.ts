// Validated blocks → their model shape, with defaults applied. Pure functions, no reporting
// beyond the warnings passed in.
import type {
  AgentSelector, ApprovalGate, CompiledStep, CompiledTrigger, NotifySpec, NotifyTarget, RetryPolicy, SourceSpec,
} from './model';
import type { JobSpec, PipelineSpec, StepSpec, TriggerSpec } from './schema';
import type { IssueCollector, PathSeg } from './issues';

/** What a `run:` step uses: the builtin shell. */
export const SHELL_PLUGIN = 'actions/shell@v1';
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 60 * 60 * 1000;

type RetrySpec = NonNullable<JobSpec['retry']>;
type ApprovalSpec = NonNullable<JobSpec['approval']>;
type NotifyInput = NonNullable<JobSpec['notify']>;
type SourceInput = NonNullable<JobSpec['source']>;

export function compileRetry(retry: RetrySpec | undefined): RetryPolicy {
  return { maxAttempts: retry?.maxAttempts ?? 1, delayMs: retry?.delay ?? 0 };
}

/** The gate, only when `required` is true; an approval block that is not required only earns a warning. */
export function compileApproval(approval: ApprovalSpec | undefined, path: PathSeg[], issues: IssueCollector): ApprovalGate | undefined {
  if (!approval) return undefined;
  if (approval.required !== true) {
    issues.warning([...path, 'required'], "this approval has no effect because 'required' is not true");
    return undefined;
  }
  return { approvers: approval.approvers ?? [], timeoutMs: approval.timeout ?? DEFAULT_APPROVAL_TIMEOUT_MS, message: approval.message ?? '' };
}

export function compileNotify(notify: NotifyInput | undefined): NotifySpec | undefined {
  if (!notify) return undefined;
  const targets = (list: Array<{ uses: string; args?: Record<string, unknown> }> | undefined): NotifyTarget[] =>
    (list ?? []).map((t) => ({ uses: t.uses, args: t.args ?? {} }));
  return { onSuccess: targets(notify.onSuccess), onFailure: targets(notify.onFailure), onCancel: targets(notify.onCancel) };
}

export function compileSource(source: SourceInput | undefined): SourceSpec | undefined {
  if (!source) return undefined;
  return compact<SourceSpec>({ type: 'git', repo: source.repo, ref: source.ref });
}

/** `agentSelector` as written, or `runsOn` labels: `linux` → `{linux: "true"}`, `arch=arm64` → `{arch: "arm64"}`. */
export function compileAgentSelector(job: Pick<JobSpec, 'agentSelector' | 'runsOn'>): AgentSelector {
  const matchLabels: Record<string, string> = {};
  for (const label of job.runsOn ?? []) {
    const eq = label.indexOf('=');
    if (eq < 0) matchLabels[label] = 'true';
    else matchLabels[label.slice(0, eq)] = label.slice(eq + 1);
  }
  Object.assign(matchLabels, job.agentSelector?.matchLabels ?? {});
  const matchExpressions = (job.agentSelector?.matchExpressions ?? []).map((e) => ({ key: e.key, operator: e.operator, values: e.values ?? [] }));
  return { matchLabels, matchExpressions };
}

export function compileStep(step: StepSpec, index: number): CompiledStep {
  // Field by field instead of through compact(): this runs for every step of every combination.
  const out = { name: step.name, index, uses: step.run !== undefined ? SHELL_PLUGIN : (step.uses as string) } as CompiledStep;
  if (step.action !== undefined) out.action = step.action;
  out.args = step.args ?? {};
  if (step.run !== undefined) out.run = step.run;
  out.env = step.env ?? {};
  if (step.when !== undefined) out.when = step.when;
  if (step.timeout !== undefined) out.timeoutMs = step.timeout;
  out.continueOnError = step.continueOnError ?? false;
  out.retry = compileRetry(step.retry);
  if (step.workingDirectory !== undefined) out.workingDirectory = step.workingDirectory;
  return out;
}

/**
 * A copy of the object without its `undefined` fields, so the model's JSON has no empty keys.
 * Copies rather than deletes: `delete` turns an object into a slow dictionary-mode one.
 */
export function compact<T extends object>(value: T): T {
  const out = {} as T;
  for (const key of Object.keys(value) as Array<keyof T>) if (value[key] !== undefined) out[key] = value[key];
  return out;
}

export function compileTriggers(triggers: PipelineSpec['triggers']): CompiledTrigger[] {
  if (!triggers || triggers.length === 0) return [{ type: 'manual' }];
  return triggers.map((t: TriggerSpec): CompiledTrigger => {
    if (t.type === 'manual') return { type: 'manual' };
    if (t.type === 'cron') {
      return compact<CompiledTrigger>({
        type: 'cron',
        expression: t.options.expression.trim(),
        timezone: t.options.timezone,
        variables: t.options.variables ?? {},
        overlap: t.options.overlap,
        catchupWindowMs: t.options.catchupWindow,
      });
    }
    return { type: 'event', events: t.options.events, branches: t.options.branches ?? [], paths: t.options.paths ?? [] };
  });
}

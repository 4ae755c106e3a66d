// A validated spec → the canonical model: stages with indexes, jobs flattened in stage order,
// matrices expanded, needs resolved to job keys, defaults applied.
import { PIPELINE_MODEL_VERSION } from './model';
import type { CompiledJob, CompiledPipeline, CompiledStage } from './model';
import { SPEC_LIMITS } from './limits';
import { formatPath } from './issues';
import type { IssueCollector, PathSeg } from './issues';
import { combinationName, expandMatrix } from './matrix';
import type { Combination } from './matrix';
import { resolveNeeds } from './needs';
import type { JobSpec, PipelineSpec } from './schema';
import {
  compact, compileAgentSelector, compileApproval, compileNotify, compileRetry, compileSource, compileStep, compileTriggers,
} from './compile-blocks';

export const DEFAULT_STAGE_NAME = 'default';

interface JobEntry {
  spec: JobSpec;
  path: PathSeg[];
  stageIndex: number;
  stageName: string;
  /** Matrix combinations; undefined for a plain job. */
  combos?: Combination[];
}

/** The compiled pipeline, or undefined when `issues` received an error. */
export function compileSpec(spec: PipelineSpec, issues: IssueCollector): CompiledPipeline | undefined {
  const errorsBefore = issues.errorCount;
  const stageSpecs = spec.stages
    ? spec.stages.map((s, i) => ({ name: s.name, path: ['stages', i] as PathSeg[], jobs: s.jobs }))
    : [{ name: DEFAULT_STAGE_NAME, path: [] as PathSeg[], jobs: spec.jobs ?? [] }];

  const stageNames = new Map<string, number>();
  const entries: JobEntry[] = [];
  stageSpecs.forEach((stage, stageIndex) => {
    const previous = stageNames.get(stage.name);
    if (previous !== undefined) issues.error([...stage.path, 'name'], `stage name '${stage.name}' is already used by stages[${previous}]; stage names must be unique`);
    else stageNames.set(stage.name, stageIndex);
    stage.jobs.forEach((job, j) => entries.push({ spec: job, path: [...stage.path, 'jobs', j], stageIndex, stageName: stage.name }));
  });

  checkNames(entries, issues);
  let total = 0;
  for (const entry of entries) {
    if (entry.spec.matrix) {
      entry.combos = expandMatrix(entry.spec.matrix, (path, message) => issues.error([...entry.path, 'matrix', ...path], message));
    }
    total += entry.combos?.length ?? 1;
  }
  if (total > SPEC_LIMITS.maxJobs) {
    issues.error([], `the pipeline has ${total} jobs (counting every matrix combination); at most ${SPEC_LIMITS.maxJobs} are allowed`);
  }
  if (issues.errorCount > errorsBefore) return undefined;

  const jobKeys = new Map<string, string[]>(entries.map((e) => [e.spec.name, e.combos ? e.combos.map((c) => combinationName(e.spec.name, c)) : [e.spec.name]]));
  checkKeysUnique(entries, jobKeys, issues);
  const needs = resolveNeeds(
    entries.map((e) => ({
      name: e.spec.name,
      stageIndex: e.stageIndex,
      stageName: e.stageName,
      keys: jobKeys.get(e.spec.name) ?? [],
      needs: e.spec.needs ?? [],
      needsPath: [...e.path, 'needs'],
    })),
    issues,
  );

  const jobs: CompiledJob[] = entries.flatMap((entry) => compileJob(entry, needs.get(entry.spec.name) ?? [], issues));
  const stages: CompiledStage[] = stageSpecs.map((stage, index) => ({
    name: stage.name,
    index,
    jobKeys: jobs.filter((j) => j.stageIndex === index).map((j) => j.key),
  }));
  if (issues.errorCount > errorsBefore) return undefined;

  return compact<CompiledPipeline>({
    modelVersion: PIPELINE_MODEL_VERSION,
    namespace: spec.namespace,
    version: spec.version,
    variables: spec.variables ?? {},
    env: spec.env ?? {},
    timeoutMs: spec.timeout,
    source: compileSource(spec.source),
    approval: compileApproval(spec.approval, ['approval'], issues),
    target: spec.target,
    notify: compileNotify(spec.notify),
    triggers: compileTriggers(spec.triggers),
    stages,
    jobs,
  });
}

function checkNames(entries: readonly JobEntry[], issues: IssueCollector): void {
  const seen = new Map<string, PathSeg[]>();
  for (const { spec, path } of entries) {
    const first = seen.get(spec.name);
    if (first) issues.error([...path, 'name'], `job name '${spec.name}' is already used by ${formatPath(first)}; job names must be unique across the pipeline`);
    else seen.set(spec.name, path);
    const steps = new Map<string, number>();
    spec.steps.forEach((step, i) => {
      const previous = steps.get(step.name);
      if (previous !== undefined) issues.error([...path, 'steps', i, 'name'], `step name '${step.name}' is already used by steps[${previous}] of this job; step names must be unique in a job`);
      else steps.set(step.name, i);
    });
  }
}

function checkKeysUnique(entries: readonly JobEntry[], jobKeys: Map<string, string[]>, issues: IssueCollector): void {
  const owner = new Map<string, string>();
  for (const { spec, path } of entries) {
    for (const key of jobKeys.get(spec.name) ?? []) {
      const other = owner.get(key);
      if (other !== undefined && other !== spec.name) issues.error([...path, 'name'], `job '${spec.name}' produces the job key '${key}', which job '${other}' produces too; rename one of them`);
      owner.set(key, spec.name);
    }
  }
}

function compileJob(entry: JobEntry, needs: string[], issues: IssueCollector): CompiledJob[] {
  const { spec, path } = entry;
  const base = {
    name: spec.name,
    stageIndex: entry.stageIndex,
    stageName: entry.stageName,
    needs,
    when: spec.when,
    env: spec.env ?? {},
    timeoutMs: spec.timeout,
    retry: compileRetry(spec.retry),
    continueOnError: spec.continueOnError ?? false,
    agentSelector: compileAgentSelector(spec),
    source: compileSource(spec.source),
    approval: compileApproval(spec.approval, [...path, 'approval'], issues),
    target: spec.target,
    notify: compileNotify(spec.notify),
  };
  const steps = () => spec.steps.map((step, i) => compileStep(step, i));
  if (!entry.combos) return [compact<CompiledJob>({ key: spec.name, displayName: spec.name, ...base, steps: steps() })];
  const matrix = spec.matrix!;
  const matrixGroup = compact({ name: spec.name, maxParallel: matrix.maxParallel, failFast: matrix.failFast });
  return entry.combos.map((combo) => {
    const key = combinationName(spec.name, combo);
    return compact<CompiledJob>({ key, displayName: key, ...base, needs: [...needs], matrix: { ...combo }, matrixGroup: { ...matrixGroup }, steps: steps() });
  });
}

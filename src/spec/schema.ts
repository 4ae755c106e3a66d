// The spec language (CONTRACT §6) as valibot schemas: pipeline → stages → jobs → steps.
// Output is canonical (camelCase keys, durations in ms); meaning is checked later in compile.ts.
import * as v from 'valibot';
import { SPEC_LIMITS } from './limits';
import { describeValue } from './issues';
import {
  agentSelectorSchema, approvalSchema, matrixSchema, notifySchema, retrySchema, runsOnSchema, sourceSchema, triggerSchema,
} from './schema-blocks';
import {
  argsMap, envMap, flag, list, mapping, name, nonEmptyText, oneOrMany, pluginRef, relativeDir, text, timeoutDuration, variableMap,
} from './schema-kit';

const got = (issue: { input: unknown }): string => `got ${describeValue(issue.input)}`;

export const stepSchema = v.pipe(
  mapping(
    {
      name,
      run: v.optional(v.pipe(text, v.check((s) => s.trim().length > 0, 'must not be empty: write the script to run'))),
      uses: v.optional(pluginRef),
      action: v.optional(nonEmptyText),
      args: v.optional(argsMap),
      env: v.optional(envMap),
      when: v.optional(text),
      timeout: v.optional(timeoutDuration),
      continueOnError: v.optional(flag),
      retry: v.optional(retrySchema),
      workingDirectory: v.optional(relativeDir),
    },
    'step',
  ),
  v.forward(
    v.partialCheck([['run'], ['uses']], (s) => s.run === undefined || s.uses === undefined, "a step takes either 'run' (a shell script) or 'uses' (a plugin), not both"),
    ['uses'],
  ),
  v.partialCheck(
    [['run'], ['uses']],
    (s) => s.run !== undefined || s.uses !== undefined,
    "a step needs 'run' (a shell script) or 'uses' (a plugin such as actions/git-checkout@v1)",
  ),
  v.forward(
    v.partialCheck([['run'], ['action'], ['args']], (s) => s.run === undefined || (s.action === undefined && s.args === undefined), "'action' and 'args' only apply to a step with 'uses', not to a 'run' step"),
    ['run'],
  ),
);

export const jobSchema = v.pipe(
  mapping(
    {
      name,
      steps: v.pipe(
        list(stepSchema),
        v.minLength(1, 'a job needs at least one step'),
        v.maxLength(SPEC_LIMITS.maxStepsPerJob, (issue) => `a job may have at most ${SPEC_LIMITS.maxStepsPerJob} steps, this one has ${(issue.input as unknown[]).length}`),
      ),
      needs: v.optional(oneOrMany(nonEmptyText)),
      when: v.optional(text),
      matrix: v.optional(matrixSchema),
      env: v.optional(envMap),
      timeout: v.optional(timeoutDuration),
      retry: v.optional(retrySchema),
      continueOnError: v.optional(flag),
      agentSelector: v.optional(agentSelectorSchema),
      runsOn: v.optional(runsOnSchema),
      source: v.optional(sourceSchema),
      approval: v.optional(approvalSchema),
      target: v.optional(nonEmptyText),
      notify: v.optional(notifySchema),
    },
    'job',
  ),
  v.forward(
    v.partialCheck([['agentSelector'], ['runsOn']], (j) => j.agentSelector === undefined || j.runsOn === undefined, "give either 'agentSelector' or 'runsOn', not both"),
    ['runsOn'],
  ),
);

const jobList = v.pipe(list(jobSchema), v.minLength(1, 'must list at least one job'));

export const stageSchema = mapping({ name, jobs: jobList }, 'stage');

const version = v.pipe(
  v.string((issue) => `must be v1 or a semantic version such as 1.2.3, written as a string (quote it), ${got(issue)}`),
  v.regex(/^(v1|v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?)$/, (issue) => `must be v1 or a semantic version such as 1.2.3, ${got(issue)}`),
);

export const pipelineSchema = v.pipe(
  mapping(
    {
      namespace: v.pipe(nonEmptyText, v.maxLength(200, 'must be at most 200 characters'), v.regex(/^\S+$/, 'must not contain spaces')),
      version,
      variables: v.optional(variableMap),
      env: v.optional(envMap),
      stages: v.optional(v.pipe(list(stageSchema), v.minLength(1, 'must list at least one stage'))),
      jobs: v.optional(jobList),
      source: v.optional(sourceSchema),
      approval: v.optional(approvalSchema),
      target: v.optional(nonEmptyText),
      notify: v.optional(notifySchema),
      triggers: v.optional(list(triggerSchema)),
      timeout: v.optional(timeoutDuration),
    },
    'pipeline',
  ),
  v.forward(
    v.partialCheck([['stages'], ['jobs']], (p) => p.stages === undefined || p.jobs === undefined, "give either 'stages' or 'jobs' (a single default stage), not both"),
    ['jobs'],
  ),
  v.partialCheck(
    [['stages'], ['jobs']],
    (p) => p.stages !== undefined || p.jobs !== undefined,
    "the pipeline needs 'stages' (a list of stages, each with jobs) or 'jobs' (a list of jobs)",
  ),
);

export type PipelineSpec = v.InferOutput<typeof pipelineSchema>;
export type StageSpec = v.InferOutput<typeof stageSchema>;
export type JobSpec = v.InferOutput<typeof jobSchema>;
export type StepSpec = v.InferOutput<typeof stepSchema>;
export type { MatrixSpec, MatrixValue, TriggerSpec } from './schema-blocks';

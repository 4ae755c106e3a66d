// The spec compiler: text or structured spec → validated → canonical model (model.ts).
// Pure: no I/O, no clock, no randomness; never throws on any input.
import * as v from 'valibot';
import type { CompileResult, SpecIssue } from './model';
import { compileSpec } from './compile';
import { IssueCollector } from './issues';
import { reportSchemaIssues } from './messages';
import { parseSpecSource } from './parse';
import type { SpecFormat } from './parse';
import { warnUnusedVariables } from './scan';
import { pipelineSchema } from './schema';
import { checkSpecExpressions } from './expression-check';
import { applyPluginVersions, resolvePlugins } from './plugins';
import type { PluginResolver } from '../plugins/types';

export * from './model';
export type { SpecFormat, ParsedSpecSource, ValueSource } from './parse';
export type { PipelineSpec, JobSpec, StepSpec, StageSpec } from './schema';
export { parseSpecSource } from './parse';
export { SPEC_LIMITS } from './limits';
export { SHELL_PLUGIN, DEFAULT_APPROVAL_TIMEOUT_MS } from './compile-blocks';
export { DEFAULT_STAGE_NAME } from './compile';
export * from './expressions';

export interface CompileOptions {
  /** How `input` is written when it is text; text without a format is read as YAML (which includes JSON). */
  format?: SpecFormat;
  /** When given, each step's `uses` is resolved (exact version, action and args checked). */
  plugins?: PluginResolver;
}

export function compilePipeline(input: unknown, opts: CompileOptions = {}): CompileResult {
  try {
    return compileOrThrow(input, opts);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { valid: false, errors: [{ path: '', message: `the spec could not be checked: ${reason}` }], warnings: [] };
  }
}

function compileOrThrow(input: unknown, opts: CompileOptions): CompileResult {
  const parsed = parseSpecSource(input, opts.format);
  if (parsed.errors.length > 0) return { valid: false, errors: parsed.errors, warnings: parsed.warnings };

  const issues = new IssueCollector(parsed.value, parsed.locate);
  for (const warning of parsed.warnings) issues.addWarning(warning);
  checkSpecExpressions(parsed.value, issues, parsed.locateValue);
  const checked = v.safeParse(pipelineSchema, parsed.value, { abortEarly: false, abortPipeEarly: false });
  if (!checked.success) reportSchemaIssues(checked.issues, issues);
  const versions = checked.success && opts.plugins ? resolvePlugins(checked.output, opts.plugins, issues) : undefined;
  const pipeline = checked.success ? compileSpec(checked.output, issues) : undefined;
  if (pipeline && versions) applyPluginVersions(pipeline, versions);
  warnUnusedVariables(parsed.value, issues);

  const { errors, warnings } = issues.result();
  if (pipeline && errors.length === 0) return { valid: true, pipeline, errors: [], warnings };
  const reported: SpecIssue[] = errors.length > 0 ? errors : [{ path: '', message: 'the spec is not valid' }];
  return { valid: false, errors: reported, warnings };
}

/** For the validate endpoint: how many jobs (matrix combinations included) and stages a valid spec has. */
export function countJobsAndStages(result: CompileResult): { jobsCount: number; stagesCount: number } {
  if (!result.valid) return { jobsCount: 0, stagesCount: 0 };
  return { jobsCount: result.pipeline.jobs.length, stagesCount: result.pipeline.stages.length };
}

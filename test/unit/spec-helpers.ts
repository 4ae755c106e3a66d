// Shared helpers for the spec compiler tests (not a test file itself).
import { expect } from 'vitest';
import { compilePipeline } from '../../src/spec/index';
import type { CompiledPipeline, CompileResult, SpecIssue } from '../../src/spec/index';

export function valid(input: unknown, format?: 'yaml' | 'yml' | 'json'): CompiledPipeline {
  const result = compilePipeline(input, { format });
  if (!result.valid) throw new Error(`expected a valid spec, got ${JSON.stringify(result.errors, null, 2)}`);
  return result.pipeline;
}

export function invalid(input: unknown, format?: 'yaml' | 'yml' | 'json'): SpecIssue[] {
  const result: CompileResult = compilePipeline(input, { format });
  expect(result.valid, JSON.stringify(result)).toBe(false);
  expect(result.pipeline).toBeUndefined();
  return result.errors;
}

/** The one issue at `path`, failing the test when there is not exactly one. */
export function issueAt(issues: SpecIssue[], path: string): SpecIssue {
  const found = issues.filter((i) => i.path === path);
  expect(found, `issues at ${path} in ${JSON.stringify(issues, null, 2)}`).toHaveLength(1);
  return found[0];
}

/** A minimal valid structured spec whose jobs can be replaced. */
export function specWithJobs(jobs: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { namespace: 'demo.pipeline', version: 'v1', jobs, ...extra };
}

export const step = (name = 'run', run = 'echo hi') => ({ name, run });
export const job = (name: string, more: Record<string, unknown> = {}) => ({ name, steps: [step()], ...more });

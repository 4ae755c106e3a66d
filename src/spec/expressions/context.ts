// What an expression can read: the contexts, and the properties the fixed-shape ones offer.
import type { StatusFlags } from './functions';

export interface TriggerContext {
  type?: string;
  ref?: string;
  branch?: string;
  tag?: string;
  commitSha?: string;
  event?: unknown;
  actor?: string;
}

export interface PipelineContext {
  id?: string;
  name?: string;
  namespace?: string;
  runId?: string;
  number?: number;
}

export interface StepContext {
  outputs: Record<string, string>;
  status: string;
}

/** Everything an expression may read, as plain JSON data. */
export interface ExpressionContext {
  trigger: TriggerContext;
  variables: Record<string, string>;
  env: Record<string, string>;
  matrix: Record<string, unknown>;
  secrets: Record<string, string>;
  pipeline: PipelineContext;
  job: Record<string, unknown>;
  steps: Record<string, StepContext>;
  status: StatusFlags;
}

export const CONTEXT_NAMES = ['trigger', 'variables', 'env', 'matrix', 'secrets', 'pipeline', 'job', 'steps'] as const;
export type ContextName = (typeof CONTEXT_NAMES)[number];

export const TRIGGER_PROPERTIES: readonly string[] = ['type', 'ref', 'branch', 'tag', 'commitSha', 'event', 'actor'];
export const PIPELINE_PROPERTIES: readonly string[] = ['id', 'name', 'namespace', 'runId', 'number'];
export const STEP_PROPERTIES: readonly string[] = ['outputs', 'status'];

/** The context a name refers to (names are case-insensitive), if any. */
export function contextNamed(name: string): ContextName | undefined {
  const lower = name.toLowerCase();
  return CONTEXT_NAMES.find((c) => c === lower);
}

/** An empty context: every value reads as null or empty, nothing has failed. */
export function emptyContext(): ExpressionContext {
  return {
    trigger: {},
    variables: {},
    env: {},
    matrix: {},
    secrets: {},
    pipeline: {},
    job: {},
    steps: {},
    status: { success: true, failure: false, cancelled: false },
  };
}

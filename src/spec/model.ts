// The canonical compiled pipeline: plain JSON, versioned, the only shape the engine consumes.
// Nothing here knows about YAML, snake_case or the API; workflows import these types.

export const PIPELINE_MODEL_VERSION = 1;

export interface RetryPolicy {
  maxAttempts: number; // total attempts, >= 1
  delayMs: number;
}

export interface ApprovalGate {
  approvers: string[];
  timeoutMs: number;
  message: string;
}

export interface AgentSelector {
  matchLabels: Record<string, string>;
  matchExpressions: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values: string[] }>;
}

export interface SourceSpec {
  type: 'git';
  repo: string;
  ref?: string;
}

export interface NotifySpec {
  onSuccess: NotifyTarget[];
  onFailure: NotifyTarget[];
  onCancel: NotifyTarget[];
}

export interface NotifyTarget {
  uses: string;
  args: Record<string, unknown>;
}

export interface CompiledStep {
  /** Unique in its job. */
  name: string;
  index: number;
  /** `run:` steps use the builtin shell. */
  uses: string;
  /** The exact plugin version `uses` resolved to, when the spec was compiled with a plugin resolver. */
  pluginVersion?: string;
  action?: string;
  args: Record<string, unknown>;
  run?: string;
  env: Record<string, string>;
  when?: string;
  timeoutMs?: number;
  continueOnError: boolean;
  retry: RetryPolicy;
  workingDirectory?: string;
}

export interface CompiledJob {
  /** Stable id: the job name, plus the matrix values for an expanded combination. */
  key: string;
  /** The name the user wrote (shared by every matrix combination). */
  name: string;
  /** What the JobRun is called: `build (go=1.25, os=linux)` for a matrix combination. */
  displayName: string;
  stageIndex: number;
  stageName: string;
  /** Keys of jobs (same or earlier stage) this job waits for. */
  needs: string[];
  matrix?: Record<string, unknown>;
  /** Set on every combination of one matrix: the group name and its limits. */
  matrixGroup?: { name: string; maxParallel?: number; failFast: boolean };
  when?: string;
  env: Record<string, string>;
  timeoutMs?: number;
  retry: RetryPolicy;
  continueOnError: boolean;
  agentSelector: AgentSelector;
  source?: SourceSpec;
  approval?: ApprovalGate;
  target?: string;
  notify?: NotifySpec;
  steps: CompiledStep[];
}

export interface CompiledStage {
  name: string;
  index: number;
  jobKeys: string[];
}

export type CompiledTrigger =
  | { type: 'manual' }
  | {
      type: 'cron';
      expression: string;
      timezone?: string;
      variables: Record<string, string>;
      /** Default skip: a firing while the last run still goes starts nothing. */
      overlap?: 'skip' | 'bufferOne' | 'bufferAll' | 'cancelOther' | 'terminateOther' | 'allowAll';
      /** How late a missed firing (the server was down) may still start; default one minute. */
      catchupWindowMs?: number;
    }
  | { type: 'event'; events: Array<'push' | 'tag' | 'pull_request'>; branches: string[]; paths: string[] };

export interface CompiledPipeline {
  modelVersion: typeof PIPELINE_MODEL_VERSION;
  namespace: string;
  version: string;
  variables: Record<string, string>;
  env: Record<string, string>;
  timeoutMs?: number;
  source?: SourceSpec;
  approval?: ApprovalGate;
  target?: string;
  notify?: NotifySpec;
  triggers: CompiledTrigger[];
  stages: CompiledStage[];
  jobs: CompiledJob[];
}

export interface SpecIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export type CompileResult =
  | { valid: true; pipeline: CompiledPipeline; errors: []; warnings: SpecIssue[] }
  | { valid: false; pipeline?: undefined; errors: SpecIssue[]; warnings: SpecIssue[] };

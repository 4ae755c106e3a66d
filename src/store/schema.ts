// The relational model. PipelineRun, JobRun and StepRun are spelled as in the API and in Temporal.
import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const apiTokens = pgTable(
  'api_tokens',
  {
    tokenId: text('token_id').primaryKey(),
    name: text('name').notNull(),
    role: text('role').notNull(),
    projectIds: jsonb('project_ids').$type<string[] | null>(),
    tokenHash: text('token_hash').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at'),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash_idx').on(t.tokenHash)],
);

export const pipelines = pgTable(
  'pipelines',
  {
    pipelineId: text('pipeline_id').primaryKey(),
    projectId: text('project_id').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    repoUrl: text('repo_url'),
    defaultBranch: text('default_branch').notNull().default('main'),
    pipelineFilePath: text('pipeline_file_path').notNull().default('.arcentra/pipeline.yaml'),
    saveMode: text('save_mode').notNull().default('direct'),
    prTargetBranch: text('pr_target_branch'),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdBy: text('created_by').notNull().default(''),
    currentRevisionId: text('current_revision_id'),
    /** Repository credentials, sealed (AES-256-GCM, src/git/credentials.ts); never returned. */
    credentialsSealed: text('credentials_sealed'),
    /** The secret incoming webhooks are signed with, sealed like the credentials; write-only in the API. */
    webhookSecretSealed: text('webhook_secret_sealed'),
    /** A disabled pipeline starts no run: its schedules are paused, triggers and webhooks refused. */
    enabled: boolean('enabled').notNull().default(true),
    runCounter: integer('run_counter').notNull().default(0),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    deletedAt: ts('deleted_at'),
  },
  (t) => [uniqueIndex('pipelines_project_name_idx').on(t.projectId, t.name).where(sql`${t.deletedAt} is null`)],
);

/** Versions of an inline pipeline's definition; the revision id is its headCommitSha. */
export const pipelineRevisions = pgTable(
  'pipeline_revisions',
  {
    revisionId: text('revision_id').primaryKey(),
    pipelineId: text('pipeline_id').notNull().references(() => pipelines.pipelineId),
    parentRevisionId: text('parent_revision_id'),
    spec: jsonb('spec').$type<unknown>().notNull(),
    format: text('format').notNull().default('yaml'),
    commitMessage: text('commit_message').notNull().default(''),
    editor: text('editor').notNull().default(''),
    requestId: text('request_id'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('pipeline_revisions_pipeline_idx').on(t.pipelineId), uniqueIndex('pipeline_revisions_request_idx').on(t.pipelineId, t.requestId)],
);

/** The answer of a git-backed spec save, kept per requestId so that a retry pushes nothing new. */
export const specSaves = pgTable(
  'spec_saves',
  {
    pipelineId: text('pipeline_id').notNull().references(() => pipelines.pipelineId),
    requestId: text('request_id').notNull(),
    result: jsonb('result').$type<Record<string, unknown>>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('spec_saves_request_idx').on(t.pipelineId, t.requestId)],
);

export const pipelineRuns = pgTable(
  'pipeline_runs',
  {
    runId: text('run_id').primaryKey(),
    pipelineId: text('pipeline_id').notNull().references(() => pipelines.pipelineId),
    projectId: text('project_id').notNull(),
    number: integer('number').notNull(),
    status: text('status').notNull(),
    triggerType: text('trigger_type').notNull(),
    triggeredBy: text('triggered_by').notNull().default(''),
    requestId: text('request_id'),
    variables: jsonb('variables').$type<Record<string, string>>().notNull().default({}),
    ref: text('ref'),
    commitSha: text('commit_sha'),
    definitionCommitSha: text('definition_commit_sha'),
    target: text('target'),
    reason: text('reason'),
    workflowId: text('workflow_id').notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
    /**
     * When a stop was asked for through the API (before the workflow is cancelled): from then on
     * an agent no longer ends the run, or its jobs, with a last step (the workflow ends them cancelled).
     */
    stopRequestedAt: ts('stop_requested_at'),
  },
  (t) => [
    uniqueIndex('pipeline_runs_number_idx').on(t.pipelineId, t.number),
    uniqueIndex('pipeline_runs_request_idx').on(t.pipelineId, t.requestId),
    index('pipeline_runs_status_idx').on(t.status),
  ],
);

export const jobRuns = pgTable(
  'job_runs',
  {
    jobRunId: text('job_run_id').primaryKey(),
    runId: text('run_id').notNull().references(() => pipelineRuns.runId),
    stageIndex: integer('stage_index').notNull(),
    stageName: text('stage_name').notNull(),
    jobIndex: integer('job_index').notNull(),
    jobKey: text('job_key').notNull(),
    name: text('name').notNull(),
    matrix: jsonb('matrix').$type<Record<string, unknown> | null>(),
    status: text('status').notNull(),
    skipped: boolean('skipped').notNull().default(false),
    agentId: text('agent_id'),
    attempt: integer('attempt').notNull().default(0),
    reason: text('reason'),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [index('job_runs_run_idx').on(t.runId)],
);

export const stepRuns = pgTable(
  'step_runs',
  {
    stepRunId: text('step_run_id').primaryKey(),
    jobRunId: text('job_run_id').notNull().references(() => jobRuns.jobRunId),
    runId: text('run_id').notNull(),
    stepIndex: integer('step_index').notNull(),
    name: text('name').notNull(),
    status: text('status').notNull(),
    exitCode: integer('exit_code'),
    attempt: integer('attempt').notNull().default(0),
    outputs: jsonb('outputs').$type<Record<string, string>>().notNull().default({}),
    reason: text('reason'),
    startedAt: ts('started_at'),
    finishedAt: ts('finished_at'),
  },
  (t) => [index('step_runs_job_idx').on(t.jobRunId), index('step_runs_run_idx').on(t.runId)],
);

/** Step log lines, many per row, so a step of a million lines stays a few thousand rows. */
export const logChunks = pgTable(
  'log_chunks',
  {
    stepRunId: text('step_run_id').notNull(),
    firstLine: integer('first_line').notNull(),
    lastLine: integer('last_line').notNull(),
    lines: jsonb('lines').$type<Array<[number, string, string]>>().notNull(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('log_chunks_step_line_idx').on(t.stepRunId, t.firstLine)],
);

export const agents = pgTable('agents', {
  agentId: text('agent_id').primaryKey(),
  name: text('name').notNull(),
  labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
  taskQueue: text('task_queue'),
  status: text('status').notNull().default('offline'),
  runningJobs: integer('running_jobs').notNull().default(0),
  maxConcurrentJobs: integer('max_concurrent_jobs').notNull().default(4),
  lastHeartbeatAt: ts('last_heartbeat_at'),
  createdAt: ts('created_at').notNull().defaultNow(),
});

/** Approval gates of a run (the pipeline's, or one job's): waiting, then decided once. */
export const approvals = pgTable(
  'approvals',
  {
    approvalId: text('approval_id').primaryKey(),
    runId: text('run_id').notNull(),
    jobRunId: text('job_run_id'),
    gate: text('gate').notNull(),
    status: text('status').notNull().default('pending'),
    approvers: jsonb('approvers').$type<string[]>().notNull().default([]),
    message: text('message').notNull().default(''),
    decidedBy: text('decided_by'),
    reason: text('reason'),
    createdAt: ts('created_at').notNull().defaultNow(),
    expiresAt: ts('expires_at'),
    decidedAt: ts('decided_at'),
  },
  (t) => [index('approvals_run_idx').on(t.runId)],
);

/** Registration tokens with which `arcentra agent` processes join; stored only as hashes. */
export const agentTokens = pgTable(
  'agent_tokens',
  {
    tokenId: text('token_id').primaryKey(),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull(),
    createdBy: text('created_by').notNull().default(''),
    createdAt: ts('created_at').notNull().defaultNow(),
    revokedAt: ts('revoked_at'),
  },
  (t) => [uniqueIndex('agent_tokens_hash_idx').on(t.tokenHash)],
);

/** Settings the system keeps for itself (e.g. the bootstrap admin token's id). */
export const systemSettings = pgTable('system_settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});


/** Webhook deliveries already handled, by the provider's delivery id: a redelivery starts nothing new. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    pipelineId: text('pipeline_id').notNull(),
    deliveryId: text('delivery_id').notNull(),
    provider: text('provider').notNull(),
    result: jsonb('result').$type<Record<string, unknown>>(),
    receivedAt: ts('received_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('webhook_deliveries_idx').on(t.pipelineId, t.deliveryId)],
);

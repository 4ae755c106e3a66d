// Signals, queries and workflow input types: declared once, imported by workflows and clients alike.
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CompiledPipeline, CompiledJob } from '../src/spec/model';

export const pauseSignal = defineSignal<[{ reason?: string; operator?: string }?]>('pause');
export const resumeSignal = defineSignal<[{ reason?: string; operator?: string }?]>('resume');
export const liveTreeQuery = defineQuery<LiveTree>('liveTree');
/** Sent by the API once an approval is decided (the decision is already stored). */
export const approvalDecisionSignal = defineSignal<[ApprovalDecision]>('approvalDecision');

export interface ApprovalDecision {
  approvalId: string;
  decision: 'approved' | 'rejected';
  by: string;
  reason?: string;
}

/** Deterministic approval ids: one gate per run (pipeline) or per JobRun. */
export function approvalIdFor(runId: string, jobRunId?: string): string {
  return jobRunId ? `apr_${jobRunId}` : `apr_${runId}`;
}

/** The search attributes of CONTRACT section 10, set on every PipelineRun. */
export const RUN_SEARCH_ATTRIBUTES = {
  pipelineId: defineSearchAttributeKey('ArcentraPipelineId', SearchAttributeType.KEYWORD),
  projectId: defineSearchAttributeKey('ArcentraProjectId', SearchAttributeType.KEYWORD),
  runStatus: defineSearchAttributeKey('ArcentraRunStatus', SearchAttributeType.KEYWORD),
  triggerType: defineSearchAttributeKey('ArcentraTriggerType', SearchAttributeType.KEYWORD),
};

export const PIPELINE_RUN_WORKFLOW = 'PipelineRunWorkflow';
export const CRON_TRIGGER_WORKFLOW = 'CronTriggerWorkflow';

/** CONTRACT section 10: one schedule per cron trigger, numbered in the order of the spec's cron triggers. */
export function cronScheduleId(pipelineId: string, n: number): string {
  return `pipeline/${pipelineId}/cron/${n}`;
}

/** What a schedule's action asks for: the run of one cron trigger. */
export interface CronTriggerInput {
  pipelineId: string;
  /** The trigger's number among the pipeline's cron triggers. */
  n: number;
  variables: Record<string, string>;
}

/** A recorded run, ready for its workflow to start. */
export interface PreparedRun {
  workflowId: string;
  input: PipelineRunInput;
}
export const JOB_RUN_WORKFLOW = 'JobRunWorkflow';

export function pipelineRunWorkflowId(runId: string): string {
  return `pipeline-run/${runId}`;
}
export function jobRunWorkflowId(runId: string, jobRunId: string): string {
  return `pipeline-run/${runId}/job/${jobRunId}`;
}

/** What expressions may read about the run (CONTRACT section 6: trigger, variables, pipeline). */
export interface RunFacts {
  trigger: { type: string; ref: string; branch: string; tag: string; commitSha: string; event: string; actor: string };
  variables: Record<string, string>;
  pipeline: { id: string; name: string; namespace: string; runId: string; number: number };
}

export interface RunIds {
  /** jobKey -> the JobRun id and its StepRun ids (in step order), created with the run. */
  jobs: Record<string, { jobRunId: string; stepRunIds: string[] }>;
}

export interface PipelineRunInput {
  runId: string;
  pipelineId: string;
  projectId: string;
  pipelineName: string;
  number: number;
  triggerType: 'manual' | 'cron' | 'event';
  variables: Record<string, string>;
  /** Absent in runs started before expressions existed. */
  facts?: RunFacts;
  pipeline: CompiledPipeline;
  ids: RunIds;
  taskQueues: { control: string; agentPool: string };
  stepTimeouts: { heartbeatMs: number; scheduleToStartMs: number; defaultMs: number };
}

export interface JobRunInput {
  runId: string;
  pipelineId: string;
  job: CompiledJob;
  jobRunId: string;
  stepRunIds: string[];
  env: Record<string, string>;
  facts?: RunFacts;
  /** Epoch ms by which the pipeline's own timeout ends, if it has one. */
  deadlineMs?: number;
  taskQueues: { control: string; agentPool: string };
  stepTimeouts: { heartbeatMs: number; scheduleToStartMs: number; defaultMs: number };
  /** The run's only job: when it succeeds with no failure allowed, its end is the run's (see JobRunResult.runRecorded). */
  onlyJob?: boolean;
  /** The run's start records this job queued (see PipelineRunWorkflow's startRunAlongside). */
  queuedByRun?: boolean;
}

export type JobOutcomeStatus = 'success' | 'failed' | 'cancelled';

export interface JobRunResult {
  status: JobOutcomeStatus;
  /** A failure happened but was allowed (continueOnError): the run can end `partial`. */
  allowedFailure: boolean;
  reason?: string;
  /** The agent recorded the run `success` with the job's last step: the run has nothing left to write. */
  runRecorded?: boolean;
}

export interface LiveTree {
  runId: string;
  status: string;
  paused: boolean;
  jobs: Record<string, { jobRunId: string; status: string }>;
}

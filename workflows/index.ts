// The workflows the control worker registers; bundled once for the worker and the tests.
export { PipelineRunWorkflow } from './pipeline-run';
export { JobRunWorkflow } from './job-run';
export { CronTriggerWorkflow } from './cron-trigger';

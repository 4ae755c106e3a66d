#!/usr/bin/env node
// Reads {args} as JSON on stdin and POSTs {runId, pipelineId, jobRunId, status, message} to args.url, with retries.
import { readFileSync } from 'node:fs';

const { args } = JSON.parse(readFileSync(0, 'utf8'));
const notice = {
  runId: process.env.ARCENTRA_RUN_ID ?? null,
  pipelineId: process.env.ARCENTRA_PIPELINE_ID ?? null,
  // End-of-run notices name the job they are about (or none); a notify step inside a job names that job.
  jobRunId: process.env.ARCENTRA_NOTIFY_JOB_RUN_ID !== undefined ? process.env.ARCENTRA_NOTIFY_JOB_RUN_ID || null : (process.env.ARCENTRA_JOB_RUN_ID ?? null),
  status: args.status ?? process.env.ARCENTRA_RUN_STATUS ?? null,
  message: args.message ?? null,
};
const attempts = args.attempts ?? 3;
for (let attempt = 1; attempt <= attempts; attempt++) {
  try {
    const res = await fetch(args.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(notice), signal: AbortSignal.timeout(10_000) });
    if (res.ok) {
      console.log(`notified ${args.url} (${res.status})`);
      process.exit(0);
    }
    console.error(`notify-webhook: attempt ${attempt}: status ${res.status}`);
  } catch (err) {
    console.error(`notify-webhook: attempt ${attempt}: ${err.cause?.message ?? err.message}`);
  }
  if (attempt < attempts) await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
}
process.exit(1);

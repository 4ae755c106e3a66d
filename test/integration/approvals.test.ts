// Approval gates end to end: approve, reject, wrong role, someone not among the approvers, a second
// decision, and a gate that runs out of time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DB_KINDS } from '../support/databases';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { createTokenService } from '../../src/services/tokens';
import { recordReplayHistory } from '../support/record-replay';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(DB_KINDS)('approvals on %s', (db) => {
  let sys: TestSystem;
  const tokens: Record<string, string> = {};
  let n = 0;
  beforeAll(async () => {
    sys = await startTestSystem({ db });
    const service = createTokenService(sys.database.db);
    for (const [name, role] of [
      ['alice', 'operator'],
      ['carol', 'operator'],
      ['vic', 'viewer'],
    ] as const) {
      tokens[name] = (await service.create({ name, role })).token;
    }
  });
  afterAll(async () => {
    await sys?.close();
  });

  async function start(spec: Record<string, unknown>) {
    const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_appr', name: `a${++n}`, spec: { namespace: 'demo', version: 'v1', ...spec } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const trig = await sys.api('POST', `/api/v1/pipelines/${created.body.detail.pipelineId}/trigger`, {});
    return trig.body.detail.runId as string;
  }
  async function waitingGate(runId: string) {
    for (let i = 0; i < 150; i++) {
      const run = (await sys.api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
      if (run.waitingFor.length) return run;
      await sleep(100);
    }
    throw new Error('the run never waited for approval');
  }

  it('holds the pipeline at its gate until an allowed approver approves, once', async () => {
    const runId = await start({
      approval: { required: true, approvers: ['alice'], timeout: '1h', message: 'ship it?' },
      jobs: [{ name: 'deploy', steps: [{ name: 'go', run: 'echo deployed' }] }],
    });
    const waiting = await waitingGate(runId);
    expect(waiting.status).toBe('running');
    expect(waiting.waitingFor[0]).toMatchObject({ gate: 'pipeline', jobRunId: null, message: 'ship it?' });
    expect(waiting.stages[0].jobs[0].status).toBe('pending');
    const list = await sys.api('GET', `/api/v1/pipelines/runs/${runId}/approvals`);
    const approvalId = list.body.detail.list[0].approvalId;
    expect(list.body.detail.list[0]).toMatchObject({ status: 'pending', approvers: ['alice'] });

    expect((await sys.api('POST', `/api/v1/approvals/${approvalId}/approve`, {}, tokens.vic)).status).toBe(403);
    const notApprover = await sys.api('POST', `/api/v1/approvals/${approvalId}/approve`, {}, tokens.carol);
    expect(notApprover.status).toBe(403);
    expect(notApprover.body.errMsg).toMatch(/not one of this gate's approvers/);
    expect((await sys.api('POST', `/api/v1/approvals/apr_missing/approve`, {}, tokens.alice)).status).toBe(404);

    const ok = await sys.api('POST', `/api/v1/approvals/${approvalId}/approve`, { reason: 'looks good' }, tokens.alice);
    expect(ok.status).toBe(200);
    expect(ok.body.detail).toMatchObject({ status: 'approved', decidedBy: 'alice', reason: 'looks good' });
    expect(Date.parse(ok.body.detail.decidedAt)).not.toBeNaN();
    expect((await sys.api('POST', `/api/v1/approvals/${approvalId}/approve`, {}, tokens.alice)).status).toBe(200);
    const second = await sys.api('POST', `/api/v1/approvals/${approvalId}/reject`, {}, tokens.alice);
    expect(second.status).toBe(409);
    expect(second.body.errMsg).toMatch(/already approved; a decision is final/);

    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('success');
    expect(done.waitingFor).toEqual([]);
    if (db === 'pglite') await recordReplayHistory(sys.temporalAddress, `pipeline-run/${runId}`, 'pipeline-run-approved');
  });

  it('fails a job whose gate is rejected, with who and why', async () => {
    const runId = await start({ jobs: [{ name: 'prod', approval: { required: true, timeout: '1h' }, steps: [{ name: 'go', run: 'echo never' }] }] });
    const waiting = await waitingGate(runId);
    expect(waiting.waitingFor[0]).toMatchObject({ gate: 'job', jobRunId: waiting.stages[0].jobs[0].jobRunId });
    const r = await sys.api('POST', `/api/v1/approvals/${waiting.waitingFor[0].approvalId}/reject`, { reason: 'not today' }, tokens.carol);
    expect(r.status).toBe(200);
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('failed');
    expect(done.stages[0].jobs[0]).toMatchObject({ status: 'failed', reason: 'approval rejected by carol: not today' });
    expect(done.stages[0].jobs[0].steps[0].status).toBe('skipped');
  });

  it('fails a job whose gate runs out of time with reason approval expired', async () => {
    const runId = await start({ jobs: [{ name: 'prod', approval: { required: true, timeout: '2s' }, steps: [{ name: 'go', run: 'echo never' }] }] });
    const done = await sys.waitForRun(runId, undefined, 30_000);
    expect(done.status).toBe('failed');
    expect(done.stages[0].jobs[0]).toMatchObject({ status: 'failed', reason: 'approval expired' });
    const list = await sys.api('GET', `/api/v1/pipelines/runs/${runId}/approvals`);
    expect(list.body.detail.list[0]).toMatchObject({ status: 'expired', reason: 'approval expired' });
    const late = await sys.api('POST', `/api/v1/approvals/${list.body.detail.list[0].approvalId}/approve`, {}, tokens.alice);
    expect(late.status).toBe(409);
    if (db === 'pglite') await recordReplayHistory(sys.temporalAddress, `pipeline-run/${runId}/job/${done.stages[0].jobs[0].jobRunId}`, 'job-run-approval-expired');
  });
});

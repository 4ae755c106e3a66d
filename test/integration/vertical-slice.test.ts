// The first vertical slice on both databases: create an inline pipeline, trigger it, read the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection, Client } from '@temporalio/client';
import { DB_KINDS } from '../support/databases';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { recordReplayHistory } from '../support/record-replay';

const TWO_STAGES = {
  namespace: 'demo.pipeline',
  version: 'v1',
  stages: [
    {
      name: 'build',
      jobs: [
        {
          name: 'build-go',
          steps: [
            { name: 'checkout', run: 'echo checkout > marker.txt' },
            { name: 'compile', run: 'test -f marker.txt && echo "compiled=yes" >> "$ARCENTRA_OUTPUT" && echo built' },
          ],
        },
      ],
    },
    { name: 'test', jobs: [{ name: 'unit', steps: [{ name: 'go-test', run: 'echo testing; for i in 1 2 3; do echo line $i; done' }] }] },
  ],
};

const JOBS_ONLY_FAILING = {
  namespace: 'demo.pipeline',
  version: 'v1',
  jobs: [
    {
      name: 'build',
      steps: [
        { name: 'compile', run: 'echo about to fail; exit 3' },
        { name: 'never', run: 'echo should not run' },
      ],
    },
  ],
};

describe.each(DB_KINDS)('vertical slice on %s', (db) => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ db });
  });
  afterAll(async () => {
    await sys?.close();
  });

  it('answers health and readiness without a token', async () => {
    expect((await sys.api('GET', '/healthz', undefined, null)).status).toBe(200);
    const ready = await sys.api('GET', '/readyz', undefined, null);
    expect(ready.status).toBe(200);
    expect(ready.body.detail.checks).toEqual({ database: 'ok', temporal: 'ok', worker: 'ok' });
  });

  it('rejects missing, malformed and unknown tokens with 401 in the envelope', async () => {
    for (const token of [null, 'not a bearer', 'arc_unknown_token_value']) {
      const r = await sys.api('GET', '/api/v1/pipelines', undefined, token);
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ code: 401, path: '/api/v1/pipelines' });
      expect(typeof r.body.errMsg).toBe('string');
      expect(typeof r.body.timestamp).toBe('number');
    }
    const res = await fetch(sys.url + '/api/v1/pipelines', { headers: { authorization: 'Basic abc' } });
    expect(res.status).toBe(401);
  });

  it('answers an unknown route with 404 and malformed JSON with 400', async () => {
    const r = await sys.api('GET', '/api/v1/nope');
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ code: 404, path: '/api/v1/nope' });
    const bad = await sys.api('POST', '/api/v1/pipelines', '{"projectId": ');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe(400);
    expect(bad.body.errMsg).toMatch(/malformed JSON/);
  });

  it('rejects a body with a wrong type, naming the field', async () => {
    const r = await sys.api('POST', '/api/v1/pipelines', { projectId: 'p1', name: 42 });
    expect(r.status).toBe(400);
    expect(r.body.errMsg).toMatch(/^name: /);
  });

  it('runs a two-stage pipeline to success on Temporal and records the tree', async () => {
    const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_a', name: `two-stages-${db}`, spec: TWO_STAGES });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ code: 0, msg: 'success' });
    const pipelineId = created.body.detail.pipelineId;
    expect(created.body.detail).toMatchObject({ projectId: 'proj_a', repoUrl: null, defaultBranch: 'main', saveMode: 'direct', lastRun: null });

    const trig = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, { variables: { env: 'prod' }, triggeredBy: 'user_1', requestId: 'req-1' });
    expect(trig.status).toBe(200);
    expect(trig.body.detail).toMatchObject({ number: 1, status: 'pending' });
    const runId = trig.body.detail.runId;

    const run = await sys.waitForRun(runId);
    expect(run.status).toBe('success');
    expect(run).toMatchObject({ pipelineId, projectId: 'proj_a', number: 1, triggerType: 'manual', triggeredBy: 'user_1', variables: { env: 'prod' } });
    expect(run.temporal.workflowId).toBe(`pipeline-run/${runId}`);
    expect(run.stages.map((s: any) => s.name)).toEqual(['build', 'test']);
    const build = run.stages[0].jobs[0];
    expect(build).toMatchObject({ name: 'build-go', status: 'success', attempt: 1 });
    expect(build.agentId).toBe(sys.agent!.identity.agentId);
    expect(build.steps.map((s: any) => [s.name, s.status, s.exitCode])).toEqual([
      ['checkout', 'success', 0],
      ['compile', 'success', 0],
    ]);
    expect(build.steps[1].outputs).toEqual({ compiled: 'yes' });
    for (const t of [run.startedAt, run.finishedAt, build.startedAt, build.finishedAt, build.steps[0].startedAt]) expect(Date.parse(t)).not.toBeNaN();
    expect(run.durationMs).toBeGreaterThanOrEqual(0);
    // Stage order: the test stage started only after the build stage finished.
    expect(Date.parse(run.stages[1].jobs[0].startedAt)).toBeGreaterThanOrEqual(Date.parse(build.finishedAt));

    // The workflow and its child are visible in Temporal under the contract's ids and search attributes.
    const connection = await Connection.connect({ address: sys.temporalAddress });
    const client = new Client({ connection });
    const desc = await client.workflow.getHandle(`pipeline-run/${runId}`).describe();
    expect(desc.status.name).toBe('COMPLETED');
    expect(desc.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
      expect.arrayContaining([
        ['ArcentraPipelineId', pipelineId],
        ['ArcentraProjectId', 'proj_a'],
        ['ArcentraRunStatus', 'success'],
        ['ArcentraTriggerType', 'manual'],
      ]),
    );
    const child = await client.workflow.getHandle(`pipeline-run/${runId}/job/${build.jobRunId}`).describe();
    expect(child.type).toBe('JobRunWorkflow');
    await connection.close();
    if (db === 'pglite') {
      await recordReplayHistory(sys.temporalAddress, `pipeline-run/${runId}`, 'pipeline-run-two-stages-success');
      await recordReplayHistory(sys.temporalAddress, `pipeline-run/${runId}/job/${build.jobRunId}`, 'job-run-success');
    }

    // Logs are stored out of band, numbered from 1.
    const testStep = run.stages[1].jobs[0].steps[0];
    const logs = await sys.api('GET', `/api/v1/pipelines/runs/${runId}/steps/${testStep.stepRunId}/logs`);
    expect(logs.body.detail.lines.map((l: any) => [l.line, l.content])).toEqual([
      [1, 'testing'],
      [2, 'line 1'],
      [3, 'line 2'],
      [4, 'line 3'],
    ]);
    expect(logs.body.detail).toMatchObject({ nextLine: 5, complete: true });

    // The same requestId again answers with the first run.
    const again = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, { requestId: 'req-1' });
    expect(again.body.detail.runId).toBe(runId);
    const fetched = await sys.api('GET', `/api/v1/pipelines/${pipelineId}`);
    expect(fetched.body.detail.lastRun).toEqual({ runId, status: 'success' });
  });

  it('fails the step, the job and the run on exit 3 (jobs-only shorthand)', async () => {
    const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_a', name: `failing-${db}`, spec: JOBS_ONLY_FAILING });
    const pipelineId = created.body.detail.pipelineId;
    const trig = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
    const run = await sys.waitForRun(trig.body.detail.runId);
    expect(run.status).toBe('failed');
    expect(run.stages.map((s: any) => s.name)).toEqual(['default']);
    const job = run.stages[0].jobs[0];
    expect(job.status).toBe('failed');
    expect(job.steps.map((s: any) => [s.name, s.status, s.exitCode])).toEqual([
      ['compile', 'failed', 3],
      ['never', 'skipped', null],
    ]);
    expect(run.reason).toMatch(/build/);
    if (db === 'pglite') {
      await recordReplayHistory(sys.temporalAddress, `pipeline-run/${run.runId}`, 'pipeline-run-failed');
      await recordReplayHistory(sys.temporalAddress, `pipeline-run/${run.runId}/job/${job.jobRunId}`, 'job-run-failed');
    }
  });

  it('rejects an invalid spec at create with 400 and the error list, writing nothing', async () => {
    const r = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_a', name: `bad-${db}`, spec: { namespace: 'x', version: 'v1', jobs: [{ name: 'j', steps: [] }] } });
    expect(r.status).toBe(400);
    expect(Array.isArray(r.body.details)).toBe(true);
    expect(r.body.details[0].path).toMatch(/^jobs\[0\]\.steps/);
    const list = await sys.api('GET', `/api/v1/pipelines?projectId=proj_a&name=bad-${db}`);
    expect(list.body.detail.total).toBe(0);
  });
});

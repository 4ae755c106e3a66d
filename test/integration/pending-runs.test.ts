// A server that dies between recording a run and starting its workflow leaves the run pending with
// no workflow. The reconciler (run by every server at start and each minute) starts it from the
// recorded rows and definition; a run whose definition is gone fails with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { Client, Connection } from '@temporalio/client';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { jobRuns, pipelineRuns, stepRuns } from '../../src/store/schema';
import { createSpecChecker } from '../../src/services/spec-checker';
import { createPipelineService } from '../../src/services/pipelines';
import { createRunService } from '../../src/services/runs';
import { loadPluginCatalogue } from '../../src/plugins/catalogue';
import { newId } from '../../src/ids';
import { pipelineRunWorkflowId } from '../../workflows/definitions';
import { systemPrincipal } from '../../src/roles';

describe('runs left pending by a dead server', () => {
  let sys: TestSystem;
  let connection: Connection;
  let runs: ReturnType<typeof createRunService>;
  beforeAll(async () => {
    sys = await startTestSystem({ db: 'postgres' });
    connection = await Connection.connect({ address: sys.temporalAddress });
    const specs = createSpecChecker(loadPluginCatalogue());
    const pipelinesService = createPipelineService(sys.database.db, specs);
    runs = createRunService({ db: sys.database.db, temporal: new Client({ connection, namespace: sys.settings.namespace }), settings: sys.settings, pipelinesService, specs });
  });
  afterAll(async () => {
    await connection?.close();
    await sys?.close();
  });

  /** The rows a trigger writes, as if its process died before starting the workflow. */
  let orphans = 0;
  async function orphanedRun(from: any, definitionCommitSha: string) {
    const db = sys.database.db;
    const [template] = await db.select().from(pipelineRuns).where(eq(pipelineRuns.runId, from.runId));
    const runId = newId('run');
    await db.insert(pipelineRuns).values({ ...template, runId, number: template.number + 100 + ++orphans, status: 'pending', workflowId: pipelineRunWorkflowId(runId), definitionCommitSha, requestId: null, startedAt: null, finishedAt: null, reason: null, createdAt: new Date(Date.now() - 120_000) });
    for (const job of await db.select().from(jobRuns).where(eq(jobRuns.runId, from.runId))) {
      const jobRunId = newId('job');
      await db.insert(jobRuns).values({ ...job, jobRunId, runId, status: 'pending', agentId: null, startedAt: null, finishedAt: null, reason: null, attempt: 1 });
      for (const step of await db.select().from(stepRuns).where(eq(stepRuns.jobRunId, job.jobRunId))) {
        await db.insert(stepRuns).values({ ...step, stepRunId: newId('step'), jobRunId, runId, status: 'pending', startedAt: null, finishedAt: null, exitCode: null, outputs: {}, reason: null, attempt: 1 });
      }
    }
    return runId;
  }

  it('starts a recorded run that has no workflow, once, and fails one whose definition is gone', async () => {
    const p = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_rec', name: 'rec', spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 'a', run: 'echo recovered' }, { name: 'b', run: 'true' }] }] } });
    const { runId } = (await sys.api('POST', `/api/v1/pipelines/${p.body.detail.pipelineId}/trigger`, {})).body.detail;
    const first = await sys.waitForRun(runId);
    expect(first.status).toBe('success');

    const orphan = await orphanedRun(first, first.definitionCommitSha);
    const lost = await orphanedRun(first, 'rev_that_does_not_exist');
    const started = await runs.reconcilePendingRuns(30_000);
    expect(started).toEqual([orphan]);
    const recovered = await sys.waitForRun(orphan);
    expect(recovered.status).toBe('success');
    expect(recovered.stages[0].jobs[0].steps.map((s: any) => s.status)).toEqual(['success', 'success']);
    const failed = (await sys.api('GET', `/api/v1/pipelines/runs/${lost}`)).body.detail;
    expect(failed).toMatchObject({ status: 'failed', reason: expect.stringMatching(/could not start the run after a restart/) });
    // Nothing left to do, and a young pending run (a trigger in flight) is left alone.
    expect(await runs.reconcilePendingRuns(30_000)).toEqual([]);
  });

  it('stops a recorded run whose workflow has not started: it is started, then cancelled, and every row ends cancelled', async () => {
    const p = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_rec', name: 'rec-stop', spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 'a', run: 'sleep 30' }] }] } });
    const pipelineId = p.body.detail.pipelineId;
    const { runId } = (await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {})).body.detail;
    const first = await sys.waitForRun(runId, ['running']);
    await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, {});
    await sys.waitForRun(runId, ['cancelled']);

    const orphan = await orphanedRun(first, first.definitionCommitSha);
    const stopped = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${orphan}/stop`, { reason: 'not wanted' });
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    const done = await sys.waitForRun(orphan, ['cancelled', 'success', 'failed'], 20_000);
    expect(done.status).toBe('cancelled');
    expect(done.stages[0].jobs[0].status).toBe('cancelled');
    expect(done.stages[0].jobs[0].steps.map((s: any) => s.status)).toEqual(['cancelled']);
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${orphan}/stop`, {})).status).toBe(409);
  });

  it('answers a trigger before its workflow starts, and fails the run with the reason when Temporal refuses the start', async () => {
    const p = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_rec', name: 'rec-refused', spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 'a', run: 'true' }] }] } });
    const specs = createSpecChecker(loadPluginCatalogue());
    const failures: Array<{ runId: string; message: string }> = [];
    const refusing = createRunService({
      db: sys.database.db,
      // A namespace this Temporal server does not have: every start is refused.
      temporal: new Client({ connection, namespace: 'arcentra-no-such-namespace' }),
      settings: sys.settings,
      pipelinesService: createPipelineService(sys.database.db, specs),
      specs,
      onStartFailed: (runId, err) => failures.push({ runId, message: err.message }),
    });
    const answer = await refusing.trigger(systemPrincipal('test'), p.body.detail.pipelineId, {});
    expect(answer.status).toBe('pending');
    const failed = await sys.waitForRun(answer.runId, ['failed'], 20_000);
    expect(failed.reason).toMatch(/could not start the run on Temporal: .*arcentra-no-such-namespace/);
    expect(failures).toEqual([{ runId: answer.runId, message: expect.stringMatching(/arcentra-no-such-namespace/) }]);
  });
});

// The one module that moves statuses: legal moves only, repeats harmless, final statuses kept, events published.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { createControlActivities } from '../../activities/control';
import { createLocalEventBus } from '../../src/events';
import type { StatusEvent } from '../../src/events';
import { openDatabase } from '../../src/store/db';
import type { Database } from '../../src/store/db';
import { jobRuns, pipelineRuns, pipelines, stepRuns } from '../../src/store/schema';
import { DB_KINDS, freshPostgresDatabase, tempDir } from '../support/databases';

describe.each(DB_KINDS)('status transitions on %s', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;
  const events: StatusEvent[] = [];
  let control: ReturnType<typeof createControlActivities>;

  beforeAll(async () => {
    const pg = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    drop = pg?.drop;
    database = await openDatabase({ databaseUrl: pg?.url, dataDir: tempDir('transitions') });
    const bus = createLocalEventBus();
    bus.subscribe((e) => events.push(e));
    control = createControlActivities({ db: database.db, events: bus });
    const db = database.db;
    await db.insert(pipelines).values({ pipelineId: 'pl_1', projectId: 'p', name: 'n' });
    await db.insert(pipelineRuns).values({ runId: 'run_1', pipelineId: 'pl_1', projectId: 'p', number: 1, status: 'pending', triggerType: 'manual', workflowId: 'w' });
    await db.insert(jobRuns).values({ jobRunId: 'job_1', runId: 'run_1', stageIndex: 0, stageName: 's', jobIndex: 0, jobKey: 'j', name: 'j', status: 'pending' });
    await db.insert(stepRuns).values({ stepRunId: 'step_1', jobRunId: 'job_1', runId: 'run_1', stepIndex: 0, name: 's', status: 'pending' });
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it('moves a step through its life, stamping times and publishing each move once', async () => {
    await control.recordStepStatus({ stepRunId: 'step_1', status: 'running', attempt: 1 });
    await control.recordStepStatus({ stepRunId: 'step_1', status: 'running', attempt: 2 });
    await control.recordStepStatus({ stepRunId: 'step_1', status: 'success', exitCode: 0, outputs: { a: '1' } });
    await control.recordStepStatus({ stepRunId: 'step_1', status: 'success', exitCode: 0 }); // a retried activity
    const [row] = await database.db.select().from(stepRuns).where(eq(stepRuns.stepRunId, 'step_1'));
    expect(row).toMatchObject({ status: 'success', attempt: 2, exitCode: 0, outputs: { a: '1' } });
    expect(row.startedAt).toBeInstanceOf(Date);
    expect(row.finishedAt!.getTime()).toBeGreaterThanOrEqual(row.startedAt!.getTime());
    expect(events.filter((e) => e.kind === 'step').map((e) => [e.previousStatus, e.status, e.runId])).toEqual([
      ['pending', 'running', 'run_1'],
      ['running', 'running', 'run_1'],
      ['running', 'success', 'run_1'],
    ]);
  });

  it('never rewrites a final status (a late write after a stop)', async () => {
    await control.recordStepStatus({ stepRunId: 'step_1', status: 'cancelled' });
    const [row] = await database.db.select().from(stepRuns).where(eq(stepRuns.stepRunId, 'step_1'));
    expect(row.status).toBe('success');
  });

  it('refuses an illegal move and an unknown status, without writing', async () => {
    await expect(control.recordRunStatus({ runId: 'run_1', status: 'partial' })).rejects.toThrow(/illegal transition pending -> partial/);
    await expect(control.recordJobStatus({ jobRunId: 'job_1', status: 'paused' })).rejects.toThrow(/unknown job status "paused"/);
    await expect(control.recordStepStatus({ stepRunId: 'step_missing', status: 'running' })).rejects.toThrow(/does not exist/);
    const [run] = await database.db.select().from(pipelineRuns).where(eq(pipelineRuns.runId, 'run_1'));
    expect(run.status).toBe('pending');
  });

  it('pauses and resumes a run', async () => {
    await control.recordRunStatus({ runId: 'run_1', status: 'running' });
    await control.recordRunStatus({ runId: 'run_1', status: 'paused', reason: 'hold' });
    await control.recordRunStatus({ runId: 'run_1', status: 'running' });
    await control.recordRunStatus({ runId: 'run_1', status: 'success' });
    const [run] = await database.db.select().from(pipelineRuns).where(eq(pipelineRuns.runId, 'run_1'));
    expect(run).toMatchObject({ status: 'success', reason: 'hold' });
    expect(events.filter((e) => e.kind === 'run').map((e) => e.status)).toEqual(['running', 'paused', 'running', 'success']);
  });
});

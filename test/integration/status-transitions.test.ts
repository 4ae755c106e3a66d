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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTransitions, NOT_OWNER } from '../../src/store/transitions';
import { createStepActivities } from '../../activities/step';
import { createShippingLogSink } from '../../src/agent/log-sink';
import { createInProcessLogTransport } from '../../src/agent/log-transport';
import { createLogIngest } from '../../src/services/log-ingest';
import { createStepSuccessions } from '../../src/agent/step-succession';
import { createJobSlots } from '../../src/agent/job-slots';
import { loadPluginCatalogue } from '../../src/plugins/catalogue';

describe.each(DB_KINDS)('status transitions on %s', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;
  const events: StatusEvent[] = [];
  let control: ReturnType<typeof createControlActivities>;
  let bus: ReturnType<typeof createLocalEventBus>;

  beforeAll(async () => {
    const pg = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    drop = pg?.drop;
    database = await openDatabase({ databaseUrl: pg?.url, dataDir: tempDir('transitions') });
    bus = createLocalEventBus();
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

  it('starts a step dispatched ahead with the end of the one before, only for its holder and only while its run runs', async () => {
    const db = database.db;
    const transitions = createTransitions({ db, events: bus });
    await db.insert(pipelineRuns).values({ runId: 'run_2', pipelineId: 'pl_1', projectId: 'p', number: 2, status: 'running', triggerType: 'manual', workflowId: 'w2' });
    await db.insert(jobRuns).values({ jobRunId: 'job_3', runId: 'run_2', stageIndex: 0, stageName: 's', jobIndex: 0, jobKey: 'j', name: 'j', status: 'running', agentId: 'agent_a' });
    const step = (id: string, i: number, status: string) => ({ stepRunId: id, jobRunId: 'job_3', runId: 'run_2', stepIndex: i, name: id, status });
    await db.insert(stepRuns).values([step('s4', 0, 'running'), step('s5', 1, 'pending'), step('s6', 2, 'pending'), step('s7', 3, 'pending')]);
    const status = async (id: string) => (await db.select().from(stepRuns).where(eq(stepRuns.stepRunId, id)))[0];
    const before = events.length;

    expect(await transitions.recordStepEnd({ stepRunId: 's4', status: 'success', exitCode: 0, outputs: { x: "it's 1" }, reason: 'done' }, { agentId: 'agent_a' }, 's5', true)).toEqual({ nextQueued: false, nextRunning: true });
    expect(await status('s4')).toMatchObject({ status: 'success', exitCode: 0, outputs: { x: "it's 1" }, reason: 'done' });
    expect(await status('s5')).toMatchObject({ status: 'running', attempt: 1 });
    // Started after the end before it, by the database's clock.
    expect((await status('s5')).startedAt!.getTime()).toBeGreaterThanOrEqual((await status('s4')).finishedAt!.getTime());
    expect(events.slice(before).map((e) => [e.id, e.previousStatus, e.status])).toEqual([
      ['s4', 'running', 'success'],
      ['s5', 'pending', 'running'],
    ]);
    for (const e of events.slice(before)) expect(e).toMatchObject({ runId: 'run_2', pipelineId: 'pl_1', projectId: 'p', jobRunId: 'job_3' });

    // A pause that got there first keeps the next step from starting, with the end or on its own.
    await transitions.recordRunStatus({ runId: 'run_2', status: 'paused' });
    expect(await transitions.recordStepEnd({ stepRunId: 's5', status: 'success', exitCode: 0, outputs: {} }, { agentId: 'agent_a' }, 's6', true)).toEqual({ nextQueued: false, nextRunning: false });
    expect(await transitions.recordStepStartedAhead('s6', { agentId: 'agent_a' })).toBe(false);
    expect((await status('s6')).status).toBe('pending');
    await transitions.recordRunStatus({ runId: 'run_2', status: 'running' });
    // Another agent's, or twice: no move.
    expect(await transitions.recordStepStartedAhead('s6', { agentId: 'agent_b' })).toBe(false);
    expect(await transitions.recordStepStartedAhead('s6', { agentId: 'agent_a' })).toBe(true);
    expect(await transitions.recordStepStartedAhead('s6', { agentId: 'agent_a' })).toBe(false);
    expect(events.slice(before).filter((e) => e.id === 's6').map((e) => [e.previousStatus, e.status])).toEqual([['pending', 'running']]);

    // Another agent's end is refused, and starts nothing; an end that is already written starts nothing either.
    await expect(transitions.recordStepEnd({ stepRunId: 's6', status: 'success', exitCode: 0, outputs: {} }, { agentId: 'agent_b' }, 's7', true)).rejects.toThrow(/does not hold/);
    await transitions.recordStepStatus({ stepRunId: 's6', status: 'failed', exitCode: 1 }, { agentId: 'agent_a' });
    expect(await transitions.recordStepEnd({ stepRunId: 's6', status: 'success', exitCode: 0, outputs: {} }, { agentId: 'agent_a' }, 's7', true)).toEqual({ nextQueued: false, nextRunning: false });
    expect(await status('s6')).toMatchObject({ status: 'failed', exitCode: 1 });
    expect((await status('s7')).status).toBe('pending');
  });

  describe('an agent reports only for jobs it holds', () => {
    beforeAll(async () => {
      const db = database.db;
      await db.insert(jobRuns).values({ jobRunId: 'job_2', runId: 'run_1', stageIndex: 0, stageName: 's', jobIndex: 1, jobKey: 'k', name: 'k', status: 'running', agentId: 'agent_a' });
      await db.insert(stepRuns).values({ stepRunId: 'step_2', jobRunId: 'job_2', runId: 'run_1', stepIndex: 0, name: 's', status: 'queued' });
    });

    it('refuses another agent\'s report, without writing or publishing', async () => {
      const transitions = createTransitions({ db: database.db, events: bus });
      const before = events.length;
      const refused = transitions.recordStepStatus({ stepRunId: 'step_2', status: 'running', attempt: 1 }, { agentId: 'agent_b' });
      await expect(refused).rejects.toThrow(/belongs to a job this agent does not hold/);
      await expect(refused).rejects.toMatchObject({ type: NOT_OWNER, nonRetryable: true });
      const [row] = await database.db.select().from(stepRuns).where(eq(stepRuns.stepRunId, 'step_2'));
      expect(row.status).toBe('queued');
      expect(events.length).toBe(before);
      // The holder's report goes through.
      await transitions.recordStepStatus({ stepRunId: 'step_2', status: 'running', attempt: 1 }, { agentId: 'agent_a' });
      const [moved] = await database.db.select().from(stepRuns).where(eq(stepRuns.stepRunId, 'step_2'));
      expect(moved.status).toBe('running');
      // A job given to another agent (the first was lost): the old agent's late result is refused.
      await database.db.update(jobRuns).set({ agentId: 'agent_c' }).where(eq(jobRuns.jobRunId, 'job_2'));
      await expect(transitions.recordStepStatus({ stepRunId: 'step_2', status: 'success', exitCode: 0 }, { agentId: 'agent_a' })).rejects.toThrow(/does not hold/);
      await transitions.recordStepStatus({ stepRunId: 'step_2', status: 'success', exitCode: 0 }, { agentId: 'agent_c' });
    });

    it('runs nothing when an agent is asked to run a step of a job it does not hold', async () => {
      const workspaceRoot = join(tempDir('not-owner'), 'workspaces');
      const marker = join(workspaceRoot, '..', 'ran');
      await database.db.insert(stepRuns).values({ stepRunId: 'step_3', jobRunId: 'job_2', runId: 'run_1', stepIndex: 1, name: 't', status: 'queued' });
      const agentB = createStepActivities({
        agentId: 'agent_b',
        workspaceRoot,
        logSink: createShippingLogSink(createInProcessLogTransport(createLogIngest({ db: database.db, database }), 'agent_b')),
        transitions: createTransitions({ db: database.db, events: bus }),
        successions: createStepSuccessions(),
        plugins: loadPluginCatalogue(),
        slots: createJobSlots(1),
        killGraceMs: 1000,
      });
      const input = { runId: 'run_1', jobRunId: 'job_2', stepRunId: 'step_3', env: {}, secrets: [], timeoutMs: 10_000, attempt: 1, lastAttempt: true };
      const step = { name: 't', index: 1, run: `touch '${marker}'`, env: {}, args: {}, continueOnError: false, retry: { maxAttempts: 1, delayMs: 0 } };
      await expect(agentB.runStep({ ...input, step } as never)).rejects.toMatchObject({ type: NOT_OWNER });
      expect(existsSync(marker)).toBe(false);
      const [row] = await database.db.select().from(stepRuns).where(eq(stepRuns.stepRunId, 'step_3'));
      expect(row.status).toBe('queued');
    });
  });
});

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

  it('ends the job, and the run of its only job, with the last step; only its holder, and only as the workflow would', async () => {
    const db = database.db;
    const transitions = createTransitions({ db, events: bus });
    const runRow = (runId: string, number: number) => ({ runId, pipelineId: 'pl_1', projectId: 'p', number, status: 'running', triggerType: 'manual', workflowId: `w-${runId}` });
    const jobRow = (jobRunId: string, runId: string) => ({ jobRunId, runId, stageIndex: 0, stageName: 's', jobIndex: 0, jobKey: 'j', name: 'j', status: 'running', agentId: 'agent_a' });
    const stepRow = (stepRunId: string, jobRunId: string, runId: string) => ({ stepRunId, jobRunId, runId, stepIndex: 0, name: stepRunId, status: 'running' });
    await db.insert(pipelineRuns).values([runRow('run_f1', 11), runRow('run_f2', 12), runRow('run_f3', 13)]);
    await db.insert(jobRuns).values([jobRow('job_f1', 'run_f1'), jobRow('job_f2', 'run_f2'), jobRow('job_f3', 'run_f3')]);
    await db.insert(stepRuns).values([stepRow('s_f1', 'job_f1', 'run_f1'), stepRow('s_f2', 'job_f2', 'run_f2'), stepRow('s_f3', 'job_f3', 'run_f3'), { ...stepRow('s_f4', 'job_f3', 'run_f3'), stepIndex: 1 }]);
    const statusOf = async () => ({
      runs: (await db.select().from(pipelineRuns)).filter((r) => r.runId.startsWith('run_f')).map((r) => [r.runId, r.status]).sort(),
      jobs: (await db.select().from(jobRuns)).filter((j) => j.jobRunId.startsWith('job_f')).map((j) => [j.jobRunId, j.status]).sort(),
    });
    const end = (stepRunId: string, status = 'success') => ({ stepRunId, status, exitCode: status === 'success' ? 0 : 1, outputs: {} });
    const before = events.length;

    // Success: step, job and run, in that order, each published once, the job and run finished.
    expect(await transitions.recordStepEnd(end('s_f1'), { agentId: 'agent_a' }, undefined, false, { jobRunId: 'job_f1', runId: 'run_f1' })).toEqual({ nextQueued: false, nextRunning: false, jobEnded: true, runEnded: true });
    expect(events.slice(before).map((e) => [e.kind, e.id, e.previousStatus, e.status])).toEqual([
      ['step', 's_f1', 'running', 'success'],
      ['job', 'job_f1', 'running', 'success'],
      ['run', 'run_f1', 'running', 'success'],
    ]);
    expect(events.at(-1)!.counters).toMatchObject({ total: 1, succeeded: 1 });
    // A stop that got to the run first keeps it cancelled; the job still ends with its step.
    await transitions.recordRunStatus({ runId: 'run_f2', status: 'cancelled' });
    expect(await transitions.recordStepEnd(end('s_f2'), { agentId: 'agent_a' }, undefined, false, { jobRunId: 'job_f2', runId: 'run_f2' })).toMatchObject({ jobEnded: true, runEnded: false });
    // A failed step ends neither; without runId the run is left to its workflow.
    expect(await transitions.recordStepEnd(end('s_f3', 'failed'), { agentId: 'agent_a' }, undefined, false, { jobRunId: 'job_f3', runId: 'run_f3' })).toEqual({ nextQueued: false, nextRunning: false });
    await db.update(jobRuns).set({ agentId: 'agent_b' }).where(eq(jobRuns.jobRunId, 'job_f3'));
    await db.update(stepRuns).set({ status: 'running' }).where(eq(stepRuns.stepRunId, 's_f4'));
    // The job is another agent's now: the step's end is refused, nothing moves.
    await expect(transitions.recordStepEnd(end('s_f4'), { agentId: 'agent_a' }, undefined, false, { jobRunId: 'job_f3' })).rejects.toThrow(/does not hold/);
    expect(await transitions.recordStepEnd(end('s_f4'), { agentId: 'agent_b' }, undefined, false, { jobRunId: 'job_f3' })).toMatchObject({ jobEnded: true, runEnded: false });
    // A stop asked for through the API: the step ends, and the stop decides how the job and the run do.
    await db.insert(pipelineRuns).values({ ...runRow('run_f4', 14), stopRequestedAt: new Date() });
    await db.insert(jobRuns).values(jobRow('job_f4', 'run_f4'));
    await db.insert(stepRuns).values(stepRow('s_f5', 'job_f4', 'run_f4'));
    expect(await transitions.recordStepEnd(end('s_f5'), { agentId: 'agent_a' }, undefined, false, { jobRunId: 'job_f4', runId: 'run_f4' })).toEqual({ nextQueued: false, nextRunning: false, jobEnded: false, runEnded: false });
    expect((await db.select().from(stepRuns).where(eq(stepRuns.stepRunId, 's_f5')))[0].status).toBe('success');
    // A job dispatched again (queued for another agent, its old holder's name still on it): the old
    // holder's late end does not end it.
    await db.insert(pipelineRuns).values(runRow('run_f5', 15));
    await db.insert(jobRuns).values({ ...jobRow('job_f5', 'run_f5'), status: 'queued' });
    await db.insert(stepRuns).values(stepRow('s_f6', 'job_f5', 'run_f5'));
    expect(await transitions.recordStepEnd(end('s_f6'), { agentId: 'agent_a' }, undefined, false, { jobRunId: 'job_f5', runId: 'run_f5' })).toMatchObject({ jobEnded: false, runEnded: false });
    await db.delete(stepRuns).where(eq(stepRuns.runId, 'run_f5'));
    await db.delete(jobRuns).where(eq(jobRuns.runId, 'run_f5'));
    await db.delete(pipelineRuns).where(eq(pipelineRuns.runId, 'run_f5'));
    expect(await statusOf()).toEqual({
      runs: [['run_f1', 'success'], ['run_f2', 'cancelled'], ['run_f3', 'running'], ['run_f4', 'running']],
      jobs: [['job_f1', 'success'], ['job_f2', 'success'], ['job_f3', 'success'], ['job_f4', 'running']],
    });
  });

  it('queues a run\'s first jobs with its start only while pending, and lets the job\'s agent start a run whose start is late', async () => {
    const db = database.db;
    const transitions = createTransitions({ db, events: bus });
    await db.insert(pipelineRuns).values({ runId: 'run_q', pipelineId: 'pl_1', projectId: 'p', number: 20, status: 'pending', triggerType: 'manual', workflowId: 'w-q' });
    const job = (jobRunId: string, jobIndex: number) => ({ jobRunId, runId: 'run_q', stageIndex: 0, stageName: 's', jobIndex, jobKey: jobRunId, name: jobRunId, status: 'pending' });
    await db.insert(jobRuns).values([job('job_q1', 0), job('job_q2', 1), job('job_q3', 2)]);
    await db.insert(stepRuns).values({ stepRunId: 's_q3', jobRunId: 'job_q3', runId: 'run_q', stepIndex: 0, name: 'a', status: 'pending' });
    const before = events.length;
    // job_q3's agent took it before the run's start was written: the run starts with it, then its step is queued.
    expect(await transitions.recordJobRunning({ jobRunId: 'job_q3', agentId: 'agent_a', attempt: 1 }, 's_q3')).toEqual({ stepQueued: true });
    await control.startRun({ runId: 'run_q', queueJobs: ['job_q1', 'job_q3', 'job_q2'] });
    await control.startRun({ runId: 'run_q', queueJobs: ['job_q1', 'job_q3', 'job_q2'] }); // a retried activity
    expect(events.slice(before).map((e) => [e.kind, e.id, e.previousStatus, e.status])).toEqual([
      ['job', 'job_q3', 'pending', 'running'],
      ['run', 'run_q', 'pending', 'running'],
      ['step', 's_q3', 'pending', 'queued'],
      ['job', 'job_q1', 'pending', 'queued'],
      ['job', 'job_q2', 'pending', 'queued'],
    ]);
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

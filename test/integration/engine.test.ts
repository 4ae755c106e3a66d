// The engine on a real dev server: pause/resume, stop, timeouts, retry, continueOnError, matrix limits.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { DB_KINDS, tempDir } from '../support/databases';
import { startTestSystem } from '../support/system';
import type { TestSystem } from '../support/system';
import { recordReplayHistory } from '../support/record-replay';
import { eq } from 'drizzle-orm';
import { JOB_STATUSES, RUN_STATUSES, STEP_STATUSES } from '../../src/statuses';
import { pipelineRuns } from '../../src/store/schema';
import { liveTreeQuery, pauseSignal, resumeSignal } from '../../workflows/definitions';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.each(DB_KINDS)('engine on %s', (db) => {
  let sys: TestSystem;
  let n = 0;
  /** Every status each kind of entity was seen in: moved to, or moved from. */
  const seen = { run: new Set<string>(), job: new Set<string>(), step: new Set<string>(), agent: new Set<string>() };
  beforeAll(async () => {
    sys = await startTestSystem({ db });
    sys.events.subscribe((e) => {
      seen[e.kind].add(e.status);
      if (e.previousStatus) seen[e.kind].add(e.previousStatus);
    });
  });
  afterAll(async () => {
    await sys?.close();
  });

  async function start(spec: unknown, trigger: Record<string, unknown> = {}) {
    const created = await sys.api('POST', '/api/v1/pipelines', { projectId: 'proj_engine', name: `p${++n}`, spec: { namespace: 'demo', version: 'v1', ...(spec as object) } });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    const pipelineId = created.body.detail.pipelineId;
    const trig = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, trigger);
    expect(trig.status, JSON.stringify(trig.body)).toBe(200);
    expect(trig.body.detail.status).toBe('pending');
    return { pipelineId, runId: trig.body.detail.runId as string };
  }
  const run = async (runId: string) => (await sys.api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
  /** Keeps the histories of a run and its JobRuns as replay fixtures (when recording). */
  const record = async (r: any, name: string) => {
    if (db !== 'pglite') return;
    await recordReplayHistory(sys.temporalAddress, `pipeline-run/${r.runId}`, `pipeline-run-${name}`);
    const jobs = r.stages.flatMap((s: any) => s.jobs).filter((j: any) => j.startedAt || j.agentId);
    for (const [i, j] of jobs.slice(0, 2).entries()) await recordReplayHistory(sys.temporalAddress, `pipeline-run/${r.runId}/job/${j.jobRunId}`, `job-run-${name}-${i}`);
  };
  const steps = (r: any) => r.stages.flatMap((s: any) => s.jobs).flatMap((j: any) => j.steps);
  /** The runStep activities of a JobRun, in the order they were scheduled, from its history. */
  async function stepActivities(runId: string, jobRunId: string) {
    const connection = await Connection.connect({ address: sys.temporalAddress });
    const client = new Client({ connection, namespace: sys.settings.namespace });
    // The run can show its end before the job's workflow has taken in its last step's (the agent
    // records both with that step): its history is read once the workflow is closed.
    const handle = client.workflow.getHandle(`pipeline-run/${runId}/job/${jobRunId}`);
    await handle.result().catch(() => undefined);
    const history = await handle.fetchHistory();
    await connection.close();
    const decode = (p: any) => JSON.parse(Buffer.from(p.data).toString('utf8'));
    const byId = new Map<number, { step: string; after?: string; scheduledEventId: number; completedEventId?: number; result?: any }>();
    for (const e of history.events!) {
      const scheduled = e.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === 'runStep') {
        const input = decode(scheduled.input!.payloads![0]);
        byId.set(Number(e.eventId), { step: input.step.name, after: input.after?.stepRunId, scheduledEventId: Number(e.eventId) });
      }
      const completed = e.activityTaskCompletedEventAttributes;
      const activity = completed && byId.get(Number(completed.scheduledEventId));
      if (activity) Object.assign(activity, { completedEventId: Number(e.eventId), result: decode(completed!.result!.payloads![0]) });
    }
    return [...byId.values()];
  }

  it('pauses: the running step finishes, the next waits, then resume ends in success', async () => {
    const ran = join(tempDir('pause'), 'ran');
    const { pipelineId, runId } = await start({
      jobs: [{ name: 'j', steps: [{ name: 'a', run: 'sleep 2; echo a' }, { name: 'b', run: `echo b >> '${ran}'` }, { name: 'c', run: `echo c >> '${ran}'` }] }],
    });
    await until('step a running', async () => steps(await run(runId))[0].status === 'running');
    const paused = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/pause`, { reason: 'hold', operator: 'ops' });
    expect(paused.status).toBe(200);
    await until('run paused', async () => (await run(runId)).status === 'paused');
    await until('step a done', async () => steps(await run(runId))[0].status === 'success', 10_000);
    await sleep(1500);
    const held = await run(runId);
    expect(held.status).toBe('paused');
    expect(steps(held)[1].status).toBe('pending');
    // Pausing again, or resuming a run that is not paused, is a conflict.
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/pause`, {})).status).toBe(409);
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/resume`, {})).status).toBe(200);
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('success');
    expect(steps(done).map((s: any) => s.status)).toEqual(['success', 'success', 'success']);
    // b was dispatched ahead with a, and the pause kept it from starting when a ended: it ran only
    // once dispatched again after the resume. Whatever was dispatched after the refused b was let
    // go without running: each step ran once.
    const dispatched = await stepActivities(runId, done.stages[0].jobs[0].jobRunId);
    expect(dispatched.filter((d) => !d.result?.notStarted).map((d) => [d.step, d.result?.status])).toEqual([
      ['a', 'success'],
      ['b', 'success'],
      ['c', 'success'],
    ]);
    expect(dispatched.find((d) => d.step === 'b')!.result).toMatchObject({ notStarted: 'refused' });
    expect(readFileSync(ran, 'utf8')).toBe('b\nc\n');
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/resume`, {})).status).toBe(409);
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, {})).status).toBe(409);
    await record(done, 'pause-resume');
  });

  it('writes a one-job run\'s start with its job\'s dispatch and its end with its last step, nothing in the workflows\' way', async () => {
    const heard: string[] = [];
    let runId = '';
    const unsubscribe = sys.events.subscribe((e) => {
      if (e.runId === runId) heard.push(`${e.kind} ${e.previousStatus}->${e.status}`);
    });
    try {
      ({ runId } = await start({ jobs: [{ name: 'j', steps: [{ name: 'a', run: 'true' }, { name: 'b', run: 'true' }] }] }));
      const done = await sys.waitForRun(runId);
      expect([done.status, done.stages[0].jobs[0].status, ...steps(done).map((s: any) => s.status)]).toEqual(['success', 'success', 'success', 'success']);
      const connection = await Connection.connect({ address: sys.temporalAddress });
      const client = new Client({ connection, namespace: sys.settings.namespace });
      const runWorkflow = client.workflow.getHandle(`pipeline-run/${runId}`);
      expect(await runWorkflow.result()).toEqual({ status: 'success' });
      const jobHistory = await client.workflow.getHandle(`pipeline-run/${runId}/job/${done.stages[0].jobs[0].jobRunId}`).fetchHistory();
      const runHistory = await runWorkflow.fetchHistory();
      await connection.close();
      await sleep(300); // anything written after the workflows ended would be heard by now
      // The run's start and its job's queued come first, in one activity, then the agent's running
      // (or, should the agent get there first, its running and the run's start); the step, the job
      // and the run end together, the last three things written.
      expect([
        ['run pending->running', 'job pending->queued', 'job queued->running'],
        ['job pending->running', 'run pending->running'],
      ]).toContainEqual(heard.slice(0, heard[0] === 'run pending->running' ? 3 : 2));
      expect(heard.slice(-3)).toEqual(['step running->success', 'job running->success', 'run running->success']);
      expect(heard.filter((h) => h.startsWith('run ') || h.startsWith('job '))).toHaveLength(heard[0] === 'run pending->running' ? 5 : 4);
      // Neither workflow waited on a local activity: each status was written alongside.
      const localActivities = (h: typeof jobHistory) => (h.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
      expect([localActivities(runHistory), localActivities(jobHistory)]).toEqual([0, 0]);
      await record(done, 'one-job-ends-with-its-step');
    } finally {
      unsubscribe();
    }
  });

  it('ends a run paused during its last step with that step\'s outcome: nothing was left to hold', async () => {
    const { pipelineId, runId } = await start({ jobs: [{ name: 'j', steps: [{ name: 'last', run: 'sleep 2' }] }] });
    await until('the step running', async () => steps(await run(runId))[0].status === 'running');
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/pause`, {})).status).toBe(200);
    await until('run paused', async () => (await run(runId)).status === 'paused');
    const done = await sys.waitForRun(runId, undefined, 20_000);
    expect([done.status, done.stages[0].jobs[0].status, steps(done)[0].status]).toEqual(['success', 'success', 'success']);
  });

  it('stops a sleep 600 within 10 seconds: process gone, everything unfinished cancelled', async () => {
    const dir = tempDir('stop');
    const pidFile = join(dir, 'pid');
    const { pipelineId, runId } = await start({
      stages: [
        { name: 's1', jobs: [{ name: 'long', steps: [{ name: 'sleep', run: `echo $$ > '${pidFile}'; sleep 600` }, { name: 'never', run: 'true' }] }] },
        { name: 's2', jobs: [{ name: 'later', steps: [{ name: 'x', run: 'true' }] }] },
      ],
    });
    await until('the sleep to start', async () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().length > 0);
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const t0 = Date.now();
    expect((await sys.api('POST', `/api/v1/pipelines/runs/x/stop`, {})).status).toBe(404);
    expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, { reason: 'enough' })).status).toBe(200);
    const stopped = await sys.waitForRun(runId, ['cancelled'], 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    expect(stopped.stages.flatMap((s: any) => s.jobs).map((j: any) => j.status)).toEqual(['cancelled', 'cancelled']);
    expect(steps(stopped).map((s: any) => s.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    await record(stopped, 'stop');
  });

  it('ends a step past its timeout as timeout, and a job past its timeout failed', async () => {
    const { runId } = await start({
      jobs: [
        { name: 'step-timeout', steps: [{ name: 'slow', timeout: '1s', run: 'sleep 30' }] },
        { name: 'job-timeout', timeout: '2s', steps: [{ name: 'ok', run: 'true' }, { name: 'slow', run: 'sleep 30' }, { name: 'after', run: 'true' }] },
      ],
    });
    const done = await sys.waitForRun(runId, undefined, 30_000);
    expect(done.status).toBe('failed');
    const [a, b] = done.stages[0].jobs;
    expect([a.status, a.steps[0].status]).toEqual(['failed', 'timeout']);
    expect(b.status).toBe('failed');
    expect(b.reason).toMatch(/job timed out/);
    expect(b.steps.map((s: any) => s.status)).toEqual(['success', 'timeout', 'skipped']);
    await record(done, 'timeouts');
  });

  it('leaves the workspace to the step before while a step dispatched ahead waits', async () => {
    // `mkdir app` fails if app exists: b, waiting with workingDirectory app, must not have made it.
    const { runId } = await start({
      jobs: [{ name: 'j', steps: [{ name: 'a', run: 'sleep 1; mkdir app; echo x > app/made-by-a' }, { name: 'b', workingDirectory: 'app', run: 'test -f made-by-a' }] }],
    });
    const done = await sys.waitForRun(runId);
    expect(steps(done).map((s: any) => [s.name, s.status])).toEqual([
      ['a', 'success'],
      ['b', 'success'],
    ]);
    expect((await stepActivities(runId, done.stages[0].jobs[0].jobRunId)).map((d) => [d.step, d.after !== undefined])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('tells a step dispatched ahead that timed out on its own from one the job\'s deadline ended', async () => {
    // b waits ~1 s for a, then has its own 3 s: it ends at ~4 s, the job's 5.5 s not yet up. Only the
    // last 1.5 s of the job are left then, less than b's own timeout: that is not the job timing out.
    const { runId } = await start({
      jobs: [{ name: 'j', timeout: '5500ms', steps: [{ name: 'a', run: 'sleep 1' }, { name: 'b', timeout: '3s', continueOnError: true, run: 'sleep 30' }] }],
    });
    const done = await sys.waitForRun(runId, undefined, 30_000);
    const job = done.stages[0].jobs[0];
    expect(job.steps.map((s: any) => [s.name, s.status])).toEqual([
      ['a', 'success'],
      ['b', 'timeout'],
    ]);
    expect([done.status, job.status, job.reason ?? null]).toEqual(['partial', 'success', null]);
    const dispatched = await stepActivities(runId, job.jobRunId);
    expect(dispatched.map((d) => [d.step, d.after !== undefined, d.result?.deadlineCut])).toEqual([
      ['a', false, undefined],
      ['b', true, undefined],
    ]);
  });

  it("tells a retry that the job's deadline cut short from a step that timed out on its own", async () => {
    // Attempt 1 fails after 3 s; attempt 2, at ~3.5 s, has only the job's last ~2.5 s, less than the
    // step's own 4 s: it is the job that times out.
    const marker = join(tempDir('retry-deadline'), 'tried');
    const { runId } = await start({
      jobs: [{ name: 'j', timeout: '6s', steps: [{ name: 'flaky', timeout: '4s', retry: { maxAttempts: 2, delay: '500ms' }, run: `if [ -f '${marker}' ]; then sleep 30; fi; touch '${marker}'; sleep 3; exit 1` }] }],
    });
    const done = await sys.waitForRun(runId, undefined, 30_000);
    const job = done.stages[0].jobs[0];
    expect(job.steps.map((s: any) => [s.status, s.attempt])).toEqual([['timeout', 2]]);
    expect([job.status, job.reason]).toEqual(['failed', 'job timed out while step flaky ran']);
    await record(done, 'retry-deadline');
  });

  it('retries a step with its delay, and continueOnError gives partial', async () => {
    const dir = tempDir('retry');
    const counter = join(dir, 'count');
    const { runId } = await start({
      jobs: [
        {
          name: 'j',
          steps: [
            { name: 'flaky', retry: { maxAttempts: 3, delay: '1s' }, run: `echo x >> '${counter}'; [ $(wc -l < '${counter}') -ge 2 ]` },
            { name: 'allowed', continueOnError: true, run: 'exit 4' },
            { name: 'last', run: 'true' },
          ],
        },
      ],
    });
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('partial');
    expect(steps(done).map((s: any) => [s.name, s.status, s.attempt, s.exitCode])).toEqual([
      ['flaky', 'success', 2, 0],
      ['allowed', 'failed', 1, 4],
      ['last', 'success', 1, 0],
    ]);
    expect(readFileSync(counter, 'utf8')).toBe('x\nx\n');
    await record(done, 'retry-partial');
  });

  it('dispatches a step ahead: it starts only once the step before succeeded, never after a failure', async () => {
    const dir = tempDir('ahead');
    const { runId } = await start({
      jobs: [
        {
          name: 'j',
          steps: [
            { name: 'a', run: `sleep 1; touch '${dir}/a.done'; echo x=1 >> "$ARCENTRA_OUTPUT"` },
            // Started ahead of its turn, it must still find a finished; what it reads is known now.
            { name: 'b', env: { WHO: '${{ pipeline.name }}' }, run: `test -f '${dir}/a.done' && echo "$WHO" > '${dir}/b.ran'` },
            // Reads a's outputs: dispatched only once b is done.
            { name: 'c', run: `echo "\${{ steps.a.outputs.x }}" > '${dir}/c.out'; exit 3` },
            { name: 'd', run: `touch '${dir}/d.ran'` },
          ],
        },
      ],
    });
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('failed');
    const [a, b, c, d] = steps(done);
    expect([a, b, c, d].map((s: any) => [s.name, s.status, s.attempt])).toEqual([
      ['a', 'success', 1],
      ['b', 'success', 1],
      ['c', 'failed', 1],
      ['d', 'skipped', 0],
    ]);
    expect(readFileSync(join(dir, 'b.ran'), 'utf8').trim()).toMatch(/^p\d+$/);
    expect(readFileSync(join(dir, 'c.out'), 'utf8').trim()).toBe('1');
    expect(existsSync(join(dir, 'd.ran'))).toBe(false);
    expect(Date.parse(b.startedAt)).toBeGreaterThanOrEqual(Date.parse(a.finishedAt));
    // From the job's history: b and d were each scheduled before the step they follow had
    // completed, c only after; d was let go without running.
    const dispatched = await stepActivities(runId, done.stages[0].jobs[0].jobRunId);
    const idOf = (name: string) => steps(done).find((s: any) => s.name === name).stepRunId;
    expect(dispatched.map((d) => [d.step, d.after])).toEqual([
      ['a', undefined],
      ['b', idOf('a')],
      ['c', undefined],
      ['d', idOf('c')],
    ]);
    for (const [before, next] of [[0, 1], [2, 3]]) expect(dispatched[next].scheduledEventId).toBeLessThan(dispatched[before].completedEventId!);
    expect(dispatched[2].scheduledEventId).toBeGreaterThan(dispatched[1].completedEventId!);
    expect(dispatched[3].result).toMatchObject({ notStarted: 'predecessor_unsuccessful', lines: 0 });
    await record(done, 'run-ahead');
  });

  it('dispatches three steps ahead, each starting only once the one before it succeeded', async () => {
    const dir = tempDir('three-ahead');
    const { runId } = await start({
      jobs: [
        {
          name: 'j',
          steps: [
            { name: 'a', run: `sleep 1; touch '${dir}/a.done'` },
            { name: 'b', run: `test -f '${dir}/a.done' && sleep 1 && touch '${dir}/b.done'` },
            { name: 'c', run: `test -f '${dir}/b.done' && touch '${dir}/c.ran'; exit 3` },
            { name: 'd', run: `touch '${dir}/d.ran'` },
            { name: 'e', run: `touch '${dir}/e.ran'` },
            { name: 'f', run: `touch '${dir}/f.ran'` },
          ],
        },
      ],
    });
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('failed');
    const all = steps(done);
    expect(all.map((s: any) => [s.name, s.status])).toEqual([
      ['a', 'success'],
      ['b', 'success'],
      ['c', 'failed'],
      ['d', 'skipped'],
      ['e', 'skipped'],
      ['f', 'skipped'],
    ]);
    expect(existsSync(join(dir, 'c.ran'))).toBe(true);
    for (const later of ['d', 'e', 'f']) expect(existsSync(join(dir, `${later}.ran`))).toBe(false);
    // Statuses still show one step at a time.
    for (let n = 1; n < 3; n++) expect(Date.parse(all[n].startedAt)).toBeGreaterThanOrEqual(Date.parse(all[n - 1].finishedAt));
    // From the job's history: b, c and d were all scheduled before a completed, each after the one
    // before it; e once a had succeeded (b then ran), before b completed. Whatever followed c was
    // let go without running.
    const dispatched = await stepActivities(runId, done.stages[0].jobs[0].jobRunId);
    const idOf = (name: string) => all.find((s: any) => s.name === name).stepRunId;
    expect(dispatched.slice(0, 5).map((d) => [d.step, d.after])).toEqual([
      ['a', undefined],
      ['b', idOf('a')],
      ['c', idOf('b')],
      ['d', idOf('c')],
      ['e', idOf('d')],
    ]);
    expect(dispatched[3].scheduledEventId).toBeLessThan(dispatched[0].completedEventId!);
    expect(dispatched[4].scheduledEventId).toBeGreaterThan(dispatched[0].completedEventId!);
    expect(dispatched[4].scheduledEventId).toBeLessThan(dispatched[1].completedEventId!);
    for (const later of dispatched.slice(3)) expect(later.result).toMatchObject({ notStarted: 'predecessor_unsuccessful', lines: 0 });
    await record(done, 'three-ahead');
  });

  it("starts no step while a pause is recorded and its signal is still on its way to the job", async () => {
    const dir = tempDir('pause-race');
    const { runId } = await start({
      jobs: [{ name: 'j', steps: [{ name: 'a', run: `sleep 2; touch '${dir}/a.done'` }, { name: 'b', run: `touch '${dir}/b.ran'` }, { name: 'c', run: `touch '${dir}/c.ran'` }] }],
    });
    const first = await until('step a running', async () => {
      const r = await run(runId);
      return steps(r)[0].status === 'running' ? r : undefined;
    });
    const connection = await Connection.connect({ address: sys.temporalAddress });
    const job = new Client({ connection, namespace: sys.settings.namespace }).workflow.getHandle(`pipeline-run/${runId}/job/${first.stages[0].jobs[0].jobRunId}`);
    const setRun = (status: string) => sys.database.db.update(pipelineRuns).set({ status }).where(eq(pipelineRuns.runId, runId));
    try {
      // The run's pause is recorded; its signal reaches the job only a second after step a ended.
      await setRun('paused');
      await until('step a done', async () => steps(await run(runId))[0].status === 'success', 10_000);
      await sleep(1000);
      expect(existsSync(join(dir, 'b.ran'))).toBe(false);
      await job.signal(pauseSignal, { reason: 'late' });
      await sleep(1500);
      expect(existsSync(join(dir, 'b.ran'))).toBe(false);
      expect(steps(await run(runId))[1].status).not.toBe('running');
      await setRun('running');
      await job.signal(resumeSignal, {});
      const done = await sys.waitForRun(runId);
      expect(done.status).toBe('success');
      expect(steps(done).map((s: any) => s.status)).toEqual(['success', 'success', 'success']);
      expect(existsSync(join(dir, 'c.ran'))).toBe(true);
      await record(done, 'pause-race');
    } finally {
      await connection.close();
    }
  });

  it('starts a step refused its start after at most a few seconds when no pause comes', async () => {
    const dir = tempDir('refused-no-pause');
    const { runId } = await start({ jobs: [{ name: 'j', steps: [{ name: 'a', run: 'sleep 2' }, { name: 'b', run: `touch '${dir}/b.ran'` }] }] });
    await until('step a running', async () => steps(await run(runId))[0].status === 'running');
    const setRun = (status: string) => sys.database.db.update(pipelineRuns).set({ status }).where(eq(pipelineRuns.runId, runId));
    // Paused and resumed in the database only, with no signal to the job: b is refused, waits for a
    // pause that never comes, then runs.
    await setRun('paused');
    await until('step a done', async () => steps(await run(runId))[0].status === 'success', 10_000);
    await setRun('running');
    const aDone = Date.now();
    const done = await sys.waitForRun(runId, undefined, 20_000);
    expect(done.status).toBe('success');
    expect(existsSync(join(dir, 'b.ran'))).toBe(true);
    expect(Date.parse(steps(done)[1].startedAt) - aDone).toBeGreaterThan(2_000);
  });

  it('writes the run status of pauses and resumes signalled together in the order they came', async () => {
    const { pipelineId, runId } = await start({ jobs: [{ name: 'j', steps: [{ name: 'a', run: 'sleep 60' }] }] });
    await until('step a running', async () => steps(await run(runId))[0].status === 'running');
    const runEvents: string[] = [];
    const unsubscribe = sys.events.subscribe((e) => e.kind === 'run' && e.runId === runId && runEvents.push(e.status));
    const connection = await Connection.connect({ address: sys.temporalAddress });
    const pipeline = new Client({ connection, namespace: sys.settings.namespace }).workflow.getHandle(`pipeline-run/${runId}`);
    try {
      // Straight to the workflow, as fast as they go: the API would have refused every other one.
      for (let k = 0; k < 15; k++) {
        await pipeline.signal(pauseSignal, {});
        await pipeline.signal(resumeSignal, {});
      }
      // Every write done: the event count even (pairs) and still for a while; the row then says running.
      let last = -1;
      await until('every write done', async () => {
        const settled = runEvents.length === last && last % 2 === 0 && (await pipeline.query(liveTreeQuery)).paused === false;
        last = runEvents.length;
        return settled;
      });
      const [row] = await sys.database.db.select().from(pipelineRuns).where(eq(pipelineRuns.runId, runId));
      expect(row.status).toBe('running');
      expect(runEvents.length).toBe(30);
      for (let k = 0; k < runEvents.length; k++) expect(runEvents[k]).toBe(k % 2 === 0 ? 'paused' : 'running');
      expect((await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, {})).status).toBe(200);
      await record(await sys.waitForRun(runId, ['cancelled'], 10_000), 'pause-resume-burst');
    } finally {
      unsubscribe();
      await connection.close();
    }
  });

  it('ends a run stopped while a pause is being written as cancelled, everything recorded', async () => {
    const connection = await Connection.connect({ address: sys.temporalAddress });
    try {
      // The stop must come while the pause is being written: a few tries make that likely.
      for (let k = 0; k < 5; k++) {
        const { pipelineId, runId } = await start({ jobs: [{ name: 'j', steps: [{ name: 'a', run: 'sleep 60' }, { name: 'b', run: 'true' }] }] });
        await until('step a running', async () => steps(await run(runId))[0].status === 'running');
        const pipeline = new Client({ connection, namespace: sys.settings.namespace }).workflow.getHandle(`pipeline-run/${runId}`);
        await Promise.all([pipeline.signal(pauseSignal, {}), sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, {})]);
        const stopped = await sys.waitForRun(runId, ['cancelled'], 10_000);
        expect(steps(stopped).map((s: any) => s.status)).toEqual(['cancelled', 'cancelled']);
      }
    } finally {
      await connection.close();
    }
  });

  it('keeps a job queued while no agent matches, and stops it', async () => {
    const { pipelineId, runId } = await start({ jobs: [{ name: 'gpu', runsOn: ['gpu'], steps: [{ name: 'x', run: 'true' }] }] });
    await until('job queued', async () => (await run(runId)).stages[0].jobs[0].status === 'queued');
    await sleep(1000);
    expect((await run(runId)).stages[0].jobs[0].status).toBe('queued');
    await sys.api('POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, {});
    const done = await sys.waitForRun(runId, ['cancelled'], 10_000);
    expect(done.stages[0].jobs[0].status).toBe('cancelled');
  });

  it.runIf(db === 'pglite')('runs a 64-combination matrix with never more than 8 at once', async () => {
    const dir = tempDir('matrix');
    const log = join(dir, 'events');
    const { runId } = await start({
      jobs: [
        {
          name: 'm',
          matrix: { a: [1, 2, 3, 4, 5, 6, 7, 8], b: [1, 2, 3, 4, 5, 6, 7, 8], maxParallel: 8 },
          steps: [{ name: 's', run: `echo "start $(date +%s%N)" >> '${log}'; sleep 0.3; echo "end $(date +%s%N)" >> '${log}'` }],
        },
      ],
    });
    const done = await sys.waitForRun(runId, undefined, 120_000);
    expect(done.status).toBe('success');
    expect(done.stages[0].jobs).toHaveLength(64);
    expect(done.stages[0].jobs[0].name).toBe('m (a=1, b=1)');
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([kind, t]) => ({ kind, t: BigInt(t) }))
      .sort((x, y) => (x.t < y.t ? -1 : x.t > y.t ? 1 : 0));
    let running = 0;
    let max = 0;
    for (const e of events) {
      running += e.kind === 'start' ? 1 : -1;
      max = Math.max(max, running);
    }
    expect(events).toHaveLength(128);
    expect(max).toBeLessThanOrEqual(8);
    expect(max).toBeGreaterThan(1);
  }, 150_000);

  it.runIf(db === 'pglite')('gives an agent at most maxConcurrentJobs jobs; the others wait in the pool queue, never refused', async () => {
    // The test agent has 4 job slots; 7 jobs at once would need 7.
    const log = join(tempDir('slots'), 'events');
    const { runId } = await start({
      jobs: [{ name: 'm', matrix: { n: [1, 2, 3, 4, 5, 6, 7] }, steps: [{ name: 's', run: `echo "start $(date +%s%N)" >> '${log}'; sleep 0.5; echo "end $(date +%s%N)" >> '${log}'` }] }],
    });
    const done = await sys.waitForRun(runId, undefined, 60_000);
    const marks = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .sort((x, y) => (BigInt(x[1]) < BigInt(y[1]) ? -1 : 1));
    let running = 0;
    let max = 0;
    for (const [kind] of marks) max = Math.max(max, (running += kind === 'start' ? 1 : -1));
    expect(marks).toHaveLength(14);
    expect(done.status).toBe('success');
    expect(max).toBe(4);
    // A job that found every slot taken waited for one: no refusal, no retry of its agent offer.
    const connection = await Connection.connect({ address: sys.temporalAddress });
    const client = new Client({ connection, namespace: sys.settings.namespace });
    const offerAttempts: number[] = [];
    for (const job of done.stages[0].jobs) {
      expect(job.attempt).toBe(1);
      const history = await client.workflow.getHandle(`pipeline-run/${runId}/job/${job.jobRunId}`).fetchHistory();
      const started = history.events!.filter((e) => e.activityTaskStartedEventAttributes);
      offerAttempts.push(started[0].activityTaskStartedEventAttributes!.attempt!);
    }
    await connection.close();
    expect(offerAttempts).toEqual([1, 1, 1, 1, 1, 1, 1]);
  }, 90_000);

  it('stops the other combinations of a fail-fast matrix', async () => {
    const { runId } = await start({
      jobs: [{ name: 'm', matrix: { n: [1, 2, 3], maxParallel: 1 }, steps: [{ name: 's', run: '[ "${{ matrix.n }}" != 1 ]' }] }],
    });
    const done = await sys.waitForRun(runId);
    expect(done.status).toBe('failed');
    const jobs = done.stages[0].jobs;
    expect(jobs.map((j: any) => j.status)).toEqual(['failed', 'cancelled', 'cancelled']);
    expect(jobs[1].reason).toMatch(/fail-fast: m \(n=1\) failed/);
    await record(done, 'matrix-fail-fast');
  });

  // Runs last: the scenarios above between them reach every status value of the seed.
  it.runIf(db === 'pglite')('has reached every PipelineRun, JobRun and StepRun status of the seed', () => {
    expect([...seen.run].sort()).toEqual([...RUN_STATUSES].sort());
    expect([...seen.job].sort()).toEqual([...JOB_STATUSES].sort());
    expect([...seen.step].sort()).toEqual([...STEP_STATUSES].sort());
  });
});

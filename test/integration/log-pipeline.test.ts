// The log pipeline below the gateways, on both databases: ingest (ownership, resends, gaps), the
// agent's shipping sink (a lost acknowledgement repeats nothing) and the feed (history, then live,
// with no gap or duplicate at the seam, then eof).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { openDatabase } from '../../src/store/db';
import type { Database } from '../../src/store/db';
import { jobRuns, pipelineRuns, pipelines, stepRuns } from '../../src/store/schema';
import { createLogIngest } from '../../src/services/log-ingest';
import type { LogBatch, LogIngest, StoredLine } from '../../src/services/log-ingest';
import { createShippingLogSink, feedLog } from '../../src/agent/log-sink';
import { runProcess } from '../../src/agent/process-runner';
import type { RunningProcess } from '../../src/agent/process-runner';
import type { LogTransport } from '../../src/agent/log-sink';
import { createInProcessLogTransport } from '../../src/agent/log-transport';
import { createSecretMasker } from '../../src/agent/secret-masker';
import { createDatabaseEventBus } from '../../src/events';
import type { EventBus } from '../../src/events';
import { createTransitions } from '../../src/store/transitions';
import { createLogFeed } from '../../src/realtime/log-feed';
import type { LogFeed } from '../../src/realtime/log-feed';
import { readStepLogs } from '../../src/store/log-store';
import { createAgentService } from '../../src/services/agents';
import { agents } from '../../src/store/schema';
import type { LogLine } from '../../src/store/log-store';
import { DB_KINDS, freshPostgresDatabase, tempDir } from '../support/databases';

const TS = '2026-11-29T10:00:00.000Z stdout';
const batchOf = (first: number, n: number, text = 'x'): LogBatch => ({ firstLine: first, lines: Array.from({ length: n }, (_, i): StoredLine => [first + i, TS, `${text} ${first + i}`]) });

function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** What one subscriber saw, in order. */
function recorder() {
  const seen = { history: [] as number[], live: [] as number[], historyDone: 0, eof: 0, errors: [] as string[], order: [] as string[] };
  return {
    seen,
    handlers: {
      history: (lines: LogLine[]) => {
        seen.history.push(...lines.map((l) => l.line));
        seen.order.push('history');
      },
      historyDone: () => (seen.historyDone++, seen.order.push('historyDone')),
      live: (lines: LogLine[]) => (seen.live.push(...lines.map((l) => l.line)), seen.order.push('live')),
      eof: () => (seen.eof++, seen.order.push('eof')),
      error: (m: string) => seen.errors.push(m),
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(DB_KINDS)('log pipeline on %s', (kind) => {
  let database: Database;
  let drop: (() => Promise<void>) | undefined;
  let ingest: LogIngest;
  let events: EventBus & { close(): Promise<void> };
  let feed: LogFeed;
  let transitions: ReturnType<typeof createTransitions>;
  let n = 0;

  /** A fresh running step whose job agent_a holds. */
  async function newStep(): Promise<string> {
    n++;
    const db = database.db;
    await db.insert(pipelineRuns).values({ runId: `run_${n}`, pipelineId: 'pl_1', projectId: 'p', number: n, status: 'running', triggerType: 'manual', workflowId: `w${n}` });
    await db.insert(jobRuns).values({ jobRunId: `job_${n}`, runId: `run_${n}`, stageIndex: 0, stageName: 's', jobIndex: 0, jobKey: 'j', name: 'j', status: 'running', agentId: 'agent_a' });
    await db.insert(stepRuns).values({ stepRunId: `step_${n}`, jobRunId: `job_${n}`, runId: `run_${n}`, stepIndex: 0, name: 's', status: 'running' });
    return `step_${n}`;
  }

  beforeAll(async () => {
    const pg = kind === 'postgres' ? await freshPostgresDatabase() : undefined;
    drop = pg?.drop;
    database = await openDatabase({ databaseUrl: pg?.url, dataDir: tempDir('log-pipeline') });
    await database.db.insert(pipelines).values({ pipelineId: 'pl_1', projectId: 'p', name: 'n' });
    ingest = createLogIngest({ db: database.db, database });
    events = await createDatabaseEventBus(database);
    transitions = createTransitions({ db: database.db, events });
    feed = await createLogFeed({ db: database.db, database, events, pollMs: 200 });
  });
  afterAll(async () => {
    await feed?.close();
    await events?.close();
    await database?.close();
    await drop?.();
  });

  it('stores a batch once however often it is sent, and only for the agent holding the job', async () => {
    const step = await newStep();
    expect(await ingest.open('agent_a', step)).toEqual({ ok: true, nextLine: 1 });
    expect(await ingest.append('agent_a', step, batchOf(1, 3))).toEqual({ ok: true, storedThrough: 3, duplicate: false });
    expect(await ingest.append('agent_a', step, batchOf(1, 3))).toEqual({ ok: true, storedThrough: 3, duplicate: true });
    expect(await ingest.append('agent_b', step, batchOf(4, 2))).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await ingest.open('agent_b', step)).toMatchObject({ ok: false, reason: 'not_owner' });
    expect(await ingest.append('agent_a', step, batchOf(6, 2))).toMatchObject({ ok: false, reason: 'gap' });
    expect(await ingest.append('agent_a', step, batchOf(2, 4))).toMatchObject({ ok: false, reason: 'gap' });
    expect(await ingest.append('agent_a', step, { firstLine: 4, lines: [[5, TS, 'x']] })).toMatchObject({ ok: false, reason: 'bad_batch' });
    expect(await ingest.append('agent_a', step, { firstLine: 4, lines: [[4, 'yesterday stdout', 'x']] })).toMatchObject({ ok: false, reason: 'bad_batch' });
    expect(await ingest.append('agent_a', step, { firstLine: 4, lines: [[4, TS, 'nul \u0000 here']] })).toMatchObject({ ok: false, reason: 'bad_batch' });
    expect(await ingest.append('agent_a', step, batchOf(4, 2))).toMatchObject({ ok: true, storedThrough: 5 });
    expect(await ingest.open('agent_a', step)).toEqual({ ok: true, nextLine: 6 });
    await transitions.recordStepStatus({ stepRunId: step, status: 'success', exitCode: 0 });
    expect(await ingest.append('agent_a', step, batchOf(6, 1))).toMatchObject({ ok: false, reason: 'step_final' });
    expect((await readStepLogs(database.db, step, 1, 100)).map((l) => l.line)).toEqual(range(1, 5));
  });

  it('loses and repeats nothing when acknowledgements are lost and sends fail', async () => {
    const step = await newStep();
    const real = createInProcessLogTransport(ingest, 'agent_a');
    let sends = 0;
    // Every third send is stored but its answer never arrives; every fifth fails before arriving.
    const lossy: LogTransport = {
      open: real.open,
      async append(stepRunId, batch) {
        sends++;
        if (sends % 5 === 0) throw new Error('connection reset before the server saw it');
        const answer = await real.append(stepRunId, batch);
        if (sends % 3 === 0) throw new Error('connection reset after the server stored it');
        return answer;
      },
    };
    const problems: string[] = [];
    const sink = createShippingLogSink(lossy, { flushMs: 5, batchLines: 23, onProblem: (m) => problems.push(m) });
    const log = await sink.open(step, createSecretMasker(['hunter2']));
    for (let i = 1; i <= 500; i++) {
      log.write(i % 2 ? 'stdout' : 'stderr', i === 250 ? 'password hunter2 and a NUL \u0000' : `line ${i}`);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await log.close();
    const stored = await readStepLogs(database.db, step, 1, 1000);
    expect(stored.map((l) => l.line)).toEqual(range(1, 500));
    expect(stored.filter((l) => l.line !== 250).map((l) => l.content)).toEqual(range(1, 500).filter((i) => i !== 250).map((i) => `line ${i}`));
    expect(stored[249].content).toBe('password *** and a NUL \uFFFD');
    expect(stored[1].stream).toBe('stderr');
    expect(problems.some((p) => p.includes('after the server stored it'))).toBe(true);
  });

  it('makes a step that prints faster than its lines are shipped wait, instead of queueing without bound', async () => {
    const step = await newStep();
    const real = createInProcessLogTransport(ingest, 'agent_a');
    // A slow control plane: every batch takes 15 ms to be acknowledged.
    const slow: LogTransport = { open: real.open, append: async (id, batch) => (await new Promise((r) => setTimeout(r, 15)), real.append(id, batch)) };
    const log = await createShippingLogSink(slow, { batchLines: 1000, maxQueuedBatches: 8 }).open(step, createSecretMasker([]));
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, log.queuedBatches)), 2);
    const proc: RunningProcess = runProcess({ command: 'seq', args: ['1', '200000'], cwd: process.cwd(), env: { PATH: process.env.PATH ?? '' }, killGraceMs: 1000 }, feedLog(log, () => proc));
    expect(await proc.done).toEqual({ kind: 'exited', exitCode: 0 });
    await log.close();
    clearInterval(watch);
    // Without the pause, 200,000 lines arrive in a few ms: about 200 batches queue at once. With it,
    // the backlog stays near its bound of 8, plus the lines of the pipe chunks (64 KiB, ~10 batches
    // here each) already read when the pause came; under a loaded machine a few such chunks.
    expect(most).toBeLessThanOrEqual(60);
    const stored = await readStepLogs(database.db, step, 1, 300_000);
    expect(stored.length).toBe(200_000);
    expect(stored.every((l, i) => l.content === String(i + 1))).toBe(true);
  });

  it('gives a late subscriber history, then live lines, with no gap or duplicate at the seam, then eof', async () => {
    const step = await newStep();
    const early = recorder();
    const stopEarly = feed.follow(step, 1, early.handlers);
    let next = 1;
    const send = async (count: number) => {
      expect(await ingest.append('agent_a', step, batchOf(next, count))).toMatchObject({ ok: true });
      next += count;
    };
    await send(600);
    await send(600); // more than one history frame
    const late = recorder();
    const resumed = recorder();
    // Joining while lines keep arriving: the seam falls wherever it falls.
    const writer = (async () => {
      for (let i = 0; i < 30; i++) {
        await send(37);
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    feed.follow(step, 1, late.handlers);
    feed.follow(step, 1000, resumed.handlers);
    await writer;
    await transitions.recordStepStatus({ stepRunId: step, status: 'success', exitCode: 0 });
    await until(() => late.seen.eof === 1 && early.seen.eof === 1 && resumed.seen.eof === 1, 'eof for every subscriber');
    const total = next - 1;
    expect(total).toBe(1200 + 30 * 37);
    for (const [who, r, from] of [['early', early, 1], ['late', late, 1], ['resumed', resumed, 1000]] as const) {
      expect([...r.seen.history, ...r.seen.live], who).toEqual(range(from, total));
      expect(r.seen.historyDone, who).toBe(1);
      expect(r.seen.order.at(-1), who).toBe('eof');
      expect(r.seen.order.indexOf('historyDone'), who).toBeGreaterThan(r.seen.order.lastIndexOf('history'));
      expect(r.seen.errors, who).toEqual([]);
    }
    expect(late.seen.history.length).toBeGreaterThanOrEqual(1200);
    stopEarly();
  });

  it('waits for a subscriber to take each history frame before it reads the next', async () => {
    const step = await newStep();
    for (let first = 1; first <= 3000; first += 1000) await ingest.append('agent_a', step, batchOf(first, 1000));
    let outstanding = 0;
    let most = 0;
    const frames: number[] = [];
    const done = new Promise<void>((resolve) =>
      feed.follow(step, 1, {
        async history(lines) {
          outstanding++;
          most = Math.max(most, outstanding);
          frames.push(lines.length);
          await new Promise((r) => setTimeout(r, 5));
          outstanding--;
        },
        historyDone: () => resolve(),
        live: () => undefined,
        eof: () => undefined,
        error: () => undefined,
      }),
    );
    await done;
    expect(most).toBe(1);
    expect(frames).toEqual([500, 500, 500, 500, 500, 500]);
  });

  it('ends a subscription to a finished step after its history, and stops delivering after unsubscribe', async () => {
    const step = await newStep();
    await ingest.append('agent_a', step, batchOf(1, 10));
    const live = recorder();
    const unsubscribe = feed.follow(step, 1, live.handlers);
    await until(() => live.seen.historyDone === 1, 'history of the running step');
    unsubscribe();
    await ingest.append('agent_a', step, batchOf(11, 5));
    await transitions.recordStepStatus({ stepRunId: step, status: 'failed', exitCode: 1 });
    const after = recorder();
    feed.follow(step, 4, after.handlers);
    await until(() => after.seen.eof === 1, 'eof of the finished step');
    expect(after.seen.history).toEqual(range(4, 15));
    expect(after.seen.live).toEqual([]);
    expect(after.seen.order).toEqual(['history', 'historyDone', 'eof']);
    await new Promise((r) => setTimeout(r, 300));
    expect(live.seen.history).toEqual(range(1, 10));
    expect(live.seen.live).toEqual([]);
    expect(live.seen.eof).toBe(0);
    const [row] = await database.db.select().from(stepRuns).where(eq(stepRuns.stepRunId, step));
    expect(row.status).toBe('failed');
  });

  it('carries status events with their pipeline, project and counters through the database', async () => {
    const step = await newStep();
    const seen: Array<Record<string, unknown>> = [];
    const off = events.subscribe((e) => {
      if (e.runId === `run_${n}`) seen.push(e as unknown as Record<string, unknown>);
    });
    await transitions.recordStepStatus({ stepRunId: step, status: 'success', exitCode: 0 });
    await transitions.recordJobStatus({ jobRunId: `job_${n}`, status: 'success' });
    await transitions.recordRunStatus({ runId: `run_${n}`, status: 'success' });
    await until(() => seen.length === 3, 'three events');
    off();
    expect(seen[0]).toMatchObject({ kind: 'step', id: step, jobRunId: `job_${n}`, pipelineId: 'pl_1', projectId: 'p', previousStatus: 'running', status: 'success' });
    expect(seen[1]).toMatchObject({ kind: 'job', id: `job_${n}`, agentId: 'agent_a', counters: { total: 1, succeeded: 1, running: 0 } });
    expect(seen[2]).toMatchObject({ kind: 'run', id: `run_${n}`, counters: { total: 1, succeeded: 1 } });
    expect(typeof seen[2].timestamp).toBe('string');
  });

  it('marks an agent that stopped beating offline once, and says so on the bus', async () => {
    const service = createAgentService(database.db);
    await database.db.insert(agents).values([
      { agentId: 'agent_silent', name: 'silent', status: 'online', lastHeartbeatAt: new Date(Date.now() - 60_000) },
      { agentId: 'agent_alive', name: 'alive', status: 'online', lastHeartbeatAt: new Date() },
    ]);
    const seen: string[] = [];
    const off = events.subscribe((e) => e.kind === 'agent' && seen.push(`${e.id}:${e.previousStatus}->${e.status}`));
    expect(await service.markSilentAgentsOffline(events)).toEqual(['agent_silent']);
    expect(await service.markSilentAgentsOffline(events)).toEqual([]);
    await until(() => seen.length === 1, 'the offline event');
    off();
    expect(seen).toEqual(['agent_silent:online->offline']);
  });
});

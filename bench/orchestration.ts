// Benchmarks of the engine on a real dev server, in the scale-out shape: an `arcentra server` process
// (API + control worker) and an `arcentra agent` process on one PostgreSQL. Measures the per-step
// overhead against a bare-Temporal floor (their rounds alternating), a 100-job matrix fan-out, and
// each process's peak RSS.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import WebSocket from 'ws';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { STREAM_PROTO_PATH } from '../src/grpc/stream-server';
import { TOKEN, childPids, cpuMs, postgresCpuMs, privateMB, rssMB, startScaleOutStack } from './stack';

const STEPS = 50;
export const JOB_HISTORY_FILE = 'job-run-50-steps.json';
export const FLOOR_HISTORY_FILE = 'floor-50-activities.json';
export const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };

/** The floor's workflow (a bare workflow running its no-op activities), bundled. */
export const bundleFloorWorkflow = () => bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./floor-workflow.ts', import.meta.url)), logger: quiet });

/**
 * CPU used by each process over the windows it measures, per step, in ms (2 cores: at most 2 ms
 * of CPU per ms): ours and the floor alternate, so each side sums its own rounds.
 */
function cpuMeter(pids: Record<string, number>) {
  const own = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const read = (): Record<string, number> => ({
    ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === process.pid ? own() : cpuMs(pid)])),
    postgres: postgresCpuMs(),
  });
  const sums: Record<string, number> = {};
  let steps = 0;
  return {
    async measure<T>(work: () => Promise<T>, stepsDone: number): Promise<T> {
      const before = read();
      const result = await work();
      const after = read();
      for (const k of Object.keys(after)) sums[k] = (sums[k] ?? 0) + after[k] - before[k];
      steps += stepsDone;
      return result;
    },
    perStep() {
      const per = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, +(v / steps).toFixed(1)]));
      return { ...per, total: +Object.values(per).reduce((x, y) => x + y, 0).toFixed(1) };
    },
  };
}

/** The floor: a bare workflow running STEPS no-op activities, its worker in this process. */
async function startFloor(address: string, namespace: string, temporalPid: number) {
  const bundle = await bundleFloorWorkflow();
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, namespace, taskQueue: 'bench-floor', workflowBundle: bundle, activities: { noop: async () => undefined } });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  // The worker runs in this process: its CPU is this process's.
  const cpu = cpuMeter({ temporal: temporalPid, worker: process.pid });
  /** The measured rounds' workflows (not the warm-ups'). */
  const workflowIds: string[] = [];
  /** …and when each started and ended, on the machine's clock. */
  const spans: { startedAt: number; endedAt: number }[] = [];
  let started = 0;
  const round = async (measured: boolean) => {
    const t = performance.now();
    const startedAt = Date.now();
    const workflowId = `floor-${Date.now()}-${started++}`;
    await client.workflow.execute('FloorWorkflow', { taskQueue: 'bench-floor', workflowId, args: [STEPS] });
    const ms = performance.now() - t;
    if (measured) {
      workflowIds.push(workflowId);
      spans.push({ startedAt, endedAt: Date.now() });
    }
    return ms;
  };
  return {
    client,
    cpu,
    workflowIds,
    spans,
    round: () => cpu.measure(() => round(true), STEPS),
    warmUp: () => round(false),
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

const eventMs = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;

/**
 * Where the time around a run's steps goes, in ms after the request that started it, from the
 * histories (the dev server and this process share the machine's clock): the run's and the job's
 * starts, the agent taken, the first step scheduled, the last step's end, the job's and the run's
 * ends, and the end heard. The floor: its first activity scheduled, its last one's end.
 */
async function runTimeline(client: Client, round: { startedAt: number; endedAt: number; runWorkflowId?: string; jobWorkflowId: string; activity: string }) {
  const history = async (id: string) => (await client.workflow.getHandle(id).fetchHistory()).events ?? [];
  const job = await history(round.jobWorkflowId);
  const since = (t: number) => +(t - round.startedAt).toFixed(1);
  const scheduledIds = new Map<string, string>();
  for (const e of job) if (e.activityTaskScheduledEventAttributes) scheduledIds.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
  const ofType = (name: string, attr: 'activityTaskScheduledEventAttributes' | 'activityTaskCompletedEventAttributes') =>
    job.filter((e) => e[attr] && (attr === 'activityTaskScheduledEventAttributes' ? e[attr]!.activityType?.name === name : scheduledIds.get(String(e[attr]!.scheduledEventId)) === name));
  const steps = ofType(round.activity, 'activityTaskScheduledEventAttributes');
  const ends = ofType(round.activity, 'activityTaskCompletedEventAttributes');
  const timeline: Record<string, number> = {};
  if (round.runWorkflowId) {
    const run = await history(round.runWorkflowId);
    timeline.runStarted = since(eventMs(run[0]));
    timeline.jobStarted = since(eventMs(job[0]));
    const acquired = ofType('acquireAgent', 'activityTaskCompletedEventAttributes')[0];
    if (acquired) timeline.agentTaken = since(eventMs(acquired));
    timeline.firstStepScheduled = since(eventMs(steps[0]));
    timeline.lastStepEnded = since(eventMs(ends.at(-1)!));
    timeline.jobEnded = since(eventMs(job.at(-1)!));
    timeline.runEnded = since(eventMs(run.at(-1)!));
  } else {
    timeline.firstStepScheduled = since(eventMs(steps[0]));
    timeline.lastStepEnded = since(eventMs(ends.at(-1)!));
    timeline.workflowEnded = since(eventMs(job.at(-1)!));
  }
  timeline.endHeard = since(round.endedAt);
  return { ...timeline, aroundSteps: +(timeline.firstStepScheduled + timeline.endHeard - timeline.lastStepEnded).toFixed(1) };
}

/** Each milestone's median over the rounds. */
function medianTimeline(timelines: Record<string, number>[]) {
  return Object.fromEntries(Object.keys(timelines[0]).map((k) => [k, median(timelines.map((t) => t[k]))]));
}

/** A workflow's own time, from its history: its start to its completion, as Temporal recorded them. */
async function workflowMs(client: Client, workflowId: string): Promise<number> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return eventMs(events[events.length - 1]) - eventMs(events[0]);
}

/** Where a workflow's time went, per step, from its own history's event times. */
async function historyBreakdown(client: Client, workflowId: string, steps: number) {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const sums: Record<string, number> = {};
  let prev = 0;
  for (const e of history.events ?? []) {
    const t = Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
    // An event's time minus the one before it: the time spent reaching that event.
    const name = { 6: 'workflowTaskWait', 7: 'workflowTask', 11: 'activityWait', 12: 'activity' }[Number(e.eventType)];
    if (prev && name) sums[name] = (sums[name] ?? 0) + (t - prev);
    prev = t;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, +(v / steps).toFixed(1)]));
}

const FINAL = ['success', 'failed', 'cancelled', 'partial'];

type RunWatcher = { subscribe(pipelineId: string): Promise<void>; ended(runId: string): Promise<string>; close(): void };

/** Settles a run's end whether its event comes before or after someone waits for it. */
function runEnds() {
  const waiting = new Map<string, { resolve: (status: string) => void; reject: (err: Error) => void }>();
  const endedEarly = new Map<string, string>();
  let broken: Error | null = null;
  return {
    get broken() {
      return broken;
    },
    fail(err: Error) {
      broken ??= err;
      for (const w of waiting.values()) w.reject(broken);
      waiting.clear();
    },
    ended(runId: string, status: string) {
      const waiter = waiting.get(runId);
      if (waiter) waiter.resolve(status);
      else endedEarly.set(runId, status);
    },
    wait: (runId: string) =>
      endedEarly.has(runId)
        ? Promise.resolve(endedEarly.get(runId)!)
        : new Promise<string>((resolve, reject) => {
            if (broken) return reject(broken);
            // A run's end that never comes (an event missed) fails the bench rather than hang it.
            const timer = setTimeout(() => {
              waiting.delete(runId);
              reject(new Error(`bench: no end heard for run ${runId} within 120 s`));
            }, 120_000);
            const done = (settle: () => void) => {
              clearTimeout(timer);
              waiting.delete(runId);
              settle();
            };
            waiting.set(runId, { resolve: (status) => done(() => resolve(status)), reject: (err) => done(() => reject(err)) });
          }),
  };
}

/**
 * Learns that runs ended as a client watching a pipeline's runs does: from the gRPC
 * StreamPipelineStatus stream, pushed the moment the run's end is recorded (run events only), as
 * the floor learns its workflow's end from Temporal (one long poll). The WebSocket's
 * channel_status (BENCH_WATCH=ws) also pushes every job and step transition: two or three frames
 * per step, each a wakeup of this process and of the server's writer.
 */
function watchRunsOverGrpc(address: string): RunWatcher {
  const proto = grpc.loadPackageDefinition(protoLoader.loadSync(STREAM_PROTO_PATH, { keepCase: false, longs: Number, defaults: true })) as any;
  const client = new proto.stream.v1.StreamService(address, grpc.credentials.createInsecure());
  const ends = runEnds();
  const calls: grpc.ClientReadableStream<any>[] = [];
  return {
    async subscribe(pipelineId) {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${TOKEN}`);
      const call: grpc.ClientReadableStream<any> = client.StreamPipelineStatus({ pipelineIds: [pipelineId] }, metadata);
      calls.push(call);
      call.on('data', (e: { runId: string; status: string }) => FINAL.includes(e.status) && ends.ended(e.runId, e.status));
      call.on('error', (err: Error) => ends.fail(new Error(`bench: gRPC stream failed: ${err.message}`)));
      call.on('end', () => ends.fail(new Error('bench: gRPC stream ended')));
      // The stream says nothing once it listens: its token and access checks take a few ms.
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (ends.broken) throw ends.broken;
    },
    ended: (runId) => ends.wait(runId),
    close() {
      for (const call of calls) {
        call.removeAllListeners('error');
        call.on('error', () => undefined);
        call.cancel();
      }
      client.close();
    },
  };
}

/** The same from the WebSocket's channel_status frames (every run, job and step transition). */
async function watchRunsOverWebSocket(apiUrl: string): Promise<RunWatcher> {
  const ws = new WebSocket(`${apiUrl.replace('http', 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${TOKEN}` } });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const ends = runEnds();
  const subscribed = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  const fail = (err: Error) => {
    ends.fail(err);
    for (const w of subscribed.values()) w.reject(ends.broken!);
    subscribed.clear();
  };
  ws.on('error', (err) => fail(new Error(`bench: WebSocket failed: ${err.message}`)));
  ws.on('close', (code) => fail(new Error(`bench: WebSocket closed (${code})`)));
  ws.on('message', (raw) => {
    const frame = JSON.parse(String(raw));
    if (frame.channel !== 'channel_status') return;
    if (frame.type === 'subscribed') subscribed.get(frame.id)?.resolve();
    if (frame.type === 'error') fail(new Error(`bench: WebSocket error frame: ${frame.message}`));
    if (frame.type === 'status' && frame.data.kind === 'run' && FINAL.includes(frame.data.status)) ends.ended(frame.data.id, frame.data.status);
  });
  return {
    subscribe: (pipelineId: string) =>
      new Promise<void>((resolve, reject) => {
        if (ends.broken) return reject(ends.broken);
        subscribed.set(pipelineId, { resolve, reject });
        ws.send(JSON.stringify({ id: pipelineId, channel: 'channel_status', action: 'subscribe', params: { pipelineId } }));
      }),
    ended: (runId: string) => ends.wait(runId),
    close: () => {
      ws.removeAllListeners('close');
      ws.terminate();
    },
  };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchOrchestration(rounds = 9) {
  const stack = await startScaleOutStack(() => ({ ARCENTRA_AGENT_MAX_JOBS: '100' }));
  const { api } = stack;
  const server = { child: stack.server };
  const agent = { child: stack.agent };
  const watcher = process.env.BENCH_WATCH === 'ws' ? await watchRunsOverWebSocket(stack.apiUrl) : watchRunsOverGrpc(stack.grpcAddress);
  try {
    let lastRun: any;
    let lastSpan = { startedAt: 0, endedAt: 0 };
    const runToEnd = async (pipelineId: string) => {
      const t = performance.now();
      const startedAt = Date.now();
      const { detail } = await api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
      const status = await watcher.ended(detail.runId);
      const ms = performance.now() - t;
      lastSpan = { startedAt, endedAt: Date.now() };
      if (status !== 'success') throw new Error(`bench run ended ${status}`);
      lastRun = (await api('GET', `/api/v1/pipelines/runs/${detail.runId}`)).detail;
      return ms;
    };
    const steps = await api('POST', '/api/v1/pipelines', {
      projectId: 'bench',
      name: 'steps',
      spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'j', steps: Array.from({ length: STEPS }, (_, i) => ({ name: `s${i}`, run: 'true' })) }] },
    });
    await watcher.subscribe(steps.detail.pipelineId);
    const floorSide = await startFloor(stack.temporalAddress, stack.namespace, stack.temporal.pid!);
    const oursCpu = cpuMeter({ temporal: stack.temporal.pid!, server: server.child.pid!, agent: agent.child.pid! });
    // Warm-ups, three of each: with one, the server's and the agent's JIT was still at work during
    // the measured rounds (336 TurboFan compilations in the agent over a bench run, --trace-opt).
    for (let i = 0; i < 3; i++) {
      await runToEnd(steps.detail.pipelineId);
      await floorSide.warmUp();
    }
    // Ours and the floor take turns, so that the machine's drift (this VM's speed moves by tens of
    // percent within a minute) weighs on both alike.
    const ours: number[] = [];
    const floor: number[] = [];
    const jobWorkflowIds: string[] = [];
    const oursRounds: { startedAt: number; endedAt: number; runWorkflowId: string; jobWorkflowId: string; activity: string }[] = [];
    for (let i = 0; i < rounds; i++) {
      ours.push(await oursCpu.measure(() => runToEnd(steps.detail.pipelineId), STEPS));
      jobWorkflowIds.push(`pipeline-run/${lastRun.runId}/job/${lastRun.stages[0].jobs[0].jobRunId}`);
      oursRounds.push({ ...lastSpan, runWorkflowId: `pipeline-run/${lastRun.runId}`, jobWorkflowId: jobWorkflowIds.at(-1)!, activity: 'runStep' });
      floor.push(await floorSide.round());
    }
    await floorSide.stop();
    const client = new Client({ connection: await Connection.connect({ address: stack.temporalAddress }), namespace: stack.namespace });
    const oursBreakdown = await historyBreakdown(client, jobWorkflowIds.at(-1)!, STEPS);
    // BENCH_SAVE_HISTORIES=<dir>: the last histories of both, which bench/workflow-replay.ts replays.
    if (process.env.BENCH_SAVE_HISTORIES) {
      const save = async (c: Client, workflowId: string, file: string) =>
        writeFileSync(join(process.env.BENCH_SAVE_HISTORIES!, file), historyToJSON(await c.workflow.getHandle(workflowId).fetchHistory()));
      await save(client, jobWorkflowIds.at(-1)!, JOB_HISTORY_FILE);
      await save(floorSide.client, floorSide.workflowIds.at(-1)!, FLOOR_HISTORY_FILE);
    }
    const oursJobTimes = await Promise.all(jobWorkflowIds.map((id) => workflowMs(client, id)));
    const floorBreakdown = await historyBreakdown(floorSide.client, floorSide.workflowIds.at(-1)!, STEPS);
    const floorWorkflowTimes = await Promise.all(floorSide.workflowIds.map((id) => workflowMs(floorSide.client, id)));
    const oursTimeline = medianTimeline(await Promise.all(oursRounds.map((r) => runTimeline(client, r))));
    const floorTimeline = medianTimeline(await Promise.all(floorSide.workflowIds.map((id, i) => runTimeline(floorSide.client, { ...floorSide.spans[i], jobWorkflowId: id, activity: 'noop' }))));

    const matrix = await api('POST', '/api/v1/pipelines', {
      projectId: 'bench',
      name: 'fan-out',
      spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'm', matrix: { a: Array.from({ length: 10 }, (_, i) => i), b: Array.from({ length: 10 }, (_, i) => i) }, steps: [{ name: 's', run: 'true' }] }] },
    });
    await watcher.subscribe(matrix.detail.pipelineId);
    // The agent's memory: its RSS, and what its spawner holds of its own (the spawner's other
    // pages are node's code, which the agent's RSS already counts).
    const [spawner] = childPids(agent.child.pid!);
    if (spawner === undefined) throw new Error('bench: the agent has no spawner process');
    const agentMB = () => rssMB(agent.child.pid!) + privateMB(spawner);
    const idle = { server: Math.round(rssMB(server.child.pid!)), agent: Math.round(agentMB()) };
    const peak = { ...idle, spawnerPrivate: privateMB(spawner) };
    const sampler = setInterval(() => {
      peak.server = Math.max(peak.server, rssMB(server.child.pid!));
      peak.agent = Math.max(peak.agent, agentMB());
      peak.spawnerPrivate = Math.max(peak.spawnerPrivate, privateMB(spawner));
    }, 50);
    const fanOutMs = await runToEnd(matrix.detail.pipelineId);
    clearInterval(sampler);
    return {
      name: 'orchestration',
      topology: 'arcentra server + arcentra agent processes, PostgreSQL, in-memory dev server',
      stepsPerJob: STEPS,
      rounds,
      oursMedianMs: Math.round(median(ours)),
      floorMedianMs: Math.round(median(floor)),
      ratioToFloor: +(median(ours) / median(floor)).toFixed(2),
      // Each round of ours against the floor's round right after it.
      pairedRatioMedian: +median(ours.map((t, i) => t / floor[i])).toFixed(2),
      msPerStep: +(median(ours) / STEPS).toFixed(1),
      floorMsPerActivity: +(median(floor) / STEPS).toFixed(1),
      // The same from the workflows' own histories: the JobRun workflow (agent taken, 50 steps)
      // against the bare workflow, without the run around the job (trigger, PipelineRun, the
      // client learning of the end) or the floor's client round trips.
      workflowOnly: {
        jobMedianMs: Math.round(median(oursJobTimes)),
        floorMedianMs: Math.round(median(floorWorkflowTimes)),
        ratioToFloor: +(median(oursJobTimes) / median(floorWorkflowTimes)).toFixed(2),
      },
      perStepFromHistory: { ours: oursBreakdown, floor: floorBreakdown },
      // The time around the steps (before the first is scheduled, after the last one's end), ms
      // after the request, medians of the rounds.
      timelineMs: { ours: oursTimeline, floor: floorTimeline },
      // The machine has 2 cores: a step cannot take less wall time than half its CPU time.
      cpuMsPerStep: { ours: oursCpu.perStep(), floor: floorSide.cpu.perStep() },
      fanOut100JobsMs: Math.round(fanOutMs),
      rssBeforeFanOutMB: idle,
      peakRssMB: { server: Math.round(peak.server), agent: Math.round(peak.agent), ofWhichSpawnerPrivate: Math.round(peak.spawnerPrivate) },
      targets: { ratioToFloor: 1.5, msPerStep: 25, fanOut100JobsMs: 10_000, controlWorkerRssMB: 300, agentRssMB: 150 },
    };
  } finally {
    watcher.close();
    await stack.close();
  }
}

// Benchmarks of the engine on a real dev server, in the scale-out shape: an `arcentra server` process
// (API + control worker) and an `arcentra agent` process on one PostgreSQL. Measures the per-step
// overhead against a bare-Temporal floor, a 100-job matrix fan-out, and each process's peak RSS.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import postgres from 'postgres';
import { startDevServer } from '../src/launcher/dev-server';
import { freePort } from '../src/launcher/ports';
import { loadTemporalSettings } from '../src/temporal/temporal-config';

const STEPS = 50;
const TOKEN = 'bench-admin-token-0123456789abcdef';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };

async function floorMs(address: string, namespace: string, rounds: number) {
  const bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./floor-workflow.ts', import.meta.url)), logger: quiet });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, namespace, taskQueue: 'bench-floor', workflowBundle: bundle, activities: { noop: async () => undefined } });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  const times: number[] = [];
  let workflowId = '';
  for (let i = 0; i <= rounds; i++) {
    const t = performance.now();
    workflowId = `floor-${Date.now()}-${i}`;
    await client.workflow.execute('FloorWorkflow', { taskQueue: 'bench-floor', workflowId, args: [STEPS] });
    if (i > 0) times.push(performance.now() - t); // the first round warms up
  }
  const breakdown = await historyBreakdown(client, workflowId, STEPS);
  worker.shutdown();
  await running;
  await connection.close();
  return { times, breakdown };
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

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `bin/arcentra.mjs <role>`, as an operator runs it: the pid is the process whose RSS we read. */
function arcentra(role: string, env: Record<string, string>): { child: ChildProcess; ready: Promise<void> } {
  const child = spawn(join(ROOT, 'bin', 'arcentra'), [role], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ARCENTRA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('Arcentra is running')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`arcentra ${role} exited with ${code}`)));
  });
  return { child, ready };
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

export async function benchOrchestration(rounds = 5) {
  const dataDir = mkdtempSync(join(tmpdir(), 'arcentra-bench-'));
  const settings = loadTemporalSettings();
  const dev = await startDevServer({ settings, dataDir, port: await freePort(), ephemeral: true, headless: true });
  const dbName = `arc_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = new URL(POSTGRES_URL);
  dbUrl.pathname = `/${dbName}`;
  const port = await freePort();
  const base = { TEMPORAL_ADDRESS: dev.address, DATABASE_URL: dbUrl.toString() };
  const procs: ChildProcess[] = [];
  try {
    const server = arcentra('server', { ...base, PORT: String(port), ARCENTRA_GRPC_PORT: String(await freePort()), ARCENTRA_DATA_DIR: join(dataDir, 'server'), ARCENTRA_ADMIN_TOKEN: TOKEN, ARCENTRA_LOCAL_AGENT: '0' });
    procs.push(server.child);
    await server.ready;
    const apiUrl = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(apiUrl + path, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await res.json()) as any;
    };
    const agentToken = (await api('POST', '/api/v1/agents/tokens', { name: 'bench' })).detail.token;
    const agent = arcentra('agent', { ...base, ARCENTRA_DATA_DIR: join(dataDir, 'agent'), ARCENTRA_AGENT_TOKEN: agentToken, ARCENTRA_AGENT_MAX_JOBS: '100' });
    procs.push(agent.child);
    await agent.ready;

    let lastRun: any;
    const runToEnd = async (pipelineId: string) => {
      const t = performance.now();
      const { detail } = await api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
      for (;;) {
        const run = (await api('GET', `/api/v1/pipelines/runs/${detail.runId}`)).detail;
        if (['success', 'failed', 'cancelled', 'partial'].includes(run.status)) {
          if (run.status !== 'success') throw new Error(`bench run ended ${run.status}`);
          lastRun = run;
          return performance.now() - t;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const steps = await api('POST', '/api/v1/pipelines', {
      projectId: 'bench',
      name: 'steps',
      spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'j', steps: Array.from({ length: STEPS }, (_, i) => ({ name: `s${i}`, run: 'true' })) }] },
    });
    await runToEnd(steps.detail.pipelineId); // warm-up
    const ours: number[] = [];
    for (let i = 0; i < rounds; i++) ours.push(await runToEnd(steps.detail.pipelineId));
    const client = new Client({ connection: await Connection.connect({ address: dev.address }), namespace: settings.namespace });
    const oursBreakdown = await historyBreakdown(client, `pipeline-run/${lastRun.runId}/job/${lastRun.stages[0].jobs[0].jobRunId}`, STEPS);
    const { times: floor, breakdown: floorBreakdown } = await floorMs(dev.address, settings.namespace, rounds);

    const matrix = await api('POST', '/api/v1/pipelines', {
      projectId: 'bench',
      name: 'fan-out',
      spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'm', matrix: { a: Array.from({ length: 10 }, (_, i) => i), b: Array.from({ length: 10 }, (_, i) => i) }, steps: [{ name: 's', run: 'true' }] }] },
    });
    const idle = { server: Math.round(rssMB(server.child.pid!)), agent: Math.round(rssMB(agent.child.pid!)) };
    const peak = { ...idle };
    const sampler = setInterval(() => {
      peak.server = Math.max(peak.server, rssMB(server.child.pid!));
      peak.agent = Math.max(peak.agent, rssMB(agent.child.pid!));
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
      msPerStep: +(median(ours) / STEPS).toFixed(1),
      floorMsPerActivity: +(median(floor) / STEPS).toFixed(1),
      perStepFromHistory: { ours: oursBreakdown, floor: floorBreakdown },
      fanOut100JobsMs: Math.round(fanOutMs),
      rssBeforeFanOutMB: idle,
      peakRssMB: { server: Math.round(peak.server), agent: Math.round(peak.agent) },
      targets: { ratioToFloor: 1.5, msPerStep: 25, fanOut100JobsMs: 10_000, controlWorkerRssMB: 300, agentRssMB: 150 },
    };
  } finally {
    for (const child of procs) child.kill('SIGTERM');
    await Promise.all(procs.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await dev.stop();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

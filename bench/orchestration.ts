// Benchmarks of the engine on a real dev server: per-step overhead against a bare-Temporal floor,
// and a 100-job matrix fan-out, with the process's memory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import pino from 'pino';
import { startDevServer } from '../src/launcher/dev-server';
import { freePort } from '../src/launcher/ports';
import { startSystem } from '../src/launcher/system';
import { loadTemporalSettings } from '../src/temporal/temporal-config';

const STEPS = 50;
const TOKEN = 'bench-admin-token-0123456789abcdef';
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };

async function floorMs(address: string, rounds: number): Promise<number[]> {
  const bundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL('./floor-workflow.ts', import.meta.url)), logger: quiet });
  const connection = await NativeConnection.connect({ address });
  const worker = await Worker.create({ connection, taskQueue: 'bench-floor', workflowBundle: bundle, activities: { noop: async () => undefined } });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }) });
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    await client.workflow.execute('FloorWorkflow', { taskQueue: 'bench-floor', workflowId: `floor-${Date.now()}-${i}`, args: [STEPS] });
    times.push(performance.now() - t);
  }
  worker.shutdown();
  await running;
  await connection.close();
  return times;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchOrchestration(rounds = 3) {
  const dataDir = mkdtempSync(join(tmpdir(), 'arcentra-bench-'));
  const settings = loadTemporalSettings();
  const dev = await startDevServer({ settings, dataDir, port: await freePort(), ephemeral: true, headless: true });
  const system = await startSystem({
    config: { port: 0, grpcPort: 0, dataDir, temporalAddress: dev.address, adminToken: TOKEN, agentLabels: {}, agentMaxJobs: 100, logLevel: 'silent' },
    roles: { server: true, agent: true },
    logger: pino({ level: 'silent' }),
    settings,
  });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(system.apiUrl + path, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return (await res.json()) as any;
  };
  const runToEnd = async (pipelineId: string) => {
    const t = performance.now();
    const { detail } = await api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
    for (;;) {
      const run = (await api('GET', `/api/v1/pipelines/runs/${detail.runId}`)).detail;
      if (['success', 'failed', 'cancelled', 'partial'].includes(run.status)) {
        if (run.status !== 'success') throw new Error(`bench run ended ${run.status}`);
        return performance.now() - t;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    const steps = await api('POST', '/api/v1/pipelines', {
      projectId: 'bench',
      name: 'steps',
      spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'j', steps: Array.from({ length: STEPS }, (_, i) => ({ name: `s${i}`, run: 'true' })) }] },
    });
    await runToEnd(steps.detail.pipelineId); // warm-up
    const ours: number[] = [];
    for (let i = 0; i < rounds; i++) ours.push(await runToEnd(steps.detail.pipelineId));
    const floor = await floorMs(dev.address, rounds);

    const matrix = await api('POST', '/api/v1/pipelines', {
      projectId: 'bench',
      name: 'fan-out',
      spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'm', matrix: { a: Array.from({ length: 10 }, (_, i) => i), b: Array.from({ length: 10 }, (_, i) => i) }, steps: [{ name: 's', run: 'true' }] }] },
    });
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    const fanOutMs = await runToEnd(matrix.detail.pipelineId);
    clearInterval(sampler);
    return {
      name: 'orchestration',
      stepsPerJob: STEPS,
      oursMedianMs: Math.round(median(ours)),
      floorMedianMs: Math.round(median(floor)),
      ratioToFloor: +(median(ours) / median(floor)).toFixed(2),
      msPerStep: +(median(ours) / STEPS).toFixed(1),
      fanOut100JobsMs: Math.round(fanOutMs),
      peakRssMBServerAndAgentInOneProcess: Math.round(peakRss / 1024 / 1024),
      targets: { ratioToFloor: 1.5, msPerStep: 25, fanOut100JobsMs: 10_000, controlWorkerRssMB: 300, agentRssMB: 150 },
    };
  } finally {
    await system.stop();
    await dev.stop();
  }
}

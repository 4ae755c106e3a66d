// API benchmarks against the all-in-one stack (`bin/arcentra all`, in its own process):
// - GET /api/v1/pipelines/:pipelineId throughput against a bare Express handler answering the same
//   JSON (bench/bare-express.mjs, also its own process), both driven by autocannon from here;
// - trigger latency at a fixed 50 requests/s.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort } from '../src/launcher/ports';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-admin-token-0123456789abcdef';
const DURATION_S = 10;

function start(command: string, args: string[], env: Record<string, string>, readyText: string): Promise<ChildProcess> {
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(readyText)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)));
  });
}

const rps = (url: string, headers: Record<string, string>) =>
  new Promise<autocannon.Result>((resolve, reject) => autocannon({ url, headers, connections: 20, duration: DURATION_S }, (err, result) => (err ? reject(err) : resolve(result))));

export async function benchApi() {
  const dataDir = mkdtempSync(join(tmpdir(), 'arcentra-bench-api-'));
  const [port, barePort, temporalPort, uiPort, grpcPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const procs: ChildProcess[] = [];
  try {
    procs.push(
      await start(join(ROOT, 'bin', 'arcentra'), ['all'], {
        PORT: String(port),
        ARCENTRA_GRPC_PORT: String(grpcPort),
        ARCENTRA_TEMPORAL_PORT: String(temporalPort),
        ARCENTRA_TEMPORAL_UI_PORT: String(uiPort),
        ARCENTRA_DATA_DIR: dataDir,
        ARCENTRA_ADMIN_TOKEN: TOKEN,
        ARCENTRA_LOG_LEVEL: 'warn',
        // BENCH_DATABASE_URL: the same stack on PostgreSQL instead of the embedded PGlite.
        ...(process.env.BENCH_DATABASE_URL ? { DATABASE_URL: process.env.BENCH_DATABASE_URL } : {}),
      }, 'Arcentra is running'),
    );
    const base = `http://127.0.0.1:${port}`;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const api = async (method: string, path: string, body?: unknown) => (await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<any>;
    const created = await api('POST', '/api/v1/pipelines', { projectId: 'bench', name: 'api', spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 's', run: 'true' }] }] } });
    const pipelineId: string = created.detail.pipelineId;
    const sample = await (await fetch(`${base}/api/v1/pipelines/${pipelineId}`, { headers })).text();
    procs.push(await start(process.execPath, [join(ROOT, 'bench', 'bare-express.mjs'), String(barePort), sample], {}, 'ready'));

    const bare = await rps(`http://127.0.0.1:${barePort}/api/v1/pipelines/${pipelineId}`, headers);
    const ours = await rps(`${base}/api/v1/pipelines/${pipelineId}`, headers);
    if (ours.non2xx > 0 || ours.errors > 0) throw new Error(`GET answered ${ours.non2xx} non-2xx and ${ours.errors} errors`);

    // Warm-up, as for every other figure here: the first runs compile the code paths of a run (API,
    // workflows, agent) and create the workflow thread's contexts. 50 triggers at 25/s, all finished.
    const warm = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * 40));
        return (await api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, { requestId: `warm-${i}` })).detail.runId as string;
      }),
    );
    for (const runId of warm) {
      while (!['success', 'failed', 'cancelled', 'partial'].includes((await api('GET', `/api/v1/pipelines/runs/${runId}`)).detail.status)) await new Promise((r) => setTimeout(r, 100));
    }

    // Trigger at a fixed rate: 50 requests/s for DURATION_S seconds, each timed on its own.
    const latencies: number[] = [];
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < 50 * DURATION_S; i++) {
      sends.push(
        (async () => {
          await new Promise((r) => setTimeout(r, i * 20));
          const t = performance.now();
          const res = await fetch(`${base}/api/v1/pipelines/${pipelineId}/trigger`, { method: 'POST', headers, body: JSON.stringify({ requestId: `bench-${i}` }) });
          await res.text();
          if (res.status !== 200) throw new Error(`trigger answered ${res.status}`);
          latencies.push(performance.now() - t);
        })(),
      );
    }
    const triggersFrom = performance.now();
    await Promise.all(sends);
    // Meanwhile the same process runs what was triggered: how long until the last run is over.
    const finished = async () => (await api('GET', `/api/v1/pipelines/${pipelineId}/runs?status=success&pageSize=1`)).detail.total as number;
    while ((await finished()) < warm.length + sends.length) await new Promise((r) => setTimeout(r, 200));
    const allRunsDoneS = (performance.now() - triggersFrom) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => +latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(1);
    return {
      name: 'api',
      stack: `bin/arcentra all (${process.env.BENCH_DATABASE_URL ? 'PostgreSQL' : 'PGlite'}, dev server) in its own process; autocannon 20 connections for 10 s`,
      getPipeline: { oursRps: Math.round(ours.requests.average), bareExpressRps: Math.round(bare.requests.average), ratio: +(ours.requests.average / bare.requests.average).toFixed(2), oursP99Ms: ours.latency.p99 },
      trigger: { rate: 50, requests: latencies.length, p50Ms: pct(50), p99Ms: pct(99), maxMs: pct(100), allRunsSucceededAfterS: +allRunsDoneS.toFixed(1) },
      targets: { getPipelineRatio: 0.5, triggerP99Ms: 100 },
    };
  } finally {
    for (const child of procs) if (child.pid) process.kill(-child.pid, 'SIGTERM');
    await Promise.all(procs.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

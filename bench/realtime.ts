// Realtime benchmarks in the scale-out shape: an `arcentra server` process, an `arcentra agent`
// process shipping its logs to that server over HTTP, PostgreSQL, an in-memory dev server.
// - ingest: a step printing 1,000,000 lines at full speed; lines per second from the step's start
//   to its end (the agent reports the end only once every line is acknowledged as stored);
// - latency: a step printing 10,000 lines/s for 10 s; each line carries the time it was printed,
//   and one WebSocket client notes when it arrives (same machine, same clock);
// - fan-out: 1,000 WebSocket clients on one step of one server, lines at a steady rate; the
//   latency over all clients and the server's peak RSS.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import WebSocket from 'ws';
import { startDevServer } from '../src/launcher/dev-server';
import { freePort } from '../src/launcher/ports';
import { loadTemporalSettings } from '../src/temporal/temporal-config';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'bench-admin-token-0123456789abcdef';
const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';
const GENERATOR = join(ROOT, 'bench', 'line-generator.mjs');
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const FANOUT_RATE = Number(process.env.BENCH_FANOUT_RATE ?? 50);

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

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
const LINE_TIME = /"content":"t (\d+) /;

export async function benchRealtime() {
  const dataDir = mkdtempSync(join(tmpdir(), 'arcentra-bench-rt-'));
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
  const sockets: WebSocket[] = [];
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
    const agent = arcentra('agent', { ...base, ARCENTRA_DATA_DIR: join(dataDir, 'agent'), ARCENTRA_AGENT_TOKEN: agentToken, ARCENTRA_SERVER_URL: apiUrl });
    procs.push(agent.child);
    await agent.ready;

    let n = 0;
    /** A one-step pipeline, triggered; resolves with the ids once the tree exists. */
    const start = async (run: string) => {
      const created = await api('POST', '/api/v1/pipelines', { projectId: 'bench', name: `rt${++n}`, spec: { namespace: 'bench', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 's', run, timeout: '10m' }] }] } });
      const trig = await api('POST', `/api/v1/pipelines/${created.detail.pipelineId}/trigger`, {});
      const run0 = (await api('GET', `/api/v1/pipelines/runs/${trig.detail.runId}`)).detail;
      return { runId: trig.detail.runId as string, stepRunId: run0.stages[0].jobs[0].steps[0].stepRunId as string };
    };
    const stepOf = async (runId: string) => (await api('GET', `/api/v1/pipelines/runs/${runId}`)).detail.stages[0].jobs[0].steps[0];
    const finished = async (runId: string) => {
      for (;;) {
        const step = await stepOf(runId);
        if (['success', 'failed', 'cancelled', 'timeout'].includes(step.status)) {
          if (step.status !== 'success') throw new Error(`bench step ended ${step.status}`);
          return step;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const connect = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`${apiUrl.replace('http', 'ws')}/api/v1/ws`, { headers: { authorization: `Bearer ${TOKEN}` } });
        sockets.push(ws);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });

    // Ingest: 1,000,000 lines as fast as the step prints them.
    const ingestLines = 1_000_000;
    const ingestRun = await start(`seq -f 'line %.0f' 1 ${ingestLines}`);
    const ingestStep = await finished(ingestRun.runId);
    const ingestSeconds = (Date.parse(ingestStep.finishedAt) - Date.parse(ingestStep.startedAt)) / 1000;
    const stored = (await api('GET', `/api/v1/pipelines/runs/${ingestRun.runId}/steps/${ingestRun.stepRunId}/logs?fromLine=${ingestLines}&limit=10`)).detail;
    if (stored.lines.length !== 1 || stored.lines[0].content !== `line ${ingestLines}` || !stored.complete) throw new Error('ingest: the last line is missing');

    // Latency at 10,000 lines/s, one subscriber.
    const rate = 10_000;
    const seconds = 10;
    const latencyRun = await start(`node ${GENERATOR} ${rate} ${seconds}`);
    const one = await connect();
    const latencies: number[] = [];
    let eof: () => void;
    const ended = new Promise<void>((r) => (eof = r));
    one.on('message', (data) => {
      const text = data.toString();
      const m = LINE_TIME.exec(text);
      if (m && text.includes('"type":"log"')) latencies.push(Date.now() - Number(m[1]));
      else if (text.includes('"type":"eof"')) eof();
    });
    one.send(JSON.stringify({ channel: 'channel_log', action: 'subscribe', params: latencyRun }));
    await ended;
    latencies.sort((a, b) => a - b);

    // 1,000 subscribers on one step of one server.
    const fanRun = await start(`sleep 3; node ${GENERATOR} ${FANOUT_RATE} 20`);
    const clients = [];
    for (let i = 0; i < SUBSCRIBERS; i++) clients.push(await connect());
    const fanLatencies: number[] = [];
    let eofs = 0;
    let allEnded: () => void;
    const allDone = new Promise<void>((r) => (allEnded = r));
    for (const ws of clients) {
      ws.on('message', (data) => {
        const text = data.toString();
        const m = LINE_TIME.exec(text);
        if (m && text.includes('"type":"log"')) fanLatencies.push(Date.now() - Number(m[1]));
        else if (text.includes('"type":"eof"') && ++eofs === clients.length) allEnded();
      });
      ws.send(JSON.stringify({ channel: 'channel_log', action: 'subscribe', params: fanRun }));
    }
    const idleServerMB = rssMB(server.child.pid!);
    let peakServerMB = idleServerMB;
    const sampler = setInterval(() => (peakServerMB = Math.max(peakServerMB, rssMB(server.child.pid!))), 100);
    await allDone;
    clearInterval(sampler);
    fanLatencies.sort((a, b) => a - b);
    const expected = FANOUT_RATE * 20 * SUBSCRIBERS;
    if (fanLatencies.length !== expected) throw new Error(`fan-out: ${fanLatencies.length} lines received, ${expected} expected`);

    return {
      name: 'realtime',
      topology: 'arcentra server + arcentra agent (logs over HTTP) processes, PostgreSQL, in-memory dev server; clients in the bench process',
      ingest: { lines: ingestLines, seconds: +ingestSeconds.toFixed(2), linesPerSecond: Math.round(ingestLines / ingestSeconds) },
      latency: { rate, seconds, lines: latencies.length, p50Ms: pct(latencies, 0.5), p99Ms: pct(latencies, 0.99), maxMs: latencies.at(-1) },
      fanOut: {
        subscribers: SUBSCRIBERS,
        linesPerSecond: FANOUT_RATE,
        framesReceived: fanLatencies.length,
        p50Ms: pct(fanLatencies, 0.5),
        p99Ms: pct(fanLatencies, 0.99),
        maxMs: fanLatencies.at(-1),
        serverRssMB: { beforeLines: Math.round(idleServerMB), peak: Math.round(peakServerMB) },
      },
      targets: { ingestLinesPerSecond: 50_000, latencyP50Ms: 100, latencyP99Ms: 500, fanOutP99Ms: 1000, fanOutServerRssMB: 500 },
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    for (const child of procs) child.kill('SIGTERM');
    await Promise.all(procs.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await dev.stop();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// The scale-out shape the engine and realtime benchmarks run in: an in-memory dev server, a fresh
// PostgreSQL database, one `arcentra server` and one `arcentra agent` process, as an operator runs them.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { startDevServer } from '../src/launcher/dev-server';
import { freePort } from '../src/launcher/ports';
import { loadTemporalSettings } from '../src/temporal/temporal-config';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TOKEN = 'bench-admin-token-0123456789abcdef';
const POSTGRES_URL = process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/test';

/** `bin/arcentra <role>`: the pid is the process whose RSS we read. */
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

function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // gone
  }
}

/**
 * CPU time (ms) a process, the children it waited for, and its living descendants (an agent's
 * spawner, say) have used, from /proc (clock ticks of 10 ms).
 */
export function cpuMs(pid: number, descendants = true): number {
  const f = statFields(pid);
  if (!f) return 0;
  let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
  if (descendants) for (const child of childPids(pid)) total += cpuMs(child);
  return total;
}

/** CPU time (ms) of every PostgreSQL process on the machine (its backends serve both stacks alike). */
export function postgresCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') total += cpuMs(Number(pid), false);
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

export function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/**
 * The memory only this process holds (its private pages: what its end would free), in MB. For a
 * helper such as an agent's spawner, whose other pages are node's code, shared with the agent.
 */
export function privateMB(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(rollup)?.[1] ?? 0);
    return (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
  } catch {
    return 0; // gone
  }
}

/** The living child processes of a process. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((child) => Number(statFields(child)?.[1]) === pid);
}

export interface ScaleOutStack {
  apiUrl: string;
  /** The server's gRPC stream.v1 address. */
  grpcAddress: string;
  temporalAddress: string;
  namespace: string;
  server: ChildProcess;
  agent: ChildProcess;
  /** The dev server's process. */
  temporal: ChildProcess;
  api(method: string, path: string, body?: unknown): Promise<any>;
  close(): Promise<void>;
}

/** Starts the stack; `agentEnv` adds to the agent's environment (e.g. ARCENTRA_SERVER_URL: apiUrl). */
export async function startScaleOutStack(agentEnv: (apiUrl: string) => Record<string, string> = () => ({})): Promise<ScaleOutStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'arcentra-bench-'));
  const settings = loadTemporalSettings();
  const dev = await startDevServer({ settings, dataDir, port: await freePort(), ephemeral: true, headless: true });
  const dbName = `arc_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(POSTGRES_URL, { max: 1, onnotice: () => undefined });
  await admin.unsafe(`create database ${dbName}`);
  const dbUrl = new URL(POSTGRES_URL);
  dbUrl.pathname = `/${dbName}`;
  // BENCH_NODE_OPTIONS reaches the server and the agent (e.g. --perf-basic-prof, for `perf record`).
  const nodeOptions: Record<string, string> = process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {};
  const base = { TEMPORAL_ADDRESS: dev.address, DATABASE_URL: dbUrl.toString(), ...nodeOptions };
  const procs: ChildProcess[] = [];
  const close = async () => {
    for (const child of procs) child.kill('SIGTERM');
    await Promise.all(procs.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await dev.stop();
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const grpcPort = await freePort();
    const server = arcentra('server', { ...base, PORT: String(port), ARCENTRA_GRPC_PORT: String(grpcPort), ARCENTRA_DATA_DIR: join(dataDir, 'server'), ARCENTRA_ADMIN_TOKEN: TOKEN, ARCENTRA_LOCAL_AGENT: '0' });
    procs.push(server.child);
    await server.ready;
    const apiUrl = `http://127.0.0.1:${port}`;
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(apiUrl + path, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return (await res.json()) as any;
    };
    const agentToken = (await api('POST', '/api/v1/agents/tokens', { name: 'bench' })).detail.token;
    const agent = arcentra('agent', { ...base, ARCENTRA_DATA_DIR: join(dataDir, 'agent'), ARCENTRA_AGENT_TOKEN: agentToken, ...agentEnv(apiUrl) });
    procs.push(agent.child);
    await agent.ready;
    return { apiUrl, grpcAddress: `127.0.0.1:${grpcPort}`, temporalAddress: dev.address, namespace: settings.namespace, server: server.child, agent: agent.child, temporal: dev.child, api, close };
  } catch (err) {
    await close();
    throw err;
  }
}

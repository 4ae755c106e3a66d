// Runs `arcentra <role>` as a real process group, as a user would with npm start.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../src/launcher/ports';

export const ROOT = process.cwd();
/** The launcher an operator runs (what `npm start` runs too): the built CLI under plain node. */
const ARCENTRA = join(ROOT, 'bin', 'arcentra');

export interface ArcentraProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once "Arcentra is running" is printed; rejects if the process exits first. */
  ready: Promise<void>;
}

export function spawnArcentra(env: Record<string, string>, args = ['all']): ArcentraProcess {
  const child = spawn(ARCENTRA, args, {
    cwd: ROOT,
    // gRPC on any free port unless a test names one: processes of parallel tests never share 9090.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ARCENTRA_LOG_LEVEL: 'warn', ARCENTRA_GRPC_PORT: '0', ...env },
    detached: true, // its own process group, like a terminal's job
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (out.includes('Arcentra is running')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`arcentra exited with ${code} before it was ready: ${err}`)));
  });
  ready.catch(() => undefined);
  return { child, stdout: () => out, stderr: () => err, exited, ready };
}

export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid) process.kill(-child.pid, signal);
}

/** Pids of processes whose command line mentions `needle` (for orphan checks). */
export async function processesMatching(needle: string): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      continue; // the process ended while we looked
    }
  }
  return pids;
}

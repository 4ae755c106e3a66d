// Starts `temporal server start-dev` as a child: SQLite file and log in the data dir, search attributes registered.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import type { TemporalSettings } from '../temporal/temporal-config';
import { findTemporalCli } from './temporal-cli';
import { portIsFree } from './ports';

export interface DevServerOptions {
  settings: TemporalSettings;
  dataDir: string;
  port?: number;
  uiPort?: number;
  /** Keep the state in memory only (tests). */
  ephemeral?: boolean;
  headless?: boolean;
  /** Namespaces to create at launch besides the configured one (tests). */
  extraNamespaces?: string[];
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  logFile: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export class DevServerError extends Error {}

/** A dev server left running by a process that was killed -9 would hold the ports and the SQLite file. */
function killOrphan(pidFile: string) {
  const pid = Number(readFileSync(pidFile, 'utf8').trim() || 'NaN');
  if (!Number.isInteger(pid) || pid <= 1) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return; // gone already
  }
  if (cmdline.includes('start-dev')) process.kill(pid, 'SIGKILL');
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const dev = opts.settings.devServer;
  const port = opts.port ?? dev.port;
  const uiPort = opts.uiPort ?? dev.uiPort;
  mkdirSync(opts.dataDir, { recursive: true });
  const pidFile = join(opts.dataDir, 'temporal-server.pid');
  try {
    killOrphan(pidFile);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const [p, name] of [
    [port, 'ARCENTRA_TEMPORAL_PORT'],
    ...(opts.headless ? [] : [[uiPort, 'ARCENTRA_TEMPORAL_UI_PORT']]),
  ] as Array<[number, string]>) {
    if (!(await portIsFree(p, dev.ip))) throw new DevServerError(`port ${p} (${name}) is already in use: stop what holds it or set ${name}`);
  }
  const cli = findTemporalCli();
  const args = ['server', 'start-dev', '--ip', dev.ip, '--port', String(port), '--log-level', 'warn'];
  if (!opts.ephemeral) {
    args.push('--db-filename', join(opts.dataDir, dev.dbFile));
    for (const [name, value] of Object.entries(dev.sqlitePragmas)) args.push('--sqlite-pragma', `${name}=${value}`);
  }
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(uiPort), '--ui-disable-news-fetch');
  for (const [name, type] of Object.entries(opts.settings.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(dev.dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  for (const ns of [opts.settings.namespace, ...(opts.extraNamespaces ?? [])]) if (ns !== 'default') args.push('--namespace', ns);

  const logFile = join(opts.dataDir, dev.logFile);
  const out = openSync(logFile, 'a');
  const child = spawn(cli, args, { stdio: ['ignore', out, out] });
  closeSync(out);
  if (child.pid) writeFileSync(pidFile, String(child.pid));
  let exited: { code: number | null; signal: string | null } | null = null;
  child.once('exit', (code, signal) => (exited = { code, signal }));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const address = `${dev.ip}:${port}`;
  const stop = async () => {
    if (exited || child.exitCode !== null) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };

  const deadline = Date.now() + dev.readyTimeoutSeconds * 1000;
  for (;;) {
    if (exited) {
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ');
      throw new DevServerError(`temporal server start-dev exited (${JSON.stringify(exited)}): ${tail || 'see ' + logFile}`);
    }
    const err = await Promise.race([spawnError, new Promise<null>((r) => setTimeout(() => r(null), 250))]);
    if (err) throw new DevServerError(`could not run ${cli}: ${err.message}`);
    if (await answers(address, opts.settings.namespace)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new DevServerError(`temporal server start-dev did not answer on ${address} within ${dev.readyTimeoutSeconds}s; see ${logFile}`);
    }
  }
  return { address, uiUrl: opts.headless ? null : `http://${dev.ip === '0.0.0.0' ? '127.0.0.1' : dev.ip}:${uiPort}`, logFile, child, stop };
}

async function answers(address: string, namespace: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1000 });
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

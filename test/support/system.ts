// Starts the real system (API, control worker, agent) in-process against the shared test Temporal server.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Config } from '../../src/config';
import { startSystem } from '../../src/launcher/system';
import type { RunningSystem } from '../../src/launcher/system';
import { loadTemporalSettings } from '../../src/temporal/temporal-config';
import type { TemporalSettings } from '../../src/temporal/temporal-config';
import type { DbKind } from './databases';
import { freshPostgresDatabase, tempDir } from './databases';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestSystem extends RunningSystem {
  url: string;
  settings: TemporalSettings;
  api<T = any>(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: T }>;
  waitForRun(runId: string, statuses?: string[], timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

/** Task queues unique to one test system, so suites sharing the Temporal server never take each other's work. */
export function isolatedSettings(): TemporalSettings {
  const base = loadTemporalSettings();
  const suffix = randomBytes(4).toString('hex');
  return {
    ...base,
    taskQueues: {
      control: `${base.taskQueues.control}-${suffix}`,
      agentPool: `${base.taskQueues.agentPool}-${suffix}`,
      agentPrefix: `${base.taskQueues.agentPrefix}-${suffix}`,
    },
    stepActivityMs: { ...base.stepActivityMs, heartbeatTimeout: 5000, scheduleToStartTimeout: 10_000, killGracePeriod: 2000 },
  };
}

export async function startTestSystem(opts: { db: DbKind; agent?: boolean; settings?: TemporalSettings; dataDir?: string; logger?: Logger; config?: Partial<Config> }): Promise<TestSystem> {
  mkdirSync(join(process.cwd(), '.test-data'), { recursive: true });
  const dataDir = opts.dataDir ?? tempDir('system');
  const pg = opts.db === 'postgres' ? await freshPostgresDatabase() : null;
  const settings = opts.settings ?? isolatedSettings();
  const config: Config = {
    port: 0,
    grpcPort: 0,
    dataDir,
    databaseUrl: pg?.url,
    temporalAddress: inject('temporalAddress'),
    adminToken: ADMIN_TOKEN,
    agentLabels: { test: 'true' },
    logLevel: 'silent',
    ...opts.config,
  };
  const system = await startSystem({
    config,
    roles: { server: true, agent: opts.agent ?? true },
    logger: opts.logger ?? pino({ level: 'silent' }),
    settings,
    bundle: { codePath: inject('workflowBundlePath') },
  });
  const url = system.apiUrl!;
  const api: TestSystem['api'] = async (method, path, body, token = ADMIN_TOKEN) => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: any = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text; // a non-JSON answer (e.g. text/plain logs) is returned as is
    }
    return { status: res.status, body: parsed };
  };
  const waitForRun: TestSystem['waitForRun'] = async (runId, statuses = ['success', 'failed', 'cancelled', 'partial'], timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: any;
    while (Date.now() < deadline) {
      const r = await api('GET', `/api/v1/pipelines/runs/${runId}`);
      last = r.body.detail;
      if (last && statuses.includes(last.status)) return last;
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`run ${runId} did not reach ${statuses.join('|')} in ${timeoutMs}ms; last: ${JSON.stringify(last)}`);
  };
  return {
    ...system,
    url,
    settings,
    api,
    waitForRun,
    async close() {
      await system.stop();
      await pg?.drop();
    },
  };
}

// Composes the processes of CONTRACT section 1: dev server, database, API, control worker, agent.
import { Connection, Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createDatabaseEventBus } from '../events';
import type { EventBus } from '../events';
import { openDatabase } from '../store/db';
import type { Database } from '../store/db';
import { createTokenService } from '../services/tokens';
import { createAgentService } from '../services/agents';
import { createControlWorker } from '../worker/control-worker';
import type { WorkflowBundle } from '../worker/control-worker';
import { createAgent } from '../agent/agent';
import type { RunningAgent } from '../agent/agent';
import { createHttpLogTransport, createInProcessLogTransport } from '../agent/log-transport';
import { createLogIngest } from '../services/log-ingest';
import { createInvalidations } from '../store/invalidations';
import { createTransitions } from '../store/transitions';
import type { TemporalSettings } from '../temporal/temporal-config';
import { loadTemporalSettings } from '../temporal/temporal-config';
import type { DevServer } from './dev-server';
import { startDevServer } from './dev-server';
import { portIsFree } from './ports';
import { StartupError } from './startup-error';

export interface SystemRoles {
  server: boolean;
  agent: boolean;
}

export interface RunningSystem {
  apiUrl: string | null;
  /** The gRPC stream.v1 port (servers only). */
  grpcPort: number | null;
  temporalAddress: string;
  temporalUiUrl: string | null;
  generatedAdminToken: string | null;
  adminTokenFile: string;
  database: Database;
  agent: RunningAgent | null;
  /** Every status transition made in this process (control worker and local agent). */
  events: EventBus;
  stop(): Promise<void>;
}

export { StartupError };

/** Agent-pool refusals (full, or not matching) are how a job finds its agent, not failures worth a warning each. */
export function isExpectedRefusal(message: string, meta: Record<string, unknown> | undefined): boolean {
  const type = (meta?.error as { type?: unknown } | undefined)?.type;
  return message === 'Activity failed' && (type === 'AgentBusy' || type === 'AgentMismatch');
}

let runtimeInstalled = false;
function installQuietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // Agents register activities only; the SDK's warning about that is expected, not news.
  const logger = new DefaultLogger('WARN', (entry) => {
    if (entry.message.startsWith('No workflows registered') || isExpectedRefusal(entry.message, entry.meta)) return;
    process.stderr.write(`${new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString()} [${entry.level}] ${entry.message} ${entry.meta ? JSON.stringify(entry.meta) : ''}\n`);
  });
  Runtime.install({ logger, telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }) } } });
}

export async function startSystem(opts: {
  config: Config;
  roles: SystemRoles;
  logger: Logger;
  settings?: TemporalSettings;
  bundle?: WorkflowBundle;
}): Promise<RunningSystem> {
  const { config, roles, logger } = opts;
  const settings = opts.settings ?? loadTemporalSettings();
  const namespace = config.temporalNamespace ?? settings.namespace;
  const stack: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const fn of stack.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err }, 'shutdown step failed');
      }
    }
    stack.length = 0;
  };

  try {
    // A busy API port is reported before anything is spawned.
    if (roles.server && config.port !== 0 && !(await portIsFree(config.port, '0.0.0.0'))) {
      throw new StartupError(`port ${config.port} (PORT) is already in use: stop what holds it or set PORT`);
    }
    if (roles.server && config.grpcPort !== 0 && !(await portIsFree(config.grpcPort, '0.0.0.0'))) {
      throw new StartupError(`port ${config.grpcPort} (ARCENTRA_GRPC_PORT) is already in use: stop what holds it or set ARCENTRA_GRPC_PORT`);
    }
    installQuietRuntime();
    let devServer: DevServer | null = null;
    let temporalAddress = config.temporalAddress;
    let temporalUiUrl: string | null = null;
    if (!temporalAddress) {
      devServer = await startDevServer({ settings, dataDir: config.dataDir, port: config.temporalPort, uiPort: config.temporalUiPort });
      stack.push(() => devServer!.stop());
      temporalAddress = devServer.address;
      temporalUiUrl = devServer.uiUrl;
      logger.info({ address: temporalAddress, log: devServer.logFile }, 'temporal dev server ready');
    }

    const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
    stack.push(() => database.close());
    const db = database.db;
    const tokens = createTokenService(db);
    const bootstrap = roles.server ? await tokens.ensureBootstrapAdmin({ dataDir: config.dataDir, adminToken: config.adminToken }) : null;

    const clientConnection = await Connection.connect({ address: temporalAddress });
    stack.push(() => clientConnection.close());
    const client = new Client({ connection: clientConnection, namespace });
    const workerConnection = await NativeConnection.connect({ address: temporalAddress });
    stack.push(() => workerConnection.close());

    // Every status event of the installation reaches every server (through the database).
    const events = await createDatabaseEventBus(database, (err) => logger.warn({ err }, 'status events: a notice could not be sent or heard'), { listenNow: roles.server });
    stack.push(() => events.close());
    const logIngest = createLogIngest({ db, database });
    const invalidations = await createInvalidations(database);
    stack.push(() => invalidations.close());
    const workers: Worker[] = [];
    let agent: RunningAgent | null = null;
    const running: Array<Promise<void>> = [];
    const runWorker = (name: string, p: Promise<void>) =>
      running.push(
        p.catch((err) => {
          logger.error({ err }, `${name} stopped with an error`);
        }),
      );

    // Loaded only for servers: an agent-only process never pays for the spec compiler or the services.
    const services = roles.server
      ? (await import('./server-services')).createServerServices({ config, database, client, settings: { ...settings, namespace }, temporalUiUrl, logger, events, invalidations })
      : null;
    if (services) {
      const worker = await createControlWorker({ connection: workerConnection, settings, namespace, db, events, bundle: opts.bundle, scheduledRuns: services.runs });
      workers.push(worker);
      runWorker('control worker', worker.run());
    }
    if (roles.agent) {
      // A standalone agent joins with a registration token; the all-in-one's local agent is trusted.
      if (!roles.server) {
        if (!config.agentToken) throw new StartupError('arcentra agent needs ARCENTRA_AGENT_TOKEN: create one with POST /api/v1/agents/tokens');
        if (!(await createAgentService(db).acceptsToken(config.agentToken))) throw new StartupError('ARCENTRA_AGENT_TOKEN is not a valid registration token (unknown or revoked)');
      }
      agent = await createAgent({
        connection: workerConnection,
        namespace,
        settings,
        db,
        transitions: createTransitions({ db, events }),
        events,
        // A standalone agent with server URLs ships logs to them; otherwise through the database itself.
        logTransport: (agentId) =>
          !roles.server && config.serverUrls?.length && config.agentToken
            ? createHttpLogTransport({ serverUrls: config.serverUrls, token: config.agentToken, agentId })
            : createInProcessLogTransport(logIngest, agentId),
        dataDir: config.dataDir,
        name: config.agentName,
        labels: config.agentLabels,
        onError: (message) => logger.warn(message),
        pluginPath: config.pluginPath,
        maxConcurrentJobs: config.agentMaxJobs,
        // A helper process starts the steps: a fork from the agent itself blocks its event loop
        // for ~3 ms (~10 ms beside a server's embedded database) and then costs it a page fault for
        // each page it writes. The helper holds 10-13 MB of its own (the rest is node's shared code).
        processSpawner: true,
      });
      runWorker('agent', agent.run());
    }
    stack.push(async () => {
      await agent?.shutdown();
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
    });

    let apiUrl: string | null = null;
    let grpcPort: number | null = null;
    if (roles.server) {
      // Loaded only here: an agent-only process never pays for Express, the spec compiler or the API.
      const { startApiServer } = await import('./api-server');
      const api = await startApiServer({ config, db, database, client, settings: { ...settings, namespace }, temporalUiUrl, workers, logger, events, logIngest, services: services! });
      stack.push(api.close);
      apiUrl = api.url;
      grpcPort = api.grpcPort;
    }

    return {
      apiUrl,
      grpcPort,
      temporalAddress,
      temporalUiUrl,
      generatedAdminToken: bootstrap?.generated ?? null,
      adminTokenFile: bootstrap?.file ?? '',
      database,
      agent,
      events,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

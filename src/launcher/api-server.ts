// The HTTP API of a server process: services over the database and Temporal, behind Express.
import type { Server } from 'node:http';
import { createServer } from 'node:http';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createApp } from '../api/app';
import type { Database, Db } from '../store/db';
import { createAgentService } from '../services/agents';
import { createApprovalService } from '../services/approvals';
import type { TemporalSettings } from '../temporal/temporal-config';
import { StartupError } from './startup-error';
import { createMetrics } from '../api/metrics';
import type { EventBus } from '../events';
import type { ServerServices } from './server-services';
import type { LogIngest } from '../services/log-ingest';
import { createLogFeed } from '../realtime/log-feed';
import { attachWsGateway } from '../api/ws-gateway';
import { startStreamServer } from '../grpc/stream-server';

const RECONCILE_EVERY_MS = 60_000;
const AGENT_SWEEP_EVERY_MS = 10_000;
const SCHEDULE_RECONCILE_EVERY_MS = 10 * 60_000;

export async function startApiServer(opts: {
  config: Config;
  db: Db;
  database: Database;
  client: Client;
  settings: TemporalSettings;
  temporalUiUrl: string | null;
  workers: Worker[];
  logger: Logger;
  events: EventBus;
  logIngest: LogIngest;
  services: ServerServices;
}): Promise<{ url: string; grpcPort: number; close(): Promise<void> }> {
  const { config, db, database, client, settings, workers, logger } = opts;
  const { specs, pipelines: pipelinesService, runs, schedules, webhooks, tokens } = opts.services;
  const readiness = {
    async check() {
      const checks: Record<string, string> = {};
      await database.ping().then(
        () => (checks.database = 'ok'),
        (err: Error) => (checks.database = `error: ${err.message}`),
      );
      await client.workflowService.describeNamespace({ namespace: settings.namespace }).then(
        () => (checks.temporal = 'ok'),
        (err: Error) => (checks.temporal = `error: ${err.message}`),
      );
      checks.worker = workers.every((w) => w.getState() === 'RUNNING') ? 'ok' : 'error: control worker not polling';
      return { ok: Object.values(checks).every((c) => c === 'ok'), checks };
    },
  };
  const approvals = createApprovalService({ db, temporal: client, runs, onSignalError: (message) => logger.warn(message) });
  const metrics = createMetrics(opts.events);
  const app = createApp({ tokens, pipelines: pipelinesService, runs, specs, agents: createAgentService(db), approvals, readiness, logger, metrics, logIngest: opts.logIngest, webhooks });
  const server: Server = createServer(app);
  const logs = await createLogFeed({ db, database, events: opts.events });
  const gateway = attachWsGateway(server, { tokens, runs, pipelines: pipelinesService, events: opts.events, logs, logger, metrics, maxBufferedBytes: config.wsSendBufferBytes });
  const grpc = await startStreamServer(
    {
      tokens,
      access: {
        run: (principal, runId) => runs.get(principal, runId),
        step: (principal, runId, stepRunId) => runs.step(principal, runId, stepRunId),
        pipeline: (principal, pipelineId) => pipelinesService.load(principal, pipelineId),
      },
      events: opts.events,
      logs,
      logger,
    },
    { port: config.grpcPort },
  ).catch((err: NodeJS.ErrnoException & { details?: string }) => {
    throw /in use|EADDRINUSE/i.test(`${err.message} ${err.details ?? ''}`) ? new StartupError(`port ${config.grpcPort} (ARCENTRA_GRPC_PORT) is already in use: stop what holds it or set ARCENTRA_GRPC_PORT`) : err;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new StartupError(`port ${config.port} (PORT) is already in use: stop what holds it or set PORT`) : err),
    );
    server.listen(config.port, '0.0.0.0', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  // A server that died between recording a run and starting its workflow left it pending: start it.
  const reconcile = () =>
    runs.reconcilePendingRuns().then(
      (started) => started.length && logger.warn({ runIds: started }, 'started runs left pending by an earlier process'),
      (err: Error) => logger.warn({ err: err.message }, 'could not reconcile pending runs'),
    );
  void reconcile();
  const reconciler = setInterval(() => void reconcile(), RECONCILE_EVERY_MS);
  reconciler.unref();
  const agentService = createAgentService(db);
  const sweeper = setInterval(
    () => void agentService.markSilentAgentsOffline(opts.events).catch((err: Error) => logger.warn({ err: err.message }, 'could not check agent heartbeats')),
    AGENT_SWEEP_EVERY_MS,
  );
  sweeper.unref();
  // Schedules drift when someone deletes one in the Temporal UI, or a repository changes under us.
  const reconcileSchedules = () =>
    schedules.reconcile().then(
      (r) => (r.created || r.updated || r.deleted) && logger.info(r, 'schedules reconciled'),
      (err: Error) => logger.warn({ err: err.message }, 'could not reconcile schedules'),
    );
  const schedulesReady = reconcileSchedules();
  const scheduleReconciler = setInterval(() => void reconcileSchedules(), SCHEDULE_RECONCILE_EVERY_MS);
  scheduleReconciler.unref();
  return {
    url: config.publicUrl ?? `http://127.0.0.1:${port}`,
    grpcPort: grpc.port,
    close: async () => {
      clearInterval(reconciler);
      clearInterval(sweeper);
      clearInterval(scheduleReconciler);
      await schedulesReady;
      await Promise.all([gateway.close(), grpc.close()]);
      await logs.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

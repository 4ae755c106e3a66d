// The Express application: envelope, auth, health, routes, and one error mapping.
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, NotFound } from '../errors';
import type { PipelineService } from '../services/pipelines';
import type { RunService } from '../services/runs';
import type { TokenService } from '../services/tokens';
import type { SpecChecker } from '../services/spec-checker';
import { allow, authenticate } from './auth';
import { createMetrics } from './metrics';
import type { Metrics } from './metrics';
import type { Operation } from './operations';
import { openApiDocument } from './openapi';
import { sendError, sendOk } from './envelope';
import { pipelineRoutes } from './routes/pipelines';
import { agentRoutes } from './routes/agents';
import { approvalRoutes } from './routes/approvals';
import { tokenRoutes } from './routes/tokens';
import type { ApprovalService } from '../services/approvals';
import type { AgentService } from '../services/agents';
import type { LogIngest } from '../services/log-ingest';
import { agentLogRoutes } from './routes/agent-logs';
import type { WebhookService } from '../services/webhooks';
import { webhookRoutes } from './routes/webhooks';

export interface Readiness {
  check(): Promise<{ ok: boolean; checks: Record<string, string> }>;
}

export interface AppDeps {
  tokens: TokenService;
  pipelines: PipelineService;
  runs: RunService;
  specs: SpecChecker;
  agents: AgentService;
  approvals: ApprovalService;
  readiness: Readiness;
  logger: Logger;
  metrics?: Metrics;
  /** Where standalone agents ship step logs (absent: this server takes none). */
  logIngest?: LogIngest;
  webhooks?: WebhookService;
}

export function createApp(deps: AppDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  const metrics = deps.metrics ?? createMetrics();
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      // The path only: a ?token= query never reaches the log.
      deps.logger.info({ method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ms }, 'request');
      metrics.observe(req.method, (res.locals.route as string | undefined) ?? 'unmatched', res.statusCode, ms / 1000);
    });
    next();
  });

  app.get('/metrics', async (_req, res) => {
    res.locals.route = '/metrics';
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get('/healthz', (_req, res) => {
    res.locals.route = '/healthz';
    sendOk(res, { status: 'ok' });
  });
  app.get('/readyz', async (req, res) => {
    res.locals.route = '/readyz';
    const r = await deps.readiness.check();
    if (r.ok) sendOk(res, { status: 'ready', checks: r.checks });
    else sendError(req, res, 503, 'not ready', r.checks);
  });

  if (deps.logIngest) app.use(agentLogRoutes({ agents: deps.agents, ingest: deps.logIngest }));
  // Signed by the provider, not by a bearer token: outside the authenticated router.
  if (deps.webhooks) app.use(webhookRoutes({ webhooks: deps.webhooks }));

  const api = express.Router();
  // Who first, then the body: a request without a valid token is a 401 whatever it carries.
  api.use(authenticate(deps.tokens));
  api.use(express.json({ limit: '1mb', strict: false }));
  const operations: Operation[] = [];
  api.use('/pipelines', pipelineRoutes(deps, operations));
  api.use('/agents', agentRoutes(deps, operations));
  api.use('/approvals', approvalRoutes(deps, operations));
  api.use('/tokens', tokenRoutes(deps, operations));
  const openapi = openApiDocument(operations);
  api.get('/openapi.json', allow('read'), (_req, res) => {
    res.json(openapi);
  });
  app.use('/api/v1', api);

  app.use((req: Request, _res: Response, next: NextFunction) => next(new NotFound(`no route ${req.method} ${req.path}`)));
  // Express needs all four parameters to treat this as the error handler.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof AppError) return sendError(req, res, err.status, err.message, err.details);
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.too.large') return sendError(req, res, 413, 'request body exceeds 1 MiB');
    if (e.type === 'entity.parse.failed') return sendError(req, res, 400, `malformed JSON body: ${e.message}`);
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return sendError(req, res, 400, e.message ?? 'unsupported encoding');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return sendError(req, res, e.status, e.message ?? 'bad request');
    deps.logger.error({ err, path: req.path }, 'unhandled error');
    sendError(req, res, 500, 'internal error');
  });
  return app;
}

// POST /api/v1/webhooks/:pipelineId: no bearer token; the body is read raw, because the signature is
// over its exact bytes. The webhook service decides everything else.
import express from 'express';
import type { Router } from 'express';
import type { WebhookService } from '../../services/webhooks';
import { NotFound } from '../../errors';
import { sendOk } from '../envelope';
import { ID_PATTERN } from '../operations';

export const WEBHOOK_ROUTE = '/api/v1/webhooks/:pipelineId';

export function webhookRoutes(deps: { webhooks: WebhookService }): Router {
  const router = express.Router();
  router.post(WEBHOOK_ROUTE, (req, res, next) => {
    res.locals.route = WEBHOOK_ROUTE;
    if (!ID_PATTERN.test(String(req.params.pipelineId))) return next(new NotFound(`pipeline ${String(req.params.pipelineId).slice(0, 200)} not found`));
    next();
  }, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    sendOk(res, await deps.webhooks.handle(String(req.params.pipelineId), req.headers, body));
  });
  return router;
}

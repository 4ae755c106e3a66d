// Where standalone agents ship step logs: not part of the public API, and authenticated by the
// agent's registration token instead of a user token. The ingest service decides what is stored.
import express from 'express';
import type { Request, Response, NextFunction } from 'express';
import type { AgentService } from '../../services/agents';
import type { LogIngest } from '../../services/log-ingest';
import { bearerToken } from '../auth';
import { sendError, sendOk } from '../envelope';
import { AGENT_LOG_PATH } from '../../agent/log-transport';

/** Accepted tokens are remembered briefly: a batch every few ms must not cost a token lookup each. */
const TOKEN_CACHE_MS = 30_000;

const STATUS_OF_REFUSAL = { not_owner: 403, step_final: 409, gap: 409, bad_batch: 400 } as const;

export function agentLogRoutes(deps: { agents: AgentService; ingest: LogIngest }) {
  const router = express.Router();
  const accepted = new Map<string, number>();
  const authenticate = async (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = AGENT_LOG_PATH;
    const token = bearerToken(req.headers.authorization);
    if (!token) return sendError(req, res, 401, 'missing agent registration token');
    const until = accepted.get(token);
    if (until === undefined || until < Date.now()) {
      if (!(await deps.agents.acceptsToken(token))) {
        accepted.delete(token);
        return sendError(req, res, 401, 'unknown or revoked agent registration token');
      }
      accepted.set(token, Date.now() + TOKEN_CACHE_MS);
    }
    next();
  };
  router.get(AGENT_LOG_PATH, authenticate, async (req, res) => {
    const r = await deps.ingest.open(String(req.params.agentId), String(req.params.stepRunId));
    if (r.ok) sendOk(res, { nextLine: r.nextLine });
    else sendError(req, res, STATUS_OF_REFUSAL[r.reason], r.message, { reason: r.reason });
  });
  router.post(AGENT_LOG_PATH, authenticate, express.json({ limit: '2mb' }), async (req, res) => {
    const body = req.body as { firstLine?: unknown; lines?: unknown } | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return sendError(req, res, 400, 'body: must be a JSON object {firstLine, lines}', { reason: 'bad_batch' });
    const r = await deps.ingest.append(String(req.params.agentId), String(req.params.stepRunId), { firstLine: body.firstLine as number, lines: body.lines as never });
    if (r.ok) sendOk(res, { storedThrough: r.storedThrough, duplicate: r.duplicate });
    else sendError(req, res, STATUS_OF_REFUSAL[r.reason], r.message, { reason: r.reason });
  });
  return router;
}

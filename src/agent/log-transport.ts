// The two ways an agent's log batches reach the control plane: in-process (the all-in-one's local
// agent, or an agent with only a database URL), or over HTTP to any of the servers.
import type { LogIngest } from '../services/log-ingest';
import type { LogTransport } from './log-sink';
import { exchange } from '../http-exchange';
import type { HttpAnswer } from '../http-exchange';

export function createInProcessLogTransport(ingest: LogIngest, agentId: string): LogTransport {
  return {
    open: (stepRunId) => ingest.open(agentId, stepRunId),
    append: (stepRunId, batch) => ingest.append(agentId, stepRunId, batch),
  };
}

export const AGENT_LOG_PATH = '/internal/v1/agents/:agentId/steps/:stepRunId/logs';

export function agentLogPath(agentId: string, stepRunId: string): string {
  return `/internal/v1/agents/${encodeURIComponent(agentId)}/steps/${encodeURIComponent(stepRunId)}/logs`;
}

type Refusal = { ok: false; reason: 'not_owner' | 'step_final' | 'bad_batch' | 'gap'; message: string };

/**
 * HTTP to the servers in turn: a connection error, no whole answer by the deadline or a 5xx
 * throws (the batch is sent again, to the next server); a 4xx is the server's answer and is final.
 */
export function createHttpLogTransport(opts: { serverUrls: string[]; token: string; agentId: string; timeoutMs?: number }): LogTransport {
  let current = 0;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  async function call<T>(method: 'GET' | 'POST', stepRunId: string, body?: unknown): Promise<T | Refusal> {
    const base = opts.serverUrls[current % opts.serverUrls.length];
    let res: HttpAnswer;
    try {
      res = await exchange(
        base + agentLogPath(opts.agentId, stepRunId),
        {
          method,
          headers: { authorization: `Bearer ${opts.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        },
        timeoutMs,
      );
    } catch (err) {
      current++;
      throw new Error(`${base}: ${(err as Error).message}`);
    }
    if (res.status >= 500) {
      current++;
      throw new Error(`${base}: HTTP ${res.status}`);
    }
    let parsed: { detail?: T; errMsg?: string; details?: { reason?: Refusal['reason'] } };
    try {
      parsed = JSON.parse(res.text);
    } catch {
      current++;
      throw new Error(`${base}: HTTP ${res.status} with a body that is not JSON`);
    }
    if (res.status >= 200 && res.status < 300) return parsed.detail as T;
    return { ok: false, reason: parsed.details?.reason ?? 'not_owner', message: parsed.errMsg ?? `HTTP ${res.status}` };
  }
  return {
    async open(stepRunId) {
      const r = await call<{ nextLine: number }>('GET', stepRunId);
      return 'ok' in r ? r : { ok: true, nextLine: r.nextLine };
    },
    async append(stepRunId, batch) {
      const r = await call<{ storedThrough: number; duplicate: boolean }>('POST', stepRunId, batch);
      return 'ok' in r ? r : { ok: true, storedThrough: r.storedThrough, duplicate: r.duplicate };
    },
  };
}

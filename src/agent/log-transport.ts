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
const REFUSALS: ReadonlySet<string> = new Set<Refusal['reason']>(['not_owner', 'step_final', 'bad_batch', 'gap']);

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * HTTP to the servers in turn. Only the log API's own answers count: a stored batch, or a refusal
 * that names its reason, which is final. Anything else (no connection, no whole answer by the
 * deadline, a 5xx, or an answer from something that is not an Arcentra server, such as whatever
 * took a dead server's port) throws, and the batch is sent again, to the next server.
 */
export function createHttpLogTransport(opts: { serverUrls: string[]; token: string; agentId: string; timeoutMs?: number }): LogTransport {
  let current = 0;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  async function call<T>(method: 'GET' | 'POST', stepRunId: string, body: unknown, accept: (detail: Record<string, unknown>) => T | null): Promise<T | Refusal> {
    const base = opts.serverUrls[current % opts.serverUrls.length];
    const moveOn = (why: string) => {
      current++;
      return new Error(`${base}: ${why}`);
    };
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
      throw moveOn((err as Error).message);
    }
    if (res.status >= 500) throw moveOn(`HTTP ${res.status}`);
    let parsed: { detail?: unknown; errMsg?: unknown; details?: { reason?: unknown } } | null;
    try {
      parsed = JSON.parse(res.text);
    } catch {
      throw moveOn(`HTTP ${res.status} with a body that is not JSON`);
    }
    const message = typeof parsed?.errMsg === 'string' ? parsed.errMsg : `HTTP ${res.status}`;
    if (res.status >= 200 && res.status < 300) {
      const detail = parsed?.detail;
      const accepted = detail && typeof detail === 'object' ? accept(detail as Record<string, unknown>) : null;
      if (accepted === null) throw moveOn(`HTTP ${res.status} with an answer that is not the log API's`);
      return accepted;
    }
    const reason = parsed?.details?.reason;
    if (typeof reason === 'string' && REFUSALS.has(reason)) return { ok: false, reason: reason as Refusal['reason'], message };
    throw moveOn(`HTTP ${res.status}: ${message}`);
  }
  return {
    async open(stepRunId) {
      const r = await call('GET', stepRunId, undefined, (d) => (isCount(d.nextLine) && d.nextLine >= 1 ? { nextLine: d.nextLine } : null));
      return 'ok' in r ? r : { ok: true, nextLine: r.nextLine };
    },
    async append(stepRunId, batch) {
      const r = await call('POST', stepRunId, batch, (d) =>
        isCount(d.storedThrough) && typeof d.duplicate === 'boolean' ? { storedThrough: d.storedThrough, duplicate: d.duplicate } : null,
      );
      return 'ok' in r ? r : { ok: true, storedThrough: r.storedThrough, duplicate: r.duplicate };
    },
  };
}

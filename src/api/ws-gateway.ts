// The WebSocket gateway of CONTRACT section 8 at /api/v1/ws: log and status subscriptions over one
// connection. Sending never waits for a client: each connection has a send-buffer limit, and a client
// past it is closed with 1008, so a slow reader cannot slow anyone else.
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import * as v from 'valibot';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { TokenService } from '../services/tokens';
import type { RunService } from '../services/runs';
import type { PipelineService } from '../services/pipelines';
import type { EventBus, StatusEvent } from '../events';
import type { LogFeed } from '../realtime/log-feed';
import type { LogLine } from '../store/log-store';
import type { Principal } from '../roles';
import { canSeeProject } from '../roles';
import { AppError, InvalidInput } from '../errors';
import { bearerToken } from './auth';
import type { Metrics } from './metrics';

export const WS_PATH = '/api/v1/ws';

export interface WsGatewayOptions {
  tokens: Pick<TokenService, 'authenticate'>;
  runs: Pick<RunService, 'get' | 'step' | 'list'>;
  pipelines: Pick<PipelineService, 'load'>;
  events: EventBus;
  logs: LogFeed;
  logger: Logger;
  /** Bytes a connection may have waiting to be sent before it is closed as too slow. */
  maxBufferedBytes?: number;
  pingMs?: number;
  maxSubscriptions?: number;
  metrics?: Pick<Metrics, 'wsConnections' | 'wsSlowClosures'>;
}

const MAX_FRAME_BYTES = 64 * 1024;
/** A client that takes no history for this long is as slow as one that overflows its buffer. */
const HISTORY_STALL_MS = 30_000;

const LogParams = v.object({
  runId: v.pipe(v.string('must be a string'), v.minLength(1, 'is required')),
  stepRunId: v.pipe(v.string('must be a string'), v.minLength(1, 'is required')),
  fromLine: v.optional(v.pipe(v.number('must be a number'), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1'))),
});
const StatusParams = v.pipe(
  v.object({
    runId: v.optional(v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'))),
    pipelineId: v.optional(v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'))),
  }),
  v.check((p) => (p.runId === undefined) !== (p.pipelineId === undefined), 'needs exactly one of runId and pipelineId'),
);
const ClientFrame = v.object({
  id: v.optional(v.union([v.string(), v.number()], 'must be a string or a number')),
  channel: v.picklist(['channel_log', 'channel_status'], 'must be channel_log or channel_status'),
  action: v.picklist(['subscribe', 'unsubscribe'], 'must be subscribe or unsubscribe'),
  params: v.optional(v.record(v.string(), v.unknown(), 'must be an object'), {}),
});

type Params = Record<string, unknown>;

interface Connection {
  ws: WebSocket;
  principal: Principal;
  subscriptions: Map<string, () => void>;
  alive: boolean;
  closed: boolean;
}

/** Stable key of one subscription: the channel and its params, keys sorted. */
function keyOf(channel: string, params: Params): string {
  return `${channel} ${JSON.stringify(Object.keys(params).sort().map((k) => [k, params[k]]))}`;
}

function issueMessage(issues: v.BaseIssue<unknown>[], prefix: string): string {
  const issue = issues[0];
  const path = v.getDotPath(issue);
  return `${prefix}${path ? `${path}: ` : ''}${issue.message}`;
}

export function attachWsGateway(server: Server, opts: WsGatewayOptions) {
  const maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
  const maxSubscriptions = opts.maxSubscriptions ?? 100;
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });
  const connections = new Set<Connection>();
  // Frames shared by many subscribers (same lines, same params) are encoded once.
  let frameCache = new WeakMap<object, Map<string, string[]>>();

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== WS_PATH) return;
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    };
    // The query token is for browsers; it is read here and never logged (the request log has no query).
    const token = bearerToken(req.headers.authorization) ?? url.searchParams.get('token');
    if (!token) return refuse(401, 'Unauthorized');
    opts.tokens.authenticate(token).then(
      (principal) => {
        if (!principal) return refuse(401, 'Unauthorized');
        wss.handleUpgrade(req, socket, head, (ws) => accept(ws, principal));
      },
      (err: Error) => {
        opts.logger.warn({ err: err.message }, 'websocket authentication failed');
        refuse(503, 'Service Unavailable');
      },
    );
  };
  server.on('upgrade', onUpgrade);

  const ping = setInterval(() => {
    for (const conn of connections) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      conn.ws.ping();
    }
  }, opts.pingMs ?? 30_000);
  ping.unref();

  function accept(ws: WebSocket, principal: Principal) {
    const conn: Connection = { ws, principal, subscriptions: new Map(), alive: true, closed: false };
    connections.add(conn);
    opts.metrics?.wsConnections.inc();
    ws.on('pong', () => (conn.alive = true));
    ws.on('message', (data, isBinary) => void onFrame(conn, isBinary ? null : data.toString()));
    ws.on('close', () => drop(conn));
    ws.on('error', () => drop(conn));
  }

  function drop(conn: Connection) {
    if (conn.closed) return;
    conn.closed = true;
    connections.delete(conn);
    opts.metrics?.wsConnections.dec();
    for (const unsubscribe of conn.subscriptions.values()) unsubscribe();
    conn.subscriptions.clear();
  }

  function sendRaw(conn: Connection, text: string) {
    if (conn.closed) return;
    conn.ws.send(text);
    if (conn.ws.bufferedAmount > maxBuffered) closeSlow(conn);
  }

  /** History goes out as fast as the client reads it: wait while half the buffer limit is in use. */
  function roomIn(conn: Connection): Promise<void> | void {
    if (conn.closed || conn.ws.bufferedAmount <= maxBuffered / 2) return;
    const since = Date.now();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (conn.closed || conn.ws.bufferedAmount <= maxBuffered / 2) return resolve();
        if (Date.now() - since > HISTORY_STALL_MS) {
          closeSlow(conn);
          return resolve();
        }
        setTimeout(check, 20);
      };
      setTimeout(check, 20);
    });
  }

  function closeSlow(conn: Connection) {
    // Too slow: stop feeding it now, and let everyone else go on.
    drop(conn);
    opts.metrics?.wsSlowClosures.inc();
    opts.logger.warn({ bufferedBytes: conn.ws.bufferedAmount }, 'websocket client too slow: closed with 1008');
    conn.ws.close(1008, 'client too slow: send buffer limit reached');
    setTimeout(() => conn.ws.terminate(), 5000).unref();
  }

  function send(conn: Connection, frame: { channel?: string; type: string; params?: Params; data?: unknown; error?: string; message?: string; id?: string | number }) {
    sendRaw(conn, JSON.stringify(frame));
  }

  function sendError(conn: Connection, channel: string | undefined, params: Params | undefined, message: string, id?: string | number) {
    send(conn, { channel, type: 'error', params, error: message, message, ...(id !== undefined ? { id } : {}) });
  }

  /** One `log` frame per line; identical frames for identical subscriptions are encoded once. */
  function sendLines(conn: Connection, params: Params, paramsKey: string, lines: LogLine[]) {
    let byParams = frameCache.get(lines);
    if (!byParams) frameCache.set(lines, (byParams = new Map()));
    let frames = byParams.get(paramsKey);
    if (frames === undefined) {
      const head = `{"channel":"channel_log","type":"log","params":${JSON.stringify(params)},"data":`;
      frames = lines.map((l) => `${head}${JSON.stringify(l)}}`);
      byParams.set(paramsKey, frames);
    }
    for (const frame of frames) {
      if (conn.closed) return;
      sendRaw(conn, frame);
    }
  }

  async function onFrame(conn: Connection, text: string | null) {
    let raw: unknown;
    try {
      if (text === null) throw new Error('binary frames are not accepted');
      raw = JSON.parse(text);
    } catch (err) {
      return sendError(conn, undefined, undefined, `bad frame: ${(err as Error).message}`);
    }
    const parsed = v.safeParse(ClientFrame, raw);
    if (!parsed.success) {
      const r = raw as { channel?: unknown; id?: unknown } | null;
      const id = typeof r?.id === 'string' || typeof r?.id === 'number' ? r.id : undefined;
      return sendError(conn, typeof r?.channel === 'string' ? r.channel.slice(0, 100) : undefined, undefined, issueMessage(parsed.issues, 'bad frame: '), id);
    }
    const { channel, action, params, id } = parsed.output;
    const key = keyOf(channel, params);
    if (action === 'unsubscribe') {
      const unsubscribe = conn.subscriptions.get(key);
      if (!unsubscribe) return sendError(conn, channel, params, 'not subscribed', id);
      unsubscribe();
      conn.subscriptions.delete(key);
      return send(conn, { channel, type: 'unsubscribed', params, ...(id !== undefined ? { id } : {}) });
    }
    if (conn.subscriptions.has(key)) return sendError(conn, channel, params, 'already subscribed', id);
    if (conn.subscriptions.size >= maxSubscriptions) return sendError(conn, channel, params, `at most ${maxSubscriptions} subscriptions per connection`, id);
    // Reserved before the access check, so a frame repeated meanwhile is "already subscribed".
    let cancelled = false;
    let unsubscribe: () => void = () => (cancelled = true);
    conn.subscriptions.set(key, () => unsubscribe());
    try {
      const start = channel === 'channel_log' ? subscribeLog : subscribeStatus;
      const stop = await start(conn, params, key, id);
      if (cancelled) stop();
      else unsubscribe = stop;
    } catch (err) {
      conn.subscriptions.delete(key);
      // The same answer for "does not exist" and "another project's": nothing leaks.
      const message = err instanceof AppError && err.status < 500 ? err.message : 'subscription failed';
      if (!(err instanceof AppError)) opts.logger.warn({ err: (err as Error).message, channel }, 'websocket subscription failed');
      sendError(conn, channel, params, message, id);
    }
  }

  async function subscribeLog(conn: Connection, params: Params, key: string, id?: string | number): Promise<() => void> {
    const p = v.safeParse(LogParams, params);
    if (!p.success) throw new InvalidInput(issueMessage(p.issues, 'params.'));
    await opts.runs.step(conn.principal, p.output.runId, p.output.stepRunId);
    send(conn, { channel: 'channel_log', type: 'subscribed', params, ...(id !== undefined ? { id } : {}) });
    let nextLine = p.output.fromLine ?? 1;
    const finish = () => conn.subscriptions.delete(key);
    return opts.logs.follow(p.output.stepRunId, nextLine, {
      history(lines) {
        nextLine = lines[lines.length - 1].line + 1;
        send(conn, { channel: 'channel_log', type: 'log_chunk', params, data: { lines } });
        return roomIn(conn);
      },
      historyDone() {
        send(conn, { channel: 'channel_log', type: 'history_done', params, data: { nextLine } });
      },
      live(lines) {
        nextLine = lines[lines.length - 1].line + 1;
        sendLines(conn, params, key, lines);
      },
      eof() {
        finish();
        send(conn, { channel: 'channel_log', type: 'eof', params, data: { nextLine } });
      },
      error(message) {
        finish();
        sendError(conn, 'channel_log', params, message);
      },
    });
  }

  async function subscribeStatus(conn: Connection, params: Params, _key: string, id?: string | number): Promise<() => void> {
    const p = v.safeParse(StatusParams, params);
    if (!p.success) throw new InvalidInput(issueMessage(p.issues, 'params.'));
    const { runId, pipelineId } = p.output;
    // Listen first and hold events back until the snapshot is out: nothing falls between the two.
    let held: StatusEvent[] | null = [];
    const matches = (e: StatusEvent) => (runId ? e.runId === runId : e.pipelineId === pipelineId) && (!e.projectId || canSeeProject(conn.principal, e.projectId));
    const deliver = (e: StatusEvent) => send(conn, { channel: 'channel_status', type: 'status', params, data: e });
    const unsubscribe = opts.events.subscribe((e) => {
      if (!matches(e)) return;
      if (held) held.push(e);
      else deliver(e);
    });
    try {
      let snapshot: unknown;
      if (runId) snapshot = await opts.runs.get(conn.principal, runId);
      else {
        await opts.pipelines.load(conn.principal, pipelineId!);
        const recent = await opts.runs.list(conn.principal, pipelineId!, { page: 1, pageSize: 20 });
        snapshot = { pipelineId, runs: recent.list, total: recent.total };
      }
      send(conn, { channel: 'channel_status', type: 'subscribed', params, ...(id !== undefined ? { id } : {}) });
      send(conn, { channel: 'channel_status', type: 'status_snapshot', params, data: snapshot });
      for (const e of held) deliver(e);
      held = null;
      return unsubscribe;
    } catch (err) {
      unsubscribe();
      throw err;
    }
  }

  return {
    connections: () => connections.size,
    async close() {
      clearInterval(ping);
      server.off('upgrade', onUpgrade);
      for (const conn of connections) {
        drop(conn);
        conn.ws.close(1001, 'server shutting down');
        conn.ws.terminate();
      }
      frameCache = new WeakMap();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

export type WsGateway = ReturnType<typeof attachWsGateway>;

// gRPC stream.v1 (CONTRACT section 9): server-streaming status and log feeds for server-to-server
// integrations. Same tokens and visibility as the REST API; the services own the access checks.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { bearerToken } from '../api/auth';
import type { EventBus, StatusEvent, StatusEventKind } from '../events';
import { PACKAGE_ROOT } from '../paths';
import type { LogFeed, LogFeedHandlers } from '../realtime/log-feed';
import type { Principal } from '../roles';
import { can, canSeeProject } from '../roles';
import type { TokenService } from '../services/tokens';

export const STREAM_PROTO_PATH = join(PACKAGE_ROOT, 'proto/stream/v1/stream.proto');

export interface StreamServerDeps {
  tokens: Pick<TokenService, 'authenticate'>;
  access: StreamAccess;
  events: EventBus;
  logs: LogFeed;
  logger: Logger;
}

/** Access checks the server delegates (the services own them). Each throws an error with name 'NotFound' (src/errors.ts NotFound) when the principal may not see the thing or it does not exist. */
export interface StreamAccess {
  run(principal: Principal, runId: string): Promise<{ runId: string; pipelineId: string; projectId: string }>;
  step(principal: Principal, runId: string, stepRunId: string): Promise<{ stepRunId: string; status: string }>;
  pipeline(principal: Principal, pipelineId: string): Promise<{ pipelineId: string; projectId: string }>;
}

// A slow client's messages queue in memory; past either bound it is cut off instead of growing.
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const MAX_BUFFERED_MESSAGES = 50_000;
/** After a cut-off the status waits for the queue to drain; a client that never reads loses the queue after this. */
const DRAIN_GRACE_MS = 10_000;
const SHUTDOWN_GRACE_MS = 2_000;
/** Ids per filter list: each pipeline or run id costs an access check. */
const MAX_IDS = 100;
const EVENT_TYPES: readonly StatusEventKind[] = ['run', 'job', 'step', 'agent'];

interface Status {
  code: grpc.status;
  details: string;
}

/** A request the server refuses with a gRPC status (thrown inside handlers). */
class StreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new StreamError(grpc.status.INVALID_ARGUMENT, message);

function required(value: string | undefined, field: string): string {
  if (!value) throw invalid(`${field} is required`);
  return value;
}

function idList(values: string[] | undefined, field: string): Set<string> {
  const ids = values ?? [];
  if (ids.length > MAX_IDS) throw invalid(`${field} may hold at most ${MAX_IDS} ids`);
  if (ids.some((id) => !id)) throw invalid(`${field} must not contain empty ids`);
  return new Set(ids);
}

/** The wire form of a status event (proto-loader takes camelCase fields). */
function toStatusMessage(e: StatusEvent) {
  return {
    eventType: e.kind,
    pipelineId: e.pipelineId ?? '',
    runId: e.runId ?? (e.kind === 'run' ? e.id : ''),
    jobRunId: e.jobRunId ?? (e.kind === 'job' ? e.id : ''),
    stepRunId: e.kind === 'step' ? e.id : '',
    agentId: e.kind === 'agent' ? e.id : (e.agentId ?? ''),
    status: e.status,
    previousStatus: e.previousStatus ?? '',
    timestamp: e.timestamp ?? new Date().toISOString(),
    counters: e.counters,
    reason: e.reason ?? '',
  };
}

interface Session {
  /** Runs `fn` when the call ends for any reason (at once if it already has). */
  onClose(fn: () => void): void;
  send(message: object, approxBytes: number): void;
  /** Resolves once the client has taken what is queued (or the call is over). */
  drained(): Promise<void>;
  end(): void;
  fail(status: Status): void;
}

type LogLine = Parameters<LogFeedHandlers['live']>[0][number];
type Call = grpc.ServerWritableStream<Record<string, unknown>, object>;

export async function startStreamServer(deps: StreamServerDeps, opts: { port: number; host?: string }): Promise<{ port: number; close(): Promise<void> }> {
  const { logger } = deps;
  const packageDefinition = protoLoader.loadSync(STREAM_PROTO_PATH, { keepCase: false, longs: Number, defaults: true });
  const server = new grpc.Server();
  const sessions = new Set<Session>();

  function openSession(call: Call, method: string): Session {
    const cleanups: Array<() => void> = [];
    let closed = false;
    let bufferedBytes = 0;
    const release = () => {
      if (closed) return;
      closed = true;
      sessions.delete(session);
      for (const fn of cleanups.splice(0)) {
        try {
          fn();
        } catch (err) {
          logger.warn({ err, method }, 'grpc stream cleanup failed');
        }
      }
    };
    const session: Session = {
      onClose(fn) {
        if (closed) fn();
        else cleanups.push(fn);
      },
      send(message, approxBytes) {
        if (closed) return;
        bufferedBytes += approxBytes;
        // Never wait for the client: the write queues, the callback counts it out once it is on the wire.
        call.write(message, () => (bufferedBytes -= approxBytes));
        if (bufferedBytes > MAX_BUFFERED_BYTES || call.writableLength > MAX_BUFFERED_MESSAGES) {
          logger.warn({ method, bufferedBytes, bufferedMessages: call.writableLength }, 'grpc stream client too slow; cutting it off');
          session.fail({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'client too slow: too many messages waiting to be read' });
        }
      },
      drained() {
        if (closed || !call.writableNeedDrain) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const done = () => {
            call.off('drain', done);
            call.off('close', done);
            resolve();
          };
          call.on('drain', done);
          call.on('close', done);
        });
      },
      end() {
        if (closed) return;
        release();
        call.end();
      },
      fail(status) {
        if (closed) return;
        release();
        // grpc-js turns an 'error' on the call into its final status, sent after the queued messages.
        call.emit('error', status);
        const drop = setTimeout(() => call.destroy(), DRAIN_GRACE_MS).unref();
        call.once('close', () => clearTimeout(drop));
      },
    };
    sessions.add(session);
    for (const event of ['cancelled', 'close', 'finish']) call.once(event, release);
    return session;
  }

  async function authenticate(metadata: grpc.Metadata): Promise<Principal> {
    const [header] = metadata.get('authorization');
    const raw = typeof header === 'string' ? header : undefined;
    const token = bearerToken(raw);
    if (!token) throw new StreamError(grpc.status.UNAUTHENTICATED, raw ? 'malformed authorization metadata: expected "Bearer <token>"' : 'missing bearer token: send metadata "authorization: Bearer <token>"');
    const principal = await deps.tokens.authenticate(token);
    if (!principal) throw new StreamError(grpc.status.UNAUTHENTICATED, 'unknown, revoked or expired token');
    // Every stream is read-level (agents included, as in REST); the check stays in the one place roles live.
    if (!can(principal.role, 'read')) throw new StreamError(grpc.status.PERMISSION_DENIED, `role ${principal.role} may not read`);
    return principal;
  }

  function statusOf(err: unknown, method: string): Status {
    if (err instanceof StreamError) return { code: err.code, details: err.message };
    // The services say NotFound alike for "missing" and "not yours", so nothing leaks through the message.
    if (err instanceof Error && err.name === 'NotFound') return { code: grpc.status.NOT_FOUND, details: err.message };
    if (err instanceof Error && err.name === 'InvalidInput') return { code: grpc.status.INVALID_ARGUMENT, details: err.message };
    logger.warn({ err, method }, 'grpc stream failed');
    return { code: grpc.status.INTERNAL, details: 'internal error' };
  }

  /** Authenticates, then hands the call to `open`; any throw becomes the call's status. */
  function handler(method: string, open: (principal: Principal, request: Record<string, unknown>, session: Session) => Promise<void>) {
    return (call: Call) => {
      const session = openSession(call, method);
      void (async () => {
        const principal = await authenticate(call.metadata);
        logger.debug({ method, tokenId: principal.tokenId, principal: principal.name }, 'grpc stream opened');
        await open(principal, call.request, session);
      })().catch((err: unknown) => session.fail(statusOf(err, method)));
    };
  }

  /** Subscribes the call to the bus: events the principal may see and `match` accepts, in bus order. */
  function followEvents(method: string, principal: Principal, session: Session, match: (e: StatusEvent) => boolean) {
    session.onClose(
      deps.events.subscribe((e) => {
        // A listener runs inside publish(): it must never throw into the publisher.
        try {
          // Agent events belong to no project; any other event without one is shown only to all-project tokens.
          const visible = e.projectId ? canSeeProject(principal, e.projectId) : e.kind === 'agent' || principal.projectIds === null;
          if (visible && match(e)) session.send(toStatusMessage(e), 256 + (e.reason?.length ?? 0));
        } catch (err) {
          logger.warn({ err, method }, 'grpc stream could not send an event');
        }
      }),
    );
  }

  const streams: Record<string, (principal: Principal, request: Record<string, unknown>, session: Session) => Promise<void>> = {
    async StreamPipelineStatus(principal, req, session) {
      const pipelineIds = idList(req.pipelineIds as string[], 'pipelineIds');
      const runIds = idList(req.runIds as string[], 'runIds');
      await Promise.all([...[...pipelineIds].map((id) => deps.access.pipeline(principal, id)), ...[...runIds].map((id) => deps.access.run(principal, id))]);
      const all = pipelineIds.size === 0 && runIds.size === 0;
      followEvents('StreamPipelineStatus', principal, session, (e) => e.kind === 'run' && (all || pipelineIds.has(e.pipelineId ?? '') || runIds.has(e.runId ?? e.id)));
    },
    async StreamJobStatus(principal, req, session) {
      const runId = required(req.runId as string, 'runId');
      const ids = idList(req.jobRunIds as string[], 'jobRunIds');
      await deps.access.run(principal, runId);
      followEvents('StreamJobStatus', principal, session, (e) => e.kind === 'job' && e.runId === runId && (ids.size === 0 || ids.has(e.id)));
    },
    async StreamStepRunStatus(principal, req, session) {
      const runId = required(req.runId as string, 'runId');
      const ids = idList(req.stepRunIds as string[], 'stepRunIds');
      await deps.access.run(principal, runId);
      followEvents('StreamStepRunStatus', principal, session, (e) => e.kind === 'step' && e.runId === runId && (ids.size === 0 || ids.has(e.id)));
    },
    async StreamAgentStatus(principal, req, session) {
      const ids = idList(req.agentIds as string[], 'agentIds');
      followEvents('StreamAgentStatus', principal, session, (e) => e.kind === 'agent' && (ids.size === 0 || ids.has(e.id)));
    },
    async StreamEvents(principal, req, session) {
      const types = (req.eventTypes as string[] | undefined) ?? [];
      const unknown = types.find((t) => !EVENT_TYPES.includes(t as StatusEventKind));
      if (unknown !== undefined) throw invalid(`eventTypes: unknown event type "${unknown}"; expected one of ${EVENT_TYPES.join(', ')}`);
      const kinds = new Set(types);
      const ids = idList(req.resourceIds as string[], 'resourceIds');
      const about = (e: StatusEvent) => [e.id, e.runId, e.jobRunId, e.pipelineId, e.agentId].some((id) => id !== undefined && ids.has(id));
      followEvents('StreamEvents', principal, session, (e) => (kinds.size === 0 || kinds.has(e.kind)) && (ids.size === 0 || about(e)));
    },
    async StreamStepRunLogs(principal, req, session) {
      const runId = required(req.runId as string, 'runId');
      const stepRunId = required(req.stepRunId as string, 'stepRunId');
      const fromLine = Number(req.fromLine ?? 0);
      if (!Number.isSafeInteger(fromLine) || fromLine < 0) throw invalid('fromLine must be 0 or a positive line number');
      await deps.access.step(principal, runId, stepRunId);
      const write = (lines: LogLine[]) => {
        for (const l of lines) session.send({ runId, stepRunId, line: l.line, timestamp: l.timestamp, stream: l.stream, content: l.content, eof: false }, 128 + l.content.length);
      };
      // onClose also covers a feed that finishes inside follow(), before its unsubscribe is returned.
      session.onClose(
        deps.logs.follow(stepRunId, Math.max(1, fromLine), {
          // History waits for the client (the feed holds its next frame), so a long log is paced, not cut off.
          history: (lines) => {
            write(lines);
            return session.drained();
          },
          historyDone: () => undefined,
          live: write,
          eof: () => {
            session.send({ runId, stepRunId, line: 0, timestamp: new Date().toISOString(), stream: '', content: '', eof: true }, 128);
            session.end();
          },
          error: (message) => {
            logger.warn({ method: 'StreamStepRunLogs', stepRunId, error: message }, 'grpc log feed failed');
            session.fail({ code: grpc.status.UNAVAILABLE, details: `log feed failed: ${message}` });
          },
        }),
      );
    },
  };

  const implementation: grpc.UntypedServiceImplementation = {};
  for (const [method, open] of Object.entries(streams)) implementation[method] = handler(method, open);
  server.addService(packageDefinition['stream.v1.StreamService'] as grpc.ServiceDefinition, implementation);
  new ReflectionService(packageDefinition).addToServer(server);

  const host = opts.host ?? '0.0.0.0';
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${opts.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  logger.info({ host, port }, 'grpc stream.v1 listening');

  return {
    port,
    async close() {
      // Open streams would hold a graceful shutdown forever: end them with a status clients can retry on.
      for (const session of [...sessions]) session.fail({ code: grpc.status.UNAVAILABLE, details: 'server is shutting down' });
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

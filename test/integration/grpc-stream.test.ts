// gRPC stream.v1 against a real grpc-js client: auth, argument and access errors, event filtering,
// log streaming, cancellation, slow clients, shutdown and reflection. The log feed here is an
// in-memory stand-in; the database-backed LogFeed is exercised by the realtime scenario tests.
import { EventEmitter, once } from 'node:events';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalEventBus } from '../../src/events';
import type { EventBus, StatusEvent } from '../../src/events';
import { NotFound } from '../../src/errors';
import { STREAM_PROTO_PATH, startStreamServer } from '../../src/grpc/stream-server';
import type { StreamAccess } from '../../src/grpc/stream-server';
import { createLogger } from '../../src/logger';
import { PACKAGE_ROOT } from '../../src/paths';
import type { LogFeed, LogFeedHandlers } from '../../src/realtime/log-feed';
import type { Principal } from '../../src/roles';
import { canSeeProject } from '../../src/roles';

type LogLine = Parameters<LogFeedHandlers['live']>[0][number];

const TOKEN_P1 = 'tok-p1-viewer-0123456789';
const TOKEN_P2 = 'tok-p2-viewer-0123456789';
const PRINCIPALS: Record<string, Principal> = {
  [TOKEN_P1]: { tokenId: 'tok_p1', name: 'p1 viewer', role: 'viewer', projectIds: ['p1'] },
  [TOKEN_P2]: { tokenId: 'tok_p2', name: 'p2 viewer', role: 'viewer', projectIds: ['p2'] },
};

const PIPELINES = new Map([
  ['pl_1', 'p1'],
  ['pl_2', 'p1'],
  ['pl_9', 'p2'],
]);
const RUNS = new Map([
  ['run_1', { pipelineId: 'pl_1', projectId: 'p1' }],
  ['run_2', { pipelineId: 'pl_2', projectId: 'p1' }],
  ['run_9', { pipelineId: 'pl_9', projectId: 'p2' }],
]);
const STEPS = new Map([
  ['step_1', 'run_1'],
  ['step_2', 'run_1'],
  ['step_3', 'run_1'],
  ['step_9', 'run_9'],
]);

/** The services' contract: "missing" and "not yours" are the same NotFound. */
const access: StreamAccess = {
  async run(p, runId) {
    const run = RUNS.get(runId);
    if (!run || !canSeeProject(p, run.projectId)) throw new NotFound(`run ${runId} not found`);
    return { runId, ...run };
  },
  async step(p, runId, stepRunId) {
    await access.run(p, runId);
    if (STEPS.get(stepRunId) !== runId) throw new NotFound(`step run ${stepRunId} not found`);
    return { stepRunId, status: 'running' };
  },
  async pipeline(p, pipelineId) {
    const projectId = PIPELINES.get(pipelineId);
    if (!projectId || !canSeeProject(p, projectId)) throw new NotFound(`pipeline ${pipelineId} not found`);
    return { pipelineId, projectId };
  },
};

/** The real local bus, counting its listeners so tests can wait for a subscription and its end. */
function countingBus() {
  const bus = createLocalEventBus();
  const changed = new EventEmitter();
  let listeners = 0;
  const events: EventBus = {
    publish: (e) => bus.publish(e),
    subscribe(listener) {
      const off = bus.subscribe(listener);
      listeners++;
      changed.emit('change');
      return () => {
        off();
        listeners--;
        changed.emit('change');
      };
    },
  };
  return {
    events,
    count: () => listeners,
    async until(n: number) {
      while (listeners !== n) await once(changed, 'change');
    },
  };
}

/** History from an array, then live lines and eof when the test says so. */
function memoryLogFeed() {
  const lines = new Map<string, LogLine[]>();
  const followers = new Set<{ stepRunId: string; handlers: LogFeedHandlers }>();
  const changed = new EventEmitter();
  let unsubscribed = 0;
  const add = (stepRunId: string, contents: string[]) => {
    const list = lines.get(stepRunId) ?? [];
    const added = contents.map((content, i): LogLine => ({ line: list.length + i + 1, timestamp: new Date().toISOString(), stream: 'stdout', content }));
    lines.set(stepRunId, [...list, ...added]);
    return added;
  };
  const of = (stepRunId: string) => [...followers].filter((f) => f.stepRunId === stepRunId);
  const feed: LogFeed = {
    follow(stepRunId, fromLine, handlers) {
      const follower = { stepRunId, handlers };
      let stopped = false;
      void (async () => {
        // History in frames of 500, each waiting for the subscriber as the real feed does; then live.
        for (let cursor = fromLine; !stopped; ) {
          const frame = (lines.get(stepRunId) ?? []).filter((l) => l.line >= cursor).slice(0, 500);
          if (frame.length === 0) break;
          cursor = frame[frame.length - 1].line + 1;
          await handlers.history(frame);
        }
        if (stopped) return;
        handlers.historyDone();
        followers.add(follower);
        changed.emit('change');
      })();
      return () => {
        stopped = true;
        followers.delete(follower);
        unsubscribed++;
        changed.emit('change');
      };
    },
    async close() {},
  };
  return {
    feed,
    add,
    live(stepRunId: string, contents: string[]) {
      const added = add(stepRunId, contents);
      for (const f of of(stepRunId)) f.handlers.live(added);
    },
    eof(stepRunId: string) {
      for (const f of of(stepRunId)) f.handlers.eof();
    },
    fail(stepRunId: string, message: string) {
      for (const f of of(stepRunId)) f.handlers.error(message);
    },
    followers: () => followers.size,
    unsubscribed: () => unsubscribed,
    async until(check: () => boolean) {
      while (!check()) await once(changed, 'change');
    },
  };
}

const loadOptions = { keepCase: false, longs: Number, defaults: true };

describe('gRPC stream.v1', () => {
  const bus = countingBus();
  const logs = memoryLogFeed();
  const logged: string[] = [];
  const logger = createLogger('debug', { write: (s: string) => void logged.push(s) });
  let server: Awaited<ReturnType<typeof startStreamServer>>;
  let client: any;

  beforeAll(async () => {
    const tokens = { authenticate: async (token: string) => PRINCIPALS[token] ?? null };
    server = await startStreamServer({ tokens, access, events: bus.events, logs: logs.feed, logger }, { port: 0, host: '127.0.0.1' });
    const proto = grpc.loadPackageDefinition(protoLoader.loadSync(STREAM_PROTO_PATH, loadOptions)) as any;
    client = new proto.stream.v1.StreamService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
  });

  /** Opens a stream; collects its messages and its final status. */
  function open(method: string, request: object, token: string | null = TOKEN_P1) {
    const metadata = new grpc.Metadata();
    if (token) metadata.set('authorization', `Bearer ${token}`);
    const call: grpc.ClientReadableStream<any> = client[method](request, metadata);
    const messages: any[] = [];
    const arrived = new EventEmitter();
    call.on('data', (m) => {
      messages.push(m);
      arrived.emit('data');
    });
    call.on('error', () => undefined); // the status below carries it
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    return {
      call,
      messages,
      status,
      async received(n: number) {
        while (messages.length < n) await once(arrived, 'data');
        return messages;
      },
    };
  }

  /** Opens a status stream and waits until it listens on the bus. */
  async function subscribed(method: string, request: object, token = TOKEN_P1) {
    const before = bus.count();
    const stream = open(method, request, token);
    await Promise.race([bus.until(before + 1), stream.status.then((s) => Promise.reject(new Error(`stream ended: ${s.code} ${s.details}`)))]);
    return stream;
  }

  const runEvent = (runId: string, status: string, extra: Partial<StatusEvent> = {}): StatusEvent => {
    const run = RUNS.get(runId)!;
    return { kind: 'run', id: runId, runId, pipelineId: run.pipelineId, projectId: run.projectId, status, previousStatus: 'pending', ...extra };
  };
  const jobEvent = (jobRunId: string, runId: string, status: string, extra: Partial<StatusEvent> = {}): StatusEvent => {
    const run = RUNS.get(runId)!;
    return { kind: 'job', id: jobRunId, runId, jobRunId, pipelineId: run.pipelineId, projectId: run.projectId, status, previousStatus: 'pending', ...extra };
  };
  const stepEvent = (stepRunId: string, jobRunId: string, runId: string, status: string): StatusEvent => {
    const run = RUNS.get(runId)!;
    return { kind: 'step', id: stepRunId, runId, jobRunId, pipelineId: run.pipelineId, projectId: run.projectId, status, previousStatus: 'pending' };
  };
  const agentEvent = (agentId: string, status: string): StatusEvent => ({ kind: 'agent', id: agentId, status, previousStatus: null });

  /** Publishes `events`, then a `sentinel` the stream must get: everything before it has been handled. */
  async function publishThen(stream: ReturnType<typeof open>, events: StatusEvent[], sentinel: StatusEvent, expected: number) {
    for (const e of [...events, sentinel]) await bus.events.publish(e);
    return stream.received(expected);
  }

  /** Cancels the streams and waits until the server has let go of the bus. */
  async function cancel(...streams: Array<ReturnType<typeof open>>) {
    for (const s of streams) s.call.cancel();
    await bus.until(0);
  }

  describe('authentication', () => {
    it('refuses a call without a token and with an unknown token', async () => {
      const none = await open('StreamAgentStatus', {}, null).status;
      expect(none.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(none.details).toMatch(/missing bearer token/);
      const wrong = await open('StreamAgentStatus', {}, 'not-a-known-token-at-all').status;
      expect(wrong.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(wrong.details).toMatch(/unknown, revoked or expired token/);
      expect(bus.count()).toBe(0);
    });

    it('never logs the token', async () => {
      await cancel(await subscribed('StreamAgentStatus', {}));
      expect(logged.some((l) => l.includes('grpc stream opened'))).toBe(true);
      expect(logged.some((l) => l.includes(TOKEN_P1) || l.includes(TOKEN_P2))).toBe(false);
    });
  });

  describe('bad requests and access', () => {
    it('names the missing or bad field', async () => {
      const cases: Array<[string, object, RegExp]> = [
        ['StreamJobStatus', {}, /^runId is required$/],
        ['StreamStepRunStatus', { stepRunIds: ['step_1'] }, /^runId is required$/],
        ['StreamStepRunLogs', { stepRunId: 'step_1' }, /^runId is required$/],
        ['StreamStepRunLogs', { runId: 'run_1' }, /^stepRunId is required$/],
        ['StreamStepRunLogs', { runId: 'run_1', stepRunId: 'step_1', fromLine: -1 }, /^fromLine /],
        ['StreamEvents', { eventTypes: ['run', 'pipeline'] }, /^eventTypes: unknown event type "pipeline"/],
        ['StreamPipelineStatus', { pipelineIds: [''] }, /^pipelineIds /],
      ];
      for (const [method, request, details] of cases) {
        const status = await open(method, request).status;
        expect({ method, code: status.code }).toEqual({ method, code: grpc.status.INVALID_ARGUMENT });
        expect(status.details).toMatch(details);
      }
    });

    it('answers NOT_FOUND alike for another project’s run and a run that does not exist', async () => {
      const other = await open('StreamJobStatus', { runId: 'run_9' }).status;
      const missing = await open('StreamJobStatus', { runId: 'run_x' }).status;
      expect(other.code).toBe(grpc.status.NOT_FOUND);
      expect(missing.code).toBe(grpc.status.NOT_FOUND);
      expect(other.details.replace('run_9', '<id>')).toBe(missing.details.replace('run_x', '<id>'));
      // The same holds for pipelines, steps and logs.
      for (const [method, request] of [
        ['StreamPipelineStatus', { pipelineIds: ['pl_9'] }],
        ['StreamPipelineStatus', { runIds: ['run_1', 'run_9'] }],
        ['StreamStepRunStatus', { runId: 'run_9' }],
        ['StreamStepRunLogs', { runId: 'run_9', stepRunId: 'step_9' }],
        ['StreamStepRunLogs', { runId: 'run_1', stepRunId: 'step_9' }],
      ] as const) {
        expect((await open(method, request).status).code).toBe(grpc.status.NOT_FOUND);
      }
      // The p2 token does see its own run.
      await cancel(await subscribed('StreamJobStatus', { runId: 'run_9' }, TOKEN_P2));
    });
  });

  describe('status streams', () => {
    it('StreamPipelineStatus: run events of the given pipelines and runs, fields mapped', async () => {
      const s = await subscribed('StreamPipelineStatus', { pipelineIds: ['pl_1'], runIds: ['run_2'] });
      const counters = { total: 3, pending: 1, running: 1, succeeded: 1, failed: 0, cancelled: 0, skipped: 0 };
      const got = await publishThen(
        s,
        [
          runEvent('run_1', 'running', { timestamp: '2030-01-01T00:00:00.000Z', counters }),
          jobEvent('job_1', 'run_1', 'running'), // not a run event
          runEvent('run_9', 'running'), // another project
          runEvent('run_2', 'failed', { previousStatus: 'running', reason: 'job build failed' }),
        ],
        runEvent('run_1', 'succeeded', { previousStatus: 'running' }),
        3,
      );
      expect(got.map((m) => [m.runId, m.status])).toEqual([
        ['run_1', 'running'],
        ['run_2', 'failed'],
        ['run_1', 'succeeded'],
      ]);
      expect(got[0]).toEqual({
        eventType: 'run',
        pipelineId: 'pl_1',
        runId: 'run_1',
        jobRunId: '',
        stepRunId: '',
        agentId: '',
        status: 'running',
        previousStatus: 'pending',
        timestamp: '2030-01-01T00:00:00.000Z',
        counters,
        reason: '',
      });
      expect(got[1]).toMatchObject({ previousStatus: 'running', reason: 'job build failed', counters: null });
      // The local bus stamps a timestamp when the publisher did not.
      expect(Date.parse(got[2].timestamp)).not.toBeNaN();
      await cancel(s);
    });

    it('StreamPipelineStatus without filters: every run the principal may see, none of another project', async () => {
      const s = await subscribed('StreamPipelineStatus', {});
      const got = await publishThen(s, [runEvent('run_9', 'running'), runEvent('run_2', 'running'), stepEvent('step_1', 'job_1', 'run_1', 'running')], runEvent('run_1', 'running'), 2);
      expect(got.map((m) => m.runId)).toEqual(['run_2', 'run_1']);
      await cancel(s);
    });

    it('StreamJobStatus: job events of the run, filtered by jobRunIds', async () => {
      const all = await subscribed('StreamJobStatus', { runId: 'run_1' });
      const some = await subscribed('StreamJobStatus', { runId: 'run_1', jobRunIds: ['job_b'] });
      const events = [jobEvent('job_a', 'run_1', 'running', { agentId: 'agent_1' }), jobEvent('job_x', 'run_2', 'running'), runEvent('run_1', 'running'), jobEvent('job_b', 'run_1', 'running')];
      for (const e of events) await bus.events.publish(e);
      await publishThen(some, [], jobEvent('job_b', 'run_1', 'succeeded'), 2);
      const got = await publishThen(all, [], jobEvent('job_a', 'run_1', 'succeeded'), 4);
      expect(all.messages.map((m) => [m.jobRunId, m.status])).toEqual([
        ['job_a', 'running'],
        ['job_b', 'running'],
        ['job_b', 'succeeded'],
        ['job_a', 'succeeded'],
      ]);
      expect(got[0]).toMatchObject({ eventType: 'job', runId: 'run_1', pipelineId: 'pl_1', agentId: 'agent_1', stepRunId: '' });
      expect(some.messages.map((m) => [m.jobRunId, m.status])).toEqual([
        ['job_b', 'running'],
        ['job_b', 'succeeded'],
      ]);
      await cancel(all, some);
    });

    it('StreamStepRunStatus: step events of the run, filtered by stepRunIds', async () => {
      const s = await subscribed('StreamStepRunStatus', { runId: 'run_1', stepRunIds: ['step_2'] });
      const got = await publishThen(
        s,
        [stepEvent('step_1', 'job_1', 'run_1', 'running'), stepEvent('step_2', 'job_1', 'run_1', 'running'), jobEvent('step_2', 'run_1', 'running'), stepEvent('step_2', 'job_9', 'run_9', 'running')],
        stepEvent('step_2', 'job_1', 'run_1', 'succeeded'),
        2,
      );
      expect(got.map((m) => [m.eventType, m.stepRunId, m.jobRunId, m.status])).toEqual([
        ['step', 'step_2', 'job_1', 'running'],
        ['step', 'step_2', 'job_1', 'succeeded'],
      ]);
      await cancel(s);
    });

    it('StreamAgentStatus: agent events (no project, seen by every token), filtered by agentIds', async () => {
      const s = await subscribed('StreamAgentStatus', { agentIds: ['agent_2'] });
      const p2 = await subscribed('StreamAgentStatus', {}, TOKEN_P2);
      const got = await publishThen(s, [agentEvent('agent_1', 'online'), jobEvent('job_a', 'run_1', 'running', { agentId: 'agent_2' }), agentEvent('agent_2', 'online')], agentEvent('agent_2', 'offline'), 2);
      expect(got.map((m) => [m.agentId, m.status, m.previousStatus])).toEqual([
        ['agent_2', 'online', ''],
        ['agent_2', 'offline', ''],
      ]);
      expect(got[0]).toMatchObject({ eventType: 'agent', runId: '', pipelineId: '' });
      await p2.received(3);
      await cancel(s, p2);
      expect(p2.messages.map((m) => m.agentId)).toEqual(['agent_1', 'agent_2', 'agent_2']);
    });

    it('StreamEvents: by type and by any resource id', async () => {
      const s = await subscribed('StreamEvents', { eventTypes: ['job', 'agent'], resourceIds: ['run_2', 'agent_1'] });
      const got = await publishThen(
        s,
        [
          jobEvent('job_x', 'run_2', 'running'), // run id matches
          runEvent('run_2', 'running'), // type excluded
          jobEvent('job_a', 'run_1', 'running', { agentId: 'agent_1' }), // agent id matches
          jobEvent('job_b', 'run_1', 'running'), // nothing matches
          jobEvent('job_z', 'run_9', 'running', { agentId: 'agent_1' }), // another project
        ],
        agentEvent('agent_1', 'online'),
        3,
      );
      expect(got.map((m) => [m.eventType, m.jobRunId || m.agentId])).toEqual([
        ['job', 'job_x'],
        ['job', 'job_a'],
        ['agent', 'agent_1'],
      ]);
      const unfiltered = await subscribed('StreamEvents', {});
      const all = await publishThen(unfiltered, [runEvent('run_9', 'running'), stepEvent('step_1', 'job_1', 'run_1', 'running')], runEvent('run_1', 'running'), 2);
      expect(all.map((m) => m.eventType)).toEqual(['step', 'run']);
      await cancel(s, unfiltered);
    });

    it('cancelling a stream unsubscribes it', async () => {
      const a = await subscribed('StreamJobStatus', { runId: 'run_1' });
      const b = await subscribed('StreamEvents', {});
      expect(bus.count()).toBe(2);
      a.call.cancel();
      await bus.until(1);
      b.call.cancel();
      await bus.until(0);
      expect((await a.status).code).toBe(grpc.status.CANCELLED);
    });
  });

  describe('StreamStepRunLogs', () => {
    async function following(request: object) {
      const before = logs.followers();
      const s = open('StreamStepRunLogs', request);
      await Promise.race([logs.until(() => logs.followers() > before), s.status.then((st) => Promise.reject(new Error(`stream ended: ${st.code} ${st.details}`)))]);
      return s;
    }

    it('sends history from fromLine, then live lines, then one eof message, in order', async () => {
      logs.add('step_1', ['one', 'two', 'three']);
      const s = await following({ runId: 'run_1', stepRunId: 'step_1', fromLine: 2 });
      await s.received(2);
      logs.live('step_1', ['four', 'five']);
      await s.received(4);
      const unsubscribed = logs.unsubscribed();
      logs.eof('step_1');
      const status = await s.status;
      expect(status.code).toBe(grpc.status.OK);
      expect(s.messages.map((m) => [m.line, m.content, m.eof])).toEqual([
        [2, 'two', false],
        [3, 'three', false],
        [4, 'four', false],
        [5, 'five', false],
        [0, '', true],
      ]);
      expect(s.messages[0]).toMatchObject({ runId: 'run_1', stepRunId: 'step_1', stream: 'stdout' });
      expect(s.messages[4]).toMatchObject({ runId: 'run_1', stepRunId: 'step_1' });
      expect(logs.unsubscribed()).toBe(unsubscribed + 1);
      expect(logs.followers()).toBe(0);
    });

    it('fromLine 0 starts at line 1', async () => {
      const s = await following({ runId: 'run_1', stepRunId: 'step_1' });
      logs.eof('step_1');
      await s.status;
      expect(s.messages.map((m) => m.line)).toEqual([1, 2, 3, 4, 5, 0]);
    });

    it('paces a history longer than the live bound by the client instead of cutting it off', async () => {
      // 12 MiB of history: queued at once it would pass the 8 MiB bound; the server holds each frame.
      logs.add('step_3', Array.from({ length: 3000 }, (_, i) => `${i + 1} ${'y'.repeat(4096)}`));
      const s = await following({ runId: 'run_1', stepRunId: 'step_3' });
      logs.live('step_3', ['live']);
      logs.eof('step_3');
      expect((await s.status).code).toBe(grpc.status.OK);
      expect(s.messages.length).toBe(3002);
      expect(s.messages.map((m) => m.line)).toEqual([...Array.from({ length: 3001 }, (_, i) => i + 1), 0]);
    });

    it('a feed error ends the call UNAVAILABLE', async () => {
      const s = await following({ runId: 'run_1', stepRunId: 'step_2' });
      logs.fail('step_2', 'database gone');
      const status = await s.status;
      expect(status.code).toBe(grpc.status.UNAVAILABLE);
      expect(status.details).toMatch(/database gone/);
      expect(logs.followers()).toBe(0);
    });

    it('cancelling the call unsubscribes from the feed', async () => {
      const s = await following({ runId: 'run_1', stepRunId: 'step_2' });
      const unsubscribed = logs.unsubscribed();
      s.call.cancel();
      await logs.until(() => logs.unsubscribed() === unsubscribed + 1);
      expect(logs.followers()).toBe(0);
      expect((await s.status).code).toBe(grpc.status.CANCELLED);
    });

    it('cuts off a client that does not read instead of queueing without bound, and not one that reads', async () => {
      // 64 KiB lines every 2 ms, 12.5 MiB in all: a reading client keeps up, a paused one makes the
      // server queue past its 8 MiB bound.
      const line = 'x'.repeat(64 * 1024);
      const produce = async () => {
        for (let i = 0; i < 200 && logs.followers() > 0; i++) {
          logs.live('step_2', [line]);
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      };

      const reader = await following({ runId: 'run_1', stepRunId: 'step_2' });
      const before = logs.unsubscribed();
      await produce();
      expect(logs.unsubscribed()).toBe(before);
      logs.eof('step_2');
      expect((await reader.status).code).toBe(grpc.status.OK);
      expect(reader.messages.length).toBe(201);

      const stalled = await following({ runId: 'run_1', stepRunId: 'step_2', fromLine: 1_000_000 });
      stalled.call.pause();
      await produce();
      expect(logs.unsubscribed()).toBe(before + 2);
      expect(logs.followers()).toBe(0);
      stalled.call.resume();
      const status = await stalled.status;
      expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(status.details).toMatch(/client too slow/);
      expect(stalled.messages.length).toBeGreaterThan(0);
      expect(stalled.messages.every((m) => !m.eof)).toBe(true);
    });
  });

  it('serves reflection: stream.v1.StreamService is listed', async () => {
    const path = join(PACKAGE_ROOT, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto');
    const proto = grpc.loadPackageDefinition(protoLoader.loadSync(path, loadOptions)) as any;
    const reflection = new proto.grpc.reflection.v1.ServerReflection(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const call = reflection.ServerReflectionInfo();
      const response = new Promise<any>((resolve, reject) => {
        call.on('data', resolve);
        call.on('error', reject);
      });
      call.write({ listServices: '' });
      const answer = await response;
      call.end();
      const names = answer.listServicesResponse.service.map((s: { name: string }) => s.name);
      expect(names).toContain('stream.v1.StreamService');
    } finally {
      reflection.close();
    }
  });

  it('close() ends open streams UNAVAILABLE and unsubscribes them', async () => {
    const own = countingBus();
    const other = await startStreamServer({ tokens: { authenticate: async (t) => PRINCIPALS[t] ?? null }, access, events: own.events, logs: logs.feed, logger }, { port: 0, host: '127.0.0.1' });
    const proto = grpc.loadPackageDefinition(protoLoader.loadSync(STREAM_PROTO_PATH, loadOptions)) as any;
    const c = new proto.stream.v1.StreamService(`127.0.0.1:${other.port}`, grpc.credentials.createInsecure());
    try {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${TOKEN_P1}`);
      const call = c.StreamEvents({}, metadata);
      call.on('error', () => undefined);
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      await own.until(1);
      const started = Date.now();
      await other.close();
      expect(own.count()).toBe(0);
      expect((await status).code).toBe(grpc.status.UNAVAILABLE);
      expect(Date.now() - started).toBeLessThan(2_000); // graceful, not the forced fallback
    } finally {
      c.close();
    }
  });
});

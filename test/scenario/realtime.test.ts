// Two `arcentra server` processes and one `arcentra agent` on one PostgreSQL and one Temporal. The
// agent ships its logs to server A through a proxy the test can cut; subscribers on both replicas,
// over WebSocket and gRPC, must see every line once, in order.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { until as untilValue } from '../support/until';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freshPostgresDatabase, tempDir } from '../support/databases';
import { freePorts, killGroup, spawnArcentra } from '../support/process';
import type { ArcentraProcess } from '../support/process';
import { REALTIME_NAMESPACE } from '../support/global-setup';
import { startTcpProxy } from '../support/tcp-proxy';
import type { TcpProxy } from '../support/tcp-proxy';
import { connectWs } from '../support/ws-client';
import { STREAM_PROTO_PATH } from '../../src/grpc/stream-server';
import { STOPPED_LOG_GRACE_MS } from '../../activities/step';

const TOKEN = 'realtime-admin-token-0123456789ab';
const LINES = 100_000;

interface Replica {
  url: string;
  grpcPort: number;
  proc?: ArcentraProcess;
}

function grpcClient(port: number) {
  const def = protoLoader.loadSync(STREAM_PROTO_PATH, { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as any;
  return new pkg.stream.v1.StreamService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function bearer(token = TOKEN) {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** Expects exactly lines from..to, each once, in order, with the content the step printed. */
function expectComplete(lines: Array<{ line: number; content: string }>, from: number, to: number, who: string) {
  expect(lines.length, `${who}: line count`).toBe(to - from + 1);
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].line !== from + i || lines[i].content !== `line ${from + i}`) {
      throw new Error(`${who}: position ${i} holds line ${lines[i].line} "${lines[i].content}", expected line ${from + i}`);
    }
  }
}

describe('realtime: two server replicas, one agent shipping logs over HTTP', () => {
  let drop: () => Promise<void>;
  let base: Record<string, string>;
  const a: Replica = { url: '', grpcPort: 0 };
  const b: Replica = { url: '', grpcPort: 0 };
  let agent: ArcentraProcess | undefined;
  let proxy: TcpProxy;
  let agentToken: string;

  const api = async (replica: Replica, method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(replica.url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };
  const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000) => untilValue(what, fn, { timeoutMs, everyMs: 100 });

  let n = 0;
  /** `job` adds to the job (an agentSelector, to send it to one agent). */
  async function trigger(projectId: string, steps: unknown[], job: Record<string, unknown> = {}) {
    const created = await api(a, 'POST', '/api/v1/pipelines', { projectId, name: `rt${++n}`, spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', ...job, steps }] } });
    expect(created.status).toBe(200);
    const pipelineId = created.body.detail.pipelineId as string;
    const trig = await api(a, 'POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
    const runId = trig.body.detail.runId as string;
    const run = await until('the run tree', async () => {
      const r = await api(a, 'GET', `/api/v1/pipelines/runs/${runId}`);
      return r.body.detail?.stages?.[0]?.jobs?.[0]?.steps?.length ? r.body.detail : undefined;
    });
    return { pipelineId, runId, stepRunIds: run.stages[0].jobs[0].steps.map((s: any) => s.stepRunId as string) };
  }
  /** An agent of its own for one test, reached by `agentSelector: {matchLabels: {only: label}}`. */
  const extraAgents: ArcentraProcess[] = [];
  async function startAgent(label: string, serverUrls: string[]) {
    const p = spawnArcentra({ ...base, ARCENTRA_DATA_DIR: tempDir(`rt-agent-${label}`), ARCENTRA_AGENT_TOKEN: agentToken, ARCENTRA_SERVER_URL: serverUrls.join(','), ARCENTRA_AGENT_LABELS: `only=${label}` }, ['agent']);
    extraAgents.push(p);
    await p.ready;
    return { proc: p, job: { agentSelector: { matchLabels: { only: label } } } };
  }
  const lastStored = async (runId: string, stepRunId: string) => {
    // The newest stored line, read through the REST API of the other replica.
    let from = 1;
    for (;;) {
      const r = await api(b, 'GET', `/api/v1/pipelines/runs/${runId}/steps/${stepRunId}/logs?fromLine=${from}&limit=1000`);
      if (r.body.detail.lines.length < 1000) return r.body.detail.nextLine - 1;
      from = r.body.detail.nextLine;
    }
  };

  beforeAll(async () => {
    const pg = await freshPostgresDatabase();
    drop = pg.drop;
    base = { TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: REALTIME_NAMESPACE, DATABASE_URL: pg.url };
    const setup = spawnArcentra(base, ['temporal', 'setup']);
    expect(await setup.exited, setup.stderr()).toBe(0);
    const [pa, pb, ga, gb] = await freePorts(4);
    Object.assign(a, { url: `http://127.0.0.1:${pa}`, grpcPort: ga });
    Object.assign(b, { url: `http://127.0.0.1:${pb}`, grpcPort: gb });
    const server = (port: number, grpcPort: number, dir: string) =>
      spawnArcentra({ ...base, PORT: String(port), ARCENTRA_GRPC_PORT: String(grpcPort), ARCENTRA_DATA_DIR: tempDir(dir), ARCENTRA_ADMIN_TOKEN: TOKEN, ARCENTRA_LOCAL_AGENT: '0'}, ['server']);
    a.proc = server(pa, ga, 'rt-server-a');
    await a.proc.ready; // the first migrates; the second finds it done
    b.proc = server(pb, gb, 'rt-server-b');
    await b.proc.ready;
    proxy = await startTcpProxy({ host: '127.0.0.1', port: pa });
    const tok = await api(a, 'POST', '/api/v1/agents/tokens', { name: 'realtime' });
    agentToken = tok.body.detail.token;
    // The agent reaches server A only through the proxy; server B is its second choice.
    agent = spawnArcentra({ ...base, ARCENTRA_DATA_DIR: tempDir('rt-agent'), ARCENTRA_AGENT_TOKEN: agentToken, ARCENTRA_SERVER_URL: `${proxy.url},${b.url}` }, ['agent']);
    await agent.ready;
  }, 120_000);

  afterAll(async () => {
    for (const p of [...extraAgents, agent, a.proc, b.proc]) {
      if (!p) continue;
      killGroup(p.child, 'SIGKILL');
      await p.exited;
    }
    await proxy?.close();
    await drop?.();
  });

  it('delivers 100,000 lines complete and in order to WebSocket and gRPC subscribers on both replicas, through a cut connection', async () => {
    // 100 bursts of 1,000 lines, 30 ms apart: long enough to join mid-step and to cut the agent's connection.
    const script = `for i in $(seq 0 99); do seq -f 'line %g' $((i*1000+1)) $((i*1000+1000)); sleep 0.03; done`;
    const { runId, stepRunIds } = await trigger('rt', [{ name: 'flood', run: script }]);
    const [step] = stepRunIds;

    const onB = await connectWs(b.url, TOKEN);
    onB.subscribe('channel_log', { runId, stepRunId: step });
    onB.subscribe('channel_status', { runId });
    const grpcLines: Array<{ line: number; content: string }> = [];
    let grpcEof = 0;
    const grpcDone = new Promise<void>((resolve, reject) => {
      const call = grpcClient(a.grpcPort).streamStepRunLogs({ runId, stepRunId: step, fromLine: 0 }, bearer());
      call.on('data', (m: any) => (m.eof ? grpcEof++ : grpcLines.push({ line: m.line, content: m.content })));
      call.on('end', resolve);
      call.on('error', reject);
    });
    const statusOnA: any[] = [];
    const statusCall = grpcClient(a.grpcPort).streamPipelineStatus({ runIds: [runId] }, bearer());
    statusCall.on('data', (m: any) => statusOnA.push(m));
    statusCall.on('error', () => undefined);

    await until('20,000 lines stored', async () => (await lastStored(runId, step)) >= 20_000);
    const before = proxy.connectionsSeen();
    proxy.cut(1500); // every connection from the agent to server A dies, and A is unreachable for 1.5 s
    await until('40,000 lines stored', async () => (await lastStored(runId, step)) >= 40_000);
    const late = await connectWs(a.url, TOKEN, { viaQuery: true });
    late.subscribe('channel_log', { runId, stepRunId: step });

    for (const c of [onB, late]) await c.waitFor((f) => f.some((x) => x.type === 'eof' && x.params?.stepRunId === step), 'eof', 120_000);
    await grpcDone;
    expect(await lastStored(runId, step)).toBe(LINES);

    expectComplete(onB.linesOf(step), 1, LINES, 'ws on B');
    expectComplete(late.linesOf(step), 1, LINES, 'late ws on A');
    expectComplete(grpcLines, 1, LINES, 'grpc on A');
    expect(grpcEof).toBe(1);
    // The late joiner got history first (log_chunk, at most 500 lines each), then history_done, then live lines.
    const types = late.frames.filter((f) => f.channel === 'channel_log').map((f) => f.type);
    const seam = types.indexOf('history_done');
    expect(types[0]).toBe('subscribed');
    expect(seam).toBeGreaterThan(1);
    expect(types.slice(1, seam).every((t) => t === 'log_chunk')).toBe(true);
    expect(late.frames.filter((f) => f.type === 'log_chunk').every((f) => f.data.lines.length <= 500)).toBe(true);
    expect(types.slice(seam + 1, -1).every((t) => t === 'log')).toBe(true);
    expect(types.at(-1)).toBe('eof');
    expect(late.linesOf(step).length - types.filter((t) => t === 'log').length).toBeGreaterThanOrEqual(40_000);
    // The agent did reconnect (to B, or to A once the proxy let it through again).
    expect(proxy.connectionsSeen()).toBeGreaterThanOrEqual(before);

    // Status events from the control worker and the agent reached B's WebSocket and A's gRPC.
    await onB.waitFor((f) => f.some((x) => x.type === 'status' && x.data.kind === 'run' && x.data.status === 'success'), 'run success on B');
    const status = onB.frames.filter((f) => f.channel === 'channel_status');
    expect(status[0].type).toBe('subscribed');
    expect(status[1].type).toBe('status_snapshot');
    expect(status[1].data.runId).toBe(runId);
    const stepMoves = status.filter((f) => f.type === 'status' && f.data.kind === 'step').map((f) => f.data.status);
    expect(stepMoves).toEqual(expect.arrayContaining(['running', 'success']));
    await until('run success on gRPC', async () => statusOnA.some((m) => m.eventType === 'run' && m.status === 'success'));
    expect(statusOnA.find((m) => m.status === 'success')).toMatchObject({ runId, counters: { total: 1, succeeded: 1 } });
    statusCall.cancel();

    // Resuming from a line gives exactly the rest, as history, then eof.
    const resumed = await connectWs(b.url, TOKEN);
    resumed.subscribe('channel_log', { runId, stepRunId: step, fromLine: 50_001 });
    await resumed.waitFor((f) => f.some((x) => x.type === 'eof'), 'eof after resume');
    expectComplete(resumed.linesOf(step), 50_001, LINES, 'resumed');
    expect(resumed.frames.map((f) => f.type).filter((t) => t !== 'log_chunk')).toEqual(['subscribed', 'history_done', 'eof']);
    for (const c of [onB, late, resumed]) c.close();
  }, 240_000);

  it('closes a client that stops reading with 1008, while a fast client on the same server keeps its latency', async () => {
    const slowClosures = async () => {
      const text = await (await fetch(`${b.url}/metrics`)).text();
      return Number(/^arcentra_ws_slow_client_closures_total (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const closuresBefore = await slowClosures();
    // A live flood for the slow client, and a ticking step to time the fast one, at the same time.
    const flood = await trigger('rt', [{ name: 'flood', run: `sleep 1; seq -f 'line %g' 1 300000` }]);
    const tick = await trigger('rt', [{ name: 'tick', run: `for i in $(seq 1 40); do echo "tick $(date +%s%3N)"; sleep 0.1; done` }]);
    const slow = await connectWs(b.url, TOKEN);
    slow.subscribe('channel_log', { runId: flood.runId, stepRunId: flood.stepRunIds[0] });
    await slow.waitFor((f) => f.some((x) => x.type === 'history_done'), 'the slow client subscribed');
    (slow.ws as any)._socket.pause(); // reads nothing from now on
    const fast = await connectWs(b.url, TOKEN);
    const received: number[] = [];
    fast.ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'log') received.push(Date.now() - Number(String(f.data.content).split(' ')[1]));
    });
    fast.subscribe('channel_log', { runId: tick.runId, stepRunId: tick.stepRunIds[0] });

    await until('the server to close the slow client', async () => (await slowClosures()) > closuresBefore, 90_000);
    (slow.ws as any)._socket.resume();
    const closed = await slow.closed;
    // The close frame follows whatever the client had not read yet; if the server had to cut the
    // socket first, the client sees an abnormal closure.
    expect([1008, 1006]).toContain(closed.code);
    await fast.waitFor((f) => f.some((x) => x.type === 'eof'), 'the fast client eof', 90_000);
    expect(fast.linesOf(tick.stepRunIds[0]).map((l) => l.line)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    received.sort((x, y) => x - y);
    // Generous: this only shows the fast client was not held up; bench/realtime.ts measures latency.
    expect(received[Math.ceil(received.length * 0.99) - 1]).toBeLessThan(2000);
    fast.close();
  }, 180_000);

  it('refuses log lines an agent pushes for a step of a job it does not hold', async () => {
    const { runId, stepRunIds } = await trigger('rt', [{ name: 'one', run: 'echo one' }]);
    await until('done', async () => (await api(a, 'GET', `/api/v1/pipelines/runs/${runId}`)).body.detail.status === 'success');
    const res = await fetch(`${b.url}/internal/v1/agents/agent_impostor/steps/${stepRunIds[0]}/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ firstLine: 2, lines: [[2, '2026-11-29T10:00:00.000Z stdout', 'forged']] }),
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as any).details).toEqual({ reason: 'not_owner' });
    const noToken = await fetch(`${b.url}/internal/v1/agents/x/steps/${stepRunIds[0]}/logs`, { method: 'POST', body: '{}' });
    expect(noToken.status).toBe(401);
    const logs = await api(b, 'GET', `/api/v1/pipelines/runs/${runId}/steps/${stepRunIds[0]}/logs`);
    expect(logs.body.detail.lines.map((l: any) => l.content)).toEqual(['one']);
  });

  it('lists the stream service through server reflection', async () => {
    const reflectionProto = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [new URL('../../node_modules/@grpc/reflection/build/proto/', import.meta.url).pathname],
      keepCase: false,
      defaults: true,
    });
    const pkg = grpc.loadPackageDefinition(reflectionProto) as any;
    const client = new pkg.grpc.reflection.v1.ServerReflection(`127.0.0.1:${b.grpcPort}`, grpc.credentials.createInsecure());
    const names = await new Promise<string[]>((resolve, reject) => {
      const call = client.serverReflectionInfo();
      call.on('data', (m: any) => {
        resolve(m.listServicesResponse.service.map((s: any) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ listServices: '' });
    });
    expect(names).toContain('stream.v1.StreamService');
    client.close();
  });

  it('stops a step within seconds while its agent can reach no server to ship or open its log', async () => {
    const cutOff = await startAgent('cut-off', [proxy.url]);
    const { pipelineId, runId, stepRunIds } = await trigger('rt', [{ name: 'chatter', run: 'while true; do echo tick; sleep 0.01; done' }], cutOff.job);
    await until('the first lines stored', async () => (await lastStored(runId, stepRunIds[0])) >= 20);
    proxy.cut(120_000); // the agent's only way to a server is gone
    try {
      await new Promise((r) => setTimeout(r, 500)); // lines pile up that no server acknowledges
      const t0 = Date.now();
      expect((await api(b, 'POST', `/api/v1/pipelines/${pipelineId}/runs/${runId}/stop`, { reason: 'cut off' })).status).toBe(200);
      const run = await until('the run cancelled', async () => {
        const r = (await api(b, 'GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
        return r.status === 'cancelled' ? r : undefined;
      }, 30_000);
      expect(Date.now() - t0).toBeLessThan(10_000);
      expect(run.stages[0].jobs[0].steps[0].status).toBe('cancelled');
      expect(cutOff.proc.stdout()).toMatch(new RegExp(`log of step ${stepRunIds[0]}: gave up on \\d+ lines not acknowledged within ${STOPPED_LOG_GRACE_MS} ms`));

      // A step that starts while no server can open its log: it runs, its lines wait, and a stop
      // ends it; so does a stop once its process has exited and only its lines still wait.
      for (const [name, run, ended] of [
        ['never-opened', 'echo never; sleep 600', 'cancelled'],
        ['exited-unshipped', 'echo never', 'success'],
      ] as const) {
        const waiting = await trigger('rt', [{ name, run }], cutOff.job);
        await until('the step running, its log not yet opened', async () => {
          const r = (await api(b, 'GET', `/api/v1/pipelines/runs/${waiting.runId}`)).body.detail;
          return r.stages[0].jobs[0].steps[0].status === 'running';
        });
        await until('the agent trying to open its log', async () => cutOff.proc.stdout().includes(`opening the log of step ${waiting.stepRunIds[0]} failed`));
        await new Promise((r) => setTimeout(r, 1000));
        const t1 = Date.now();
        expect((await api(b, 'POST', `/api/v1/pipelines/${waiting.pipelineId}/runs/${waiting.runId}/stop`, {})).status).toBe(200);
        const stopped = await until('the waiting run cancelled', async () => {
          const r = (await api(b, 'GET', `/api/v1/pipelines/runs/${waiting.runId}`)).body.detail;
          return r.status === 'cancelled' ? r : undefined;
        }, 30_000);
        expect(Date.now() - t1).toBeLessThan(10_000);
        // The process's own end, when it had one before the stop.
        expect(stopped.stages[0].jobs[0].steps[0].status).toBe(ended);
        expect(stopped.stages[0].jobs[0].attempt).toBe(1); // not taken for a lost agent
        expect(cutOff.proc.stdout()).toContain(`log of step ${waiting.stepRunIds[0]}: gave up on 1 lines not acknowledged within ${STOPPED_LOG_GRACE_MS} ms`);
      }
    } finally {
      proxy.cut(0); // open again for the next test
      killGroup(cutOff.proc.child, 'SIGKILL');
      await cutOff.proc.exited;
      extraAgents.splice(extraAgents.indexOf(cutOff.proc), 1);
    }
  }, 120_000);

  // Last: server A stays down afterwards.
  it('loses no line when the server the agent ships to is killed -9 mid-stream', async () => {
    // A fresh agent: it ships to its first server (A, through the proxy) until that fails.
    const fresh = await startAgent('fresh', [proxy.url, b.url]);
    // 60 bursts over at least 12 s: A dies while lines still flow.
    const script = `for i in $(seq 0 59); do seq -f 'line %g' $((i*1000+1)) $((i*1000+1000)); sleep 0.2; done`;
    const { runId, stepRunIds } = await trigger('rt', [{ name: 'flood', run: script }], fresh.job);
    const [step] = stepRunIds;
    const watcher = await connectWs(b.url, TOKEN);
    watcher.subscribe('channel_log', { runId, stepRunId: step });
    await until('10,000 lines stored', async () => (await api(b, 'GET', `/api/v1/pipelines/runs/${runId}/steps/${step}/logs?fromLine=10000&limit=1`)).body.detail.lines.length === 1);
    killGroup(a.proc!.child, 'SIGKILL');
    await a.proc!.exited;
    a.proc = undefined;
    try {
      await watcher.waitFor((f) => f.some((x) => x.type === 'eof'), 'eof on B', 120_000);
    } catch (err) {
      // What the agent and server B said, and where the step is, for a failure that only load shows.
      const run = await api(b, 'GET', `/api/v1/pipelines/runs/${runId}`).catch((e: Error) => ({ body: e.message }));
      throw new Error(
        `${(err as Error).message}\nrun: ${JSON.stringify(run.body).slice(0, 1500)}\nstored: ${await lastStored(runId, step).catch(() => -1)}; received: ${watcher.linesOf(step).length}\n` +
          `frames: ${JSON.stringify(Object.entries(watcher.frames.reduce<Record<string, number>>((m, f) => ((m[f.type] = (m[f.type] ?? 0) + 1), m), {})))}; errors: ${JSON.stringify(watcher.frames.filter((f) => f.type === 'error'))}; open: ${watcher.ws.readyState}\n` +
          `agent stderr: ${fresh.proc.stderr().slice(-3000)}\nagent stdout: ${fresh.proc.stdout().slice(-4000)}\nserver B stderr: ${b.proc?.stderr().slice(-2000)}`,
      );
    }
    expectComplete(watcher.linesOf(step), 1, 60_000, 'ws on B after A died');
    expect(await lastStored(runId, step)).toBe(60_000);
    // It was shipping to A when A died, and went on with B.
    expect(fresh.proc.stdout()).toMatch(new RegExp(`of step ${step} failed \\(${proxy.url}`));
    watcher.close();
  }, 180_000);
});

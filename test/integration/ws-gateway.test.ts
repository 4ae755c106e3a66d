// The WebSocket gateway on the all-in-one stack: auth, many subscriptions per connection, status
// snapshots and events, and bad input that gets an error frame while the connection stays up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestSystem, ADMIN_TOKEN } from '../support/system';
import type { TestSystem } from '../support/system';
import { connectWs } from '../support/ws-client';
import type { WsClient } from '../support/ws-client';

describe('websocket gateway', () => {
  let sys: TestSystem;
  let pipelineId: string;
  let runId: string;
  let stepRunIds: string[];
  let otherProjectToken: string;

  beforeAll(async () => {
    sys = await startTestSystem({ db: 'pglite' });
    const created = await sys.api('POST', '/api/v1/pipelines', {
      projectId: 'ws',
      name: 'ws',
      spec: { namespace: 'demo', version: 'v1', jobs: [{ name: 'j', steps: [{ name: 'a', run: 'for i in 1 2 3; do echo "a$i"; done' }, { name: 'b', run: 'sleep 1; echo b1; echo b2 >&2' }] }] },
    });
    pipelineId = created.body.detail.pipelineId;
    otherProjectToken = (await sys.api('POST', '/api/v1/tokens', { name: 'elsewhere', role: 'admin', projectIds: ['other'] })).body.detail.token;
  });
  afterAll(async () => {
    await sys?.close();
  });

  async function triggerAndWatch(client: WsClient) {
    client.subscribe('channel_status', { pipelineId }, 'status-1');
    await client.waitFor((f) => f.some((x) => x.type === 'status_snapshot'), 'pipeline snapshot');
    const trig = await sys.api('POST', `/api/v1/pipelines/${pipelineId}/trigger`, {});
    runId = trig.body.detail.runId;
    const run = (await sys.api('GET', `/api/v1/pipelines/runs/${runId}`)).body.detail;
    stepRunIds = run.stages[0].jobs[0].steps.map((s: any) => s.stepRunId);
  }

  it('refuses an upgrade without a valid token with 401', async () => {
    await expect(connectWs(sys.url, null)).rejects.toThrow('HTTP 401');
    await expect(connectWs(sys.url, 'not-a-token-at-all')).rejects.toThrow('HTTP 401');
    const byQuery = await connectWs(sys.url, ADMIN_TOKEN, { viaQuery: true });
    byQuery.close();
  });

  it('streams two steps and the status of their run over one connection', async () => {
    const c = await connectWs(sys.url, ADMIN_TOKEN);
    await triggerAndWatch(c);
    c.subscribe('channel_log', { runId, stepRunId: stepRunIds[0] }, 1);
    c.subscribe('channel_log', { runId, stepRunId: stepRunIds[1] }, 2);
    await c.waitFor((f) => f.filter((x) => x.type === 'eof').length === 2, 'both steps to end');
    expect(c.linesOf(stepRunIds[0]).map((l) => l.content)).toEqual(['a1', 'a2', 'a3']);
    expect(c.linesOf(stepRunIds[1]).map((l) => l.content)).toEqual(['b1', 'b2']);
    const stepB = c.frames.filter((f) => f.channel === 'channel_log' && f.params?.stepRunId === stepRunIds[1]);
    expect(stepB[0]).toMatchObject({ type: 'subscribed', id: 2 });
    expect(stepB.at(-1)).toMatchObject({ type: 'eof', data: { nextLine: 3 } });
    const streams = stepB.flatMap((f) => (f.type === 'log' ? [f.data.stream] : f.type === 'log_chunk' ? f.data.lines.map((l: any) => l.stream) : []));
    expect(streams).toEqual(['stdout', 'stderr']);

    await c.waitFor((f) => f.some((x) => x.type === 'status' && x.data.kind === 'run' && x.data.runId === runId && x.data.status === 'success'), 'run success');
    const status = c.frames.filter((f) => f.channel === 'channel_status');
    expect(status[0]).toMatchObject({ type: 'subscribed', id: 'status-1', params: { pipelineId } });
    expect(status[1]).toMatchObject({ type: 'status_snapshot', data: { pipelineId, runs: [] } });
    const moves = status.filter((f) => f.type === 'status').map((f) => `${f.data.kind}:${f.data.status}`);
    for (const expected of ['run:running', 'job:running', 'step:running', 'step:success', 'job:success', 'run:success']) expect(moves).toContain(expected);
    const runDone = status.find((f) => f.type === 'status' && f.data.kind === 'run' && f.data.status === 'success')!;
    expect(runDone.data).toMatchObject({ runId, pipelineId, projectId: 'ws', previousStatus: 'running', counters: { total: 1, succeeded: 1 } });

    // Unsubscribing stops the feed; a second unsubscribe is an error, and the connection stays up.
    c.send({ channel: 'channel_status', action: 'unsubscribe', params: { pipelineId }, id: 'u' });
    await c.waitFor((f) => f.some((x) => x.type === 'unsubscribed' && x.id === 'u'), 'unsubscribed');
    c.send({ channel: 'channel_status', action: 'unsubscribe', params: { pipelineId }, id: 'u2' });
    await c.waitFor((f) => f.some((x) => x.type === 'error' && x.id === 'u2'), 'error on a second unsubscribe');
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    c.close();
  });

  it('sends a finished run as a snapshot to a late status subscriber', async () => {
    const c = await connectWs(sys.url, ADMIN_TOKEN);
    c.subscribe('channel_status', { runId });
    await c.waitFor((f) => f.some((x) => x.type === 'status_snapshot'), 'snapshot');
    const snap = c.frames.find((f) => f.type === 'status_snapshot')!;
    expect(snap.data).toMatchObject({ runId, status: 'success', stages: [{ jobs: [{ steps: [{ status: 'success' }, { status: 'success' }] }] }] });
    c.close();
  });

  it('answers bad frames with an error frame and keeps the connection open', async () => {
    const c = await connectWs(sys.url, ADMIN_TOKEN);
    const cases: Array<[unknown, RegExp]> = [
      ['not json', /bad frame/],
      ['[1,2]', /bad frame/],
      ['null', /bad frame/],
      [{ channel: 'channel_nope', action: 'subscribe', params: {} }, /channel: must be channel_log or channel_status/],
      [{ channel: 'channel_log', action: 'watch', params: {} }, /action: must be subscribe or unsubscribe/],
      [{ channel: 'channel_log', action: 'subscribe', params: 'x' }, /params: must be an object/],
      [{ channel: 'channel_log', action: 'subscribe', params: { runId: 'r' } }, /params\.stepRunId/],
      [{ channel: 'channel_log', action: 'subscribe', params: { runId: 1, stepRunId: 's' } }, /params\.runId: must be a string/],
      [{ channel: 'channel_log', action: 'subscribe', params: { runId, stepRunId: stepRunIds[0], fromLine: 0 } }, /fromLine: must be at least 1/],
      [{ channel: 'channel_status', action: 'subscribe', params: {} }, /exactly one of runId and pipelineId/],
      [{ channel: 'channel_status', action: 'subscribe', params: { runId, pipelineId } }, /exactly one of runId and pipelineId/],
      [{ channel: 'channel_log', action: 'subscribe', params: { runId: 'run_missing', stepRunId: 'x' } }, /not found/],
      [{ channel: 'channel_log', action: 'subscribe', params: { runId, stepRunId: 'step_missing' } }, /not found/],
      [{ channel: 'channel_status', action: 'subscribe', params: { pipelineId: 'pl_missing' } }, /not found/],
    ];
    for (const [i, [frame, message]] of cases.entries()) {
      c.send(typeof frame === 'string' ? frame : { ...(frame as object), id: i });
      await c.waitFor((f) => f.filter((x) => x.type === 'error').length === i + 1, `error frame ${i}`);
      expect(c.frames.filter((x) => x.type === 'error')[i].error, JSON.stringify(frame)).toMatch(message);
    }
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await c.waitFor((f) => f.filter((x) => x.type === 'error').length === cases.length + 1, 'binary frame refused');
    // Still serving after all that.
    c.subscribe('channel_status', { runId }, 'ok');
    await c.waitFor((f) => f.some((x) => x.type === 'status_snapshot'), 'snapshot after errors');
    c.close();
  });

  it('tells another project nothing: the same answer as for a run that does not exist', async () => {
    const c = await connectWs(sys.url, otherProjectToken);
    c.subscribe('channel_status', { runId }, 'theirs');
    c.subscribe('channel_status', { runId: 'run_does_not_exist' }, 'none');
    c.subscribe('channel_log', { runId, stepRunId: stepRunIds[0] }, 'log');
    c.subscribe('channel_status', { pipelineId }, 'pipe');
    await c.waitFor((f) => f.filter((x) => x.type === 'error').length === 4, 'four errors');
    const byId = Object.fromEntries(c.frames.map((f) => [f.id, f.error]));
    expect(byId.theirs).toBe(`run ${runId} not found`);
    expect(byId.none).toBe('run run_does_not_exist not found');
    expect(byId.log).toBe(`run ${runId} not found`);
    expect(byId.pipe).toBe(`pipeline ${pipelineId} not found`);
    expect(c.frames.some((f) => f.type === 'status_snapshot' || f.type === 'log_chunk')).toBe(false);
    c.close();
  });

  it('refuses an oversized frame by closing with 1009, and a repeated subscription with an error', async () => {
    const c = await connectWs(sys.url, ADMIN_TOKEN);
    c.subscribe('channel_status', { runId }, 'first');
    c.subscribe('channel_status', { runId }, 'again');
    await c.waitFor((f) => f.some((x) => x.id === 'again' && x.type === 'error'), 'already subscribed');
    expect(c.frames.find((x) => x.id === 'again')!.error).toBe('already subscribed');
    c.send({ channel: 'channel_status', action: 'subscribe', params: { runId: 'x'.repeat(70 * 1024) } });
    expect((await c.closed).code).toBe(1009);
    // The server is fine: a new connection works.
    const d = await connectWs(sys.url, ADMIN_TOKEN);
    d.subscribe('channel_status', { runId });
    await d.waitFor((f) => f.some((x) => x.type === 'status_snapshot'), 'snapshot on a new connection');
    d.close();
  });
});
